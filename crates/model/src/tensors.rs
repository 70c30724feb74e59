//! The tensors the graph reads, by name, wherever they are: the file itself; row ranges of a
//! fused tensor (Phi-3 stores Q, K and V as one `attn_qkv` matrix and the FFN gate and up
//! projections as one `ffn_up` of twice the rows), which are views of the file's bytes, not
//! copies; and a small in-memory file of Q/K rows reordered for NEOX rotation (`neox.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use pine_gguf::{Gguf, TensorInfo};

use crate::error::ModelError;
use crate::hparams::ModelParams;

/// Name → (file, tensor) for every tensor a model's graph reads.
pub(crate) struct Tensors {
    file: Arc<Gguf>,
    /// Views into `file`: a split fused tensor's parts under the separate names.
    views: HashMap<String, TensorInfo>,
    /// Tensors rewritten at load (NEOX-reordered Q/K), which take precedence.
    derived: Option<Arc<Gguf>>,
}

impl Tensors {
    /// The file's tensors, with its fused ones split into views.
    pub(crate) fn new(file: Arc<Gguf>, p: &ModelParams) -> Result<Tensors, ModelError> {
        let views = split_fused(&file, p)?;
        Ok(Tensors {
            file,
            views,
            derived: None,
        })
    }

    /// Puts `derived`'s tensors in front of the file's.
    pub(crate) fn with_derived(mut self, derived: Gguf) -> Tensors {
        self.derived = Some(Arc::new(derived));
        self
    }

    /// The file that holds `name` (or the view of it) and its description.
    pub(crate) fn get(&self, name: &str) -> Option<(&Arc<Gguf>, &TensorInfo)> {
        if let Some(d) = &self.derived {
            if let Some(t) = d.tensor(name) {
                return Some((d, t));
            }
        }
        if let Some(t) = self.views.get(name) {
            return Some((&self.file, t));
        }
        self.file.tensor(name).map(|t| (&self.file, t))
    }

    /// The bytes of `name`.
    pub(crate) fn data(&self, name: &str) -> Option<(&TensorInfo, &[u8])> {
        self.get(name).map(|(g, t)| (t, g.tensor_data(t)))
    }
}

/// Rows `rows` of the 2-D tensor `t`, named `name`: a view of the same bytes.
fn rows_of(
    t: &TensorInfo,
    name: String,
    rows: std::ops::Range<u64>,
) -> Result<TensorInfo, ModelError> {
    let n_rows = t.dims.get(1).copied().unwrap_or(0);
    if t.dims.len() != 2 || rows.end > n_rows || n_rows == 0 || !t.n_bytes.is_multiple_of(n_rows) {
        return Err(ModelError::Invalid(format!(
            "tensor '{}' has dims {:?}: cannot take rows {rows:?} of it as '{name}'",
            t.name, t.dims
        )));
    }
    let row = t.n_bytes / n_rows;
    Ok(TensorInfo {
        name,
        ty: t.ty,
        dims: vec![t.dims[0], rows.end - rows.start],
        offset: t.offset + rows.start * row,
        n_bytes: (rows.end - rows.start) * row,
    })
}

/// Views that split each layer's fused `attn_qkv` (when the file has one) into `attn_q`,
/// `attn_k`, `attn_v`, and, for families that fuse the FFN, `ffn_up` into `ffn_gate` (its
/// first `n_ff` rows) and `ffn_up` (the rest).
fn split_fused(file: &Gguf, p: &ModelParams) -> Result<HashMap<String, TensorInfo>, ModelError> {
    let mut views = HashMap::new();
    let q = (p.n_heads * p.head_dim) as u64;
    let kv = (p.n_kv_heads * p.head_dim) as u64;
    let ff = p.n_ff as u64;
    for l in 0..p.n_layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        if let Some(t) = file.tensor(&n("attn_qkv")) {
            if t.dims.get(1) != Some(&(q + 2 * kv)) {
                return Err(ModelError::Invalid(format!(
                    "tensor '{}' has dims {:?}, expected {} rows (Q {q} + K {kv} + V {kv})",
                    t.name,
                    t.dims,
                    q + 2 * kv
                )));
            }
            for (part, rows) in [
                ("attn_q", 0..q),
                ("attn_k", q..q + kv),
                ("attn_v", q + kv..q + 2 * kv),
            ] {
                views.insert(n(part), rows_of(t, n(part), rows)?);
            }
        }
        if p.architecture.fused_gate_up() {
            let name = n("ffn_up");
            let t = file
                .tensor(&name)
                .ok_or_else(|| ModelError::MissingTensor(name.clone()))?;
            if t.dims.get(1) != Some(&(2 * ff)) {
                return Err(ModelError::Invalid(format!(
                    "tensor '{name}' has dims {:?}, expected {} rows (gate and up, {ff} each)",
                    t.dims,
                    2 * ff
                )));
            }
            views.insert(n("ffn_gate"), rows_of(t, n("ffn_gate"), 0..ff)?);
            views.insert(name.clone(), rows_of(t, name, ff..2 * ff)?);
        }
    }
    Ok(views)
}
