//! `shaders/mse.wgsl`: mean squared error and its gradient.

use super::{grid, Family, KernelKey, Launch};
use crate::error::Result;
use crate::shape::Shape;

fn key(entry: &'static str) -> KernelKey {
    KernelKey { family: Family::Mse, entry, inputs: 3, constants: vec![] }
}

/// mean((pred − target)²) of two tensors of shape `shape`, into one value.
pub fn forward(shape: &Shape) -> Launch {
    let n = shape.numel();
    Launch { key: key("mse_forward"), params: vec![n as u32, (1.0 / n as f32).to_bits(), 0, 0], groups: [1, 1, 1] }
}

/// grad · 2 (pred − target) / n, element by element.
pub fn backward(shape: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let n = shape.numel();
    Ok(Launch {
        key: key("mse_backward"),
        params: vec![n as u32, (2.0 / n as f32).to_bits(), 0, 0],
        groups: grid("mse_backward", shape, (n as u64).div_ceil(256), limits)?,
    })
}
