//! Hostile-input cases: output files (issue #20 item 1). `pine-quantize OUT` and
//! `pine-run --logits-out OUT` must never follow a link or clobber a file other than OUT, never
//! replace anything at OUT but a regular file (writing in place into character devices and
//! FIFOs such as `/dev/null` or a named pipe), never replace their own input, leave a complete
//! OUT when several runs race for it, and leave nothing behind when they fail or are
//! interrupted.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{run, Bin, Scratch, LIMIT};
use crate::common;

/// A tiny-llama fixture file, e.g. `tiny("F32")`.
fn tiny(ty: &str) -> PathBuf {
    common::tiny_llama_dir().join(format!("tiny-llama.{ty}.gguf"))
}

/// `pine-quantize IN OUT Q8_0 --threads 1`.
fn quantize(input: &Path, output: &Path) -> super::harness::Ran {
    run(
        Bin::Quantize,
        &[
            input.as_os_str(),
            output.as_os_str(),
            "Q8_0".as_ref(),
            "--threads".as_ref(),
            "1".as_ref(),
        ],
    )
}

/// `pine-run` on the tiny F32 model with three prompt tokens, logits to `out`, no generation.
fn logits_to(out: &Path) -> super::harness::Ran {
    logits_to_from(&tiny("F32"), out)
}

/// `pine-run MODEL` with three prompt tokens, logits to `out`, no generation.
fn logits_to_from(model: &Path, out: &Path) -> super::harness::Ran {
    run(
        Bin::Run,
        &[
            model.as_os_str(),
            "--backend".as_ref(),
            "cpu".as_ref(),
            "-t".as_ref(),
            "1".as_ref(),
            "--token-ids".as_ref(),
            "1,2,3".as_ref(),
            "-n".as_ref(),
            "0".as_ref(),
            "--logits-out".as_ref(),
            out.as_os_str(),
        ],
    )
}

