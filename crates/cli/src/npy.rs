//! Writing float32 `.npy` files (logits dumps) through an [`OutputFile`]: streamed from the
//! caller's slice, so the array is never copied in memory, and put in place only when complete
//! (a failed run never leaves a truncated file, nor touches anything but the path; see
//! [`pine_gguf::output`]).

use std::io::{BufWriter, Write};

use pine_gguf::{GgufError, OutputFile};

/// The `.npy` version 1.0 header of a little-endian C-order float32 array of `shape`, padded so
/// the data starts at a multiple of 64 bytes.
fn header(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes
}

/// Writes `data` as a C-order float32 array of `shape` into `out` and commits it.
pub fn write_f32(mut out: OutputFile, shape: &[usize], data: &[f32]) -> Result<(), GgufError> {
    let mut w = BufWriter::with_capacity(1 << 20, &mut out);
    let written = (|| {
        w.write_all(&header(shape))?;
        for x in data {
            w.write_all(&x.to_le_bytes())?;
        }
        w.flush()
    })();
    drop(w);
    written.map_err(|e| out.error(e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use pine_gguf::OutputFile;

    #[test]
    fn header_is_64_byte_aligned() {
        let dir = std::env::temp_dir().join(format!("pine-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.npy");
        super::write_f32(OutputFile::create(&p).unwrap(), &[2, 3], &[1.0; 6]).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!((b.len() - 24) % 64, 0);
        assert_eq!(&b[b.len() - 4..], &1f32.to_le_bytes());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
