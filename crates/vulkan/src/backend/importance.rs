//! PINE's importance pass on the device (spec §1.3, DESIGN §3). The segment batch's pre-RoPE
//! keys are copied, in the cache precision, into a per-layer region store that stays on the
//! device (`pine_region_keys.comp`); every later ranking scores its queries against it there
//! (`pine_importance.comp`, `pine_importance_sum.comp`), so only the importance table comes
//! back to the host, never a layer's queries or keys. The shaders follow the CPU's order
//! operation by operation, so in exact numerics on a device with f64 the table is the CPU's bit
//! for bit (in fast numerics within a few ulp); in either mode the order of the sums does not
//! depend on where the segments sit.

use pine_backend::importance::check_request;
use pine_backend::{AttentionShape, BackendError, CacheType, ImportanceRows, RegionGeometry};
use vulkano::buffer::Subbuffer;

use super::shaders::Shader;
use super::{groups_1d, need, VkBuffer, VkCache, VulkanBackend};
use crate::memory;
use crate::recorder::MAX_GROUPS;

/// One layer's region keys on the device: `[KV head][dim][token]` in the cache precision.
pub(super) struct DeviceRegion {
    keys: Subbuffer<[u8]>,
    tokens: usize,
}

/// Largest head dim the importance shader holds in shared memory.
const HD_MAX: usize = 256;

impl VulkanBackend {
    /// [`pine_backend::Backend::store_region_keys`]: copies the segment batch's pre-RoPE keys
    /// `k` (`tokens` rows, row u = region token u) into `layer`'s region store on the device,
    /// growing it when too small.
    pub(super) fn store_region(
        &mut self,
        cache: &mut VkCache,
        layer: usize,
        k: &VkBuffer,
        tokens: usize,
    ) -> Result<(), BackendError> {
        let kvw = cache.spec.n_kv_heads * cache.spec.head_dim;
        need(k, tokens * kvw, "region keys")?;
        let elem = match cache.spec.ty {
            CacheType::F16 => 2,
            CacheType::F32 => 4,
        };
        let bytes = (tokens * kvw * elem).max(4);
        if bytes as u64 > self.ctx.info.max_storage_buffer_range {
            return Err(BackendError::Device(format!(
                "PINE's {} MiB of region keys exceed the device's storage binding limit",
                bytes >> 20
            )));
        }
        let slot = cache
            .region
            .get_mut(layer)
            .ok_or_else(|| BackendError::Plan(format!("region keys for layer {layer}")))?;
        if slot
            .as_ref()
            .is_none_or(|s| (s.keys.size() as usize) < bytes)
        {
            *slot = Some(DeviceRegion {
                keys: memory::device::<u8>(&self.ctx.memory, bytes)?,
                tokens,
            });
        }
        let store = slot.as_mut().expect("just set");
        store.tokens = tokens;
        let keys = store.keys.clone();
        let shader = self.shader(Shader::RegionKeys(cache.spec.ty))?;
        let push = [kvw as u32, tokens as u32, 0, 0, 0, 0, 0, 0];
        self.dispatch(
            shader,
            vec![k.buf.clone().into_bytes().into(), keys.into()],
            push,
            groups_1d(tokens * kvw, 256),
        )?;
        Ok(())
    }

    /// [`pine_backend::Backend::importance`] on the device: one workgroup per (query row,
    /// head), then for the segment batch the per-segment sums over its rows; only the table
    /// is read back.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn region_importance(
        &mut self,
        cache: &VkCache,
        layer: usize,
        shape: &AttentionShape,
        q: &VkBuffer,
        geo: &RegionGeometry<'_>,
        rows: ImportanceRows,
        out: &mut [f32],
    ) -> Result<(), BackendError> {
        let (kv_heads, hd) = (cache.spec.n_kv_heads, cache.spec.head_dim);
        let store = cache
            .region
            .get(layer)
            .and_then(Option::as_ref)
            .ok_or_else(|| BackendError::Plan(format!("layer {layer} has no region keys")))?;
        check_request(store.tokens, kv_heads, shape.n_heads, geo, rows, out.len())
            .map_err(BackendError::Plan)?;
        if shape.head_dim != hd || hd > HD_MAX {
            return Err(BackendError::Plan(format!(
                "importance of head dim {} over cached heads of {hd} (at most {HD_MAX})",
                shape.head_dim
            )));
        }
        let (nh, n) = (shape.n_heads, geo.lens.len());
        let n_rows = rows.query_rows(store.tokens);
        if n == 0 || n_rows == 0 {
            return Ok(());
        }
        if n_rows > MAX_GROUPS as usize {
            return Err(BackendError::Plan(format!(
                "importance of {n_rows} rows in one batch (at most {MAX_GROUPS})"
            )));
        }
        need(q, n_rows * nh * hd, "importance queries")?;
        let mem = self.ctx.memory.clone();
        let per_row = Self::scratch(&mem, &mut self.importance_rows, n_rows * nh * n)?;
        let words = geo.starts.iter().chain(geo.lens).chain(geo.canonical);
        let geo_data = self.rec.data(words.map(|&x| x as u32));
        let scale = 1.0 / (hd as f32).sqrt();
        let push = [
            nh as u32,
            kv_heads as u32,
            hd as u32,
            store.tokens as u32,
            n as u32,
            scale.to_bits(),
            u32::from(rows == ImportanceRows::Segments),
            0,
        ];
        let shader = self.shader(Shader::Importance(cache.spec.ty))?;
        self.dispatch(
            shader,
            vec![
                q.buf.clone().into_bytes().into(),
                store.keys.clone().into(),
                geo_data.clone(),
                per_row.clone().into_bytes().into(),
            ],
            push,
            [nh as u32, n_rows as u32, 1],
        )?;
        let table = match rows {
            ImportanceRows::Queries(_) => per_row,
            ImportanceRows::Segments => {
                let table = Self::scratch(&mem, &mut self.importance_table, out.len())?;
                self.dispatch(
                    "pine_importance_sum",
                    vec![
                        per_row.into_bytes().into(),
                        geo_data,
                        table.clone().into_bytes().into(),
                    ],
                    push,
                    groups_1d(out.len(), 64),
                )?;
                table
            }
        };
        self.read_back(table, out)?;
        Ok(())
    }
}
