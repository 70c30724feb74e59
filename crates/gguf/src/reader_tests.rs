//! The reader against valid and deliberately broken files: a writer-built file round-trips,
//! every truncation and byte flip of it is rejected or accepted without a panic or an
//! allocation larger than the file, and each kind of damage is reported by an error that names
//! the key, tensor or offset to look at.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::value::{Value, ValueType};
use crate::{GgmlType, Gguf, GgufError, GgufWriter, OwnedValue};

// ---------------------------------------------------------------------------------------------
// Peak-allocation tracking: the largest single allocation made by this thread since the reset,
// so a hostile count that makes the reader reserve a huge buffer is caught even when the
// allocation would succeed.

struct Tracking;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged; `note` only touches a
// const-initialised thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Parses `bytes` (and, on success, reads everything in it), turning a panic into a test
/// failure that says which input (`ctx`) caused it, and checking that no single allocation was
/// larger than the file.
fn parse(bytes: &[u8], ctx: &str) -> Result<Gguf, GgufError> {
    let owned = bytes.to_vec();
    PEAK.with(|p| p.set(0));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let r = Gguf::from_bytes(owned);
        if let Ok(g) = &r {
            read_everything(g);
        }
        r
    }));
    let peak = PEAK.with(|p| p.get());
    let r = result.unwrap_or_else(|_| panic!("reader panicked on {ctx}"));
    // Parsed entries are indexed (a hash map slot per key or tensor name, each encoded in at
    // least 13 bytes), so the bound is a small multiple of the file size: what matters is that
    // no count or length field, however large, is ever reserved for before it is checked.
    assert!(
        peak <= 8 * bytes.len() + 512,
        "{ctx}: allocated {peak} bytes at once for a {}-byte file",
        bytes.len()
    );
    r
}

/// Decodes every metadata value, array element and tensor byte, as a model loader would.
fn read_everything(g: &Gguf) {
    fn walk(v: &Value<'_>) {
        if let Value::Array(a) = v {
            let n = a.iter().inspect(walk).count() as u64;
            assert_eq!(n, a.len, "array yields exactly its length");
        }
    }
    for (key, v) in g.metadata() {
        walk(&v);
        assert!(g.get(key).is_some());
    }
    for t in g.tensors() {
        assert_eq!(g.tensor_data(t).len() as u64, t.n_bytes);
        let _ = (t.n_elements(), t.n_rows(), t.row_len());
    }
}

