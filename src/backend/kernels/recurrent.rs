//! `shaders/recurrent.wgsl`: the fused cell steps of recurrent layers and their gradients.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{Params, RecurrentParams};
use crate::error::{Error, Result};
use crate::ir::ops::recurrent::CellStep;
use crate::ir::shape::Shape;

/// Invocations of a workgroup.
const GROUP: u64 = 64;

/// Bound inputs: the gradient and a GRU step's three, the most any entry point reads.
pub const INPUTS: usize = 4;

fn launch(entry: &'static str, out: &Shape, hidden: usize, limits: &wgpu::Limits) -> Result<Launch> {
    Ok(Launch {
        key: KernelKey {
            family: Family::Recurrent,
            entry,
            inputs: INPUTS as u32,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![],
        },
        params: Params::Recurrent(RecurrentParams {
            count: out.numel() as u32,
            hidden: hidden as u32,
            ..Default::default()
        }),
        groups: grid(entry, out, (out.numel() as u64).div_ceil(GROUP), limits)?,
    })
}

/// A step's output `[B, H]`.
pub fn step(step: CellStep, out: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let hidden = out.dims()[1];
    launch(step.name(), out, hidden, limits)
}

/// The gradient `out` of a step's input `slot` whose state has `hidden` features.
pub fn backward(step: CellStep, slot: usize, out: &Shape, hidden: usize, limits: &wgpu::Limits) -> Result<Launch> {
    let entry = match (step, slot) {
        (CellStep::LstmState, 0) => "lstm_state_backward_pre",
        (CellStep::LstmState, 1) => "lstm_state_backward_prev",
        (CellStep::LstmOutput, 0) => "lstm_output_backward_pre",
        (CellStep::LstmOutput, 1) => "lstm_output_backward_state",
        (CellStep::Gru, 0) => "gru_cell_backward_input",
        (CellStep::Gru, 1) => "gru_cell_backward_hidden",
        (CellStep::Gru, 2) => "gru_cell_backward_state",
        _ => return Err(Error::Graph(format!("{} has no input {slot}", step.name()))),
    };
    launch(entry, out, hidden, limits)
}

/// The shader with the activations' math it shares (its sigmoid is the elementwise one's).
pub fn source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        String::from(include_str!("../../../shaders/recurrent.wgsl"))
            + include_str!("../../../shaders/activations.wgsl")
    })
}
