//! `shaders/layout.wgsl`: kernels that move elements without arithmetic (narrow, select,
//! permute, pad, concat, one-hot, an embedding's rows and their gradient).

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{LayoutParams, Params};
use crate::error::Result;
use crate::ir::shape::{MAX_RANK, Shape};

/// The padded-to-four position of `axis` of a tensor of rank `rank`.
fn padded_axis(rank: usize, axis: usize) -> u32 {
    (MAX_RANK - rank + axis) as u32
}

fn launch(
    entry: &'static str,
    out: &Shape,
    words: [usize; 3],
    strides: [usize; 4],
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let [axis, start, extent] = words.map(|w| w as u32);
    let params = Params::Layout(LayoutParams {
        count: out.numel() as u32,
        axis,
        start,
        extent,
        dims: out.padded4().map(|d| d as u32),
        strides: strides.map(|s| s as u32),
    });
    Ok(Launch {
        key: KernelKey {
            family: Family::Layout,
            entry,
            inputs: 2,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![],
        },
        params,
        groups: grid(entry, out, (out.numel() as u64).div_ceil(256), limits)?,
    })
}

/// out = x[offset + Σ idx·strides] over the output's elements; `strides` has one entry per
/// output axis (x's stride for it).
pub fn strided_copy(out: &Shape, offset: usize, strides: &[usize], limits: &wgpu::Limits) -> Result<Launch> {
    let mut padded = [0; MAX_RANK];
    padded[MAX_RANK - strides.len()..].copy_from_slice(strides);
    launch("strided_copy", out, [0, offset, 0], padded, limits)
}

/// x (extent `extent` along `axis`) placed at `start` along `axis` of zeros shaped `out`.
pub fn pad(out: &Shape, axis: usize, start: usize, extent: usize, limits: &wgpu::Limits) -> Result<Launch> {
    let axis = padded_axis(out.rank(), axis) as usize;
    launch("pad", out, [axis, start, extent], [0; 4], limits)
}

/// a then b along `axis`, a having extent `split` there.
pub fn concat(out: &Shape, axis: usize, split: usize, limits: &wgpu::Limits) -> Result<Launch> {
    let axis = padded_axis(out.rank(), axis) as usize;
    launch("concat", out, [axis, split, 0], [0; 4], limits)
}

/// The rows `out` `[…, D]` of a weight of `rows` rows at the indices.
pub fn gather_rows(out: &Shape, rows: usize, limits: &wgpu::Limits) -> Result<Launch> {
    let features = *out.dims().last().unwrap_or(&1);
    launch("gather_rows", out, [0, rows, features], [0; 4], limits)
}

/// The sorted indices and their positions `out` `[2, n]` of n indices into `rows` rows.
pub fn index_order(out: &Shape, rows: usize, limits: &wgpu::Limits) -> Result<Launch> {
    let positions = out.dims()[1];
    let mut l = launch("index_order", out, [0, rows, positions], [0; 4], limits)?;
    l.groups = grid("index_order", out, (positions as u64).div_ceil(256), limits)?;
    Ok(l)
}

/// An embedding's weight gradient `out` `[N, D]` from the output's gradient at `positions`
/// positions, given their [`index_order`]: a workgroup per row (the shader's
/// `GATHER_GROUP` invocations), sized here.
pub fn gather_rows_backward(out: &Shape, positions: usize, limits: &wgpu::Limits) -> Result<Launch> {
    let (rows, features) = (out.dims()[0], out.dims()[1]);
    let mut l = launch("gather_rows_backward", out, [0, positions, features], [0; 4], limits)?;
    l.groups = grid("embedding_backward", out, rows as u64, limits)?;
    Ok(l)
}

/// One-hot rows `[n, classes]` of n class indices.
pub fn one_hot(out: &Shape, classes: usize, limits: &wgpu::Limits) -> Result<Launch> {
    launch("one_hot", out, [0, 0, classes], [0; 4], limits)
}
