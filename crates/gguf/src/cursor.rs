//! A bounds-checked little-endian reader over a byte slice. Every read checks the remaining
//! length first, so hostile lengths turn into errors with the offset where they occurred.

use crate::error::GgufError;
use crate::value::{Array, Value, ValueType};

/// Arrays may nest, but real files never go deeper than this; deeper nesting is rejected so a
/// hostile file cannot exhaust the stack.
const MAX_ARRAY_DEPTH: u32 = 4;

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// File offset of `bytes[0]`, so errors report absolute offsets.
    base: u64,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor {
            bytes,
            pos: 0,
            base,
        }
    }

    /// Absolute file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(GgufError::malformed(
                self.offset(),
                format!("{what} needs {n} bytes but only {left} remain in the file"),
            ));
        }
        let n = n as usize;
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A GGUF string (u64 length + bytes) as raw bytes; UTF-8 is checked by the caller.
    pub(crate) fn string(&mut self, what: &str) -> Result<&'a [u8], GgufError> {
        let n = self.u64(what)?;
        self.take(n, what)
    }

    /// A scalar or string value of type `ty` (arrays are handled by [`Cursor::value`]).
    pub(crate) fn scalar_or_string(&mut self, ty: ValueType) -> Result<Value<'a>, GgufError> {
        let w = "metadata value";
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>(w)?[0]),
            ValueType::I8 => Value::I8(self.array::<1>(w)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(w)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(w)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(w)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(w)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(w)?)),
            ValueType::Bool => {
                let at = self.offset();
                match self.array::<1>(w)?[0] {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    b => return Err(GgufError::malformed(at, format!("bool value {b}"))),
                }
            }
            ValueType::String => Value::String(self.string("string value")?),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(w)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(w)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(w)?)),
            ValueType::Array => {
                return Err(GgufError::malformed(self.offset(), "unexpected array"))
            }
        })
    }

    /// A metadata value of type id `ty`, walking (and so validating) array payloads.
    pub(crate) fn value(&mut self, ty: ValueType) -> Result<Value<'a>, GgufError> {
        self.value_at_depth(ty, 0)
    }

    fn value_at_depth(&mut self, ty: ValueType, depth: u32) -> Result<Value<'a>, GgufError> {
        if ty != ValueType::Array {
            return self.scalar_or_string(ty);
        }
        if depth >= MAX_ARRAY_DEPTH {
            return Err(GgufError::malformed(
                self.offset(),
                "arrays nested too deep",
            ));
        }
        let at = self.offset();
        let elem_id = self.u32("array element type")?;
        let elem = ValueType::from_id(elem_id).ok_or_else(|| {
            GgufError::malformed(at, format!("unknown array element type {elem_id}"))
        })?;
        let len = self.u64("array length")?;
        let start = self.pos;
        let start_offset = self.offset();
        match elem.scalar_size() {
            Some(size) => {
                let bytes = len.checked_mul(size as u64).ok_or_else(|| {
                    GgufError::malformed(start_offset, format!("array length {len} overflows"))
                })?;
                let payload = self.take(bytes, "array payload")?;
                // Bools are the one scalar with invalid encodings; check them here so that
                // iterating an accepted array never stops early.
                if elem == ValueType::Bool {
                    if let Some(i) = payload.iter().position(|&b| b > 1) {
                        return Err(GgufError::malformed(
                            start_offset + i as u64,
                            format!("bool value {} at array index {i}", payload[i]),
                        ));
                    }
                }
            }
            None => {
                // Each element takes at least 8 bytes, so a count larger than the rest of the
                // file is rejected before looping over it.
                let left = (self.bytes.len() - self.pos) as u64;
                if len > left / 8 {
                    return Err(GgufError::malformed(
                        start_offset,
                        format!("array of {len} {} cannot fit in the file", elem.name()),
                    ));
                }
                for _ in 0..len {
                    self.value_at_depth(elem, depth + 1)?;
                }
            }
        }
        Ok(Value::Array(Array {
            elem,
            len,
            raw: &self.bytes[start..self.pos],
            offset: start_offset,
        }))
    }
}
