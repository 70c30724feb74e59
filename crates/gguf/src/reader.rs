//! Opening and validating a GGUF file. Everything a later layer relies on (tensor extents,
//! types, alignment, metadata encoding) is checked here once, with checked arithmetic, so the
//! rest of pine can slice the map without further checks.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::cursor::Cursor;
use crate::error::GgufError;
use crate::types::GgmlType;
use crate::value::{Value, ValueType};

/// The four magic bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most four dimensions.
pub const MAX_DIMS: u32 = 4;

/// One tensor's description; its bytes are at `data_offset + offset` in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Element type.
    pub ty: GgmlType,
    /// Dimensions in ggml order: `dims[0]` is the row length (contiguous elements).
    pub dims: Vec<u64>,
    /// Offset of the data relative to the start of the data section.
    pub offset: u64,
    /// Bytes of data.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Total elements (the product of the dims; checked at open).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Row length (`dims[0]`), the unit of quantization.
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows (the product of the remaining dims).
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }
}

/// Where the bytes live: a read-only map of a file, or an owned buffer (tests, fuzzing).
enum Source {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Source {
    fn bytes(&self) -> &[u8] {
        match self {
            Source::Mapped(m) => m,
            Source::Owned(v) => v,
        }
    }
}

struct KvEntry {
    key: String,
    ty: ValueType,
    /// Byte range of the encoded value (after its type id).
    range: Range<usize>,
}

/// An opened, fully validated GGUF file. Metadata values and tensor data are borrowed slices of
/// the underlying map: nothing is copied.
pub struct Gguf {
    source: Source,
    path: Option<PathBuf>,
    version: u32,
    alignment: u64,
    data_offset: u64,
    kvs: Vec<KvEntry>,
    index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
}

impl Gguf {
    /// Maps and validates the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf, GgufError> {
        let path = path.as_ref();
        let io = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only and private to this process; pine never writes model
        // files in place (the writer replaces files by rename), and all reads go through
        // bounds-checked slices validated below.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let mut g = Gguf::parse(Source::Mapped(map))?;
        g.path = Some(path.to_path_buf());
        Ok(g)
    }

