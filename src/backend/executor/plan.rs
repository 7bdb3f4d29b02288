//! A compiled plan: its buffers, launches and parameter blocks, what it has done, and the
//! writes and settings that change it between runs.

use super::binding::{Binds, bind_group, no_buffer};
use super::kernel_graph::KernelNode;
use crate::backend::device::Device;
use crate::backend::gpu_timer::GpuTimer;
use crate::backend::kernels::params::{ElementwiseParams, OptimParams, Params};
use crate::backend::kernels::{self, PARAMS_SLOT, Pipeline};
use crate::backend::operand_textures::{OperandCopy, OperandTextures};
use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use crate::ir::ops::optim::Optimizer;
use crate::ir::shape::Shape;
use std::collections::HashMap;
use std::sync::Arc;

/// What a plan has done, for tests and benchmarks that hold it to its promises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `queue.submit` calls.
    pub submits: u64,
    /// Kernel dispatches recorded.
    pub dispatches: u64,
    /// Buffers mapped to read values back to the host.
    pub readbacks: u64,
    /// GPU buffers created.
    pub allocations: u64,
    /// Bytes in those buffers.
    pub bytes_allocated: u64,
}

/// A storage buffer; the tensors assigned to it use its first `numel × 4` bytes.
pub(super) struct Slot {
    pub(super) buffer: Arc<wgpu::Buffer>,
}

/// One recorded kernel launch.
pub(super) struct Step {
    /// The node it computes (part of, for a split launch).
    pub(super) node: NodeId,
    /// The kernel it runs, as [`Kernel::name`](super::kernel_graph::Kernel::name) names it,
    /// and the shape it writes (after fusion).
    pub(super) op: String,
    pub(super) shape: Shape,
    /// The kernel's entry point.
    pub(super) entry: &'static str,
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) bind_group: wgpu::BindGroup,
    /// What the bind group binds, to bind it again to other buffers.
    pub(super) binds: Binds,
    pub(super) groups: [u32; 3],
    /// Operands copied into the plan's texture just before the launch, with their buffers.
    pub(super) copies: Vec<(Arc<wgpu::Buffer>, OperandCopy)>,
}

/// A compiled graph, ready to run again and again.
pub struct Plan {
    pub(super) device: Device,
    pub(super) graph: Graph,
    pub(super) steps: Vec<Step>,
    /// Storage slot of each node's value (reshapes and in-place updates share their input's).
    pub(super) slot_of: Vec<Option<usize>>,
    pub(super) slots: Vec<Slot>,
    /// Nodes whose values outlive a run: inputs, parameters, fills and declared outputs.
    pub(super) readable: Vec<bool>,
    pub(super) staging: HashMap<usize, wgpu::Buffer>,
    pub(super) uniforms: wgpu::Buffer,
    /// The optimizer steps: (launch index, optimizer, its block), so their parameter blocks
    /// can follow the step count and the learning rate.
    pub(super) updates: Vec<(usize, Optimizer, OptimParams)>,
    /// Runs so far: the optimizer's step t is `runs + 1` during a run.
    pub(super) runs: u64,
    /// Multiplies every update's compiled learning rate (a schedule's decay).
    pub(super) lr_factor: f32,
    /// Each dropout launch and its block, whose run number (`step`) changes every run.
    pub(super) dropouts: Vec<(usize, ElementwiseParams)>,
    pub(super) counters: Counters,
    /// Timestamps around the pass (or around each launch, for a profiled run), made on the
    /// first timed run where the adapter has them.
    pub(super) timer: Option<GpuTimer>,
    /// Where textured matrix products read their operands (software adapters).
    pub(super) operand_textures: Option<OperandTextures>,
}

/// What a run's timestamps measure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Timing {
    Untimed,
    /// The whole pass.
    Run,
    /// Each launch, in a pass of its own.
    Launches,
}

/// The GPU's time for one launch of a profiled run ([`Plan::run_profiled`]).
#[derive(Clone, Debug)]
pub struct LaunchTime {
    /// The node the launch computes (a part of, where a launch was split).
    pub node: NodeId,
    /// The node's op as [`Op::name`] names it, or the fused kernel's name (`matmulbias`, …).
    pub op: String,
    /// The kernel's entry point (which matmul blocks, say).
    pub entry: &'static str,
    /// The shape the launch writes (a fused node's own: partial sums have fewer entries).
    pub shape: Shape,
    /// Milliseconds between the launch's start and end by the GPU's clock.
    pub ms: f64,
}