/// The error message for a file that must be rejected.
fn err(bytes: &[u8], ctx: &str) -> String {
    match parse(bytes, ctx) {
        Ok(_) => panic!("{ctx}: accepted"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that the file is rejected with a message containing every one of `needles`.
fn rejects(bytes: &[u8], ctx: &str, needles: &[&str]) {
    let msg = err(bytes, ctx);
    for n in needles {
        assert!(
            msg.contains(n),
            "{ctx}: message {msg:?} does not mention {n:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A valid file built with the writer.

fn metadata() -> Vec<(&'static str, OwnedValue)> {
    use OwnedValue as O;
    let strings = |xs: &[&str]| xs.iter().map(|s| O::String(s.to_string())).collect();
    vec![
        ("general.alignment", O::U32(64)),
        ("general.name", O::String("tiny test ü".into())),
        ("t.u8", O::U8(200)),
        ("t.i8", O::I8(-100)),
        ("t.u16", O::U16(60_000)),
        ("t.i16", O::I16(-30_000)),
        ("t.u32", O::U32(4_000_000_000)),
        ("t.i32", O::I32(-2_000_000_000)),
        ("t.f32", O::F32(1.5e-5)),
        ("t.bool", O::Bool(true)),
        ("t.u64", O::U64(u64::MAX)),
        ("t.i64", O::I64(i64::MIN)),
        ("t.f64", O::F64(-2.25)),
        (
            "t.tokens",
            O::Array(ValueType::String, strings(&["<s>", "", "▁hello", "\n"])),
        ),
        (
            "t.scores",
            O::Array(ValueType::F32, vec![O::F32(0.0), O::F32(-1.0)]),
        ),
        ("t.flags", O::Array(ValueType::Bool, vec![O::Bool(false)])),
        ("t.empty", O::Array(ValueType::U64, vec![])),
        (
            "t.nested",
            O::Array(
                ValueType::Array,
                vec![
                    O::Array(ValueType::I32, vec![O::I32(1), O::I32(-2)]),
                    O::Array(ValueType::String, strings(&["a", "bc"])),
                ],
            ),
        ),
    ]
}

/// (name, type, dims, data): a Q4_0 and an F16 tensor followed by a 64-byte F32 tensor, so
/// the file ends exactly where the last tensor ends (no trailing padding).
fn tensors() -> Vec<(&'static str, GgmlType, Vec<u64>, Vec<u8>)> {
    let q4 = (0..72u8).collect(); // 2 rows of 64 elements = 2 x 2 blocks x 18 bytes
    let f16 = (0..16u8).map(|b| b ^ 0x5a).collect();
    let f32 = (0..16).flat_map(|i| (i as f32).to_le_bytes()).collect();
    vec![
        ("blk.0.q4", GgmlType::Q4_0, vec![64, 2], q4),
        ("norm.f16", GgmlType::F16, vec![8], f16),
        ("embd.f32", GgmlType::F32, vec![4, 4], f32),
    ]
}

fn writer() -> GgufWriter {
    let mut w = GgufWriter::new();
    for (k, v) in metadata() {
        w.set(k, v).unwrap();
    }
    for (name, ty, dims, data) in tensors() {
        w.add_tensor(name, ty, &dims, data).unwrap();
    }
    w
}

fn valid() -> Vec<u8> {
    writer().to_bytes().unwrap()
}

fn check_contents(g: &Gguf) {
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_offset() % 64, 0);
    let want = metadata();
    let got: Vec<_> = g.metadata().collect();
    assert_eq!(got.len(), want.len());
    for ((k, v), (wk, wv)) in got.iter().zip(&want) {
        assert_eq!(k, wk);
        assert_eq!(&OwnedValue::from_value(v), wv, "value of {k}");
        assert_eq!(OwnedValue::from_value(&g.get(k).unwrap()), *wv);
    }
    let want = tensors();
    assert_eq!(g.tensors().len(), want.len());
    for (t, (name, ty, dims, data)) in g.tensors().iter().zip(&want) {
        assert_eq!((t.name.as_str(), t.ty, &t.dims), (*name, *ty, dims));
        assert_eq!(t.offset % 64, 0);
        assert_eq!(g.tensor_data(t), &data[..], "data of {name}");
        assert_eq!(g.tensor(name), Some(t));
    }
    assert_eq!(
        g.data_offset() + 256,
        g.file_len(),
        "file ends at the last tensor"
    );
}

#[test]
fn writer_file_round_trips() {
    let bytes = valid();
    let g = parse(&bytes, "valid file").unwrap();
    assert_eq!(g.version(), 3);
    check_contents(&g);
    assert_eq!(g.get_str("general.name").unwrap(), "tiny test ü");
    assert_eq!(
        g.get_str_array("t.tokens").unwrap(),
        ["<s>", "", "▁hello", "\n"]
    );
    assert_eq!(g.get_f32_array("t.scores").unwrap(), [0.0, -1.0]);
    assert_eq!(g.get_u64("t.u64").unwrap(), u64::MAX);
    assert_eq!(g.get_f32("t.f64").unwrap(), -2.25);
    assert!(g.get_bool("t.bool").unwrap());
    let t = g.tensor("blk.0.q4").unwrap();
    assert_eq!((t.n_bytes, t.n_rows(), t.row_len()), (72, 2, 64));
}

#[test]
fn written_file_opens_from_disk() {
    let path = std::env::temp_dir().join(format!("pine-gguf-test-{}.gguf", std::process::id()));
    writer().write_to(&path).unwrap();
    let g = Gguf::open(&path).unwrap();
    check_contents(&g);
    assert_eq!(g.path(), Some(path.as_path()));
    drop(g);
    std::fs::remove_file(&path).unwrap();
    let e = Gguf::open(&path).err().unwrap().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
}

#[test]
fn version_2_is_accepted() {
    let mut bytes = valid();
    bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
    let g = parse(&bytes, "v2 file").unwrap();
    assert_eq!(g.version(), 2);
    check_contents(&g);
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = valid();
    for len in 0..bytes.len() {
        assert!(
            parse(&bytes[..len], &format!("truncation to {len}")).is_err(),
            "truncation to {len} bytes accepted"
        );
    }
}

#[test]
fn flipping_header_bytes_never_panics_or_overallocates() {
    let bytes = valid();
    let header_len = parse(&bytes, "valid").unwrap().data_offset() as usize;
    let mut accepted = 0;
    for i in 0..header_len {
        for mask in [0x01, 0x02, 0x10, 0x80, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            accepted += parse(&b, &format!("byte {i} ^ {mask:#04x}")).is_ok() as usize;
        }
    }
    // Flips inside values (not lengths, types or counts) still give valid files.
    assert!(accepted > 0);
}

// ---------------------------------------------------------------------------------------------
// Hand-encoded files, for damage the writer refuses to produce.

const T_U32: u32 = 4;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;

fn gstr(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

/// One encoded metadata entry: key, value type id, value bytes.
fn kv(key: &[u8], ty: u32, value: &[u8]) -> Vec<u8> {
    let mut v = gstr(key);
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(value);
    v
}

/// One encoded tensor info: name, dims, ggml type id, data offset.
fn ti(name: &[u8], dims: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    let mut v = gstr(name);
    v.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for d in dims {
        v.extend_from_slice(&d.to_le_bytes());
    }
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(&offset.to_le_bytes());
    v
}

/// A file assembled from parts; counts default to the number of parts given.
struct Raw {
    version: [u8; 4],
    n_tensors: Option<u64>,
    n_kv: Option<u64>,
    kvs: Vec<Vec<u8>>,
    tensors: Vec<Vec<u8>>,
    data: Vec<u8>,
}

impl Raw {
    fn new() -> Raw {
        Raw {
            version: 3u32.to_le_bytes(),
            n_tensors: None,
            n_kv: None,
            kvs: vec![kv(b"general.name", T_STRING, &gstr(b"x"))],
            tensors: vec![ti(b"w", &[8], GgmlType::F32.id(), 0)],
            data: vec![0; 32],
        }
    }

    fn kv(mut self, k: Vec<u8>) -> Raw {
        self.kvs.push(k);
        self
    }

    fn tensor(mut self, t: Vec<u8>) -> Raw {
        self.tensors.push(t);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend_from_slice(&self.version);
        let n_t = self.n_tensors.unwrap_or(self.tensors.len() as u64);
        v.extend_from_slice(&n_t.to_le_bytes());
        let n_kv = self.n_kv.unwrap_or(self.kvs.len() as u64);
        v.extend_from_slice(&n_kv.to_le_bytes());
        self.kvs
            .iter()
            .chain(&self.tensors)
            .for_each(|p| v.extend(p));
        v.resize(v.len().next_multiple_of(32), 0);
        v.extend_from_slice(&self.data);
        v
    }
}

#[test]
fn hand_encoder_matches_the_reader() {
    let g = parse(&Raw::new().bytes(), "base raw file").unwrap();
    assert_eq!(g.tensor("w").unwrap().n_bytes, 32);
}

#[test]
fn vocab_only_file_without_padding_is_accepted() {
    let mut r = Raw::new();
    r.tensors.clear();
    r.data.clear();
    let mut bytes = r.bytes();
    bytes.truncate(24 + r.kvs[0].len());
    let g = parse(&bytes, "vocab-only file").unwrap();
    assert!(g.tensors().is_empty());
    assert_eq!(g.data_offset(), g.file_len());
}

#[test]
fn bad_magic_and_versions() {
    let mut b = Raw::new().bytes();
    b[0] = b'g';
    rejects(&b, "bad magic", &["magic", "offset 0"]);
    let cases: [([u8; 4], &str); 5] = [
        ([0, 0, 0, 3], "big-endian"),
        ([0, 0, 0, 2], "big-endian"),
        ([1, 0, 0, 0], "v1"),
        ([0, 0, 0, 0], "unsupported GGUF version 0"),
        ([4, 0, 0, 0], "unsupported GGUF version 4"),
    ];
    for (version, needle) in cases {
        let mut r = Raw::new();
        r.version = version;
        rejects(&r.bytes(), needle, &[needle, "offset 4"]);
    }
}

#[test]
fn absurd_counts() {
    let mut r = Raw::new();
    r.n_tensors = Some(u64::MAX);
    rejects(
        &r.bytes(),
        "n_tensors MAX",
        &["tensor count 18446744073709551615"],
    );
    let mut r = Raw::new();
    r.n_kv = Some(u64::MAX);
    rejects(
        &r.bytes(),
        "n_kv MAX",
        &["metadata count 18446744073709551615"],
    );
    // Counts that pass the size check but run out of bytes.
    let mut r = Raw::new();
    r.n_kv = Some(5);
    rejects(&r.bytes(), "n_kv 5", &["metadata"]);
    let mut r = Raw::new();
    r.n_tensors = Some(3);
    rejects(&r.bytes(), "n_tensors 3", &["tensor"]);
}

#[test]
fn absurd_dims() {
    let f32 = GgmlType::F32.id();
    let r = Raw::new().tensor(ti(b"big", &[1 << 32, 1 << 32], f32, 64));
    rejects(&r.bytes(), "dims overflow", &["tensor 'big'", "overflow"]);
    let r = Raw::new().tensor(ti(b"neg", &[u64::MAX], f32, 64));
    rejects(&r.bytes(), "dim > i64::MAX", &["tensor 'neg'", "overflow"]);
    // A zero dim must not hide an overflowing product of the others (n_rows would overflow).
    let r = Raw::new().tensor(ti(b"zero", &[0, 1 << 40, 1 << 40], f32, 64));
    rejects(&r.bytes(), "zero dim", &["tensor 'zero'", "overflow"]);
    // Fits in elements but not in bytes.
    let r = Raw::new().tensor(ti(b"bytes", &[1 << 62, 1], f32, 64));
    rejects(&r.bytes(), "byte overflow", &["tensor 'bytes'"]);
    let r = Raw::new().tensor(ti(b"five", &[1, 1, 1, 1, 1], f32, 64));
    rejects(&r.bytes(), "5 dims", &["tensor 'five'", "5 dimensions"]);
    let mut r = Raw::new().tensor(ti(b"many", &[], f32, 64));
    let last = r.tensors.last_mut().unwrap();
    let at = last.len() - 12;
    last[at - 4..at].copy_from_slice(&u32::MAX.to_le_bytes());
    rejects(
        &r.bytes(),
        "u32::MAX dims",
        &["tensor 'many'", "4294967295 dimensions"],
    );
}

#[test]
fn huge_string_lengths() {
    let mut r = Raw::new();
    r.kvs = vec![u64::MAX.to_le_bytes().to_vec()];
    rejects(
        &r.bytes(),
        "key len MAX",
        &["metadata key", "18446744073709551615 bytes"],
    );
    let r = Raw::new().kv(kv(b"s", T_STRING, &u64::MAX.to_le_bytes()));
    rejects(
        &r.bytes(),
        "string value len MAX",
        &["key 's'", "18446744073709551615"],
    );
    let mut r = Raw::new();
    r.tensors = vec![u64::MAX.to_le_bytes().to_vec()];
    rejects(&r.bytes(), "tensor name len MAX", &["tensor name"]);
}

fn array(elem: u32, len: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = elem.to_le_bytes().to_vec();
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

#[test]
fn huge_array_counts() {
    let cases: [(u32, u64, &str); 4] = [
        (T_U64, u64::MAX, "overflows"),
        (T_U32, 1 << 40, "array payload"),
        (T_STRING, 1 << 40, "cannot fit"),
        (T_ARRAY, u64::MAX, "cannot fit"),
    ];
    for (elem, len, needle) in cases {
        let r = Raw::new().kv(kv(b"arr", T_ARRAY, &array(elem, len, &[])));
        rejects(&r.bytes(), needle, &["key 'arr'", needle]);
    }
    let r = Raw::new().kv(kv(b"arr", T_ARRAY, &array(13, 1, &[])));
    rejects(
        &r.bytes(),
        "bad elem type",
        &["key 'arr'", "element type 13"],
    );
    let mut deep = array(T_U32, 0, &[]);
    for _ in 0..5 {
        deep = array(T_ARRAY, 1, &deep);
    }
    let r = Raw::new().kv(kv(b"deep", T_ARRAY, &deep));
    rejects(
        &r.bytes(),
        "deep nesting",
        &["key 'deep'", "nested too deep"],
    );
}

#[test]
fn unknown_type_ids() {
    for id in [4, 5, 31, 36, 1000, u32::MAX] {
        let r = Raw::new().tensor(ti(b"odd.weight", &[32], id, 64));
        rejects(
            &r.bytes(),
            "tensor type",
            &["odd.weight", &format!("type id {id}")],
        );
    }
    let r = Raw::new().kv(kv(b"k.odd", 13, &[0; 8]));
    rejects(
        &r.bytes(),
        "value type",
        &["key 'k.odd'", "unknown value type 13"],
    );
}

#[test]
fn bad_tensor_extents() {
    let f32 = GgmlType::F32.id();
    let mut r = Raw::new().tensor(ti(b"mis", &[4], f32, 40));
    r.data = vec![0; 96];
    rejects(
        &r.bytes(),
        "misaligned",
        &["tensor 'mis'", "offset 40", "alignment 32"],
    );
    let r = Raw::new().tensor(ti(b"far", &[4], f32, 1 << 40));
    rejects(&r.bytes(), "past end", &["tensor 'far'", "past the end"]);
    let r = Raw::new().tensor(ti(b"wrap", &[8], f32, u64::MAX - 31));
    rejects(
        &r.bytes(),
        "offset wraps",
        &["tensor 'wrap'", "past the end"],
    );
    let r = Raw::new().tensor(ti(b"last", &[9], f32, 32));
    rejects(
        &r.bytes(),
        "one element past end",
        &["tensor 'last'", "past the end"],
    );
    let mut r = Raw::new().tensor(ti(b"over", &[16], f32, 0));
    r.data = vec![0; 64];
    rejects(
        &r.bytes(),
        "overlap",
        &["tensor 'over'", "overlaps tensor 'w'"],
    );
    let r = Raw::new().tensor(ti(b"q", &[33, 2], GgmlType::Q4_0.id(), 64));
    rejects(
        &r.bytes(),
        "row length",
        &["tensor 'q'", "row length 33", "Q4_0", "32"],
    );
    let r = Raw::new().tensor(ti(b"k", &[255], GgmlType::Q4_K.id(), 64));
    rejects(&r.bytes(), "row length k-quant", &["tensor 'k'", "256"]);
}

#[test]
fn bad_alignment_values() {
    let cases: [(u32, Vec<u8>, &str); 5] = [
        (T_U32, 0u32.to_le_bytes().to_vec(), "U32(0)"),
        (T_U32, 48u32.to_le_bytes().to_vec(), "U32(48)"),
        (T_U64, 32u64.to_le_bytes().to_vec(), "U64(32)"),
        (T_STRING, gstr(b"32"), "found string"),
        (
            T_ARRAY,
            array(T_U32, 1, &32u32.to_le_bytes()),
            "array of u32",
        ),
    ];
    for (ty, value, needle) in cases {
        let r = Raw::new().kv(kv(b"general.alignment", ty, &value));
        rejects(&r.bytes(), needle, &["general.alignment", needle]);
    }
}

#[test]
fn duplicates() {
    let r = Raw::new().kv(kv(b"general.name", T_STRING, &gstr(b"y")));
    rejects(
        &r.bytes(),
        "dup key",
        &["duplicate metadata key 'general.name'"],
    );
    let mut r = Raw::new().tensor(ti(b"w", &[8], GgmlType::F32.id(), 32));
    r.data = vec![0; 64];
    rejects(&r.bytes(), "dup tensor", &["tensor 'w'", "duplicate"]);
}

#[test]
fn invalid_utf8_and_bools() {
    let r = Raw::new().kv(kv(b"bad\xff", T_U32, &[0; 4]));
    rejects(
        &r.bytes(),
        "key utf8",
        &["metadata key is not valid UTF-8", "offset"],
    );
    let r = Raw::new().kv(kv(b"s", T_STRING, &gstr(b"\xc3")));
    rejects(&r.bytes(), "value utf8", &["key 's'", "UTF-8"]);
    let r = Raw::new().tensor(ti(b"t\xfe", &[8], GgmlType::F32.id(), 32));
    rejects(&r.bytes(), "name utf8", &["tensor name is not valid UTF-8"]);
    let r = Raw::new().kv(kv(b"flag", T_BOOL, &[2]));
    rejects(&r.bytes(), "bool", &["bool value 2", "key 'flag'"]);
    let r = Raw::new().kv(kv(b"flags", T_ARRAY, &array(T_BOOL, 2, &[1, 7])));
    rejects(
        &r.bytes(),
        "bool in array",
        &["bool value 7", "key 'flags'"],
    );
}

#[test]
fn typed_getters_name_the_key() {
    let g = parse(&valid(), "valid").unwrap();
    let msg = |r: Result<(), GgufError>| r.unwrap_err().to_string();
    let missing = msg(g.get_u32("llama.block_count").map(drop));
    assert!(
        missing.contains("'llama.block_count' is missing"),
        "{missing}"
    );
    let checks: [(String, &[&str]); 8] = [
        (
            msg(g.get_u32("general.name").map(drop)),
            &["'general.name'", "string", "32-bit"],
        ),
        (msg(g.get_u32("t.u64").map(drop)), &["'t.u64'", "u64"]),
        (msg(g.get_u64("t.i64").map(drop)), &["'t.i64'", "i64"]),
        (msg(g.get_f32("t.u8").map(drop)), &["'t.u8'", "u8", "float"]),
        (msg(g.get_bool("t.u8").map(drop)), &["'t.u8'", "bool"]),
        (
            msg(g.get_str("t.tokens").map(drop)),
            &["'t.tokens'", "array of string"],
        ),
        (
            msg(g.get_str_array("t.scores").map(drop)),
            &["'t.scores'", "array of f32"],
        ),
        (
            msg(g.get_i32_array("t.tokens").map(drop)),
            &["'t.tokens'", "integers"],
        ),
    ];
    for (m, needles) in checks {
        for n in needles {
            assert!(m.contains(n), "{m:?} does not mention {n:?}");
        }
    }
    assert_eq!(g.get_u32("t.u16").unwrap(), 60_000);
    assert_eq!(g.get_i32_array("t.empty").unwrap(), Vec::<i32>::new());
}

/// Writes seed files for `fuzz/run.sh` into `$PINE_FUZZ_SEEDS` (ignored: not a check).
#[test]
#[ignore = "writes fuzz seeds; run by fuzz/run.sh"]
fn write_fuzz_seeds() {
    let dir = std::env::var("PINE_FUZZ_SEEDS").expect("set PINE_FUZZ_SEEDS to a directory");
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut v2 = valid();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    let nested = Raw::new().kv(kv(
        b"n",
        T_ARRAY,
        &array(T_ARRAY, 1, &array(T_STRING, 0, &[])),
    ));
    let seeds = [
        ("writer-v3.gguf", valid()),
        ("writer-v2.gguf", v2),
        ("raw.gguf", Raw::new().bytes()),
        ("raw-nested.gguf", nested.bytes()),
        ("empty-writer.gguf", GgufWriter::new().to_bytes().unwrap()),
    ];
    for (name, bytes) in seeds {
        assert!(
            Gguf::from_bytes(bytes.clone()).is_ok(),
            "seed {name} is valid"
        );
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    // Real metadata with one-block tensors: valid files small enough for libFuzzer's -max_len.
    // `PINE_FIXTURES` here is the tiny-llama directory itself (as fuzz/run.sh passes it).
    let fixtures = std::env::var_os("PINE_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-llama")
        });
    let entries = std::fs::read_dir(&fixtures).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the tiny-llama fixtures are committed in the repository's \
             tests/fixtures/tiny-llama; set PINE_FIXTURES to another copy)",
            fixtures.display()
        )
    });
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "gguf") {
            continue;
        }
        let g = Gguf::open(&path).unwrap();
        let mut w = GgufWriter::new();
        for (k, v) in g.metadata() {
            w.set(k, OwnedValue::from_value(&v)).unwrap();
        }
        for t in g.tensors() {
            let data = vec![0; t.ty.block_bytes()];
            w.add_tensor(&t.name, t.ty, &[t.ty.block_size() as u64], data)
                .unwrap();
        }
        let name = format!("small-{}", path.file_name().unwrap().to_string_lossy());
        std::fs::write(dir.join(name), w.to_bytes().unwrap()).unwrap();
    }
}
