//! `shaders/sgd.wgsl`: the plain SGD update, in place.

use super::{grid, Family, KernelKey, Launch};
use crate::error::Result;
use crate::shape::Shape;

/// Index of the learning rate in the parameter block, so a plan can change it between steps.
pub const LR_WORD: usize = 1;

/// param ← param − lr · grad for a parameter of shape `shape`.
pub fn launch(shape: &Shape, lr: f32, limits: &wgpu::Limits) -> Result<Launch> {
    let n = shape.numel();
    Ok(Launch {
        key: KernelKey { family: Family::Sgd, entry: "sgd_step", inputs: 1, constants: vec![] },
        params: vec![n as u32, lr.to_bits(), 0, 0],
        groups: grid("sgd", shape, (n as u64).div_ceil(256), limits)?,
    })
}
