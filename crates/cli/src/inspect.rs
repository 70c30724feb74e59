//! `pine-inspect MODEL.gguf [--json] [--full-arrays]`: shows what a GGUF file holds (header,
//! metadata, tensor table), like llama.cpp's `gguf-dump`, so users can check a model before
//! loading it and tests can compare a file's tensors to a manifest. The file is opened through
//! the validating reader, so a broken file gets the reader's precise error, never a panic.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pine_gguf::{Array, Gguf, TensorInfo, Value};
use serde_json::{json, Map, Number, Value as Json};

use crate::file_tool;

/// Arrays up to this length are shown whole; longer ones are summarised unless
/// `--full-arrays` is given (a vocabulary has ~50 000 entries).
pub const MAX_FULL_ARRAY: u64 = 16;
/// Elements shown at the head of a summarised array.
pub const ARRAY_HEAD: u64 = 8;
/// Text mode shortens strings longer than this (chat templates run to kilobytes).
const MAX_TEXT_STRING: usize = 120;

/// Command-line arguments of `pine-inspect`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "pine-inspect",
    about = "Show the header, metadata and tensors of a GGUF file"
)]
pub struct Args {
    /// The GGUF file to inspect.
    pub model: PathBuf,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print every array element instead of a summary of long arrays.
    #[arg(long)]
    pub full_arrays: bool,
}

/// Entry point of the `pine-inspect` binary: parses `argv`, prints to stdout, reports errors
/// on stderr naming the file, and returns exit code 1 on failure (2 for usage errors).
pub fn main(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    const TOOL: &str = "pine-inspect";
    let args: Args = match file_tool::parse(argv) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match file_tool::open(TOOL, &args.model) {
        Ok(gguf) => file_tool::to_stdout(TOOL, |out| inspect(&gguf, &args, out)),
        Err(code) => code,
    }
}

/// Writes the report of an opened file in the format `args` asks for.
pub fn inspect(g: &Gguf, args: &Args, out: &mut dyn Write) -> io::Result<()> {
    if args.json {
        let doc = to_json(g, args.full_arrays);
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    } else {
        write_text(g, args.full_arrays, out)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The whole file as one JSON document: header fields, `metadata` (key → value) and
/// `tensors` (name, ggml type name, shape in ggml order, offset in the data section, bytes).
pub fn to_json(g: &Gguf, full_arrays: bool) -> Json {
    let metadata: Map<String, Json> = g
        .metadata()
        .map(|(k, v)| (k.to_string(), value_json(&v, full_arrays)))
        .collect();
    let tensors: Vec<Json> = g.tensors().iter().map(tensor_json).collect();
    json!({
        "file": g.path().map(|p| p.display().to_string()),
        "version": g.version(),
        "alignment": g.alignment(),
        "data_offset": g.data_offset(),
        "file_len": g.file_len(),
        "n_kv": metadata.len(),
        "n_tensors": tensors.len(),
        "metadata": metadata,
        "tensors": tensors,
    })
}

fn tensor_json(t: &TensorInfo) -> Json {
    json!({
        "name": t.name,
        "type": t.ty.name(),
        "shape": t.dims,
        "offset": t.offset,
        "n_bytes": t.n_bytes,
    })
}

/// One metadata value as JSON; long arrays become a summary object unless `full_arrays`.
pub fn value_json(v: &Value<'_>, full_arrays: bool) -> Json {
    match *v {
        Value::U8(x) => x.into(),
        Value::I8(x) => x.into(),
        Value::U16(x) => x.into(),
        Value::I16(x) => x.into(),
        Value::U32(x) => x.into(),
        Value::I32(x) => x.into(),
        Value::U64(x) => x.into(),
        Value::I64(x) => x.into(),
        // Through the shortest decimal form, so 1e-5f32 prints as 1e-05, not 9.99999974e-06.
        Value::F32(x) => float_json(x.to_string().parse().unwrap_or(f64::NAN)),
        Value::F64(x) => float_json(x),
        Value::Bool(b) => b.into(),
        Value::String(s) => String::from_utf8_lossy(s).into(),
        Value::Array(a) => array_json(&a, full_arrays),
    }
}

/// A float as a JSON number; NaN and infinities, which JSON cannot hold, as strings.
fn float_json(x: f64) -> Json {
    Number::from_f64(x).map_or_else(|| Json::String(x.to_string()), Json::Number)
}

fn array_json(a: &Array<'_>, full_arrays: bool) -> Json {
    if full_arrays || a.len <= MAX_FULL_ARRAY {
        return a.iter().map(|e| value_json(&e, full_arrays)).collect();
    }
    let head: Vec<Json> = a
        .iter()
        .take(ARRAY_HEAD as usize)
        .map(|e| value_json(&e, false))
        .collect();
    json!({
        "type": "array",
        "elem": a.elem.name(),
        "len": a.len,
        "head": head,
    })
}

// ---------------------------------------------------------------------------------------------
// Text

/// A human-readable report: header line, one metadata key per line, then the tensor table.
pub fn write_text(g: &Gguf, full_arrays: bool, out: &mut dyn Write) -> io::Result<()> {
    if let Some(p) = g.path() {
        writeln!(out, "{}", p.display())?;
    }
    writeln!(
        out,
        "GGUF v{}, alignment {}, {} metadata keys, {} tensors, data at byte {} of {}",
        g.version(),
        g.alignment(),
        g.metadata().count(),
        g.tensors().len(),
        g.data_offset(),
        g.file_len()
    )?;
    writeln!(out, "\nmetadata:")?;
    for (k, v) in g.metadata() {
        writeln!(out, "  {k} = {}", value_text(&v, full_arrays))?;
    }
    writeln!(out, "\ntensors:")?;
    write_tensor_table(g.tensors(), out)
}

fn write_tensor_table(tensors: &[TensorInfo], out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<[String; 6]> = tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let shape: Vec<String> = t.dims.iter().map(u64::to_string).collect();
            [
                i.to_string(),
                t.name.clone(),
                t.ty.name().to_string(),
                format!("[{}]", shape.join(", ")),
                t.offset.to_string(),
                t.n_bytes.to_string(),
            ]
        })
        .collect();
    let header = ["#", "name", "type", "shape", "offset", "bytes"].map(String::from);
    let mut width = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        // Numbers right-aligned, text left-aligned.
        writeln!(
            out,
            "  {:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {:>w5$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4],
            w5 = width[5],
        )?;
    }
    let total: u64 = tensors.iter().map(|t| t.n_bytes).sum();
    writeln!(out, "  {} tensors, {total} bytes of data", tensors.len())
}

