//! `pine-serve` through the official `openai` Python package (`openai_client.py`); python3 with
//! `openai` installed is required (`.ci/run` installs it), a missing one fails the test.

mod common;

use std::process::Command;

use common::Server;

#[test]
fn openai_python_client() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .unwrap_or_else(|e| panic!("{python} not found ({e}): install python3 (or set PYTHON)"));
    assert!(
        probe.status.success(),
        "the openai Python package is missing: pip3 install openai (.ci/run installs it)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let s = Server::start(&["--parallel", "2", "-c", "4096"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_client.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(format!("{}/v1", s.url))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openai_client.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
