//! `shaders/scan.wgsl`: a recurrent layer's scan over its steps and its gradient.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{Params, ScanParams};
use crate::error::Result;
use crate::ir::ops::recurrent::{CellKind, Scan};
use crate::ir::shape::Shape;

/// Bound inputs: xw, W_hh, b_hh, the mask, the states (or the starting state) and the states'
/// gradient; an entry that reads fewer binds xw in their place.
pub const INPUTS: usize = 6;

/// Invocations of a workgroup (the shader's `GROUP`).
const GROUP: usize = 64;

fn cell_constant(cell: CellKind) -> u32 {
    match cell {
        CellKind::RnnTanh => 0,
        CellKind::RnnRelu => 1,
        CellKind::Lstm => 2,
        CellKind::Gru => 3,
    }
}

/// The launch of `entry` for `scan` over xw `[T, B, G·H]` with `hidden` features; `out`
/// names the shape in limit errors.
fn launch(
    entry: &'static str,
    scan: Scan,
    xw: &Shape,
    hidden: usize,
    out: &Shape,
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let (steps, batch) = (xw.dims()[0], xw.dims()[1]);
    Ok(Launch {
        key: KernelKey {
            family: Family::Scan,
            entry,
            inputs: INPUTS as u32,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![("CELL", cell_constant(scan.cell)), ("MASKED", scan.masked as u32)],
        },
        params: Params::Scan(ScanParams {
            steps: steps as u32,
            batch: batch as u32,
            hidden: hidden as u32,
            ..Default::default()
        }),
        // An invocation per batch row.
        groups: grid(entry, out, batch.div_ceil(GROUP) as u64, limits)?,
    })
}

/// The scan's states `out` `[T + 1, B, S]` from xw `[T, B, G·H]` and `hidden` features.
pub fn scan(scan: Scan, xw: &Shape, hidden: usize, out: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch("scan", scan, xw, hidden, out, limits)
}

/// The scan's gradients `out` `[T + 1, B, P]`.
pub fn backward(scan: Scan, xw: &Shape, hidden: usize, out: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch("scan_backward", scan, xw, hidden, out, limits)
}

/// The shader with the activations' math it shares (its sigmoid is the elementwise one's).
pub fn source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        String::from(include_str!("../../../shaders/scan.wgsl")) + include_str!("../../../shaders/activations.wgsl")
    })
}
