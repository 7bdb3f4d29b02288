//! `shaders/batch_norm.wgsl`: a batch norm's statistics, its normalization, and its gradient's
//! sums and pass.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{BatchNormParams, Params};
use crate::error::Result;
use crate::ir::shape::Shape;

/// Invocations of the element passes' and `batch_norm_given_stats`' workgroups.
const GROUP: u64 = 64;
/// Planes (an item's channel) at least this long take a workgroup each in the element passes;
/// shorter ones an invocation per element.
const PLANE_FROM: usize = 32;

/// Which entry point, and the workgroups it takes over x `[N, C, …]`.
#[derive(Clone, Copy)]
enum Entry {
    Stats,
    GivenStats,
    Forward,
    GradSums,
    Backward,
}

fn launch(entry: Entry, x: &Shape, eps: f32, from_batch: bool, limits: &wgpu::Limits) -> Result<Launch> {
    let d = x.dims();
    let (batch, channels) = (d[0], d[1]);
    let inner = d[2..].iter().product::<usize>();
    let by_plane = inner >= PLANE_FROM;
    let elements = if by_plane { (batch * channels) as u64 } else { (x.numel() as u64).div_ceil(GROUP) };
    let (name, groups) = match entry {
        Entry::Stats => ("batch_norm_stats", channels as u64),
        Entry::GivenStats => ("batch_norm_given_stats", (channels as u64).div_ceil(GROUP)),
        Entry::Forward => ("batch_norm_forward", elements),
        Entry::GradSums => ("batch_norm_grad_sums", channels as u64),
        Entry::Backward => ("batch_norm_backward", elements),
    };
    let constants = match entry {
        Entry::Forward | Entry::Backward => vec![("BY_PLANE", by_plane as u32)],
        _ => vec![],
    };
    Ok(Launch {
        key: KernelKey {
            family: Family::BatchNorm,
            entry: name,
            inputs: 3,
            outputs: 1,
            texture: TextureBinding::None,
            constants,
        },
        params: Params::BatchNorm(BatchNormParams {
            batch: batch as u32,
            channels: channels as u32,
            inner: inner as u32,
            eps,
            from_batch: from_batch as u32,
            ..Default::default()
        }),
        groups: grid(name, x, groups, limits)?,
    })
}

/// The statistics' table `[4, C]` of the batch x `[N, C, …]`, for inputs [x, γ, β].
pub fn stats(x: &Shape, eps: f32, limits: &wgpu::Limits) -> Result<Launch> {
    launch(Entry::Stats, x, eps, true, limits)
}

/// The same table from a given mean and variance `[2, C]`, for inputs [them, γ, β].
pub fn given_stats(given: &Shape, eps: f32, limits: &wgpu::Limits) -> Result<Launch> {
    launch(Entry::GivenStats, given, eps, false, limits)
}

/// The normalization of x `[N, C, …]`, for inputs [x, the table, the table].
pub fn forward(x: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch(Entry::Forward, x, 0.0, false, limits)
}

/// The gradient's sums `[6, C]` over x `[N, C, …]`, for inputs [the output's gradient, x, the
/// statistics' table]; `from_batch` where the statistics are the batch's own.
pub fn grad_sums(x: &Shape, eps: f32, from_batch: bool, limits: &wgpu::Limits) -> Result<Launch> {
    launch(Entry::GradSums, x, eps, from_batch, limits)
}

/// x's gradient, for inputs [the output's gradient, x, the gradient sums].
pub fn backward(x: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch(Entry::Backward, x, 0.0, false, limits)
}