/// One value for text mode: strings quoted and escaped (and shortened when long), arrays
/// as `[elem × len] [head…]`.
pub fn value_text(v: &Value<'_>, full_arrays: bool) -> String {
    match *v {
        Value::String(s) => {
            let s = String::from_utf8_lossy(s);
            match s.char_indices().nth(MAX_TEXT_STRING) {
                Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
                None => format!("{s:?}"),
            }
        }
        Value::Array(a) => {
            let all = full_arrays || a.len <= MAX_FULL_ARRAY;
            let shown = if all { a.len } else { ARRAY_HEAD };
            let items: Vec<String> = a
                .iter()
                .take(shown as usize)
                .map(|e| value_text(&e, full_arrays))
                .collect();
            let more = if all { "" } else { ", …" };
            format!(
                "[{} × {}] [{}{more}]",
                a.elem.name(),
                a.len,
                items.join(", ")
            )
        }
        Value::F32(x) => x.to_string(),
        Value::F64(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        ref int => int.as_i64().map_or_else(
            || int.as_u64().map_or_else(String::new, |u| u.to_string()),
            |i| i.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pine_gguf::{GgmlType, GgufWriter, OwnedValue, ValueType};

    fn sample() -> Gguf {
        let mut w = GgufWriter::new();
        w.set("general.architecture", OwnedValue::String("llama".into()))
            .unwrap();
        w.set("llama.rope.freq_base", OwnedValue::F32(1e-5))
            .unwrap();
        let tokens = (0..40)
            .map(|i| OwnedValue::String(format!("t{i}")))
            .collect();
        w.set(
            "tokenizer.ggml.tokens",
            OwnedValue::Array(ValueType::String, tokens),
        )
        .unwrap();
        w.set(
            "small",
            OwnedValue::Array(ValueType::I32, vec![OwnedValue::I32(-1)]),
        )
        .unwrap();
        w.add_tensor("blk.0.w", GgmlType::Q4_K, &[256, 2], vec![0; 288])
            .unwrap();
        w.add_tensor("norm", GgmlType::F32, &[4], vec![0; 16])
            .unwrap();
        Gguf::from_bytes(w.to_bytes().unwrap()).unwrap()
    }

    #[test]
    fn json_summarises_long_arrays_and_names_types() {
        let j = to_json(&sample(), false);
        let md = &j["metadata"];
        assert_eq!(md["general.architecture"], "llama");
        assert_eq!(md["llama.rope.freq_base"], 1e-5);
        assert_eq!(md["small"], json!([-1]));
        let tok = &md["tokenizer.ggml.tokens"];
        assert_eq!(tok["type"], "array");
        assert_eq!(tok["elem"], "string");
        assert_eq!(tok["len"], 40);
        assert_eq!(tok["head"][0], "t0");
        assert_eq!(tok["head"].as_array().unwrap().len(), ARRAY_HEAD as usize);
        assert_eq!(
            j["tensors"][0],
            json!({"name": "blk.0.w", "type": "Q4_K", "shape": [256, 2], "offset": 0, "n_bytes": 288})
        );
        let full = to_json(&sample(), true);
        assert_eq!(
            full["metadata"]["tokenizer.ggml.tokens"]
                .as_array()
                .unwrap()
                .len(),
            40
        );
    }

    #[test]
    fn text_lists_header_metadata_and_tensors() {
        let args = Args {
            model: "x.gguf".into(),
            json: false,
            full_arrays: false,
        };
        let mut out = Vec::new();
        inspect(&sample(), &args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("GGUF v3, alignment 32, 4 metadata keys, 2 tensors"));
        assert!(text.contains(r#"general.architecture = "llama""#));
        assert!(text.contains(r#"tokenizer.ggml.tokens = [string × 40] ["t0", "#));
        assert!(text.contains("blk.0.w  Q4_K  [256, 2]"), "{text}");
        assert!(text.contains("2 tensors, 304 bytes of data"), "{text}");
    }
}