/// What a single undisturbed `pine-quantize TINY_F32 … Q8_0` writes.
fn reference_q8(s: &Scratch) -> Vec<u8> {
    let r = s.path("reference.gguf");
    quantize(&tiny("F32"), &r).succeeds();
    let bytes = std::fs::read(&r).unwrap();
    std::fs::remove_file(&r).unwrap();
    bytes
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn symlink_at_old_partial_name_is_not_followed() {
    let s = Scratch::new("out-partial-link");
    let victim = s.path("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let out = s.path("out.gguf");
    std::os::unix::fs::symlink(&victim, s.path("out.gguf.partial")).unwrap();
    quantize(&tiny("F32"), &out).succeeds();
    assert!(
        read(&victim) == b"precious",
        "the link's target was written"
    );
    let link = std::fs::symlink_metadata(s.path("out.gguf.partial")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert!(
        read(&out) == reference_q8(&s),
        "the output differs from a single run's"
    );
    assert_eq!(s.listing().len(), 3, "{:#?}", s.listing());
}

#[test]
fn existing_partial_file_is_left_alone() {
    let s = Scratch::new("out-partial-file");
    let partial = s.path("logits.npy.partial");
    std::fs::write(&partial, b"someone else's work").unwrap();
    let out = s.path("logits.npy");
    logits_to(&out).succeeds();
    assert!(
        read(&partial) == b"someone else's work",
        "the .partial file was written"
    );
    let (shape, data) = common::read_npy_f32(&out);
    assert_eq!(shape, vec![3, 512]);
    assert!(data.iter().all(|x| x.is_finite()));
    assert_eq!(s.listing().len(), 2, "{:#?}", s.listing());
}

#[test]
fn symlink_at_output_is_refused() {
    let s = Scratch::new("out-link");
    let target = s.path("target.gguf");
    std::fs::write(&target, b"not yours").unwrap();
    let out = s.path("out.gguf");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    let dangling = s.path("dangling.gguf");
    std::os::unix::fs::symlink(s.path("nowhere.gguf"), &dangling).unwrap();
    let before = s.listing();
    quantize(&tiny("F32"), &out).fails_with(&[&show(&out), "symbolic link", "refus"]);
    quantize(&tiny("F32"), &dangling).fails_with(&[&show(&dangling), "symbolic link"]);
    assert_eq!(s.listing(), before, "something was touched");
    assert!(
        read(&target) == b"not yours",
        "the link's target was written"
    );
}

#[test]
fn directory_at_output_is_refused() {
    let s = Scratch::new("out-dir");
    let out = s.path("out.npy");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep"), b"keep").unwrap();
    let before = s.listing();
    logits_to(&out).fails_with(&[&show(&out), "directory", "refus"]);
    assert_eq!(s.listing(), before, "something was touched");
}

#[test]
fn socket_at_output_is_refused() {
    let s = Scratch::new("out-socket");
    let out = s.path("out.gguf");
    let _listener = std::os::unix::net::UnixListener::bind(&out).unwrap();
    let before = s.listing();
    quantize(&tiny("F32"), &out).fails_with(&[&show(&out), "socket", "refus"]);
    assert_eq!(s.listing(), before, "something was touched");
    assert!(std::fs::symlink_metadata(&out)
        .unwrap()
        .file_type()
        .is_socket());
}

#[test]
fn fifo_at_output_is_written_in_place() {
    let s = Scratch::new("out-fifo");
    let expected = reference_q8(&s);
    let fifo = s.path("pipe.gguf");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let reader = {
        let fifo = fifo.clone();
        // Blocks in open until a writer opens the pipe; detached if the run never does.
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    quantize(&tiny("F32"), &fifo).succeeds();
    let md = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(md.file_type().is_fifo(), "the FIFO was replaced");
    assert!(
        reader.join().unwrap() == expected,
        "the FIFO's reader got other bytes"
    );
    assert_eq!(s.listing().len(), 1, "{:#?}", s.listing());
}

#[test]
fn dev_null_as_logits_out_stays_a_device() {
    let s = Scratch::new("out-devnull");
    // First through a link in the scratch folder: a writer that replaces the link fails here,
    // before it could replace the real /dev/null below.
    let link = s.path("null.npy");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    logits_to(&link).succeeds();
    let md = std::fs::symlink_metadata(&link).unwrap();
    assert!(
        md.file_type().is_symlink(),
        "the link to /dev/null was replaced"
    );
    assert_eq!(s.listing().len(), 1, "{:#?}", s.listing());
    logits_to(Path::new("/dev/null")).succeeds();
    let md = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(md.file_type().is_char_device(), "/dev/null was replaced");
}

#[test]
fn quantize_refuses_to_replace_its_input() {
    let s = Scratch::new("out-self");
    let input = s.path("in.gguf");
    std::fs::copy(tiny("Q8_0"), &input).unwrap();
    let original = read(&input);
    let hard = s.path("hard.gguf");
    std::fs::hard_link(&input, &hard).unwrap();
    let soft = s.path("soft.gguf");
    std::os::unix::fs::symlink(&input, &soft).unwrap();
    let dotted = s.dir.join(".").join("in.gguf");
    let before = s.listing();
    for out in [&input, &dotted, &hard, &soft] {
        quantize(&input, out).fails_with(&[&show(&input), &show(out), "input"]);
        assert_eq!(
            s.listing(),
            before,
            "output {}: something was touched",
            show(out)
        );
        assert!(
            read(&input) == original,
            "output {}: input changed",
            show(out)
        );
    }
    let ino = std::fs::metadata(&input).unwrap().ino();
    assert_eq!(std::fs::metadata(&hard).unwrap().ino(), ino);
}

#[test]
fn logits_out_refuses_the_model_itself() {
    let s = Scratch::new("out-model");
    let model = s.path("model.gguf");
    std::fs::copy(tiny("F32"), &model).unwrap();
    let original = read(&model);
    let before = s.listing();
    logits_to_from(&model, &model).fails_with(&[&show(&model), "input"]);
    assert_eq!(s.listing(), before, "something was touched");
    assert!(read(&model) == original, "the model changed");
}

#[test]
fn concurrent_runs_to_one_output_all_succeed() {
    let s = Scratch::new("out-race");
    let expected = reference_q8(&s);
    let out = s.path("out.gguf");
    // Three rounds of four runs at once: writers sharing one temporary name collide in most.
    for _ in 0..3 {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let out = out.clone();
                std::thread::spawn(move || quantize(&tiny("F32"), &out))
            })
            .collect();
        for r in runs {
            r.join().unwrap().succeeds();
        }
        assert!(
            read(&out) == expected,
            "the output differs from a single run's"
        );
        assert_eq!(s.listing().len(), 1, "{:#?}", s.listing());
    }
}

/// Starts `pine-quantize SMOLLM2 OUT Q8_0`, sends `signal` once a file shows up in the folder
/// (the output being written), and checks the exit code and that the folder is empty again.
fn interrupted(name: &str, signal: &str, code: i32) {
    let s = Scratch::new(name);
    let out = s.path("out.gguf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pine-quantize"))
        .arg(common::smollm2_path())
        .arg(&out)
        .args(["Q8_0", "--threads", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while s.listing().is_empty() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("pine-quantize ended ({status}) before writing anything");
        }
        assert!(t.elapsed() < LIMIT, "pine-quantize wrote nothing");
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} failed");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("pine-quantize still running after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(code), "after SIG{signal}: {status}");
    assert!(s.listing().is_empty(), "left behind: {:#?}", s.listing());
}

#[test]
fn sigint_while_writing_leaves_nothing() {
    interrupted("out-sigint", "INT", 130);
}

#[test]
fn sigterm_while_writing_leaves_nothing() {
    interrupted("out-sigterm", "TERM", 143);
}

/// A folder this process cannot create files in: a read-only scratch folder, or `/sys` where
/// permissions do not stop us (running as root).
fn unwritable_dir(s: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let ro = s.path("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = ro.join("probe");
    if std::fs::write(&probe, b"").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        return PathBuf::from("/sys");
    }
    ro
}

#[test]
fn unwritable_output_folder_fails_before_the_work() {
    let s = Scratch::new("out-unwritable");
    let dir = unwritable_dir(&s);
    let out = dir.join("pine-hostile-logits.npy");
    let before = s.listing();
    let ran = logits_to(&out);
    ran.fails_with(&[&show(&out)]);
    assert!(
        !ran.stderr.contains("loaded in"),
        "the model was run before the output was checked:\n{}",
        ran.stderr
    );
    assert!(!out.exists());
    assert_eq!(s.listing(), before, "something was left behind");
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert!(
        !entries
            .iter()
            .any(|e| e.file_name().to_string_lossy().contains("pine-hostile")),
        "left behind in {}",
        dir.display()
    );
}

#[test]
fn missing_output_folder_fails_before_the_work() {
    let s = Scratch::new("out-missing");
    let out = s.path("no-such-folder").join("logits.npy");
    let ran = logits_to(&out);
    ran.fails_with(&[&show(&out)]);
    assert!(
        !ran.stderr.contains("loaded in"),
        "the model was run before the output was checked:\n{}",
        ran.stderr
    );
    assert!(s.listing().is_empty(), "{:#?}", s.listing());
}
