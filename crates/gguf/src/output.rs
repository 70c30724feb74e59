//! Output files that never destroy or corrupt anything: the one implementation behind both of
//! pine's file writers, [`GgufWriter::write_to`](crate::GgufWriter::write_to) (`pine-quantize`)
//! and the CLI's `.npy` logits dump (`pine-run --logits-out`).
//!
//! It lives in `pine-gguf` because this is the lowest crate of the workspace (gguf → quant →
//! backends → … → cli) and owns one of the two writers: `GgufWriter::write_to` is public and
//! called by tests and tools as well as by the CLI, so it must be safe by itself, and the CLI
//! reaches the same code through its existing dependency on this crate, without the file logic
//! being duplicated or passed down.
//!
//! What [`OutputFile::create`] does with the path it is given:
//!
//! - **nothing there, or a regular file**: the data goes to a fresh temporary file in the same
//!   folder, created exclusively under a random name (so no link or file already there is
//!   followed or overwritten, and runs writing the same path at once never share one), and
//!   [`OutputFile::commit`] flushes it to disk and renames it over the path: readers see the old
//!   file or the complete new one, never a part. On every error, and on drop without commit, the
//!   temporary is removed.
//! - **a character device or a FIFO, or a symbolic link to one** (`/dev/null`, `/dev/stdout`, a
//!   named pipe): written in place, opened for writing without creating, truncating or
//!   replacing it.
//! - **anything else** (a symbolic link to anything else, a directory, a socket, a block
//!   device): refused with [`GgufError::Refused`], nothing touched.
//!
//! The temporaries being written are kept in a process-wide registry, so that a signal handler
//! can remove them before the process ends ([`remove_temporaries_before_exit`]).

use std::ffi::OsString;
use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::{Builder, NamedTempFile};

use crate::error::GgufError;

/// The paths of the temporaries that [`OutputFile`]s are writing now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the temporary of every [`OutputFile`] still being written, and keeps the registry
/// locked so that no other one is created, committed or dropped afterwards (those calls block
/// for good): for a signal handler that ends the process right after. Returns how many
/// temporaries there were.
pub fn remove_temporaries_before_exit() -> usize {
    let guard = live();
    for p in guard.iter() {
        let _ = fs::remove_file(p);
    }
    let n = guard.len();
    std::mem::forget(guard);
    n
}

/// An output being written: see the [module docs](self) for what happens to the path.
pub struct OutputFile {
    path: PathBuf,
    dest: Dest,
}

enum Dest {
    /// A temporary next to the path; `None` once committed or removed.
    Temp(Option<NamedTempFile>),
    /// A character device or FIFO, written in place.
    InPlace(File),
}

/// What is at an output path now.
enum Found {
    /// Nothing, or a regular file: write a temporary and rename it over the path.
    Replaceable,
    /// A character device or FIFO (or a link to one): write in place.
    Stream,
    /// Anything else, described.
    Refused(String),
}

/// Whether `ft` is a character device or a FIFO, written in place.
#[cfg(unix)]
fn is_stream(ft: &FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    ft.is_char_device() || ft.is_fifo()
}

#[cfg(not(unix))]
fn is_stream(_: &FileType) -> bool {
    false
}

/// What a file of type `ft` is, in words for messages ("a directory", "a FIFO (named pipe)"):
/// the writer's refusals and the tools' checks of the files they are given share it.
pub fn describe_file_type(ft: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

fn io_error(path: &Path, source: io::Error) -> GgufError {
    GgufError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Looks at `path` without following a link, then at a link's target.
fn inspect(path: &Path) -> Result<Found, GgufError> {
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Replaceable),
        Err(e) => return Err(io_error(path, e)),
    };
    let ft = md.file_type();
    if ft.is_file() {
        return Ok(Found::Replaceable);
    }
    if is_stream(&ft) {
        return Ok(Found::Stream);
    }
    if !ft.is_symlink() {
        return Ok(Found::Refused(describe_file_type(&ft).to_string()));
    }
    let to = fs::read_link(path).map_err(|e| io_error(path, e))?;
    Ok(match fs::metadata(path) {
        Ok(t) if is_stream(&t.file_type()) => Found::Stream,
        Ok(t) => Found::Refused(format!(
            "a symbolic link to {} ({})",
            to.display(),
            describe_file_type(&t.file_type())
        )),
        Err(_) => Found::Refused(format!(
            "a symbolic link to {}, which does not exist",
            to.display()
        )),
    })
}

fn refused(path: &Path, what: String) -> GgufError {
    GgufError::Refused {
        path: path.to_path_buf(),
        what,
    }
}

