//! Writing GGUF v3 files: used by `pine-quantize` and by tests that build small or deliberately
//! broken files. Files are streamed through an [`OutputFile`] (a fresh temporary renamed over
//! the path, see [`crate::output`]), so a failed write never leaves a partial model behind and
//! never touches anything but the path, and the encoded file is never held in memory a second
//! time.

use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use crate::error::GgufError;
use crate::output::OutputFile;
use crate::reader::{align_up, DEFAULT_ALIGNMENT, GGUF_MAGIC};
use crate::types::GgmlType;
use crate::value::{Value, ValueType};

/// An owned metadata value, for writing.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    /// A homogeneous array: every element must have type `.0`.
    Array(ValueType, Vec<OwnedValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl OwnedValue {
    fn value_type(&self) -> ValueType {
        match self {
            OwnedValue::U8(_) => ValueType::U8,
            OwnedValue::I8(_) => ValueType::I8,
            OwnedValue::U16(_) => ValueType::U16,
            OwnedValue::I16(_) => ValueType::I16,
            OwnedValue::U32(_) => ValueType::U32,
            OwnedValue::I32(_) => ValueType::I32,
            OwnedValue::F32(_) => ValueType::F32,
            OwnedValue::Bool(_) => ValueType::Bool,
            OwnedValue::String(_) => ValueType::String,
            OwnedValue::Array(..) => ValueType::Array,
            OwnedValue::U64(_) => ValueType::U64,
            OwnedValue::I64(_) => ValueType::I64,
            OwnedValue::F64(_) => ValueType::F64,
        }
    }

    /// Copies a borrowed value (e.g. to carry metadata from one file to another).
    pub fn from_value(v: &Value<'_>) -> OwnedValue {
        match *v {
            Value::U8(x) => OwnedValue::U8(x),
            Value::I8(x) => OwnedValue::I8(x),
            Value::U16(x) => OwnedValue::U16(x),
            Value::I16(x) => OwnedValue::I16(x),
            Value::U32(x) => OwnedValue::U32(x),
            Value::I32(x) => OwnedValue::I32(x),
            Value::F32(x) => OwnedValue::F32(x),
            Value::Bool(x) => OwnedValue::Bool(x),
            Value::String(s) => OwnedValue::String(String::from_utf8_lossy(s).into_owned()),
            Value::Array(a) => OwnedValue::Array(
                a.elem,
                a.iter().map(|e| OwnedValue::from_value(&e)).collect(),
            ),
            Value::U64(x) => OwnedValue::U64(x),
            Value::I64(x) => OwnedValue::I64(x),
            Value::F64(x) => OwnedValue::F64(x),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), GgufError> {
        match self {
            OwnedValue::U8(x) => out.push(*x),
            OwnedValue::I8(x) => out.push(*x as u8),
            OwnedValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::Bool(x) => out.push(u8::from(*x)),
            OwnedValue::String(s) => encode_str(s, out),
            OwnedValue::Array(elem, items) => {
                out.extend_from_slice(&(*elem as u32).to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for it in items {
                    if it.value_type() != *elem {
                        return Err(GgufError::Invalid {
                            what: format!(
                                "array of {} holds a {}",
                                elem.name(),
                                it.value_type().name()
                            ),
                        });
                    }
                    it.encode(out)?;
                }
            }
            OwnedValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
            OwnedValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        }
        Ok(())
    }
}

fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct PendingTensor {
    name: String,
    ty: GgmlType,
    dims: Vec<u64>,
    data: Vec<u8>,
}

/// Collects metadata and tensors, then writes a GGUF v3 file.
pub struct GgufWriter {
    alignment: u64,
    kvs: Vec<(String, OwnedValue)>,
    tensors: Vec<PendingTensor>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter::new()
    }
}

impl GgufWriter {
    /// An empty file with the default alignment.
    pub fn new() -> GgufWriter {
        GgufWriter {
            alignment: DEFAULT_ALIGNMENT,
            kvs: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Sets (or replaces) a metadata key. `general.alignment` also sets the data alignment.
    pub fn set(&mut self, key: &str, value: OwnedValue) -> Result<(), GgufError> {
        if key == "general.alignment" {
            match value {
                OwnedValue::U32(a) if a != 0 && a.is_power_of_two() => self.alignment = a.into(),
                _ => {
                    return Err(GgufError::Invalid {
                        what: "general.alignment must be a power-of-two u32".into(),
                    })
                }
            }
        }
        match self.kvs.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.kvs.push((key.to_string(), value)),
        }
        Ok(())
    }

    /// Adds a tensor; `dims[0]` is the row length, `data` its encoded bytes.
    pub fn add_tensor(
        &mut self,
        name: &str,
        ty: GgmlType,
        dims: &[u64],
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        let n: u64 = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| GgufError::tensor(name, "dims overflow"))?;
        let row = dims.first().copied().unwrap_or(1);
        let bytes = ty
            .row_bytes(row)
            .and_then(|rb| rb.checked_mul(n.checked_div(row).unwrap_or(0)))
            .ok_or_else(|| {
                GgufError::tensor(name, format!("row length {row} does not fit {ty} blocks"))
            })?;
        if bytes != data.len() as u64 {
            return Err(GgufError::tensor(
                name,
                format!(
                    "{} bytes given, {ty} dims {dims:?} need {bytes}",
                    data.len()
                ),
            ));
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(GgufError::tensor(name, "added twice"));
        }
        self.tensors.push(PendingTensor {
            name: name.to_string(),
            ty,
            dims: dims.to_vec(),
            data,
        });
        Ok(())
    }

    /// Encodes the whole file in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GgufError> {
        let header = self.encode_header()?;
        let mut out = Vec::new();
        self.write_parts(&header, &mut out)
            .map_err(|e| GgufError::Invalid {
                what: e.to_string(),
            })?;
        Ok(out)
    }

    /// Everything before the tensor data: magic, version, counts, metadata, tensor infos,
    /// padded to the alignment.
    fn encode_header(&self) -> Result<Vec<u8>, GgufError> {
        let mut out = Vec::new();
        out.extend_from_slice(&GGUF_MAGIC);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        for (k, v) in &self.kvs {
            encode_str(k, &mut out);
            out.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
            v.encode(&mut out)?;
        }
        let overflow = || GgufError::Invalid {
            what: "tensor data too large".into(),
        };
        let mut offset = 0u64;
        for t in &self.tensors {
            encode_str(&t.name, &mut out);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.ty.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = offset
                .checked_add(t.data.len() as u64)
                .and_then(|o| align_up(o, self.alignment))
                .ok_or_else(overflow)?;
        }
        let len = out.len() as u64;
        out.resize((len + padding(len, self.alignment)) as usize, 0);
        Ok(out)
    }

    /// Writes `header`, then each tensor's data padded to the alignment.
    fn write_parts(&self, header: &[u8], w: &mut impl Write) -> io::Result<()> {
        w.write_all(header)?;
        for t in &self.tensors {
            w.write_all(&t.data)?;
            let pad = padding(t.data.len() as u64, self.alignment);
            io::copy(&mut io::repeat(0).take(pad), w)?;
        }
        Ok(())
    }

    /// Streams the file into `out` and puts it in place ([`OutputFile::commit`]); on any error
    /// `out`'s temporary is removed and nothing at its path changes.
    pub fn write_output(&self, mut out: OutputFile) -> Result<(), GgufError> {
        let header = self.encode_header()?;
        let mut w = BufWriter::with_capacity(1 << 20, &mut out);
        let written = self.write_parts(&header, &mut w).and_then(|()| w.flush());
        drop(w);
        written.map_err(|e| out.error(e))?;
        out.commit()
    }

    /// Writes the file to `path` safely: see [`crate::output`] (a new or regular file is
    /// replaced atomically, a device or FIFO written in place, anything else refused).
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), GgufError> {
        self.write_output(OutputFile::create(path)?)
    }
}

/// Zero bytes that bring `len` up to a multiple of `alignment`.
fn padding(len: u64, alignment: u64) -> u64 {
    align_up(len, alignment).map_or(0, |a| a - len)
}