impl Plan {
    /// The buffer of this plan's parameter or state that matches `node` by name, op kind and shape.
    pub(super) fn shared_buffer(&self, node: &KernelNode) -> Option<Arc<wgpu::Buffer>> {
        let name = node.name.as_deref()?;
        let op = node.kernel.op().filter(|op| matches!(op, Op::Param | Op::State(_)))?;
        let id = self.graph.find(name)?;
        let mine = self.graph.node(id);
        let same_kind = std::mem::discriminant(&mine.op) == std::mem::discriminant(op);
        if !same_kind || mine.shape != node.shape {
            return None;
        }
        self.slot_of[id.index()].map(|s| self.slots[s].buffer.clone())
    }

    /// Binds each node of `buffers` (an input, an output) to its buffer instead of the one it
    /// had, from the next run on: an eager op's cached plan runs on each call's tensors. A
    /// buffer must hold the node's elements.
    pub(crate) fn rebind(&mut self, buffers: &[(NodeId, Arc<wgpu::Buffer>)]) -> Result<()> {
        for (id, buffer) in buffers {
            let needed = self.node_checked(*id)?.shape.numel() as u64 * 4;
            if buffer.size() < needed {
                return Err(Error::Graph(format!(
                    "rebind: node {} needs {needed} bytes, its new buffer holds {}",
                    id.index(),
                    buffer.size()
                )));
            }
            let slot = self.slot_of[id.index()].ok_or_else(|| no_buffer(*id))?;
            self.slots[slot].buffer = buffer.clone();
        }
        let (slots, slot_of) = (&self.slots, &self.slot_of);
        let buffer_of = |id: NodeId| slot_of[id.index()].map(|slot| &slots[slot].buffer);
        for (k, step) in self.steps.iter_mut().enumerate() {
            step.bind_group = bind_group(
                &self.device,
                &step.pipeline.layout,
                &step.op,
                (&self.uniforms, k),
                &step.binds,
                |id| buffer_of(id).map(|b| &**b),
                self.operand_textures.as_ref(),
            )?;
            for (buffer, copy) in &mut step.copies {
                *buffer = buffer_of(copy.node).ok_or_else(|| no_buffer(copy.node))?.clone();
            }
        }
        Ok(())
    }

    /// Makes input `node` read the application's `buffer` from the next run on, instead of a
    /// buffer of the plan's own: the application fills it on the GPU (a render pass, a copy)
    /// and no value passes through the host. The buffer must be on the plan's device, hold
    /// the input's `numel × 4` bytes of f32 (its first ones are read) and have `STORAGE`
    /// usage (and `COPY_SRC` where the adapter's plan copies the input into a texture, or to
    /// read it back with [`Plan::read`]).
    pub fn bind_input(&mut self, node: NodeId, buffer: &wgpu::Buffer) -> Result<()> {
        let n = self.node_checked(node)?;
        let what = n.name.clone().unwrap_or_else(|| format!("node {}", node.index()));
        let bad = |message: String| Error::InvalidArgument { op: "bind_input", message };
        if n.op != Op::Input {
            return Err(bad(format!("{what} is a {}, not an input", n.op.name())));
        }
        let needed = n.shape.numel() as u64 * 4;
        if buffer.size() < needed {
            return Err(bad(format!(
                "input {what} of shape {} needs {needed} bytes, but the buffer holds {}",
                n.shape,
                buffer.size()
            )));
        }
        let copied = self.steps.iter().any(|s| s.copies.iter().any(|(_, c)| c.node == node));
        let mut usage = wgpu::BufferUsages::STORAGE;
        if copied {
            usage |= wgpu::BufferUsages::COPY_SRC;
        }
        if !buffer.usage().contains(usage) {
            return Err(bad(format!(
                "input {what} needs a buffer with usage {usage:?}, but the buffer has {:?}",
                buffer.usage()
            )));
        }
        self.rebind(&[(node, Arc::new(buffer.clone()))])
    }

    /// Whether `node`'s value lies in the buffer of one of `others` (a reshape of an input).
    pub(crate) fn shares_buffer(&self, node: NodeId, others: &[NodeId]) -> Result<bool> {
        self.node_checked(node)?;
        let slot = self.slot_of[node.index()].ok_or_else(|| no_buffer(node))?;
        Ok(others.iter().any(|o| self.slot_of.get(o.index()) == Some(&Some(slot))))
    }

    /// The graph this plan was compiled from.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The device the plan runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// What the plan has done so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Kernel launches in one run.
    pub fn launches(&self) -> usize {
        self.steps.len()
    }

