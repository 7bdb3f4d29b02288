//! `shaders/loss.wgsl`: losses reduced to their mean, and their gradients.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{LossParams, Params};
use crate::error::Result;
use crate::ir::ops::loss::LossKind;
use crate::ir::shape::Shape;

/// (items, classes per item) of a prediction.
fn items(kind: LossKind, pred: &Shape) -> (usize, usize) {
    if kind.takes_labels() { (pred.dims()[0], pred.dims()[1]) } else { (pred.numel(), 1) }
}

/// The parameter block for the items of `part` (a whole prediction or a chunk of its rows),
/// averaging over the items of `whole`.
fn params(kind: LossKind, part: &Shape, whole: &Shape, accumulate: bool) -> (Params, usize, usize) {
    let (n, c) = items(kind, part);
    let (total, _) = items(kind, whole);
    let block = LossParams { items: n as u32, c: c as u32, scale: 1.0 / total as f32, accumulate: accumulate as u32 };
    (Params::Loss(block), n, c)
}

fn key(kind: LossKind, entry: &'static str) -> KernelKey {
    KernelKey {
        family: Family::Loss,
        entry,
        inputs: 3,
        outputs: 1,
        texture: TextureBinding::None,
        constants: vec![("LOSS", kind as u32)],
    }
}

/// The mean loss over `whole` of the rows in `pred` (all of them, unless split), into one
/// value; `accumulate` adds it to the value there.
pub fn forward(kind: LossKind, pred: &Shape, whole: &Shape, accumulate: bool) -> Launch {
    let (params, _, _) = params(kind, pred, whole, accumulate);
    Launch { key: key(kind, "loss_forward"), params, groups: [1, 1, 1] }
}

/// The loss's gradient with respect to the rows `pred` of `whole`, scaled by the loss's own
/// gradient.
pub fn backward(kind: LossKind, pred: &Shape, whole: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let (params, items, c) = params(kind, pred, whole, false);
    let (entry, groups) = match kind {
        LossKind::CrossEntropy => ("cross_entropy_backward", (items as u64).div_ceil(64)),
        _ => ("loss_backward", ((items * c) as u64).div_ceil(256)),
    };
    Ok(Launch { key: key(kind, entry), params, groups: grid(kind.name(), pred, groups, limits)? })
}
