//! `shaders/optim.wgsl`: optimizer updates, in place, with PyTorch's formulas.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{OptimParams, Params};
use crate::error::{Error, Result};
use crate::ir::ops::optim::{Optimizer, adam_corrections};
use crate::ir::shape::Shape;

/// The entry point for a parameter of `n` elements, and the elements each invocation
/// updates: Adam four at a time as `vec4`s where `n` is a multiple of 4 (a storage load
/// on software adapters is a loop over the SIMD lanes, once for a vector's components:
/// about a quarter faster there).
fn entry(opt: &Optimizer, n: usize) -> (&'static str, u64) {
    match *opt {
        Optimizer::Sgd { momentum: 0.0, .. } => ("sgd_plain", 1),
        Optimizer::Sgd { .. } => ("sgd_momentum", 1),
        Optimizer::Adam { .. } if n.is_multiple_of(4) => ("adam_vec4", 4),
        Optimizer::Adam { .. } => ("adam", 1),
        Optimizer::Adagrad { .. } => ("adagrad", 1),
    }
}

/// Sets `p`'s settings to `opt`'s at step `t` (1 for the first), keeping its element count
/// and texture layout: the plan rewrites them every step where they change (Adam's bias
/// correction) and when the learning rate does.
pub fn set_step(p: &mut OptimParams, opt: &Optimizer, t: u64) {
    let (lr, beta1, beta2, eps, weight_decay, nesterov) = match *opt {
        Optimizer::Sgd { lr, momentum, nesterov, weight_decay } => (lr, momentum, 0.0, 0.0, weight_decay, nesterov),
        Optimizer::Adam { lr, beta1, beta2, eps, weight_decay } => (lr, beta1, beta2, eps, weight_decay, false),
        Optimizer::Adagrad { lr, eps, weight_decay } => (lr, 0.0, 0.0, eps, weight_decay, false),
    };
    let (step_size, bias2_sqrt) = adam_corrections(lr, beta1, beta2, t);
    *p = OptimParams { lr, beta1, beta2, eps, weight_decay, step_size, bias2_sqrt, nesterov: nesterov as u32, ..*p };
}

/// Whether `launch` (an update) has a twin that reads the parameter, its gradient and its
/// states from the plan's texture ([`textured`]): Adam on vectors of four.
pub fn reads_texture(launch: &Launch) -> bool {
    launch.key.entry == "adam_vec4"
}

/// `launch` (an update that [`reads_texture`]) for `elements` of its parameter (a range
/// starting at a multiple of 4), reading them from the plan's texture, where the parameter,
/// gradient, m and v lie in that order, `tex_stride` texels apart.
pub fn textured(
    launch: &Launch,
    elements: std::ops::Range<usize>,
    tex_stride: usize,
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let mut textured = launch.clone();
    textured.key.entry = "adam_tex";
    textured.key.texture = TextureBinding::Read;
    let p = textured.params.optim_mut().ok_or_else(|| Error::Graph(format!("{}: not an update", launch.key.entry)))?;
    // The launch's last element, past which it stops.
    p.n = elements.end as u32;
    p.first = elements.start as u32;
    p.tex_stride = tex_stride as u32;
    let part = Shape::new(&[elements.len()])?;
    textured.groups = grid("adam", &part, (elements.len() as u64).div_ceil(4 * 256), limits)?;
    Ok(textured)
}

/// The update of a parameter of `shape` at step `t`.
pub fn launch(opt: &Optimizer, shape: &Shape, t: u64, limits: &wgpu::Limits) -> Result<Launch> {
    let n = shape.numel();
    let (entry, per_invocation) = entry(opt, n);
    let invocations = (n as u64).div_ceil(per_invocation);
    let mut params = OptimParams { n: n as u32, ..Default::default() };
    set_step(&mut params, opt, t);
    Ok(Launch {
        key: KernelKey {
            family: Family::Optim,
            entry,
            inputs: 1,
            outputs: 1 + opt.states().len() as u32,
            texture: TextureBinding::None,
            constants: vec![],
        },
        params: Params::Optim(params),
        groups: grid(opt.name(), shape, invocations.div_ceil(256), limits)?,
    })
}

/// A running estimate updated in place: `state ← (1 − momentum) · state + momentum · factor ·
/// value`, as batch norm keeps its running mean and variance.
pub fn running_average(shape: &Shape, momentum: f32, factor: f32, limits: &wgpu::Limits) -> Result<Launch> {
    let n = shape.numel();
    let params = Params::Optim(OptimParams { n: n as u32, lr: momentum, beta1: factor, ..Default::default() });
    Ok(Launch {
        key: KernelKey {
            family: Family::Optim,
            entry: "running_average",
            inputs: 1,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![],
        },
        params,
        groups: grid("running_average", shape, (n as u64).div_ceil(256), limits)?,
    })
}
