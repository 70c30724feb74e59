//! `pine-eval` end to end on the test model: judge and retrieval on a few items (the JSON's
//! schema and numbers: PINE and anchor, evaluated in every order, are exactly consistent),
//! and the errors named before any work (a bad JSONL line, an unknown mode, a missing file).

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn pine_eval(args: &[&str]) -> Output {
    let model = common::smollm2_path();
    std::process::Command::new(env!("CARGO_BIN_EXE_pine-eval"))
        .args(args)
        .args([
            "-m",
            model.to_str().unwrap(),
            "--backend",
            "cpu",
            "-c",
            "1024",
        ])
        .output()
        .expect("pine-eval runs")
}

fn data() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../benches/data/judge-pairs.jsonl"
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn judge_reports_every_order_and_pine_is_exactly_swap_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("judge.json");
    let plots = dir.path().join("plots");
    let o = pine_eval(&[
        "judge",
        "--data",
        data(),
        "--limit",
        "3",
        "--all-orders",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        plots.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains("| causal") && table.contains("| pine") && table.contains("| anchor"),
        "{table}"
    );
    let j = read_json(&json);
    assert_eq!(j["task"], "judge");
    let modes = j["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 3);
    for m in modes {
        let s = &m["summary"];
        for key in [
            "swap_consistency",
            "first_position_preference",
            "mean_abs_delta_logprob",
            "max_abs_delta_logprob",
        ] {
            let v = s[key].as_f64().unwrap_or_else(|| panic!("{key} in {s}"));
            assert!(v >= 0.0, "{key} {v}");
        }
        let acc = s["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        assert_eq!(m["cost"]["items"], 3);
        let items = m["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        for it in items {
            let orders = it["orders"].as_array().unwrap();
            assert_eq!(orders.len(), 2, "both orders of a pair");
            assert!(orders
                .iter()
                .all(|o| o["computed"] == true && o["scores"].as_array().unwrap().len() == 2));
        }
        if m["mode"] != "causal" {
            // Order-invariant modes, evaluated in every order: the same bits each time.
            assert_eq!(s["swap_consistency"], 1.0, "{}", m["mode"]);
            assert_eq!(s["max_abs_delta_logprob"], 0.0, "{}", m["mode"]);
            for it in items {
                assert_eq!(it["orders"][0]["scores"], it["orders"][1]["scores"]);
            }
        }
    }
    assert!(std::fs::read_to_string(plots.join("judge.svg"))
        .unwrap()
        .starts_with("<svg"));
}

#[test]
fn retrieval_reports_accuracy_by_position_and_runs_invariant_modes_once() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("retrieval.json");
    let o = pine_eval(&[
        "retrieval",
        "--docs",
        "3",
        "--items",
        "1",
        "--positions",
        "2",
        "--attention",
        "causal,pine",
        "--seed",
        "5",
        "--batch",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = read_json(&json);
    let run = &j["runs"][0];
    assert_eq!(run["docs"], 3);
    assert_eq!(run["positions"], serde_json::json!([0, 2]));
    let modes = run["modes"].as_array().unwrap();
    assert_eq!(modes[0]["mode"], "causal");
    assert_eq!(modes[0]["cost"]["evaluations"], 2);
    assert_eq!(modes[1]["run_once"], true);
    assert_eq!(modes[1]["cost"]["evaluations"], 1);
    for m in modes {
        let acc = m["accuracy_by_position"].as_array().unwrap();
        assert_eq!(acc.len(), 2);
        assert!(acc
            .iter()
            .all(|a| (0.0..=1.0).contains(&a.as_f64().unwrap())));
        let answers = m["items"][0]["answers"].as_array().unwrap();
        assert_eq!(answers.len(), 2);
    }
    // The second causal order re-uses the cached prefix of the first (in one slot).
    let cost = &modes[0]["cost"];
    assert!(
        cost["computed_tokens"].as_u64() < cost["prompt_tokens"].as_u64(),
        "{cost}"
    );
}

#[test]
fn bad_input_is_refused_with_what_is_wrong_and_leaves_the_json_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"question\": \"q\", \"answers\": [\"a\", \"b\"]}\n{\"question\": \"q\"}\n",
    )
    .unwrap();
    let json = dir.path().join("out.json");
    std::fs::write(&json, "keep").unwrap();
    let o = pine_eval(&[
        "judge",
        "--data",
        bad.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad.jsonl:2: field `answers`: missing"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "keep");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary left"
    );

    let o = pine_eval(&["judge", "--data", "/nonexistent/pairs.jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/pairs.jsonl not found"),
        "{}",
        stderr(&o)
    );

    let o = pine_eval(&["judge", "--data", data(), "--attention", "causal,sideways"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sideways"), "{}", stderr(&o));

    let o = pine_eval(&["retrieval", "--docs", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("at least 2"), "{}", stderr(&o));
}

/// The answers of a batch are those of one prompt at a time, for retrieval and rag.
#[test]
fn batched_answers_are_the_unbatched_ones() {
    let dir = tempfile::tempdir().unwrap();
    let run = |task: &[&str], batch: &str| {
        let json = dir.path().join(format!("{}-{batch}.json", task[0]));
        let mut args = task.to_vec();
        args.extend(["--attention", "causal,pine", "--batch", batch, "--json"]);
        args.push(json.to_str().unwrap());
        let o = pine_eval(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let j = read_json(&json);
        let modes = match j.get("runs") {
            Some(runs) => runs[0]["modes"].clone(),
            None => j["modes"].clone(),
        };
        modes
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["items"].clone())
            .collect::<Vec<_>>()
    };
    let retrieval = [
        "retrieval",
        "--docs",
        "3",
        "--items",
        "2",
        "--positions",
        "3",
        "--answer-tokens",
        "48",
    ];
    assert_eq!(run(&retrieval, "1"), run(&retrieval, "4"));
    let rag_data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../benches/data/rag-qa.jsonl"
    );
    let rag = ["rag", "--data", rag_data, "--limit", "2", "--orders", "3"];
    assert_eq!(run(&rag, "1"), run(&rag, "4"));
}
