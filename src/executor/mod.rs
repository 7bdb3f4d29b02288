//! Compiles a graph into a plan: every buffer, bind group and pipeline made once, and one run
//! recorded as one command encoder and one submit.
//!
//! The compiler fuses nodes (`fusion`), schedules them, assigns their buffers (`memory`),
//! lowers each to a kernel launch (`lower`), cuts launches whose bindings exceed the
//! adapter's limit (`split`), and makes every pipeline, bind group and parameter block;
//! `run` records and submits a run and reads values back.

mod fusion;
mod lower;
mod memory;
mod run;
mod split;

pub(crate) use split::PlanChunk;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::gpu_timer::GpuTimer;
use crate::ir::graph::{Graph, Node, NodeId, Op};
use crate::ir::ops::optim::Optimizer;
use crate::ir::shape::Shape;
use crate::kernels::{self, Family, PARAMS_SLOT, Pipeline, TextureBinding};
use crate::operand_textures::{OperandCopy, OperandTextures, copy_budget};
use fusion::fuse_matmuls;
use lower::lower;
use split::{Part, split};
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
struct Slot {
    buffer: Arc<wgpu::Buffer>,
}

/// One recorded kernel launch.
struct Step {
    /// The node it computes (part of, for a split launch).
    node: NodeId,
    /// The op it runs, as [`op_name`] names it, and the shape it writes (after fusion).
    op: String,
    shape: Shape,
    /// The kernel's entry point.
    entry: &'static str,
    pipeline: Arc<Pipeline>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
    /// Operands copied into the plan's texture just before the launch, with their buffers.
    copies: Vec<(Arc<wgpu::Buffer>, OperandCopy)>,
}

/// A compiled graph, ready to run again and again.
pub struct Plan {
    device: Device,
    graph: Graph,
    steps: Vec<Step>,
    /// Storage slot of each node's value (reshapes and in-place updates share their input's).
    slot_of: Vec<Option<usize>>,
    slots: Vec<Slot>,
    /// Nodes whose values outlive a run: inputs, parameters, fills and declared outputs.
    readable: Vec<bool>,
    staging: HashMap<usize, wgpu::Buffer>,
    uniforms: wgpu::Buffer,
    /// The optimizer steps: (launch index, optimizer, elements), so their parameter blocks
    /// can follow the step count and the learning rate.
    updates: Vec<(usize, Optimizer, usize)>,
    /// Runs so far: the optimizer's step t is `runs + 1` during a run.
    runs: u64,
    /// (launch, word) of each parameter word that holds the run number (dropout's).
    run_words: Vec<(usize, usize)>,
    counters: Counters,
    /// Timestamps around the pass (or around each launch, for a profiled run), made on the
    /// first timed run where the adapter has them.
    timer: Option<GpuTimer>,
    /// Where textured matrix products read their operands (software adapters).
    operand_textures: Option<OperandTextures>,
}

/// What a run's timestamps measure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timing {
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
    /// The node's op, as [`op_name`] names it.
    pub op: String,
    /// The kernel's entry point (which matmul blocks, say).
    pub entry: &'static str,
    /// The shape the launch writes (a fused node's own: partial sums have fewer entries).
    pub shape: Shape,
    /// Milliseconds between the launch's start and end by the GPU's clock.
    pub ms: f64,
}

fn no_buffer(node: NodeId) -> Error {
    Error::Graph(format!("node {} has no buffer", node.index()))
}

/// Leaves: values that no kernel computes, alive for the whole plan.
fn is_leaf(op: &Op) -> bool {
    matches!(op, Op::Input | Op::Param | Op::Fill(_) | Op::State(_))
}

/// In-place updates: they write their first input, after every other kernel of a run.
fn is_update(op: &Op) -> bool {
    matches!(op, Op::Update(_) | Op::RunningAverage { .. })
}

impl Plan {
    /// Compiles `graph` so that `outputs` can be read after a run. Every in-place update in the
    /// graph (optimizer steps, running averages) runs at the end of each run, after every node
    /// that reads the old values.
    pub fn compile(device: &Device, graph: &Graph, outputs: &[NodeId]) -> Result<Plan> {
        Plan::compile_sharing(device, graph, outputs, None)
    }

    /// Like [`Plan::compile`], but every parameter and state named as one of `source`'s (with
    /// the same shape) uses `source`'s buffer: an evaluation plan sees the training plan's
    /// weights as they are, with no copy.
    pub fn compile_sharing(device: &Device, graph: &Graph, outputs: &[NodeId], source: Option<&Plan>) -> Result<Plan> {
        Plan::compile_with(device, graph, outputs, source, &HashMap::new(), true)
    }

