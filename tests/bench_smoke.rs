//! End-to-end smoke test of `pine-bench`: a tiny pp/tg run on the tiny-llama fixture must
//! produce a JSON report with llama-bench's fields, machine info and every repetition's time,
//! under causal and PINE attention.

mod common;

use std::process::Command;

use serde_json::Value;

/// Runs pine-bench with `extra` flags on the Q8_0 fixture and returns the parsed JSON report.
fn bench_json(extra: &[&str]) -> Value {
    let model = common::tiny_llama_dir().join("tiny-llama.Q8_0.gguf");
    assert!(model.is_file(), "fixture {} is missing", model.display());
    let out = Command::new(env!("CARGO_BIN_EXE_pine-bench"))
        .arg("-m")
        .arg(&model)
        .args(["-p", "16", "-n", "4", "-r", "1", "-t", "1", "-o", "json"])
        .args(extra)
        .output()
        .expect("pine-bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pine-bench failed: {stderr}");
    assert!(stderr.contains("peak RSS"), "no footer on stderr: {stderr}");
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[test]
fn causal_report_has_llama_bench_fields() {
    let doc = bench_json(&[]);
    assert!(doc["nproc"].as_u64().unwrap() >= 1);
    assert!(doc["peak_rss_kib"].as_u64().unwrap() > 0);
    assert!(doc.get("cpu_info").is_some() && doc.get("build_commit").is_some());
    let results = doc["results"].as_array().unwrap();
    let tests: Vec<&str> = results
        .iter()
        .map(|r| r["test"].as_str().unwrap())
        .collect();
    assert_eq!(tests, ["pp16", "tg4"]);
    for r in results {
        assert_eq!(r["model_type"], "Q8_0");
        assert_eq!(r["n_threads"], 1);
        assert_eq!(r["backend"], "cpu");
        assert_eq!(r["attention"], "causal");
        assert!(r["model_size"].as_u64().unwrap() > 0);
        assert!(r["model_n_params"].as_u64().unwrap() > 0);
        assert_eq!(r["samples_ns"].as_array().unwrap().len(), 1);
        assert_eq!(r["samples_ts"].as_array().unwrap().len(), 1);
        for k in ["avg_ts", "stddev_ts", "median_ts"] {
            assert!(r[k].as_f64().unwrap() >= 0.0, "{k}: {r}");
        }
        assert!(r["avg_ts"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn pine_report_runs_segmented_layout() {
    let doc = bench_json(&["--attention", "pine", "--segments", "3"]);
    let results = doc["results"].as_array().unwrap();
    let tests: Vec<&str> = results
        .iter()
        .map(|r| r["test"].as_str().unwrap())
        .collect();
    assert_eq!(tests, ["pp16", "tg4 @ d16"]);
    assert!(results
        .iter()
        .all(|r| r["attention"] == "pine" && r["segments"] == 3));
    assert_eq!(results[1]["n_depth"], 16);
}
