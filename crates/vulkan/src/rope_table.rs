//! The (cos, sin) table the RoPE and attention shaders read: computed on the host in f64 with
//! the CPU backend's own function ([`pine_backend::rope::angle`]), so both backends rotate by
//! the same f32 values. It grows to cover every position a batch needs, including PINE's
//! shifted query positions.

use pine_backend::rope::{angle, Rope};
use vulkano::buffer::Subbuffer;

use crate::device::Context;
use crate::error::VkError;
use crate::memory;
use crate::recorder::Recorder;

/// The device copy of the table for positions `lo..hi`.
#[derive(Default)]
pub struct RopeTable {
    inv_freq: Vec<f64>,
    lo: i64,
    hi: i64,
    buf: Option<Subbuffer<[f32]>>,
}

impl RopeTable {
    /// Makes the table cover positions `need.0 ..= need.1` of `rope`, uploading a larger one if
    /// needed; returns the buffer and its first position.
    pub fn cover(
        &mut self,
        ctx: &Context,
        rec: &mut Recorder,
        rope: &Rope,
        need: (i64, i64),
    ) -> Result<(Subbuffer<[f32]>, i64), VkError> {
        let fits = self.inv_freq == rope.inv_freq && need.0 >= self.lo && need.1 < self.hi;
        if let (true, Some(buf)) = (fits, &self.buf) {
            return Ok((buf.clone(), self.lo));
        }
        let same = self.inv_freq == rope.inv_freq && self.buf.is_some();
        let lo = if same {
            need.0.min(self.lo)
        } else {
            need.0.min(0)
        };
        let old = if same { self.hi - self.lo } else { 0 };
        let hi = (need.1 + 1).max(lo + 2 * old).max(lo + 4096);
        let table: Vec<f32> = (lo..hi)
            .flat_map(|p| {
                rope.inv_freq.iter().flat_map(move |&f| {
                    let (c, s) = angle(p, f);
                    [c, s]
                })
            })
            .collect();
        let staged = memory::upload(&ctx.memory, &table)?;
        let buf = memory::device::<f32>(&ctx.memory, table.len())?;
        rec.copy_once(staged.into_bytes(), buf.clone().into_bytes());
        *self = RopeTable {
            inv_freq: rope.inv_freq.clone(),
            lo,
            hi,
            buf: Some(buf.clone()),
        };
        Ok((buf, lo))
    }
}