    /// Validates a GGUF image held in memory (tests, fuzzing, generated files).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Gguf, GgufError> {
        Gguf::parse(Source::Owned(bytes))
    }

    fn parse(source: Source) -> Result<Gguf, GgufError> {
        let header = parse_header(source.bytes())?;
        let index = header
            .kvs
            .iter()
            .enumerate()
            .map(|(i, kv)| (kv.key.clone(), i))
            .collect();
        let tensor_index = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Gguf {
            source,
            path: None,
            version: header.version,
            alignment: header.alignment,
            data_offset: header.data_offset,
            kvs: header.kvs,
            index,
            tensors: header.tensors,
            tensor_index,
        })
    }

    /// The path the file was opened from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Alignment of tensor data (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute file offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Size of the whole file in bytes.
    pub fn file_len(&self) -> u64 {
        self.source.bytes().len() as u64
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, Value<'_>)> {
        self.kvs.iter().map(|kv| (kv.key.as_str(), self.decode(kv)))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        self.index.get(key).map(|&i| self.decode(&self.kvs[i]))
    }

    fn decode(&self, kv: &KvEntry) -> Value<'_> {
        let bytes = &self.source.bytes()[kv.range.clone()];
        Cursor::new(bytes, kv.range.start as u64)
            .value(kv.ty)
            .expect("metadata value was validated at open")
    }

    fn require(&self, key: &str) -> Result<Value<'_>, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_string(),
        })
    }

    fn wrong(key: &str, expected: &'static str, v: &Value<'_>) -> GgufError {
        GgufError::WrongType {
            key: key.to_string(),
            expected,
            found: v.type_description(),
        }
    }

    /// An integer key as u32 (any stored integer width whose value fits).
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        let v = self.require(key)?;
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| Gguf::wrong(key, "an unsigned 32-bit integer", &v))
    }

    /// An integer key as u64.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.require(key)?;
        v.as_u64()
            .ok_or_else(|| Gguf::wrong(key, "an unsigned integer", &v))
    }

    /// A float key (f32 or f64) as f32.
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        match v {
            Value::F32(x) => Ok(x),
            Value::F64(x) => Ok(x as f32),
            _ => Err(Gguf::wrong(key, "a float", &v)),
        }
    }

    /// A bool key.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        let v = self.require(key)?;
        v.as_bool().ok_or_else(|| Gguf::wrong(key, "a bool", &v))
    }

    /// A UTF-8 string key, borrowed from the file.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.require(key)?;
        v.as_str()
            .ok_or_else(|| Gguf::wrong(key, "a UTF-8 string", &v))
    }

    fn get_array(
        &self,
        key: &str,
        elem: &[ValueType],
        expected: &'static str,
    ) -> Result<crate::value::Array<'_>, GgufError> {
        let v = self.require(key)?;
        match v.as_array() {
            Some(a) if elem.contains(&a.elem) => Ok(a),
            _ => Err(Gguf::wrong(key, expected, &v)),
        }
    }

    /// An array of UTF-8 strings, borrowed from the file.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        let a = self.get_array(key, &[ValueType::String], "an array of strings")?;
        a.iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().ok_or_else(|| GgufError::WrongType {
                    key: format!("{key}[{i}]"),
                    expected: "a UTF-8 string",
                    found: "invalid UTF-8".to_string(),
                })
            })
            .collect()
    }

    /// An array of f32 values.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        let a = self.get_array(key, &[ValueType::F32], "an array of f32")?;
        Ok(a.iter().filter_map(|v| v.as_f32()).collect())
    }

    /// An array of integers (any width whose values fit) as i32.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, GgufError> {
        use ValueType::*;
        let a = self.get_array(
            key,
            &[I8, U8, I16, U16, I32, U32, I64, U64],
            "an array of integers",
        )?;
        a.iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_i64()
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(|| GgufError::WrongType {
                        key: format!("{key}[{i}]"),
                        expected: "a 32-bit integer",
                        found: v.type_description(),
                    })
            })
            .collect()
    }

    /// All tensors in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The bytes of a tensor of this file (validated at open, so this cannot go out of bounds).
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        let start = (self.data_offset + t.offset) as usize;
        &self.source.bytes()[start..start + t.n_bytes as usize]
    }

    /// Drops this process's resident pages of tensor `t` (a hint; later reads fault them back in
    /// from the file). For tensors a backend has copied, e.g. repacked, so that their bytes do
    /// not count twice in the resident set. Nothing happens for in-memory images.
    pub fn release_tensor_pages(&self, t: &TensorInfo) {
        #[cfg(unix)]
        if let Source::Mapped(m) = &self.source {
            let start = (self.data_offset + t.offset) as usize;
            // SAFETY: the map is a read-only file mapping, so MADV_DONTNEED drops only clean
            // pages, which later reads fault back in unchanged from the file: every slice into
            // the map stays valid and keeps its contents. A failure only means the pages stay.
            let _ = unsafe {
                m.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    start,
                    t.n_bytes as usize,
                )
            };
        }
        #[cfg(not(unix))]
        let _ = t;
    }
}

struct Header {
    version: u32,
    alignment: u64,
    data_offset: u64,
    kvs: Vec<KvEntry>,
    tensors: Vec<TensorInfo>,
}