    /// The op each launch of a run computes, in run order, as [`Op::name`] names it, or the
    /// fused kernel's name where the compiler fused ops (`matmulbias`, `maxpoolrelubackward`, …).
    pub fn launch_ops(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.op.as_str()).collect()
    }

    /// Writes the values of an input, a parameter or an optimizer state; they take effect at
    /// the next run.
    pub fn write(&mut self, node: NodeId, values: &[f32]) -> Result<()> {
        let n = self.node_checked(node)?;
        if !matches!(n.op, Op::Input | Op::Param | Op::State(_)) {
            return Err(Error::Graph(format!("write: node {} is not an input, a parameter or a state", node.index())));
        }
        if values.len() != n.shape.numel() {
            return Err(Error::DataLength {
                what: n.name.clone().unwrap_or_else(|| format!("node {}", node.index())),
                shape: n.shape.clone(),
                expected: n.shape.numel(),
                got: values.len(),
            });
        }
        self.write_slot(node.index(), values);
        Ok(())
    }

    /// Writes the input or parameter called `name`.
    pub fn write_named(&mut self, name: &str, values: &[f32]) -> Result<()> {
        let node = self
            .graph
            .find(name)
            .ok_or_else(|| Error::Graph(format!("write: no input or parameter is named '{name}'")))?;
        self.write(node, values)
    }

    pub(super) fn write_slot(&mut self, node: usize, values: &[f32]) {
        if let Some(slot) = self.slot_of[node] {
            self.device.queue().write_buffer(&self.slots[slot].buffer, 0, bytemuck::cast_slice(values));
        }
    }

    /// Fills every buffer that kernels write (all but inputs, parameters, fills and states)
    /// with NaN, so that a kernel that leaves part of its output unwritten shows in the
    /// results instead of hiding behind a freshly zeroed buffer (the conformance suite does
    /// this before every case).
    pub(crate) fn poison_computed(&mut self) {
        let leaves: std::collections::HashSet<usize> = (0..self.slot_of.len())
            .filter(|&i| self.graph.nodes()[i].op.is_leaf())
            .filter_map(|i| self.slot_of[i])
            .collect();
        for slot in self.slots.iter().enumerate().filter(|(k, _)| !leaves.contains(k)).map(|(_, s)| s) {
            let nan = vec![f32::NAN; (slot.buffer.size() / 4) as usize];
            self.device.queue().write_buffer(&slot.buffer, 0, bytemuck::cast_slice(&nan));
        }
    }

    /// Multiplies every optimizer update's learning rate, as compiled, by `factor` from the
    /// next run on (a schedule's decay: parameters keep their rates' ratios).
    pub fn set_lr_factor(&mut self, factor: f32) {
        self.lr_factor = factor;
        for k in 0..self.updates.len() {
            self.write_update_params(k);
        }
    }

    /// The factor [`Plan::set_lr_factor`] set (1 at first).
    pub fn lr_factor(&self) -> f32 {
        self.lr_factor
    }

    /// Optimizer steps taken so far (runs of a plan with updates).
    pub fn steps_taken(&self) -> u64 {
        self.runs
    }

    /// Sets the run count, so a plan resumed from a checkpoint continues Adam's bias
    /// correction and dropout's masks where they were.
    pub fn set_steps_taken(&mut self, runs: u64) {
        self.runs = runs;
        for k in 0..self.updates.len() {
            self.write_update_params(k);
        }
    }

    /// The named parameters and states, which together are everything a checkpoint keeps.
    pub fn persistent_values(&self) -> Vec<(String, NodeId)> {
        self.graph
            .nodes()
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::Param | Op::State(_)))
            .filter_map(|(i, n)| n.name.clone().map(|name| (name, NodeId(i))))
            .collect()
    }

    pub(super) fn write_update_params(&self, k: usize) {
        let (launch, opt, mut block) = self.updates[k];
        let opt = if self.lr_factor == 1.0 { opt } else { opt.with_lr(opt.lr() * self.lr_factor) };
        kernels::optim::set_step(&mut block, &opt, self.runs + 1);
        let block = Params::Optim(block);
        let words = block.words();
        self.device.queue().write_buffer(&self.uniforms, launch as u64 * PARAMS_SLOT, bytemuck::cast_slice(words));
    }
}

/// The order kernels run in: graph order over the nodes the outputs and updates need, with
/// every update last so that all reads of a parameter come before it changes.
pub(super) fn schedule(nodes: &[KernelNode], outputs: &[NodeId]) -> Vec<usize> {
    let mut live = vec![false; nodes.len()];
    let mut stack: Vec<usize> = outputs.iter().map(|o| o.index()).collect();
    stack.extend((0..nodes.len()).filter(|&i| nodes[i].kernel.is_update()));
    while let Some(i) = stack.pop() {
        if !live[i] {
            live[i] = true;
            stack.extend(nodes[i].inputs.iter().map(|x| x.index()));
        }
    }
    let mut order: Vec<usize> = (0..nodes.len()).filter(|&i| live[i] && !nodes[i].kernel.is_update()).collect();
    order.extend((0..nodes.len()).filter(|&i| live[i] && nodes[i].kernel.is_update()));
    order
}
