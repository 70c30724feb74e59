//! The `--json` file: opened (checked) before any work, written through an
//! [`OutputFile`](pine_gguf::OutputFile), so a failed run leaves an existing file as it was.

use std::io::Write;
use std::path::Path;

use pine_gguf::OutputFile;

/// The JSON output of a run, when `--json` asks for one.
pub struct JsonOut(Option<OutputFile>);

impl JsonOut {
    /// Opens `path` (nothing when `None`).
    pub fn open(path: Option<&Path>) -> Result<JsonOut, String> {
        path.map(|p| OutputFile::create(p).map_err(|e| format!("--json: {e}")))
            .transpose()
            .map(JsonOut)
    }

    /// Writes a data-set task's report: its name, the data file, the model and backend, then
    /// `rest` (an object).
    pub fn write_task(
        self,
        task: &str,
        data: &Path,
        model: &Path,
        backend: &str,
        rest: serde_json::Value,
    ) -> Result<(), String> {
        let mut report = serde_json::json!({
            "task": task,
            "data": data.display().to_string(),
            "model": model.display().to_string(),
            "backend": backend,
        });
        if let (Some(r), serde_json::Value::Object(rest)) = (report.as_object_mut(), rest) {
            r.extend(rest);
        }
        self.write(&report)
    }

    /// Writes `value` and replaces the file with it.
    pub fn write(self, value: &serde_json::Value) -> Result<(), String> {
        let Some(mut out) = self.0 else {
            return Ok(());
        };
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(|e| format!("{}: {e}", out.path().display()))?;
        out.write_all(b"\n").map_err(|e| out.error(e).to_string())?;
        out.commit().map_err(|e| e.to_string())
    }
}
