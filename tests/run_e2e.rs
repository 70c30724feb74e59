//! `pine-run` end to end on the default model: llama.cpp's greedy text, logits dumps, layouts,
//! and clear errors.

#[path = "common/cli.rs"]
mod cli;
mod common;

#[test]
fn greedy_text_matches_llama_cpp() {
    let out = cli::pine_run_france(&["-t", "2", "--backend", "cpu"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        common::FRANCE_GREEDY_32
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t/s"), "timings go to stderr: {err}");
}

#[test]
fn logits_out_writes_every_prompt_position() {
    let model = common::smollm2_path();
    let dir = std::env::temp_dir().join(format!("pine-run-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("logits.npy");
    let out = cli::pine_run(&[
        model.to_str().unwrap(),
        "--token-ids",
        "504,3575,282,4649,314",
        "--logits-out",
        path.to_str().unwrap(),
        "-n",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "-n 0 generates nothing");
    let (shape, data) = common::read_npy_f32(&path);
    assert_eq!(shape, vec![5, 49152]);
    assert!(data.iter().all(|x| x.is_finite()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pine_judge_output_does_not_depend_on_answer_order() {
    let model = common::smollm2_path();
    let a = "Answer A: water boils at 100 degrees Celsius at sea level.";
    let b = "Answer B: water boils at 50 degrees Celsius at sea level.";
    let run = |first: &str, second: &str| {
        let out = cli::pine_run(&[
            model.to_str().unwrap(),
            "--attention",
            "pine",
            "-p",
            "Which answer is correct?",
            "--segment",
            first,
            "--segment",
            second,
            "--question",
            "Reply with A or B.",
            "-n",
            "8",
            "--temp",
            "0",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    assert_eq!(run(a, b), run(b, a));
}

#[test]
fn errors_name_the_problem() {
    let out = cli::pine_run(&["/nonexistent/model.gguf", "-p", "hi"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model.gguf"), "{err}");

    let model = common::smollm2_path();
    let out = cli::pine_run(&[
        model.to_str().unwrap(),
        "--token-ids",
        "99999999",
        "-n",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("99999999"));
}