    /// Like [`Plan::compile`], with the leaves in `bound` (inputs, for eager tensor ops)
    /// reading the buffers given instead of buffers of their own, and no staging buffers:
    /// the caller takes outputs with [`Plan::output_buffer`].
    pub(crate) fn compile_bound(
        device: &Device,
        graph: &Graph,
        outputs: &[NodeId],
        bound: &HashMap<usize, Arc<wgpu::Buffer>>,
    ) -> Result<Plan> {
        Plan::compile_with(device, graph, outputs, None, bound, false)
    }

    fn compile_with(
        device: &Device,
        graph: &Graph,
        outputs: &[NodeId],
        source: Option<&Plan>,
        bound: &HashMap<usize, Arc<wgpu::Buffer>>,
        stage_outputs: bool,
    ) -> Result<Plan> {
        if let Some(bad) = outputs.iter().find(|o| o.index() >= graph.nodes().len()) {
            return Err(Error::Graph(format!("compile: output node {} is not in this graph", bad.index())));
        }
        let limits = device.limits();
        let fused = fuse_matmuls(graph.nodes(), outputs, device, &limits);
        let nodes = &fused[..];
        let order = schedule(nodes, outputs);
        let mut counters = Counters::default();
        let memory::Storage { slots, slot_of, readable, shared } =
            memory::assign(device, nodes, &order, outputs, source, bound, &mut counters)?;

        // Launches and their parameter blocks, packed into one uniform buffer.
        let budget = copy_budget(counters.bytes_allocated);
        let mut launches: Vec<(NodeId, PlanChunk)> = Vec::new();
        for &i in &order {
            if let Some(lowered) = lower(nodes, i, device, &limits, &Part::default())? {
                for chunk in split(nodes, i, device, &limits, lowered, budget)? {
                    launches.push((NodeId(i), chunk));
                }
            }
        }
        let uniform_bytes = (launches.len().max(1) as u64) * PARAMS_SLOT;
        let uniforms = device.scoped("plan parameters", || {
            device.wgpu_device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("shadergrad parameters"),
                size: uniform_bytes,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        counters.allocations += 1;
        counters.bytes_allocated += uniform_bytes;
        let operand_textures =
            OperandTextures::new(device, launches.iter().map(|(_, chunk)| chunk.texture_rows).max().unwrap_or(0))?;
        if let Some(t) = &operand_textures {
            counters.allocations += 1;
            counters.bytes_allocated += t.bytes();
        }

        let mut steps = Vec::with_capacity(launches.len());
        let mut updates = Vec::new();
        let mut run_words = Vec::new();
        for (k, (node, PlanChunk { launch, bindings, copies, .. })) in launches.into_iter().enumerate() {
            let pipeline = device.pipeline(&launch.key)?;
            let binding = |&(id, offset, size): &(NodeId, u64, u64)| -> Result<wgpu::BufferBinding<'_>> {
                let slot = slot_of[id.index()].ok_or_else(|| no_buffer(id))?;
                Ok(wgpu::BufferBinding { buffer: &slots[slot].buffer, offset, size: wgpu::BufferSize::new(size) })
            };
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniforms,
                    offset: k as u64 * PARAMS_SLOT,
                    size: wgpu::BufferSize::new(launch.params.len() as u64 * 4),
                }),
            }];
            for (b, x) in bindings.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: b as u32 + 1,
                    resource: wgpu::BindingResource::Buffer(binding(x)?),
                });
            }
            if launch.key.texture != TextureBinding::None {
                let textures = operand_textures
                    .as_ref()
                    .ok_or_else(|| Error::Graph("a textured product has no operand textures".into()))?;
                entries.push(wgpu::BindGroupEntry {
                    binding: bindings.len() as u32 + 1,
                    resource: wgpu::BindingResource::TextureView(textures.view()),
                });
            }
            let bind_group = device.scoped(&op_name(&nodes[node.index()].op), || {
                device.wgpu_device().create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &pipeline.layout,
                    entries: &entries,
                })
            })?;
            device.queue().write_buffer(&uniforms, k as u64 * PARAMS_SLOT, bytemuck::cast_slice(&launch.params));
            match nodes[node.index()].op {
                // A split update's chunk covers only its part of the parameter.
                Op::Update(opt) => updates.push((k, opt, launch.params[0] as usize)),
                Op::Dropout { .. } => run_words.push((k, kernels::elementwise::STEP_WORD)),
                _ => {}
            }
            // A pack launch is named apart from the product it feeds, so profiles show its cost.
            let op = match launch.key.family {
                Family::Pack => "pack".to_string(),
                _ => op_name(&nodes[node.index()].op),
            };
            let shape = nodes[node.index()].shape.clone();
            let entry = launch.key.entry;
            let copies = copies
                .into_iter()
                .map(|c| Ok((slots[slot_of[c.node.index()].ok_or_else(|| no_buffer(c.node))?].buffer.clone(), c)))
                .collect::<Result<Vec<_>>>()?;
            steps.push(Step { node, op, shape, entry, pipeline, bind_group, groups: launch.groups, copies });
        }

        let mut plan = Plan {
            device: device.clone(),
            graph: graph.clone(),
            steps,
            slot_of,
            slots,
            readable,
            staging: HashMap::new(),
            uniforms,
            updates,
            runs: 0,
            run_words,
            counters,
            timer: None,
            operand_textures,
        };
        for (i, n) in nodes.iter().enumerate() {
            if let Op::Fill(value) | Op::State(value) = n.op {
                // wgpu zero-fills new buffers; a shared one keeps the values it has.
                if value != 0.0 && !shared[i] {
                    plan.write_slot(i, &vec![value; n.shape.numel()]);
                }
            }
        }
        if stage_outputs {
            for o in outputs {
                plan.staging_for(o.index())?;
            }
        }
        device.save_pipeline_cache();
        Ok(plan)
    }

    /// The buffer of this plan's parameter or state that matches `node` by name, op kind and shape.
    fn shared_buffer(&self, node: &Node) -> Option<Arc<wgpu::Buffer>> {
        let name = node.name.as_deref()?;
        if !matches!(node.op, Op::Param | Op::State(_)) {
            return None;
        }
        let id = self.graph.find(name)?;
        let mine = self.graph.node(id);
        let same_kind = std::mem::discriminant(&mine.op) == std::mem::discriminant(&node.op);
        if !same_kind || mine.shape != node.shape {
            return None;
        }
        self.slot_of[id.index()].map(|s| self.slots[s].buffer.clone())
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

    /// The op each launch of a run computes, in run order, as [`op_name`] names it after the
    /// compiler's fusions (`matmulbias`, `maxpoolrelubackward`, …).
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

    fn write_slot(&mut self, node: usize, values: &[f32]) {
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
            .filter(|&i| is_leaf(&self.graph.nodes()[i].op))
            .filter_map(|i| self.slot_of[i])
            .collect();
        for slot in self.slots.iter().enumerate().filter(|(k, _)| !leaves.contains(k)).map(|(_, s)| s) {
            let nan = vec![f32::NAN; (slot.buffer.size() / 4) as usize];
            self.device.queue().write_buffer(&slot.buffer, 0, bytemuck::cast_slice(&nan));
        }
    }

    /// Changes the learning rate of every optimizer update, from the next run on.
    pub fn set_learning_rate(&mut self, lr: f32) {
        for k in 0..self.updates.len() {
            self.updates[k].1 = self.updates[k].1.with_lr(lr);
            self.write_update_params(k);
        }
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

    fn write_update_params(&self, k: usize) {
        let (launch, opt, n) = self.updates[k];
        let words = kernels::optim::params(&opt, n, self.runs + 1);
        self.device.queue().write_buffer(&self.uniforms, launch as u64 * PARAMS_SLOT, bytemuck::cast_slice(&words));
    }
}

/// The order kernels run in: graph order over the nodes the outputs and updates need, with
/// every update last so that all reads of a parameter come before it changes.
fn schedule(nodes: &[Node], outputs: &[NodeId]) -> Vec<usize> {
    let mut live = vec![false; nodes.len()];
    let mut stack: Vec<usize> = outputs.iter().map(|o| o.index()).collect();
    stack.extend((0..nodes.len()).filter(|&i| is_update(&nodes[i].op)));
    while let Some(i) = stack.pop() {
        if !live[i] {
            live[i] = true;
            stack.extend(nodes[i].inputs.iter().map(|x| x.index()));
        }
    }
    let mut order: Vec<usize> = (0..nodes.len()).filter(|&i| live[i] && !is_update(&nodes[i].op)).collect();
    order.extend((0..nodes.len()).filter(|&i| live[i] && is_update(&nodes[i].op)));
    order
}

/// A short name of an op for messages.
pub fn op_name(op: &Op) -> String {
    match op {
        Op::Elementwise { op, .. } => op.name().to_string(),
        Op::Loss(kind) => kind.name().to_string(),
        Op::Reduce { op, .. } => op.name().to_string(),
        Op::LossBackward(kind) => format!("{}_backward", kind.name()),
        other => {
            let debug = format!("{other:?}");
            debug.split([' ', '(', '{']).next().unwrap_or("op").to_lowercase()
        }
    }
}
