//! `shaders/softmax.wgsl`: softmax and log-softmax along the last axis.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{Params, SoftmaxParams};
use crate::error::Result;
use crate::ir::shape::Shape;

/// Rows per workgroup.
const GROUP: u64 = 64;

fn launch(entry: &'static str, log: bool, shape: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let c = *shape.dims().last().unwrap_or(&1);
    let rows = shape.numel() / c;
    Ok(Launch {
        key: KernelKey {
            family: Family::Softmax,
            entry,
            inputs: 2,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![("LOG", log as u32)],
        },
        params: Params::Softmax(SoftmaxParams { rows: rows as u32, c: c as u32, ..Default::default() }),
        groups: grid(if log { "log_softmax" } else { "softmax" }, shape, (rows as u64).div_ceil(GROUP), limits)?,
    })
}

/// (log-)softmax of x along its last axis.
pub fn forward(log: bool, shape: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch("softmax_forward", log, shape, limits)
}

/// The gradient of x from the output's gradient and the output.
pub fn backward(log: bool, shape: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch("softmax_backward", log, shape, limits)
}