impl OutputFile {
    /// Opens an output at `path`: a new temporary beside it, or the device or FIFO there
    /// itself; refuses any other non-regular file. Nothing at `path` changes before
    /// [`commit`](Self::commit).
    pub fn create(path: impl AsRef<Path>) -> Result<OutputFile, GgufError> {
        let path = path.as_ref();
        match inspect(path)? {
            Found::Refused(what) => Err(refused(path, what)),
            Found::Stream => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| io_error(path, e))?;
                let ft = file.metadata().map_err(|e| io_error(path, e))?.file_type();
                if !is_stream(&ft) {
                    return Err(refused(path, describe_file_type(&ft).to_string()));
                }
                Ok(OutputFile {
                    path: path.to_path_buf(),
                    dest: Dest::InPlace(file),
                })
            }
            Found::Replaceable => {
                let Some(name) = path.file_name() else {
                    return Err(refused(path, "not a file name".into()));
                };
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let mut prefix = OsString::from(".");
                prefix.push(name);
                prefix.push(".");
                let mut builder = Builder::new();
                builder.prefix(&prefix).suffix(".tmp");
                #[cfg(unix)]
                {
                    // The mode `File::create` would give (0666 less the umask), not 0600.
                    use std::os::unix::fs::PermissionsExt;
                    builder.permissions(fs::Permissions::from_mode(0o666));
                }
                // Registered under the lock, so a signal handler sees every temporary that exists.
                let mut live = live();
                let temp = builder.tempfile_in(dir).map_err(|e| {
                    // tempfile's message names the random temporary; its kind alone is clearer.
                    let cause = match e.kind() {
                        io::ErrorKind::NotFound => "no such folder".to_string(),
                        kind => kind.to_string(),
                    };
                    let what = format!("cannot create a file in {}: {cause}", dir.display());
                    io_error(path, io::Error::new(e.kind(), what))
                })?;
                live.push(temp.path().to_path_buf());
                Ok(OutputFile {
                    path: path.to_path_buf(),
                    dest: Dest::Temp(Some(temp)),
                })
            }
        }
    }

    /// The path being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An I/O error that happened writing this output, naming its path.
    pub fn error(&self, source: io::Error) -> GgufError {
        io_error(&self.path, source)
    }

    fn file(&mut self) -> &mut File {
        match &mut self.dest {
            Dest::Temp(t) => t
                .as_mut()
                .expect("an OutputFile's temporary lives until commit or drop")
                .as_file_mut(),
            Dest::InPlace(f) => f,
        }
    }

    /// Finishes the output: a temporary is flushed to disk and renamed over the path (refused
    /// if a non-regular file appeared there meanwhile); a device or FIFO is flushed. On error
    /// the temporary is removed and the path is left as it was.
    pub fn commit(mut self) -> Result<(), GgufError> {
        let path = self.path.clone();
        self.file().flush().map_err(|e| io_error(&path, e))?;
        let Dest::Temp(slot) = &mut self.dest else {
            return Ok(());
        };
        if let Some(t) = slot.as_mut() {
            t.as_file_mut().sync_all().map_err(|e| io_error(&path, e))?;
        }
        match inspect(&path)? {
            Found::Replaceable => {}
            Found::Stream => return Err(refused(&path, "no longer a regular file".into())),
            Found::Refused(what) => return Err(refused(&path, what)),
        }
        let mut live = live();
        let Some(temp) = slot.take() else {
            return Ok(());
        };
        let temp_path = temp.path().to_path_buf();
        live.retain(|p| *p != temp_path);
        // On failure the returned temporary is dropped, which removes it, still under the lock.
        temp.persist(&path).map_err(|e| io_error(&path, e.error))?;
        drop(live);
        // Make the rename itself durable; a folder that cannot be synced loses nothing written.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Dest::Temp(slot) = &mut self.dest {
            let mut live = live();
            if let Some(temp) = slot.take() {
                let temp_path = temp.path().to_path_buf();
                let _ = temp.close();
                live.retain(|p| *p != temp_path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pine-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn is_live(p: &Path) -> bool {
        live().iter().any(|l| l.starts_with(p))
    }

    #[test]
    fn commit_replaces_a_regular_file_and_leaves_nothing_else() {
        let d = scratch("commit");
        let p = d.join("out.bin");
        fs::write(&p, b"old").unwrap();
        let mut f = OutputFile::create(&p).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(
            fs::read(&p).unwrap(),
            b"old",
            "nothing changes before commit"
        );
        assert_eq!(names(&d).len(), 2);
        assert!(is_live(&d));
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(names(&d), ["out.bin"]);
        assert!(!is_live(&d));
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn drop_without_commit_removes_the_temporary() {
        let d = scratch("drop");
        let p = d.join("out.bin");
        let mut f = OutputFile::create(&p).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert!(names(&d).is_empty());
        assert!(!is_live(&d));
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn non_regular_files_are_refused() {
        let d = scratch("refuse");
        fs::create_dir(d.join("dir")).unwrap();
        fs::write(d.join("file"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("file"), d.join("link")).unwrap();
        for (name, what) in [("dir", "a directory"), ("link", "a symbolic link")] {
            let e = OutputFile::create(d.join(name)).err().unwrap().to_string();
            assert!(e.contains(what) && e.contains(name), "{e}");
        }
        assert_eq!(names(&d), ["dir", "file", "link"]);
        fs::remove_dir_all(d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn dev_null_is_written_in_place() {
        let mut f = OutputFile::create("/dev/null").unwrap();
        f.write_all(b"gone").unwrap();
        f.commit().unwrap();
        use std::os::unix::fs::FileTypeExt;
        let ft = fs::symlink_metadata("/dev/null").unwrap().file_type();
        assert!(ft.is_char_device());
    }

    #[test]
    fn a_missing_folder_is_named() {
        let d = scratch("missing");
        let p = d.join("nope").join("out.bin");
        let e = OutputFile::create(&p).err().unwrap().to_string();
        assert!(e.contains(&p.display().to_string()), "{e}");
        fs::remove_dir_all(d).unwrap();
    }
}