fn parse_header(bytes: &[u8]) -> Result<Header, GgufError> {
    let mut c = Cursor::new(bytes, 0);
    let magic = c.take(4, "magic")?;
    if magic != GGUF_MAGIC {
        return Err(GgufError::malformed(
            0,
            format!("bad magic {magic:02x?}, expected \"GGUF\""),
        ));
    }
    let version = c.u32("version")?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(GgufError::malformed(
                4,
                "GGUF v1 is not supported (convert it with a newer llama.cpp)",
            ))
        }
        v if (1..=3).contains(&v.swap_bytes()) => {
            return Err(GgufError::malformed(
                4,
                "big-endian GGUF files are not supported",
            ))
        }
        v => {
            return Err(GgufError::malformed(
                4,
                format!("unsupported GGUF version {v}"),
            ))
        }
    }
    let file_len = bytes.len() as u64;
    let n_tensors = c.u64("tensor count")?;
    let n_kv = c.u64("metadata count")?;
    // Minimal encodings: a KV is at least 8 (key len) + 4 (type) + 1 byte; a tensor info is at
    // least 8 + 4 + 8 + 4 + 8 bytes. Counts that cannot fit are rejected before any allocation.
    if n_kv > file_len / 13 {
        return Err(GgufError::malformed(
            16,
            format!("metadata count {n_kv} cannot fit in a {file_len}-byte file"),
        ));
    }
    if n_tensors > file_len / 32 {
        return Err(GgufError::malformed(
            8,
            format!("tensor count {n_tensors} cannot fit in a {file_len}-byte file"),
        ));
    }

    // Preallocate no more bytes than the file holds; real entries grow the vectors as parsed.
    let mut kvs = Vec::with_capacity(prealloc::<KvEntry>(n_kv, file_len));
    let mut seen = HashSet::new();
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..n_kv {
        let at = c.offset();
        let key = utf8(c.string("metadata key")?, at, "metadata key")?;
        let ty_at = c.offset();
        let ty_id = c.u32("metadata value type")?;
        let ty = ValueType::from_id(ty_id).ok_or_else(|| {
            GgufError::malformed(ty_at, format!("key '{key}' has unknown value type {ty_id}"))
        })?;
        let start = c.offset() as usize;
        let value = c.value(ty).map_err(|e| in_key(e, &key))?;
        if let Value::String(s) = value {
            utf8(s, start as u64, &format!("value of key '{key}'"))?;
        }
        if key == "general.alignment" {
            alignment = match value {
                Value::U32(a) if a != 0 && a.is_power_of_two() => a.into(),
                other => {
                    // Describe arrays by type only: their Debug form would dump the payload.
                    let found = match other {
                        Value::Array(_) | Value::String(_) => other.type_description(),
                        scalar => format!("{scalar:?}"),
                    };
                    return Err(GgufError::malformed(
                        start as u64,
                        format!("general.alignment must be a power-of-two u32, found {found}"),
                    ));
                }
            };
        }
        if !seen.insert(key.clone()) {
            return Err(GgufError::malformed(
                at,
                format!("duplicate metadata key '{key}'"),
            ));
        }
        kvs.push(KvEntry {
            key,
            ty,
            range: start..c.offset() as usize,
        });
    }

    let mut tensors = Vec::with_capacity(prealloc::<TensorInfo>(n_tensors, file_len));
    let mut names = HashSet::new();
    for _ in 0..n_tensors {
        tensors.push(parse_tensor_info(&mut c, &mut names)?);
    }

    // A file without tensor bytes (a vocab-only file) may end before the padding, as
    // llama.cpp accepts; then the (empty) data section is placed at the end of the file.
    let no_data = tensors.iter().all(|t| t.n_bytes == 0);
    let data_offset = match align_up(c.offset(), alignment) {
        Some(d) if d <= file_len => d,
        _ if no_data => file_len,
        _ => {
            return Err(GgufError::malformed(
                c.offset(),
                "tensor data section starts past the end of the file",
            ))
        }
    };
    check_extents(&tensors, alignment, data_offset, file_len)?;
    Ok(Header {
        version,
        alignment,
        data_offset,
        kvs,
        tensors,
    })
}

