//! The JSON files of `pine-run --layout F.json` and `--segments-file F.json`, parsed strictly:
//! a layout is exactly `{"prefix": P, "segments": [S…], "suffix": X}` (prefix and suffix
//! optional, `segments` required), each part a string or an array of token ids; a segments file
//! is a JSON array of strings. Unknown keys, `null`s and other types are errors naming the file
//! and the field, so a typo such as `"segment"` cannot silently run a prompt without segments.
//! The parse needs no tokenizer, so a fuzz target can call [`parse`] directly.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// One part of a layout as the file gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text, tokenized with the model's tokenizer.
    Text(String),
    /// Token ids, used as they are (checked against the vocabulary when the model is known).
    Ids(Vec<u32>),
}

impl Default for Part {
    fn default() -> Part {
        Part::Text(String::new())
    }
}

/// A layout file's content before tokenization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayoutSpec {
    /// Text before the segments (absent: empty).
    pub prefix: Part,
    /// The interchangeable segments, in file order.
    pub segments: Vec<Part>,
    /// Text after the segments (absent: empty).
    pub suffix: Part,
}

/// Why a layout or segments file was rejected.
#[derive(Debug)]
pub enum LayoutError {
    /// The file is missing or not a regular file (a directory, FIFO, device); the message
    /// names it.
    NotAFile(String),
    /// The file could not be read.
    Io {
        /// The file.
        file: PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The text is not JSON.
    Json {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The JSON parser's error (with line and column).
        source: serde_json::Error,
    },
    /// A field is missing, unknown or of the wrong type or value.
    Field {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// Where in the document: `segments[2]`, `prefix[0]`, `(top level)`.
        field: String,
        /// What is wrong with it.
        what: String,
    },
    /// Every part of the layout is empty once tokenized.
    NoTokens {
        /// The file.
        file: Option<PathBuf>,
    },
}

impl LayoutError {
    fn field(field: impl Into<String>, what: impl Into<String>) -> LayoutError {
        LayoutError::Field {
            file: None,
            field: field.into(),
            what: what.into(),
        }
    }

    /// The same error, attributed to `path`.
    pub fn in_file(self, path: &Path) -> LayoutError {
        let f = Some(path.to_path_buf());
        match self {
            LayoutError::Json { source, .. } => LayoutError::Json { file: f, source },
            LayoutError::Field { field, what, .. } => LayoutError::Field {
                file: f,
                field,
                what,
            },
            LayoutError::NoTokens { .. } => LayoutError::NoTokens { file: f },
            e @ (LayoutError::Io { .. } | LayoutError::NotAFile(_)) => e,
        }
    }
}

fn file_name(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map_or_else(|| "layout".to_string(), |f| f.display().to_string())
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::NotAFile(m) => f.write_str(m),
            LayoutError::Io { file, source } => write!(f, "{}: {source}", file.display()),
            LayoutError::Json { file, source } => {
                write!(f, "{}: not valid JSON: {source}", file_name(file))
            }
            LayoutError::Field { file, field, what } => {
                write!(f, "{}: field {field}: {what}", file_name(file))
            }
            LayoutError::NoTokens { file } => write!(
                f,
                "{}: the layout has no tokens (every part is empty)",
                file_name(file)
            ),
        }
    }
}

impl std::error::Error for LayoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LayoutError::Io { source, .. } => Some(source),
            LayoutError::Json { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A JSON value's kind for messages ("a string", "an array", ...); pine-serve's request errors
/// use it too.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn part(v: &Value, field: &str) -> Result<Part, LayoutError> {
    match v {
        Value::String(s) => Ok(Part::Text(s.clone())),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| match x.as_u64().map(u32::try_from) {
                Some(Ok(id)) => Ok(id),
                _ => Err(LayoutError::field(
                    format!("{field}[{i}]"),
                    format!("expected a token id (a whole number from 0 to 2^32-1), found {x}"),
                )),
            })
            .collect::<Result<_, _>>()
            .map(Part::Ids),
        other => Err(LayoutError::field(
            field,
            format!(
                "expected a string or an array of token ids, found {}",
                json_kind(other)
            ),
        )),
    }
}

fn json(text: &str) -> Result<Value, LayoutError> {
    serde_json::from_str(text).map_err(|source| LayoutError::Json { file: None, source })
}

fn object_of(v: &Value) -> Result<&Map<String, Value>, LayoutError> {
    v.as_object().ok_or_else(|| {
        LayoutError::field(
            "(top level)",
            format!(
                "expected an object {{\"prefix\": …, \"segments\": […], \"suffix\": …}}, found {}",
                json_kind(v)
            ),
        )
    })
}

