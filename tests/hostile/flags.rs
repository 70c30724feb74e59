//! Hostile-input cases: flags, messages and interactive mode (issue #20, items 4–6). Out-of-range
//! and conflicting flags are usage errors naming the flag; layout files are parsed strictly;
//! paths that are not files, broken models and a missing Vulkan driver get messages that name
//! the real problem; `pine-run -i` survives bad lines and a full context.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common;
use crate::harness::{run, run_with, Bin, Ran, Scratch, LIMIT};

fn tiny() -> PathBuf {
    common::tiny_llama_dir().join("tiny-llama.Q4_0.gguf")
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `pine-run` on the tiny model on the CPU with `extra`, plus `-n 1` and `--temp 0` unless
/// `extra` sets them.
fn run_tiny(extra: &[&str]) -> Ran {
    let model = s(&tiny());
    let mut args = vec![model.as_str(), "--backend", "cpu"];
    args.extend_from_slice(extra);
    if !extra.contains(&"-n") {
        args.extend(["-n", "1"]);
    }
    if !extra.contains(&"--temp") {
        args.extend(["--temp", "0"]);
    }
    run(Bin::Run, &args)
}

/// How often `needle` occurs in `hay`.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

// ---- silent acceptance: sampling and size flags ----

#[test]
fn temperature_must_be_finite_and_not_negative() {
    for bad in ["NaN", "inf", "-1"] {
        run_tiny(&["-p", "hi", "--temp", bad]).fails_with(&["--temp", bad]);
    }
}

#[test]
fn top_p_must_be_a_probability() {
    run_tiny(&["-p", "hi", "--top-p", "2"]).fails_with(&["--top-p", "at most 1"]);
    run_tiny(&["-p", "hi", "--top-p", "0"]).fails_with(&["--top-p"]);
}

#[test]
fn min_p_must_be_a_probability() {
    run_tiny(&["-p", "hi", "--min-p", "5"]).fails_with(&["--min-p", "at most 1"]);
}

#[test]
fn repeat_penalty_must_be_positive_and_finite() {
    for bad in ["0", "NaN", "-2"] {
        run_tiny(&["-p", "hi", "--repeat-penalty", bad]).fails_with(&["--repeat-penalty"]);
    }
}

#[test]
fn n_predict_below_minus_one_is_rejected() {
    run_tiny(&["-p", "hi", "-n", "-5"]).fails_with(&["--n-predict", "-5"]);
}

#[test]
fn zero_threads_is_rejected() {
    run_tiny(&["-p", "hi", "-t", "0"]).fails_with(&["--threads", "at least 1"]);
}

#[test]
fn more_threads_than_cores_are_capped_with_a_warning() {
    let r = run_tiny(&["-p", "hi", "-t", "1000"]);
    r.succeeds().mentions(&["warning", "1000 threads", "cores"]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        r.stderr.contains(&format!("cpu backend, {cores} threads")),
        "{}",
        r.stderr
    );
}

// ---- silent acceptance: conflicting inputs ----

#[test]
fn token_ids_exclude_text_prompts() {
    run_tiny(&["--token-ids", "1,2", "-p", "hi"]).fails_with(&["--token-ids", "--prompt"]);
    run_tiny(&["--token-ids", "1,2", "--segment", "a"]).fails_with(&["--token-ids", "--segment"]);
}

#[test]
fn layout_excludes_other_prompt_flags() {
    let dir = Scratch::new("flags-layout-conflict");
    let layout = dir.path("l.json");
    std::fs::write(&layout, r#"{"prefix": "a", "segments": ["b"]}"#).unwrap();
    let l = s(&layout);
    run_tiny(&["--layout", &l, "-p", "hi"]).fails_with(&["--layout", "--prompt"]);
    run_tiny(&["--layout", &l, "--segment", "x"]).fails_with(&["--layout", "--segment"]);
    run_tiny(&["--layout", &l, "--question", "q"]).fails_with(&["--layout", "--question"]);
}

#[test]
fn device_needs_the_vulkan_backend() {
    run_tiny(&["-p", "hi", "--device", "0"]).fails_with(&["--device 0", "--backend cpu"]);
    let model = s(&tiny());
    run(
        Bin::Bench,
        &[
            "-m", &model, "-p", "4", "-n", "0", "-r", "1", "--device", "0",
        ],
    )
    .fails_with(&["--device 0", "--backend"]);
}

/// `--vk-exact` picks the Vulkan backend's numerics: with `--backend cpu` it is a usage error
/// naming both flags, as `--device` is.
#[test]
fn vk_exact_needs_a_backend_that_can_be_vulkan() {
    run_tiny(&["-p", "hi", "--vk-exact"]).fails_with(&["--vk-exact", "--backend cpu"]);
    let model = s(&tiny());
    run(
        Bin::Bench,
        &["-m", &model, "-p", "4", "-n", "0", "-r", "1", "--vk-exact"],
    )
    .fails_with(&["--vk-exact", "--backend cpu"]);
}

#[test]
fn pine_and_anchor_attention_need_segments() {
    for mode in ["pine", "anchor"] {
        run_tiny(&["-p", "hi", "--attention", mode]).fails_with(&[
            "needs segments",
            "--segment",
            "--segments-file",
            "--layout",
        ]);
    }
}

#[test]
fn question_without_segments_is_rejected() {
    run_tiny(&["-p", "hi", "--question", "why?"]).fails_with(&["--question", "--segment"]);
}

// ---- silent acceptance: layout files ----

/// Runs `pine-run --layout` on a file holding `json`; returns the run and the file's path.
fn with_layout(name: &str, json: &str) -> (Ran, String) {
    let dir = Scratch::new(name);
    let layout = dir.path("layout.json");
    std::fs::write(&layout, json).unwrap();
    let l = s(&layout);
    (run_tiny(&["--layout", &l]), l)
}

#[test]
fn layout_with_a_misspelt_key_is_rejected() {
    let (r, l) = with_layout(
        "flags-layout-typo",
        r#"{"prefix": "a", "segment": ["b", "c"], "suffix": "d"}"#,
    );
    r.fails_with(&[&l, "\"segment\"", "unknown field"]);
}

#[test]
fn layout_with_an_unknown_key_is_rejected() {
    let (r, l) = with_layout(
        "flags-layout-unknown",
        r#"{"prefix": "a", "segments": ["b"], "question": "d"}"#,
    );
    r.fails_with(&[&l, "\"question\"", "unknown field"]);
}

#[test]
fn layout_with_a_null_segment_is_rejected() {
    let (r, l) = with_layout(
        "flags-layout-null",
        r#"{"prefix": "a", "segments": ["b", null]}"#,
    );
    r.fails_with(&[&l, "segments[1]", "null"]);
}

#[test]
fn layout_that_is_a_json_array_names_the_file() {
    let (r, l) = with_layout("flags-layout-array", r#"["a", "b"]"#);
    r.fails_with(&[&l, "object"]);
}

#[test]
fn layout_without_tokens_names_the_file() {
    let (r, l) = with_layout(
        "flags-layout-empty",
        r#"{"prefix": [], "segments": [[], ""], "suffix": []}"#,
    );
    r.fails_with(&[&l, "has no tokens"]);
}

#[test]
fn segments_file_must_hold_only_strings() {
    let dir = Scratch::new("flags-segments-file");
    let f = dir.path("segs.json");
    std::fs::write(&f, r#"["a", 7]"#).unwrap();
    let f = s(&f);
    run_tiny(&["-p", "hi", "--segments-file", &f]).fails_with(&[&f, "[1]", "string"]);
}

// ---- pine-bench's flags ----

#[test]
fn bench_counts_must_be_at_least_one() {
    let model = s(&tiny());
    for (flag, v) in [("--segments", "0"), ("-r", "0"), ("-t", "0"), ("-t", "1,0")] {
        run(Bin::Bench, &["-m", &model, "-p", "4", "-n", "1", flag, v]).fails_with(&["at least 1"]);
    }
}

#[test]
fn bench_threads_above_the_cores_are_capped_with_a_warning() {
    let model = s(&tiny());
    run(
        Bin::Bench,
        &[
            "-m", &model, "-p", "4", "-n", "1", "-r", "1", "-t", "1000", "-o", "json",
        ],
    )
    .succeeds()
    .mentions(&["warning", "1000 threads", "cores"]);
}

// ---- messages: paths that are not model files ----

/// Each tool's arguments for `model` as the input file.
fn every_tool(model: &str, out: &str) -> Vec<(Bin, Vec<String>)> {
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (
            Bin::Run,
            v(&[model, "-p", "hi", "-n", "1", "--backend", "cpu"]),
        ),
        (
            Bin::Bench,
            v(&["-m", model, "-p", "4", "-n", "1", "-r", "1"]),
        ),
        (Bin::Inspect, v(&[model])),
        (Bin::Quantize, v(&[model, out, "Q8_0"])),
    ]
}

fn each_tool_says(model: &str, needle: &str) {
    let dir = Scratch::new("flags-out");
    let out = s(&dir.path("out.gguf"));
    for (bin, args) in every_tool(model, &out) {
        let r = run(bin, &args);
        r.fails_with(&[model, needle]);
        assert_eq!(count(&r.stderr, model), 1, "{}: {}", r.what, r.stderr);
        assert!(!dir.path("out.gguf").exists(), "{}", r.what);
    }
}

#[test]
fn a_directory_as_the_model_is_called_a_directory() {
    let dir = Scratch::new("flags-model-dir");
    each_tool_says(&s(&dir.dir), "is a directory, not a GGUF file");
}

#[test]
fn a_fifo_as_the_model_is_called_a_fifo() {
    let dir = Scratch::new("flags-model-fifo");
    let fifo = dir.path("model.gguf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer comes: a short limit catches that.
    let out = s(&dir.path("out.gguf"));
    for (bin, args) in every_tool(&s(&fifo), &out) {
        run_with(bin, &args, b"", &[], Duration::from_secs(20))
            .fails_with(&["FIFO", "not a GGUF file"]);
    }
}

#[test]
fn a_character_device_as_the_model_is_called_one() {
    each_tool_says("/dev/zero", "is a character device, not a GGUF file");
}

#[test]
fn a_missing_model_is_not_found_naming_the_path_once() {
    let dir = Scratch::new("flags-model-missing");
    each_tool_says(&s(&dir.path("absent.gguf")), "not found");
}

// ---- messages: Vulkan, broken models ----

#[test]
fn a_missing_vulkan_driver_says_what_to_install() {
    let none = "/nonexistent/pine-no-icd.json";
    let env = [("VK_DRIVER_FILES", none), ("VK_ICD_FILENAMES", none)];
    let r = run_with(Bin::Run, &["--list-devices"], b"", &env, LIMIT);
    // A machine without the loader itself gets the loader's message (libvulkan1) instead.
    r.fails_with(&["Vulkan", "apt-get install"]);
    assert!(!r.stderr.contains("non-validation"), "{}", r.stderr);
    assert!(
        r.stderr.contains("mesa-vulkan-drivers") || r.stderr.contains("libvulkan1"),
        "{}",
        r.stderr
    );
}

/// A GGUF file that parses (tokenizer included) but lacks a tensor the model needs.
fn model_without_output_norm(dir: &Scratch) -> PathBuf {
    use pine_gguf::{Gguf, GgufWriter, OwnedValue};
    let src = Gguf::open(tiny()).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in src.metadata() {
        w.set(k, OwnedValue::from_value(&v)).unwrap();
    }
    for t in src
        .tensors()
        .iter()
        .filter(|t| t.name != "output_norm.weight")
    {
        w.add_tensor(&t.name, t.ty, &t.dims, src.tensor_data(t).to_vec())
            .unwrap();
    }
    let p = dir.path("no-output-norm.gguf");
    w.write_to(&p).unwrap();
    p
}

#[test]
fn auto_backend_reports_a_broken_model_as_the_models_fault() {
    let dir = Scratch::new("flags-broken-auto");
    let model = s(&model_without_output_norm(&dir));
    let r = run(
        Bin::Run,
        &[&model, "--backend", "auto", "-p", "hi", "-n", "1"],
    );
    r.fails_with(&["output_norm"]);
    assert!(!r.stderr.contains("GPU could not load"), "{}", r.stderr);
    let error = r.stderr.lines().find(|l| l.contains("error:")).unwrap();
    assert_eq!(count(error, &model), 1, "{}", r.stderr);
}

#[test]
fn gguf_errors_name_the_file_once() {
    let dir = Scratch::new("flags-bad-gguf");
    let bad = dir.path("bad.gguf");
    std::fs::write(&bad, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let bad = s(&bad);
    let r = run(Bin::Run, &[&bad, "-p", "hi", "--backend", "cpu"]);
    r.fails_with(&[&bad, "malformed"]);
    assert_eq!(count(&r.stderr, &bad), 1, "{}", r.stderr);
}

// ---- interactive mode ----

/// `pine-run -i` on SmolLM2 (it has a chat template), greedy, with `stdin` and `extra` flags.
fn chat(stdin: &[u8], extra: &[&str]) -> Ran {
    let model = s(&common::smollm2_path());
    let mut args = vec![model.as_str(), "-i", "--temp", "0", "--backend", "cpu"];
    args.extend_from_slice(extra);
    run_with(Bin::Run, &args, stdin, &[], LIMIT)
}

/// How many replies a chat generated (one timing line each on stderr).
fn replies(r: &Ran) -> usize {
    count(&r.stderr, "pine-run: generated")
}

#[test]
fn interactive_skips_a_line_that_is_not_utf8() {
    let r = chat(b"\xff\xfe oops\nHi\n", &["-n", "2", "-c", "128"]);
    r.succeeds()
        .mentions(&["line 1 is not valid UTF-8", "skipped"]);
    assert_eq!(r.stdout.lines().count(), 1, "one reply: {:?}", r.stdout);
}

#[test]
fn interactive_replies_end_with_a_newline() {
    let r = chat(b"Hi\nWhat is 2+2?\n", &["-n", "2", "-c", "256"]);
    r.succeeds();
    assert!(r.stdout.ends_with('\n'), "{:?}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 2, "two replies: {:?}", r.stdout);
}

#[test]
fn interactive_drops_old_turns_and_skips_a_message_too_long_for_the_context() {
    let long = "Tell me a long story about dragons and knights. ".repeat(8);
    let input = format!("Hi\nWhat is 2+2?\n{long}\nThanks\n");
    let r = chat(input.as_bytes(), &["-n", "12", "-c", "64"]);
    r.succeeds()
        .mentions(&["does not fit the context", "dropped"]);
    assert_eq!(replies(&r), 3, "{}", r.stderr);
}

#[test]
fn interactive_generation_filling_the_context_ends_the_turn_not_the_chat() {
    let r = chat(b"Write a poem about the sea.\nThanks\n", &["-c", "48"]);
    r.succeeds().mentions(&["context of 48 tokens is full"]);
    assert_eq!(replies(&r), 2, "{}", r.stderr);
    assert!(r.stdout.ends_with('\n'), "{:?}", r.stdout);
}

#[test]
fn quantize_threads_are_checked_and_capped() {
    let s = Scratch::new("flags-quantize-threads");
    let input = common::tiny_llama_dir().join("tiny-llama.F32.gguf");
    let out = s.path("out.gguf");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    run(Bin::Quantize, &[i, o, "Q8_0", "-t", "0"]).fails_with(&["at least 1"]);
    run(Bin::Quantize, &[i, o, "Q8_0", "-t", "1000"])
        .succeeds()
        .mentions(&["1000 threads", "using"]);
}