fn parse_tensor_info(
    c: &mut Cursor<'_>,
    names: &mut HashSet<String>,
) -> Result<TensorInfo, GgufError> {
    let at = c.offset();
    let name = utf8(c.string("tensor name")?, at, "tensor name")?;
    if !names.insert(name.clone()) {
        return Err(GgufError::tensor(
            &name,
            format!("duplicate tensor name at byte offset {at}"),
        ));
    }
    let n_dims = c.u32("tensor dim count")?;
    if n_dims > MAX_DIMS {
        return Err(GgufError::tensor(
            &name,
            format!("{n_dims} dimensions (ggml allows at most {MAX_DIMS})"),
        ));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(c.u64("tensor dim")?);
    }
    let ty_id = c.u32("tensor type")?;
    let ty = GgmlType::from_id(ty_id)
        .ok_or_else(|| GgufError::tensor(&name, format!("unknown ggml type id {ty_id}")))?;
    let offset = c.u64("tensor offset")?;
    // The product of the non-zero dims must fit in i64 (as in ggml), so that every partial
    // product (`n_rows`, `n_elements`) fits too, even when some dim is zero.
    dims.iter()
        .filter(|&&d| d != 0)
        .try_fold(1u64, |acc, &d| {
            acc.checked_mul(d).filter(|&n| n <= i64::MAX as u64)
        })
        .ok_or_else(|| GgufError::tensor(&name, format!("dims {dims:?} overflow")))?;
    let n_elements: u64 = dims.iter().product();
    let row = dims.first().copied().unwrap_or(1);
    let row_bytes = ty.row_bytes(row).ok_or_else(|| {
        GgufError::tensor(
            &name,
            format!(
                "row length {row} is not a multiple of {ty}'s block size {}",
                ty.block_size()
            ),
        )
    })?;
    let n_bytes = row_bytes
        .checked_mul(n_elements.checked_div(row).unwrap_or(0))
        .ok_or_else(|| GgufError::tensor(&name, format!("byte size of dims {dims:?} overflows")))?;
    Ok(TensorInfo {
        name,
        ty,
        dims,
        offset,
        n_bytes,
    })
}

/// Checks alignment, bounds and overlap of every tensor's data.
fn check_extents(
    tensors: &[TensorInfo],
    alignment: u64,
    data_offset: u64,
    file_len: u64,
) -> Result<(), GgufError> {
    let data_len = file_len - data_offset;
    let mut spans = Vec::with_capacity(tensors.len());
    for t in tensors {
        if !t.offset.is_multiple_of(alignment) {
            return Err(GgufError::tensor(
                &t.name,
                format!(
                    "data offset {} is not a multiple of the alignment {alignment}",
                    t.offset
                ),
            ));
        }
        let end = t.offset.checked_add(t.n_bytes).filter(|&e| e <= data_len).ok_or_else(|| {
            GgufError::tensor(
                &t.name,
                format!(
                    "data [{}, +{}) relative to the data section at byte {data_offset} runs past the end of the {file_len}-byte file",
                    t.offset, t.n_bytes
                ),
            )
        })?;
        if t.n_bytes > 0 {
            spans.push((t.offset, end, &t.name));
        }
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(GgufError::tensor(
                w[1].2,
                format!("data overlaps tensor '{}'", w[0].2),
            ));
        }
    }
    Ok(())
}

/// Initial capacity for `n` parsed items of type `T`: at most as many bytes as the file holds,
/// so a hostile count cannot make the reader allocate more than the file's size up front.
fn prealloc<T>(n: u64, file_len: u64) -> usize {
    let fit = file_len / std::mem::size_of::<T>().max(1) as u64;
    n.min(fit) as usize
}

fn utf8(bytes: &[u8], at: u64, what: &str) -> Result<String, GgufError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|e| GgufError::malformed(at, format!("{what} is not valid UTF-8: {e}")))
}

fn in_key(e: GgufError, key: &str) -> GgufError {
    match e {
        GgufError::Malformed { offset, what } => GgufError::Malformed {
            offset,
            what: format!("{what} (in the value of key '{key}')"),
        },
        e => e,
    }
}

/// Rounds `x` up to a multiple of `a` (a power of two), or `None` on overflow.
pub(crate) fn align_up(x: u64, a: u64) -> Option<u64> {
    x.checked_add(a - 1).map(|v| v / a * a)
}