/// Parses a layout document (no tokenizer needed): unknown keys, `null`s, non-array
/// `segments` and ids outside `u32` are errors naming the field; a missing `prefix` or
/// `suffix` is empty, a missing `segments` an error. Errors carry no file name; see
/// [`LayoutError::in_file`] and [`read`].
pub fn parse(text: &str) -> Result<LayoutSpec, LayoutError> {
    let v = json(text)?;
    let obj = object_of(&v)?;
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "prefix" | "segments" | "suffix"))
    {
        return Err(LayoutError::field(
            format!("\"{k}\""),
            "unknown field; a layout has only \"prefix\", \"segments\" and \"suffix\"",
        ));
    }
    let segments = match obj.get("segments") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| part(s, &format!("segments[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(LayoutError::field(
                "segments",
                format!("expected an array of parts, found {}", json_kind(other)),
            ))
        }
        None => {
            return Err(LayoutError::field(
                "segments",
                "missing (a layout without segments is a plain prompt: use -p or --token-ids)",
            ))
        }
    };
    let optional = |k: &str| obj.get(k).map_or(Ok(Part::default()), |v| part(v, k));
    Ok(LayoutSpec {
        prefix: optional("prefix")?,
        segments,
        suffix: optional("suffix")?,
    })
}

/// Parses a segments document: a JSON array of strings.
pub fn parse_segments(text: &str) -> Result<Vec<String>, LayoutError> {
    match json(text)? {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s),
                other => Err(LayoutError::field(
                    format!("[{i}]"),
                    format!("expected a string, found {}", json_kind(&other)),
                )),
            })
            .collect(),
        other => Err(LayoutError::field(
            "(top level)",
            format!("expected an array of strings, found {}", json_kind(&other)),
        )),
    }
}

fn read_text(path: &Path) -> Result<String, LayoutError> {
    crate::model_path::check_file(path, "a JSON file").map_err(LayoutError::NotAFile)?;
    std::fs::read_to_string(path).map_err(|source| LayoutError::Io {
        file: path.to_path_buf(),
        source,
    })
}

/// Reads and parses the layout file `path`; every error names it.
pub fn read(path: &Path) -> Result<LayoutSpec, LayoutError> {
    parse(&read_text(path)?).map_err(|e| e.in_file(path))
}

/// Reads and parses the segments file `path`; every error names it.
pub fn read_segments(path: &Path) -> Result<Vec<String>, LayoutError> {
    parse_segments(&read_text(path)?).map_err(|e| e.in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(text: &str) -> String {
        match parse(text) {
            Err(LayoutError::Field { field, .. }) => field,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn a_full_layout_parses() {
        let l = parse(r#"{"prefix": "P", "segments": ["a", [1, 2]], "suffix": [3]}"#).unwrap();
        assert_eq!(l.prefix, Part::Text("P".into()));
        assert_eq!(
            l.segments,
            vec![Part::Text("a".into()), Part::Ids(vec![1, 2])]
        );
        assert_eq!(l.suffix, Part::Ids(vec![3]));
        let l = parse(r#"{"segments": []}"#).unwrap();
        assert_eq!(l, LayoutSpec::default());
    }

    #[test]
    fn strictness_names_the_field() {
        assert_eq!(field_of(r#"{"segment": ["a"]}"#), "\"segment\"");
        assert_eq!(field_of(r#"{"prefix": "p"}"#), "segments");
        assert_eq!(field_of(r#"{"segments": [null]}"#), "segments[0]");
        assert_eq!(field_of(r#"{"segments": "a"}"#), "segments");
        assert_eq!(field_of(r#"{"segments": [], "prefix": null}"#), "prefix");
        assert_eq!(field_of(r#"{"segments": [[1, -1]]}"#), "segments[0][1]");
        assert_eq!(
            field_of(r#"{"segments": [[4294967296]]}"#),
            "segments[0][0]"
        );
        assert_eq!(field_of(r#"["a"]"#), "(top level)");
        assert!(matches!(parse("{"), Err(LayoutError::Json { .. })));
    }

    #[test]
    fn errors_name_the_file_once_attributed() {
        let e = parse(r#"{"segment": []}"#)
            .unwrap_err()
            .in_file(Path::new("x.json"))
            .to_string();
        assert!(e.starts_with("x.json: field \"segment\""), "{e}");
    }

    #[test]
    fn segments_files_are_arrays_of_strings() {
        assert_eq!(parse_segments(r#"["a", "b"]"#).unwrap(), vec!["a", "b"]);
        assert!(parse_segments(r#"["a", null]"#).is_err());
        assert!(parse_segments(r#"{"segments": []}"#).is_err());
    }
}
