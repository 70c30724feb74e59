//! The JSON-lines data sets: one object per line (blank lines skipped); every error names the
//! file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What is wrong with a data file.
#[derive(Debug)]
pub enum DataError {
    /// The path is missing or not a regular file (the message names it).
    NotAFile(String),
    /// The file cannot be read.
    Read(PathBuf, std::io::Error),
    /// A line is not a JSON object, or a field is missing or of the wrong kind.
    Line {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The field, or `None` for the line as a whole.
        field: Option<&'static str>,
        /// What is wrong.
        what: String,
    },
    /// The file has no items.
    Empty(PathBuf),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotAFile(m) => f.write_str(m),
            DataError::Read(p, e) => write!(f, "{}: {e}", p.display()),
            DataError::Line {
                path,
                line,
                field: Some(field),
                what,
            } => write!(f, "{}:{line}: field `{field}`: {what}", path.display()),
            DataError::Line {
                path,
                line,
                field: None,
                what,
            } => write!(f, "{}:{line}: {what}", path.display()),
            DataError::Empty(p) => write!(f, "{}: no items (every line is blank)", p.display()),
        }
    }
}

impl std::error::Error for DataError {}

/// A judge item.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeItem {
    /// Its line in the file.
    pub line: usize,
    /// The question.
    pub question: String,
    /// The answers (2 or more).
    pub answers: Vec<String>,
    /// The index of the better answer, when labelled.
    pub label: Option<usize>,
}

/// A RAG item.
#[derive(Clone, Debug, PartialEq)]
pub struct RagItem {
    /// Its line in the file.
    pub line: usize,
    /// The question.
    pub question: String,
    /// The documents (1 or more).
    pub docs: Vec<String>,
    /// The expected answer (a correct output contains it, case-insensitively).
    pub answer: String,
}

/// One line's object, with the file and line for its errors.
struct Fields<'a> {
    path: &'a Path,
    line: usize,
    map: Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, field: &'static str, what: impl Into<String>) -> DataError {
        DataError::Line {
            path: self.path.to_path_buf(),
            line: self.line,
            field: Some(field),
            what: what.into(),
        }
    }

    fn string(&self, field: &'static str) -> Result<String, DataError> {
        match self.map.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.error(field, format!("a string was expected, not {v}"))),
            None => Err(self.error(field, "missing")),
        }
    }

    fn strings(&self, field: &'static str, min: usize) -> Result<Vec<String>, DataError> {
        let items = match self.map.get(field) {
            Some(Value::Array(a)) => a,
            Some(v) => return Err(self.error(field, format!("an array was expected, not {v}"))),
            None => return Err(self.error(field, "missing")),
        };
        let strings = items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                v => Err(self.error(field, format!("element {i} is {v}, not a string"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if strings.len() < min {
            return Err(self.error(
                field,
                format!("at least {min} strings are needed, not {}", strings.len()),
            ));
        }
        Ok(strings)
    }

    fn check_keys(&self, known: &[&'static str]) -> Result<(), DataError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(DataError::Line {
                path: self.path.to_path_buf(),
                line: self.line,
                field: None,
                what: format!("unknown field `{k}` (known: {})", known.join(", ")),
            }),
            None => Ok(()),
        }
    }
}

/// Reads the objects of a JSON-lines file and turns each into an item.
fn read<T>(
    path: &Path,
    mut item: impl FnMut(Fields<'_>) -> Result<T, DataError>,
) -> Result<Vec<T>, DataError> {
    crate::model_path::check_file(path, "a JSON-lines file").map_err(DataError::NotAFile)?;
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Read(path.into(), e))?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_error = |what: String| DataError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            field: None,
            what,
        };
        let map = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            Ok(v) => return Err(line_error(format!("a JSON object was expected, not {v}"))),
            Err(e) => return Err(line_error(format!("not JSON: {e}"))),
        };
        items.push(item(Fields {
            path,
            line: i + 1,
            map,
        })?);
    }
    if items.is_empty() {
        return Err(DataError::Empty(path.to_path_buf()));
    }
    Ok(items)
}

/// Reads judge items: `{"question", "answers": [2 or more], "label"?: index}`.
pub fn judge_items(path: &Path) -> Result<Vec<JudgeItem>, DataError> {
    read(path, |f| {
        f.check_keys(&["question", "answers", "label"])?;
        let answers = f.strings("answers", 2)?;
        let label = match f.map.get("label") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(l) if (l as usize) < answers.len() => Some(l as usize),
                _ => {
                    return Err(f.error(
                        "label",
                        format!("{v} is not an answer's index (0 to {})", answers.len() - 1),
                    ))
                }
            },
        };
        Ok(JudgeItem {
            line: f.line,
            question: f.string("question")?,
            answers,
            label,
        })
    })
}

/// Reads RAG items: `{"question", "docs": [1 or more], "answer"}`.
pub fn rag_items(path: &Path) -> Result<Vec<RagItem>, DataError> {
    read(path, |f| {
        f.check_keys(&["question", "docs", "answer"])?;
        let answer = f.string("answer")?;
        if answer.trim().is_empty() {
            return Err(f.error("answer", "empty (every output would contain it)"));
        }
        Ok(RagItem {
            line: f.line,
            question: f.string("question")?,
            docs: f.strings("docs", 1)?,
            answer,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn judge_lines_parse_and_errors_name_the_line_and_field() {
        let f = file("{\"question\": \"q\", \"answers\": [\"a\", \"b\"], \"label\": 1}\n\n{\"question\": \"q\", \"answers\": [\"a\", \"b\", \"c\"]}\n");
        let items = judge_items(f.path()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].label, items[1].line), (Some(1), 3));
        let bad = file("{\"question\": \"q\", \"answers\": [\"a\", \"b\"]}\n{\"question\": \"q\", \"answers\": [\"a\"]}\n");
        let e = judge_items(bad.path()).unwrap_err().to_string();
        assert!(
            e.ends_with(":2: field `answers`: at least 2 strings are needed, not 1"),
            "{e}"
        );
        let bad = file("{\"question\": \"q\", \"answers\": [\"a\", \"b\"], \"label\": 2}\n");
        let e = judge_items(bad.path()).unwrap_err().to_string();
        assert!(
            e.contains(":1: field `label`: 2 is not an answer's index"),
            "{e}"
        );
        let bad = file("{\"question\": 3, \"answers\": [\"a\", \"b\"]}\n");
        assert!(judge_items(bad.path())
            .unwrap_err()
            .to_string()
            .contains("field `question`"));
        let bad = file("[1]\n");
        assert!(judge_items(bad.path())
            .unwrap_err()
            .to_string()
            .contains(":1: a JSON object"));
        let bad = file("{\"question\": \"q\", \"answer\": [\"a\", \"b\"]}\n");
        assert!(judge_items(bad.path())
            .unwrap_err()
            .to_string()
            .contains("unknown field `answer`"));
        assert!(matches!(
            judge_items(file("\n").path()),
            Err(DataError::Empty(_))
        ));
    }

    #[test]
    fn rag_lines_parse_and_need_an_answer() {
        let f = file("{\"question\": \"q\", \"docs\": [\"d\"], \"answer\": \"x\"}\n");
        assert_eq!(rag_items(f.path()).unwrap()[0].docs, ["d"]);
        let bad = file("{\"question\": \"q\", \"docs\": [\"d\"], \"answer\": \" \"}\n");
        assert!(rag_items(bad.path())
            .unwrap_err()
            .to_string()
            .contains("field `answer`: empty"));
    }
}
