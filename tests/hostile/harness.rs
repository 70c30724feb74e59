//! Runs pine's binaries with a time limit and checks how they ended; scratch folders whose
//! files are listed before and after a run, so a test can assert what a run touched.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use pine::gguf::{Gguf, GgufWriter, OwnedValue};

/// A binary of the `pine` package.
#[derive(Clone, Copy, Debug)]
pub enum Bin {
    /// `pine-run`.
    Run,
    /// `pine-quantize`.
    Quantize,
    /// `pine-inspect`.
    Inspect,
    /// `pine-bench`.
    Bench,
}

impl Bin {
    fn path(self) -> &'static str {
        match self {
            Bin::Run => env!("CARGO_BIN_EXE_pine-run"),
            Bin::Quantize => env!("CARGO_BIN_EXE_pine-quantize"),
            Bin::Inspect => env!("CARGO_BIN_EXE_pine-inspect"),
            Bin::Bench => env!("CARGO_BIN_EXE_pine-bench"),
        }
    }
}

/// The tiny-llama Q4_0 fixture (512-token vocabulary, 2 layers, n_ctx 512): the model most
/// crafted files start from.
pub fn tiny() -> PathBuf {
    crate::common::tiny_llama_dir().join("tiny-llama.Q4_0.gguf")
}

/// A copy of the tiny model in `s` named `name`: its metadata passed through `edit` (a key set
/// to `None` is removed, others set), its tensors without those named in `drop`.
pub fn crafted(
    s: &Scratch,
    name: &str,
    edit: &[(&str, Option<OwnedValue>)],
    drop: &[&str],
) -> PathBuf {
    let g = Gguf::open(tiny()).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in g.metadata() {
        if !edit.iter().any(|(e, _)| *e == k) {
            w.set(k, OwnedValue::from_value(&v)).unwrap();
        }
    }
    for (k, v) in edit {
        if let Some(v) = v {
            w.set(k, v.clone()).unwrap();
        }
    }
    for t in g
        .tensors()
        .iter()
        .filter(|t| !drop.contains(&t.name.as_str()))
    {
        w.add_tensor(&t.name, t.ty, &t.dims, g.tensor_data(t).to_vec())
            .unwrap();
    }
    let p = s.path(name);
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

/// `pine-run MODEL --token-ids 1,2,3 -n 1 --temp 0 --backend cpu` plus `extra`.
pub fn run_ids(model: &Path, extra: &[&str]) -> Ran {
    let mut args = vec![
        model.to_str().unwrap(),
        "--token-ids",
        "1,2,3",
        "-n",
        "1",
        "--temp",
        "0",
        "--backend",
        "cpu",
    ];
    args.extend_from_slice(extra);
    run(Bin::Run, &args)
}

/// How a run ended.
#[derive(Debug)]
pub struct Ran {
    /// What was run, for messages.
    pub what: String,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// The longest a hostile run may take before it counts as a hang.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Runs `bin` with `args`, `stdin` fed to it, killed after `limit`: a run that needs the kill
/// fails the test as a hang.
pub fn run_with<S: AsRef<OsStr>>(
    bin: Bin,
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
    limit: Duration,
) -> Ran {
    let what = format!(
        "{:?} {}",
        bin,
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cmd = Command::new(bin.path());
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = feeder.join();
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    Ran {
        what,
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
    }
}

/// Runs `bin` with `args`, empty stdin, the default limit.
pub fn run<S: AsRef<OsStr>>(bin: Bin, args: &[S]) -> Ran {
    run_with(bin, args, b"", &[], LIMIT)
}

impl Ran {
    fn no_crash(&self) {
        assert!(
            self.signal.is_none(),
            "{}: killed by signal {:?}\nstderr: {}",
            self.what,
            self.signal,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{}: panicked\nstderr: {}",
            self.what,
            self.stderr
        );
    }

    /// Asserts a clean failure (exit code 1 or 2, clap's usage errors being 2) whose stderr
    /// contains every one of `needles` (case-insensitive).
    pub fn fails_with(&self, needles: &[&str]) -> &Self {
        self.no_crash();
        assert!(
            matches!(self.code, Some(1) | Some(2)),
            "{}: exit code {:?}, wanted a failure\nstderr: {}",
            self.what,
            self.code,
            self.stderr
        );
        self.mentions(needles)
    }

    /// Asserts success (exit code 0) with no panic.
    pub fn succeeds(&self) -> &Self {
        self.no_crash();
        assert_eq!(
            self.code,
            Some(0),
            "{}: failed\nstderr: {}",
            self.what,
            self.stderr
        );
        self
    }

    /// Asserts the exit code is `code`, with no panic.
    pub fn exits(&self, code: i32) -> &Self {
        self.no_crash();
        assert_eq!(
            self.code,
            Some(code),
            "{}: exit code\nstderr: {}",
            self.what,
            self.stderr
        );
        self
    }

    /// Asserts stderr contains every one of `needles` (case-insensitive).
    pub fn mentions(&self, needles: &[&str]) -> &Self {
        let low = self.stderr.to_lowercase();
        for n in needles {
            assert!(
                low.contains(&n.to_lowercase()),
                "{}: stderr does not mention {n:?}\nstderr: {}",
                self.what,
                self.stderr
            );
        }
        self
    }
}

/// A fresh folder under the test target's temporary directory, removed when dropped.
pub struct Scratch {
    /// The folder.
    pub dir: PathBuf,
}

impl Scratch {
    /// A new empty folder named after `name` and the process.
    pub fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// A path inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Every entry of the folder (recursively, links not followed): its kind, length and
    /// modification time, so two listings differ when anything was created, removed or
    /// written.
    pub fn listing(&self) -> BTreeMap<PathBuf, (String, u64, Option<SystemTime>)> {
        let mut m = BTreeMap::new();
        list(&self.dir, &mut m);
        m
    }
}

fn list(dir: &Path, m: &mut BTreeMap<PathBuf, (String, u64, Option<SystemTime>)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            format!("link -> {}", std::fs::read_link(&p).unwrap().display())
        } else if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_file() {
            "file".to_string()
        } else {
            "other".to_string()
        };
        m.insert(p.clone(), (kind, md.len(), md.modified().ok()));
        if ft.is_dir() {
            list(&p, m);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
