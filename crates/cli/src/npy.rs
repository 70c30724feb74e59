//! Writing float32 `.npy` files (logits dumps) atomically: to a temporary name, then renamed,
//! so a failed run never leaves a truncated file.

use std::io::Write;
use std::path::Path;

/// Writes `data` as a C-order float32 array of `shape`.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for x in data {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_is_64_byte_aligned() {
        let dir = std::env::temp_dir().join(format!("pine-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.npy");
        super::write_f32(&p, &[2, 3], &[1.0; 6]).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!((b.len() - 24) % 64, 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
