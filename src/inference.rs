//! A model in evaluation mode as a plan of its own, for running trained weights: loaded by
//! PyTorch's names, inputs written from the host or bound from an application's buffer,
//! outputs read back or used where they lie on the GPU.

use crate::backend::device::Device;
use crate::backend::executor::Plan;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId};
use crate::nn::{Mode, Module, build, member_prefix, state_dict_of};
use crate::state_dict::{self, Selection};
use crate::train::Combine;
use std::sync::Arc;

/// A compiled forward pass in evaluation mode (dropout off, batch norm on its running
/// statistics) for one input shape.
pub struct Inference {
    plan: Plan,
    models: Vec<Arc<dyn Module>>,
    x: NodeId,
    y: NodeId,
}

impl Inference {
    /// Compiles `model` for inputs of `input_dims` (the batch first: `[n, 1, 28, 28]`). Its
    /// parameters start at zero and its running statistics at PyTorch's 0 and 1: load weights
    /// before running it.
    pub fn new(device: &Device, model: impl Module, input_dims: &[usize]) -> Result<Inference> {
        Inference::with_models(device, &[Arc::new(model)], Combine::Ensemble, input_dims)
    }

    /// [`Inference::new`] for several models that predict together as `combine` says
    /// (parameter names carry [`member_prefix`], as [`crate::train::Trainer`] saves them).
    pub fn with_models(
        device: &Device,
        models: &[Arc<dyn Module>],
        combine: Combine,
        input_dims: &[usize],
    ) -> Result<Inference> {
        if models.is_empty() {
            return Err(Error::InvalidArgument { op: "inference", message: "no model to run".into() });
        }
        let mut g = Graph::new();
        let x = g.input("x", input_dims)?;
        let mut outs = Vec::new();
        for (k, model) in models.iter().enumerate() {
            outs.push(build(model.as_ref(), &mut g, x, Mode::Eval, 0, &member_prefix(k, models.len()))?);
        }
        let mut y = outs[0];
        if combine == Combine::Ensemble && outs.len() > 1 {
            for &o in &outs[1..] {
                y = g.add(y, o)?;
            }
            y = g.scale(y, 1.0 / outs.len() as f32)?;
        }
        let plan = Plan::compile(device, &g, &[y])?;
        Ok(Inference { plan, models: models.to_vec(), x, y })
    }

    /// Loads parameters and batch norm statistics by name from `file` (a shadergrad checkpoint,
    /// whose optimizer state is skipped, or a bare PyTorch `state_dict`); see
    /// [`state_dict::select`] for `strict`. `path` names the file in errors.
    pub fn load_weights(&mut self, file: &Checkpoint, path: &str, strict: bool) -> Result<Selection> {
        let selection = state_dict::select(&state_dict_of(&self.models), file, path, strict)?;
        for (name, values) in &selection.tensors {
            self.plan.write_named(name, values)?;
        }
        Ok(selection)
    }

    /// Runs on `x` (the input's values, row-major) and reads the output back.
    pub fn run(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        self.plan.write(self.x, x)?;
        Ok(self.plan.run_and_read(&[self.y])?.remove(0))
    }

    /// Reads the input from the application's `buffer` from the next run on (see
    /// [`Plan::bind_input`]).
    pub fn bind_input(&mut self, buffer: &wgpu::Buffer) -> Result<()> {
        self.plan.bind_input(self.x, buffer)
    }

    /// Records one run into the application's `encoder` (see [`Plan::record`] for the contract).
    pub fn record(&mut self, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        self.plan.record(encoder)
    }

    /// The buffer holding the output, to use on the GPU (its first `numel × 4` bytes).
    pub fn output_buffer(&self) -> Result<&wgpu::Buffer> {
        self.plan.buffer(self.y)
    }

    /// Reads the output of the last run back.
    pub fn read_output(&mut self) -> Result<Vec<f32>> {
        self.plan.read(self.y)
    }

    /// The input node (for [`Plan::bind_input`] or [`Plan::write`]).
    pub fn input(&self) -> NodeId {
        self.x
    }

    /// The output node (for [`Plan::buffer`] or [`Plan::read`]).
    pub fn output(&self) -> NodeId {
        self.y
    }

    /// The output's dims.
    pub fn output_dims(&self) -> &[usize] {
        self.plan.graph().shape(self.y).dims()
    }

    /// The plan, to record it into an application's encoder or bind its input.
    pub fn plan(&mut self) -> &mut Plan {
        &mut self.plan
    }
}
