//! Compiles a graph into a plan: every buffer, bind group and pipeline made once, and one run
//! recorded as one command encoder and one submit.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::gpu_timer::GpuTimer;
use crate::graph::{Graph, Node, NodeId, Op};
use crate::kernels::reduce::ReduceOp;
use crate::kernels::{
    self, Family, Launch, PARAMS_SLOT, Pipeline, TextureBinding,
    elementwise::ElementwiseOp,
    matmul::{Bias, MatmulDims, MatmulVariant},
    optim::Optimizer,
};
use crate::operand_textures::{
    OperandCopy, OperandTextures, TextureInput, input_chunks, textured_chunks, update_chunks,
};
use crate::shape::Shape;
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

/// One node lowered to a kernel launch: what it binds to read and to write.
struct Lowered {
    launch: Launch,
    reads: Vec<NodeId>,
    writes: Vec<NodeId>,
    /// A matrix product's sizes (its operands are the first two reads).
    matmul: Option<MatmulDims>,
    /// What the kernel can read from the plan's texture instead of storage.
    texture_read: Option<TextureRead>,
}

/// Inputs a storage kernel can read from the plan's texture (where products read theirs
/// from textures), copied in before each of its launches.
enum TextureRead {
    /// One input, in units (planes, images) that launches take whole.
    Units(TextureInput),
    /// An optimizer update's parameter, gradient and states, a range of elements of each a
    /// launch.
    Update { arrays: Vec<NodeId>, elements: usize },
}

impl TextureRead {
    /// The launches of `launch`, each with its copies; `None` where they cannot be made.
    fn chunks(
        &self,
        launch: &Launch,
        bindings: &[(NodeId, u64, u64)],
        limits: &wgpu::Limits,
    ) -> Option<Vec<PlanChunk>> {
        match self {
            TextureRead::Units(input) => input_chunks(launch, input, bindings, limits),
            TextureRead::Update { arrays, elements } => update_chunks(launch, arrays, *elements, bindings, limits),
        }
    }
}

/// A chunk of a launch split to keep every binding within `max_storage_buffer_binding_size`:
/// the shapes of the split nodes inside the chunk, and whether a matmul adds to its output.
#[derive(Default)]
struct Part {
    shapes: HashMap<usize, Shape>,
    accumulate: bool,
    /// The chunk's first row in the whole tensor.
    first_row: usize,
    /// Matrix products read storage, not textures (a chunk binds part of a buffer).
    storage_only: bool,
}

/// A launch ready to bind: each binding is (node, byte offset, byte size), reads then writes,
/// and the operands to copy into textures before it runs.
pub(crate) struct PlanChunk {
    /// The kernel and its parameters.
    pub launch: Launch,
    /// What it binds, reads then writes.
    pub bindings: Vec<(NodeId, u64, u64)>,
    /// Operands copied into the plan's texture first.
    pub copies: Vec<OperandCopy>,
    /// Texel rows of the plan's texture that the launch's product uses (0: none).
    pub texture_rows: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The nodes of launch `i` whose leading axis can be cut into independent chunks (each
/// chunk's outputs need only the same rows of these inputs, and all of the others), and
/// whether the chunks add into one output (a product split along its contracted axis).
fn splittable(nodes: &[Node], i: usize) -> Option<(Vec<NodeId>, bool)> {
    let n = &nodes[i];
    let out = &n.shape;
    let lead = |id: NodeId| nodes[id.index()].shape.dims().first().copied();
    let same_rows = |ids: &[NodeId]| {
        ids.iter()
            .filter(|&&x| nodes[x.index()].shape.rank() == out.rank() && lead(x) == lead(NodeId(i)))
            .copied()
            .collect::<Vec<_>>()
    };
    let with_out = |mut v: Vec<NodeId>| {
        v.push(NodeId(i));
        Some((v, false))
    };
    match n.op {
        Op::Elementwise { .. } | Op::Expand { .. } | Op::Dropout { .. } => with_out(same_rows(&n.inputs)),
        // Softmax works on whole rows of the last axis: the leading axis must be another one.
        Op::Softmax { .. } | Op::SoftmaxBackward { .. } if out.rank() < 2 => None,
        Op::Softmax { .. } | Op::SoftmaxBackward { .. } | Op::Pool2d { .. } | Op::Pool2dBackward { .. } => {
            with_out(same_rows(&n.inputs))
        }
        Op::Reduce { op, .. } => {
            let x = n.inputs[0];
            if lead(x) == lead(NodeId(i)) {
                with_out(vec![x])
            } else if op != ReduceOp::Argmax {
                // The leading axis is reduced: each chunk folds its rows into the output.
                Some((vec![x], true))
            } else {
                None
            }
        }
        // Every item's loss is independent: chunks add their part of the mean.
        Op::Loss(_) => Some((n.inputs.clone(), true)),
        Op::LossBackward(_) => with_out(n.inputs[1..].to_vec()),
        Op::Im2col(_) | Op::Col2im(_) | Op::Conv2d(_) | Op::Conv2dBackwardInput(_) | Op::Conv2dTaps { .. } => {
            with_out(vec![n.inputs[0]])
        }
        Op::Matmul { trans_a, trans_b } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let rank = |x: NodeId| nodes[x.index()].shape.rank();
            if out.rank() == 3 {
                with_out([a, b].into_iter().filter(|&x| rank(x) == 3).collect())
            } else if !trans_a {
                with_out(vec![a])
            } else if !trans_b {
                // Aᵀ·B with A [k, m] and B [k, n]: chunks of k, each adding its product to C.
                Some((vec![a, b], true))
            } else {
                None
            }
        }
        // In-place updates: the parameter, its gradient and its states, element for element.
        Op::Update(_) | Op::RunningAverage { .. } => Some((n.inputs.clone(), false)),
        _ => None,
    }
}

/// `lowered` split into chunks that each bind at most `max_storage_buffer_binding_size`
/// bytes of every tensor, or an error naming the op, the shape and the limit where the op
/// cannot be split that way.
fn split(nodes: &[Node], i: usize, device: &Device, limits: &wgpu::Limits, lowered: Lowered) -> Result<Vec<PlanChunk>> {
    let limit = limits.max_storage_buffer_binding_size;
    let bytes = |id: NodeId| nodes[id.index()].shape.numel() as u64 * 4;
    let bound: Vec<NodeId> = lowered.reads.iter().chain(&lowered.writes).copied().collect();
    if bound.iter().all(|&id| bytes(id) <= limit) {
        let bindings: Vec<_> = bound.iter().map(|&id| (id, 0, bytes(id))).collect();
        if let (Some(dims), TextureBinding::Read) = (lowered.matmul, lowered.launch.key.texture) {
            let operands = (lowered.reads[0], lowered.reads[1]);
            let out = (&nodes[i].shape, limits);
            if let Some(chunks) = textured_chunks(&lowered.launch, &dims, operands, &bindings, out) {
                return Ok(chunks);
            }
            let part = Part { storage_only: true, ..Part::default() };
            if let Some(l) = lower(nodes, i, device, limits, &part)? {
                return Ok(vec![PlanChunk { launch: l.launch, bindings, copies: Vec::new(), texture_rows: 0 }]);
            }
        }
        if let Some(chunks) = lowered.texture_read.and_then(|t| t.chunks(&lowered.launch, &bindings, limits)) {
            return Ok(chunks);
        }
        return Ok(vec![PlanChunk { launch: lowered.launch, bindings, copies: Vec::new(), texture_rows: 0 }]);
    }
    let largest = *bound.iter().max_by_key(|&&id| bytes(id)).unwrap_or(&NodeId(i));
    let too_big = |needed: u64| Error::AdapterLimit {
        op: format!("{} (node {i})", op_name(&nodes[i].op)),
        shape: nodes[largest.index()].shape.clone(),
        limit: "max_storage_buffer_binding_size",
        needed,
        available: limit,
    };
    let Some((cut, accumulate)) = splittable(nodes, i) else {
        return Err(too_big(bytes(largest)));
    };
    if let Some(&whole) = bound.iter().find(|id| !cut.contains(id) && bytes(**id) > limit) {
        return Err(too_big(bytes(whole)));
    }
    let rows = nodes[cut[0].index()].shape.dims()[0] as u64;
    let row_bytes = |id: NodeId| bytes(id) / rows;
    // Every chunk's offsets must be multiples of the adapter's offset alignment.
    let align = limits.min_storage_buffer_offset_alignment as u64;
    let step = cut.iter().fold(1u64, |l, &id| {
        let need = align / gcd(row_bytes(id), align);
        l / gcd(l, need) * need
    });
    let widest = cut.iter().map(|&id| row_bytes(id)).max().unwrap_or(4);
    let per_chunk = (limit / widest) / step * step;
    if per_chunk == 0 {
        return Err(too_big(widest * step));
    }
    let mut chunks = Vec::new();
    let mut r0 = 0;
    while r0 < rows {
        let r = per_chunk.min(rows - r0);
        let mut part =
            Part { accumulate: accumulate && r0 > 0, first_row: r0 as usize, storage_only: true, ..Part::default() };
        for &id in &cut {
            let mut dims = nodes[id.index()].shape.dims().to_vec();
            dims[0] = r as usize;
            part.shapes.insert(id.index(), Shape::new(&dims)?);
        }
        let Some(l) = lower(nodes, i, device, limits, &part)? else { break };
        let bindings = l
            .reads
            .iter()
            .chain(&l.writes)
            .map(|&id| if cut.contains(&id) { (id, r0 * row_bytes(id), r * row_bytes(id)) } else { (id, 0, bytes(id)) })
            .collect();
        chunks.push(PlanChunk { launch: l.launch, bindings, copies: Vec::new(), texture_rows: 0 });
        r0 += r;
    }
    Ok(chunks)
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

        // Storage: each node either owns a slot or shares its input's.
        let mut root: Vec<usize> = (0..nodes.len()).collect();
        for (i, n) in nodes.iter().enumerate() {
            match n.op {
                Op::Reshape | Op::Update(_) | Op::RunningAverage { .. } => root[i] = root[n.inputs[0].index()],
                _ => {}
            }
        }
        let mut persistent = vec![false; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            if is_leaf(&n.op) {
                persistent[root[i]] = true;
            }
        }
        for o in outputs {
            persistent[root[o.index()]] = true;
        }
        // The last step that reads each root's value.
        let mut last_use = vec![0usize; nodes.len()];
        for (step, &i) in order.iter().enumerate() {
            last_use[root[i]] = last_use[root[i]].max(step);
            for x in &nodes[i].inputs {
                let r = root[x.index()];
                last_use[r] = last_use[r].max(step);
            }
        }

        let mut counters = Counters::default();
        let mut slots: Vec<Slot> = Vec::new();
        let mut slot_of: Vec<Option<usize>> = vec![None; nodes.len()];
        let alloc = |label: &str, shape: &Shape, counters: &mut Counters, slots: &mut Vec<Slot>| -> Result<usize> {
            let buffer = device.create_storage(label, shape)?;
            counters.allocations += 1;
            counters.bytes_allocated += buffer.size();
            slots.push(Slot { buffer: Arc::new(buffer) });
            Ok(slots.len() - 1)
        };
        // Leaves first: they are alive for the whole plan.
        let mut shared = vec![false; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            if root[i] == i && is_leaf(&n.op) {
                if let Some(buffer) = bound.get(&i).cloned().or_else(|| source.and_then(|p| p.shared_buffer(n))) {
                    slots.push(Slot { buffer });
                    slot_of[i] = Some(slots.len() - 1);
                    shared[i] = true;
                    continue;
                }
                let label = n.name.clone().unwrap_or_else(|| format!("node{i}"));
                slot_of[i] = Some(alloc(&label, &n.shape, &mut counters, &mut slots)?);
            }
        }
        // Intermediates: linear scan, reusing a freed buffer when one is large enough.
        let mut free: Vec<(u64, usize)> = Vec::new();
        for (step, &i) in order.iter().enumerate() {
            if root[i] == i && slot_of[i].is_none() {
                let bytes = nodes[i].shape.numel() as u64 * 4;
                let reuse = if persistent[i] {
                    None
                } else {
                    free.iter()
                        .enumerate()
                        .filter(|(_, (cap, _))| *cap >= bytes)
                        .min_by_key(|(_, (cap, _))| *cap)
                        .map(|(k, _)| k)
                };
                slot_of[i] = Some(match reuse {
                    Some(k) => free.swap_remove(k).1,
                    None => alloc(
                        &format!("{} (node {i})", op_name(&nodes[i].op)),
                        &nodes[i].shape,
                        &mut counters,
                        &mut slots,
                    )?,
                });
            }
            // Free after allocating, so no kernel ever writes a buffer it reads.
            let mut dying: Vec<usize> = nodes[i].inputs.iter().map(|x| root[x.index()]).collect();
            dying.push(root[i]);
            dying.sort_unstable();
            dying.dedup();
            for r in dying {
                if !persistent[r] && last_use[r] == step {
                    if let Some(s) = slot_of[r] {
                        free.push((slots[s].buffer.size(), s));
                    }
                }
            }
        }
        for i in 0..nodes.len() {
            if slot_of[i].is_none() {
                slot_of[i] = slot_of[root[i]];
            }
        }

        // Launches and their parameter blocks, packed into one uniform buffer.
        let mut launches: Vec<(NodeId, PlanChunk)> = Vec::new();
        for &i in &order {
            if let Some(lowered) = lower(nodes, i, device, &limits, &Part::default())? {
                for chunk in split(nodes, i, device, &limits, lowered)? {
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
            readable: (0..nodes.len()).map(|i| persistent[root[i]]).collect(),
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
        let words = opt.params(n, self.runs + 1);
        self.device.queue().write_buffer(&self.uniforms, launch as u64 * PARAMS_SLOT, bytemuck::cast_slice(&words));
    }

    /// Runs every kernel once: one command encoder, one submit, nothing read back.
    pub fn run(&mut self) -> Result<()> {
        self.submit(&[], Timing::Untimed)
    }

    /// Runs once and reads back `nodes` (declared outputs, inputs or parameters) after it,
    /// with the copies in the same submit.
    pub fn run_and_read(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.submit(nodes, Timing::Untimed)?;
        nodes.iter().map(|&n| self.map_staging(n)).collect()
    }

    /// [`Plan::run_and_read`], also returning the milliseconds the GPU spent on the run's
    /// kernels by its own timestamps (`None` where the adapter has none).
    pub fn run_timed(&mut self, nodes: &[NodeId]) -> Result<(Vec<Vec<f32>>, Option<f64>)> {
        let ms = self.timed_submit(nodes, Timing::Run)?;
        let values = nodes.iter().map(|&n| self.map_staging(n)).collect::<Result<Vec<_>>>()?;
        Ok((values, ms.map(|ms| ms[0])))
    }

    /// Runs once, as [`Plan::run`] does (updates included), with each launch in a compute
    /// pass of its own between two timestamps: where the run's time goes, launch by launch in
    /// run order. `None` where the adapter has no timestamps. Passes cost a little more than
    /// the dispatches of one pass, so the sum exceeds [`Plan::run_timed`]'s time slightly.
    pub fn run_profiled(&mut self) -> Result<Option<Vec<LaunchTime>>> {
        let Some(ms) = self.timed_submit(&[], Timing::Launches)? else {
            return Ok(None);
        };
        Ok(Some(
            self.steps
                .iter()
                .zip(ms)
                .map(|(step, ms)| LaunchTime {
                    node: step.node,
                    op: step.op.clone(),
                    entry: step.entry,
                    shape: step.shape.clone(),
                    ms,
                })
                .collect(),
        ))
    }

    /// A submit with timestamps, and the milliseconds they measured (`None` where the adapter
    /// has no timestamps).
    fn timed_submit(&mut self, reads: &[NodeId], timing: Timing) -> Result<Option<Vec<f64>>> {
        let pairs = if timing == Timing::Launches { self.steps.len() } else { 1 };
        if self.timer.as_ref().is_none_or(|t| t.pairs() != pairs) {
            self.timer = GpuTimer::new(&self.device, pairs)?;
        }
        self.submit(reads, timing)?;
        match &self.timer {
            Some(timer) => Ok(Some(timer.read_ms(&self.device)?)),
            None => Ok(None),
        }
    }

    /// Reads the current value of a declared output, input or parameter.
    pub fn read(&mut self, node: NodeId) -> Result<Vec<f32>> {
        Ok(self.read_many(&[node])?.remove(0))
    }

    /// Reads the current values of several declared outputs, inputs or parameters, with one
    /// submit for all their copies.
    pub fn read_many(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.device.check_lost()?;
        let mut encoder = self.device.wgpu_device().create_command_encoder(&Default::default());
        for &node in nodes {
            self.node_checked(node)?;
            self.staging_for(node.index())?;
            self.record_copy(&mut encoder, node)?;
        }
        self.device.queue().submit([encoder.finish()]);
        self.counters.submits += 1;
        nodes.iter().map(|&n| self.map_staging(n)).collect()
    }

    /// The GPU buffer holding `node`'s value (a declared output, input or parameter), for
    /// applications that use it without a trip through the host. It may be larger than the
    /// value; the value is its first `numel × 4` bytes.
    pub fn buffer(&self, node: NodeId) -> Result<&wgpu::Buffer> {
        self.node_checked(node)?;
        self.check_readable(node)?;
        let slot = self.slot_of[node.index()].ok_or_else(|| no_buffer(node))?;
        Ok(&self.slots[slot].buffer)
    }

    /// The buffer holding `node`'s value, shared (an eager op's result outlives its plan).
    pub(crate) fn output_buffer(&self, node: NodeId) -> Result<Arc<wgpu::Buffer>> {
        self.node_checked(node)?;
        let slot = self.slot_of[node.index()].ok_or_else(|| no_buffer(node))?;
        Ok(self.slots[slot].buffer.clone())
    }

    fn submit(&mut self, reads: &[NodeId], timing: Timing) -> Result<()> {
        self.device.check_lost()?;
        for &n in reads {
            self.node_checked(n)?;
            self.staging_for(n.index())?;
        }
        // Parameter words that change per run (Adam's bias correction, dropout's run number)
        // ride in this submit.
        for k in 0..self.updates.len() {
            if self.updates[k].1.varies_per_step() && self.runs > 0 {
                self.write_update_params(k);
            }
        }
        for &(launch, word) in &self.run_words {
            let offset = launch as u64 * PARAMS_SLOT + word as u64 * 4;
            self.device.queue().write_buffer(&self.uniforms, offset, bytemuck::bytes_of(&(self.runs as u32)));
        }
        let device = self.device.clone();
        let mut encoder = device
            .wgpu_device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("shadergrad run") });
        let timer = self.timer.as_ref().filter(|_| timing != Timing::Untimed);
        let record = |pass: &mut wgpu::ComputePass, step: &Step| {
            pass.set_pipeline(&step.pipeline.pipeline);
            pass.set_bind_group(0, &step.bind_group, &[]);
            let [x, y, z] = step.groups;
            pass.dispatch_workgroups(x, y, z);
        };
        let pass = |k: usize| wgpu::ComputePassDescriptor {
            label: Some("shadergrad"),
            timestamp_writes: timer.map(|t| t.pass_writes(k)),
        };
        let copy_operands = |encoder: &mut wgpu::CommandEncoder, step: &Step| {
            if let Some(textures) = &self.operand_textures {
                for (buffer, copy) in &step.copies {
                    textures.record(encoder, buffer, copy);
                }
            }
        };
        if timing == Timing::Launches {
            for (k, step) in self.steps.iter().enumerate() {
                copy_operands(&mut encoder, step);
                record(&mut encoder.begin_compute_pass(&pass(k)), step);
            }
        } else {
            // One pass, cut only where a launch copies operands into textures (copies are
            // not pass commands); a timed run stamps the first pass's start and the last's end.
            let starts: Vec<usize> =
                (0..self.steps.len()).filter(|&k| k == 0 || !self.steps[k].copies.is_empty()).collect();
            for (p, &start) in starts.iter().enumerate() {
                let end = starts.get(p + 1).copied().unwrap_or(self.steps.len());
                copy_operands(&mut encoder, &self.steps[start]);
                let writes = timer.map(|t| t.span_writes(0, p == 0, p + 1 == starts.len()));
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("shadergrad"),
                    timestamp_writes: writes.flatten(),
                });
                for step in &self.steps[start..end] {
                    record(&mut pass, step);
                }
            }
        }
        if let Some(timer) = timer {
            timer.record_resolve(&mut encoder);
        }
        for &n in reads {
            self.record_copy(&mut encoder, n)?;
        }
        device.scoped("run", || device.queue().submit([encoder.finish()]))?;
        self.counters.submits += 1;
        self.counters.dispatches += self.steps.len() as u64;
        self.runs += 1;
        Ok(())
    }

    fn node_checked(&self, node: NodeId) -> Result<&Node> {
        self.graph
            .nodes()
            .get(node.index())
            .ok_or_else(|| Error::Graph(format!("node {} is not in this plan's graph", node.index())))
    }

    fn check_readable(&self, node: NodeId) -> Result<()> {
        if self.readable[node.index()] {
            Ok(())
        } else {
            Err(Error::Graph(format!(
                "node {} ({}) was not declared as an output when the plan was compiled, so its buffer is reused",
                node.index(),
                op_name(&self.graph.node(node).op)
            )))
        }
    }

    fn staging_for(&mut self, node: usize) -> Result<()> {
        self.check_readable(NodeId(node))?;
        if !self.staging.contains_key(&node) {
            let bytes = self.graph.nodes()[node].shape.numel() as u64 * 4;
            let buffer = self.device.create_staging(&format!("read node{node}"), bytes)?;
            self.counters.allocations += 1;
            self.counters.bytes_allocated += buffer.size();
            self.staging.insert(node, buffer);
        }
        Ok(())
    }

    fn record_copy(&self, encoder: &mut wgpu::CommandEncoder, node: NodeId) -> Result<()> {
        let src = self.buffer(node)?;
        let dst = &self.staging[&node.index()];
        let bytes = self.graph.node(node).shape.numel() as u64 * 4;
        encoder.copy_buffer_to_buffer(src, 0, dst, 0, bytes);
        Ok(())
    }

    fn map_staging(&mut self, node: NodeId) -> Result<Vec<f32>> {
        let n = self.graph.node(node);
        let what = n.name.clone().unwrap_or_else(|| format!("node {} ({})", node.index(), op_name(&n.op)));
        let values = self.device.read_staging(&self.staging[&node.index()], n.shape.numel(), &what)?;
        self.counters.readbacks += 1;
        Ok(values)
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

/// The kernel launch computing node `i`, with the nodes it reads and writes; `None` for nodes
/// that need no kernel. `part` describes a chunk of a split launch: the shapes some nodes have
/// within it, and whether a matmul adds to its output.
fn lower(nodes: &[Node], i: usize, device: &Device, limits: &wgpu::Limits, part: &Part) -> Result<Option<Lowered>> {
    let n = &nodes[i];
    let shape = |id: NodeId| part.shapes.get(&id.index()).unwrap_or(&nodes[id.index()].shape);
    let out = shape(NodeId(i));
    let variant = match device.matmul_variant() {
        v if v.reads_textures() && part.storage_only => MatmulVariant::RegisterBlocked,
        v => v,
    };
    let mut matmul = None;
    let launch = match n.op {
        Op::Input | Op::Param | Op::Fill(_) | Op::State(_) | Op::Reshape => return Ok(None),
        Op::Matmul { trans_a, trans_b } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let dims = matmul_dims(shape(a), shape(b), trans_a, trans_b, part.accumulate, Bias::None);
            matmul = Some(dims);
            // No bias: A is bound in its place.
            (kernels::matmul::launch(dims, variant, out, limits)?, vec![a, b, a])
        }
        Op::MatmulBias { trans_a, trans_b, per_row, relu } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let bias = if per_row { Bias::PerRow } else { Bias::PerColumn };
            let mut dims = matmul_dims(shape(a), shape(b), trans_a, trans_b, part.accumulate, bias);
            dims.relu = relu;
            matmul = Some(dims);
            (kernels::matmul::launch(dims, variant, out, limits)?, n.inputs.clone())
        }
        Op::MatmulBatchSum { trans_a, trans_b, sum_over } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let mut dims = matmul_dims(shape(a), shape(b), trans_a, trans_b, part.accumulate, Bias::None);
            dims.sum_over = sum_over;
            dims.batch = out.dims()[0];
            matmul = Some(dims);
            (kernels::matmul::launch(dims, variant, out, limits)?, vec![a, b, a])
        }
        Op::Elementwise { op, alpha } => {
            let a = n.inputs[0];
            let b = *n.inputs.get(1).unwrap_or(&a);
            (kernels::elementwise::launch(op, alpha, 0, 0, shape(a), shape(b), out, limits)?, vec![a, b])
        }
        Op::Expand { factor } => {
            let a = n.inputs[0];
            (
                kernels::elementwise::launch(ElementwiseOp::Scale, factor, 0, 0, shape(a), shape(a), out, limits)?,
                vec![a, a],
            )
        }
        Op::Dropout { p, seed } => {
            let a = n.inputs[0];
            (
                {
                    // Each element keeps its own mask however the launch is cut.
                    let first = part.first_row * (n.shape.numel() / n.shape.dims().first().copied().unwrap_or(1));
                    kernels::elementwise::launch(
                        ElementwiseOp::Dropout,
                        p,
                        seed,
                        first,
                        shape(a),
                        shape(a),
                        out,
                        limits,
                    )?
                },
                vec![a, a],
            )
        }
        Op::Reduce { op, factor } => {
            (kernels::reduce::launch(op, shape(n.inputs[0]), out, factor, part.accumulate, limits)?, n.inputs.clone())
        }
        Op::Loss(kind) => {
            let (p, t) = (n.inputs[0], n.inputs[1]);
            (kernels::loss::forward(kind, shape(p), &nodes[p.index()].shape, part.accumulate), vec![p, t, p])
        }
        Op::LossBackward(kind) => {
            let (g, p, t) = (n.inputs[0], n.inputs[1], n.inputs[2]);
            (kernels::loss::backward(kind, shape(p), &nodes[p.index()].shape, limits)?, vec![p, t, g])
        }
        Op::Softmax { log } => (kernels::softmax::forward(log, out, limits)?, vec![n.inputs[0], n.inputs[0]]),
        Op::SoftmaxBackward { log } => (kernels::softmax::backward(log, out, limits)?, n.inputs.clone()),
        Op::Conv2d(window) => {
            let (x, w) = (n.inputs[0], n.inputs[1]);
            (kernels::conv2d::forward(shape(x), shape(w).dims()[0], &window, out, limits)?, n.inputs.clone())
        }
        Op::Conv2dBackwardInput(window) => {
            let (g, w) = (n.inputs[0], n.inputs[1]);
            (kernels::conv2d::backward_input(out, shape(w).dims()[0], &window, shape(g), limits)?, n.inputs.clone())
        }
        Op::Conv2dBackwardWeight(window) => {
            let (g, x) = (n.inputs[0], n.inputs[1]);
            (kernels::conv2d::backward_weight(shape(x), out, &window, shape(g), limits)?, n.inputs.clone())
        }
        Op::Conv2dTaps { window, bias, relu } => {
            let (x, filters) = (n.inputs[0], n.inputs[1]);
            let k = shape(filters).dims()[0];
            let inputs = vec![x, filters, *n.inputs.get(2).unwrap_or(&filters)];
            (kernels::conv2d_taps::launch(shape(x), k, &window, bias, relu, limits)?, inputs)
        }
        Op::Im2col(window) => {
            let x = n.inputs[0];
            let out_hw = window.output("im2col", shape(x), shape(x).dims()[2], shape(x).dims()[3])?;
            (kernels::conv2d::im2col(shape(x), &window, out, out_hw, limits)?, vec![x, x])
        }
        Op::Col2im(window) => {
            let g = n.inputs[0];
            let out_hw = window.output("col2im", out, out.dims()[2], out.dims()[3])?;
            (kernels::conv2d::col2im(out, &window, out_hw, limits)?, vec![g, g])
        }
        Op::Pool2d { max, window } => {
            let x = n.inputs[0];
            (kernels::pool2d::forward(max, shape(x), &window, out, limits)?, vec![x, x])
        }
        Op::Pool2dBackward { max, window } => {
            let (g, x) = (n.inputs[0], n.inputs[1]);
            (kernels::pool2d::backward(max, shape(x), &window, shape(g), limits)?, n.inputs.clone())
        }
        Op::MaxPoolReluBackward { window } => {
            let (g, y) = (n.inputs[0], n.inputs[1]);
            (kernels::pool2d::max_relu_backward(shape(y), &window, shape(g), limits)?, n.inputs.clone())
        }
        Op::Narrow { axis, start } => {
            let x = n.inputs[0];
            let strides = shape(x).strides();
            (kernels::layout::strided_copy(out, start * strides[axis], &strides, limits)?, vec![x, x])
        }
        Op::Permute(perm) => {
            let x = n.inputs[0];
            let strides = shape(x).strides();
            let read: Vec<usize> = perm[..out.rank()].iter().map(|&p| strides[p]).collect();
            (kernels::layout::strided_copy(out, 0, &read, limits)?, vec![x, x])
        }
        Op::Pad { axis, start } => {
            let x = n.inputs[0];
            (kernels::layout::pad(out, axis, start, shape(x).dims()[axis], limits)?, vec![x, x])
        }
        Op::Concat { axis } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            (kernels::layout::concat(out, axis, shape(a).dims()[axis], limits)?, vec![a, b])
        }
        Op::OneHot => {
            let x = n.inputs[0];
            (kernels::layout::one_hot(out, out.dims()[1], limits)?, vec![x, x])
        }
        Op::Update(opt) => {
            // Writes the parameter and its states in place; reads only the gradient.
            let mut writes = vec![n.inputs[0]];
            writes.extend(&n.inputs[2..]);
            let launch = kernels::optim::launch(&opt, out, 1, limits)?;
            // The texture holds the arrays in the kernel's order: parameter, gradient, states.
            let texture_read = (variant.reads_textures() && kernels::optim::reads_texture(&launch))
                .then(|| TextureRead::Update { arrays: n.inputs.clone(), elements: out.numel() });
            return Ok(Some(Lowered { launch, reads: vec![n.inputs[1]], writes, matmul, texture_read }));
        }
        Op::RunningAverage { momentum, factor } => {
            let launch = kernels::optim::running_average(out, momentum, factor, limits)?;
            return Ok(Some(Lowered {
                launch,
                reads: vec![n.inputs[1]],
                writes: vec![n.inputs[0]],
                matmul,
                texture_read: None,
            }));
        }
    };
    let texture_read = if variant.reads_textures() { texture_input(n, &launch.0, &shape) } else { None };
    Ok(Some(Lowered { launch: launch.0, reads: launch.1, writes: vec![NodeId(i)], matmul, texture_read }))
}

/// The input of storage kernel `n` that it can read from the plan's texture (where products
/// read theirs from textures): max pooling's, forward and back, im2col's and col2im's, and
/// the input of a convolution's bias gradient.
fn texture_input<'a>(n: &Node, launch: &Launch, shape: &dyn Fn(NodeId) -> &'a Shape) -> Option<TextureRead> {
    let pooled = |x: NodeId, window: &kernels::conv2d::Window| {
        let d = shape(x).dims();
        kernels::pool2d::reads_texture(shape(x), window).then_some(TextureInput {
            node: x,
            units: d[0] * d[1],
            unit_elements: d[2] * d[3],
            row: 0,
            launch_for: kernels::pool2d::textured,
        })
    };
    // The first input, a launch per copy of as many images (its leading axis) as fit.
    let by_image = |row: u64, launch_for| {
        let x = shape(n.inputs[0]);
        TextureInput { node: n.inputs[0], units: x.dims()[0], unit_elements: x.numel() / x.dims()[0], row, launch_for }
    };
    let input = match n.op {
        Op::Pool2d { max: true, window } => pooled(n.inputs[0], &window),
        Op::Pool2dBackward { max: true, window } if kernels::pool2d::tiles(&window) => pooled(n.inputs[1], &window),
        Op::MaxPoolReluBackward { window } => pooled(n.inputs[1], &window),
        Op::Col2im(window) if window.stride == [1, 1] => Some(by_image(1, kernels::conv2d::col2im_textured)),
        Op::Im2col(_) if kernels::conv2d::im2col_reads_texture(launch) => {
            Some(by_image(0, kernels::conv2d::im2col_textured))
        }
        Op::Reduce { op: ReduceOp::Sum, .. }
            if kernels::reduce::sums_channels(launch, shape(n.inputs[0]), &n.shape) =>
        {
            Some(by_image(0, kernels::reduce::channel_sums_textured))
        }
        _ => None,
    };
    input.map(TextureRead::Units)
}

/// The sizes of op(a) · op(b) for operands of shapes `a` and `b` (matrices, or batches of
/// them: a matrix serves every entry of a batch, with stride 0).
fn matmul_dims(a: &Shape, b: &Shape, trans_a: bool, trans_b: bool, accumulate: bool, bias: Bias) -> MatmulDims {
    let last2 = |s: &Shape| [s.dims()[s.rank() - 2], s.dims()[s.rank() - 1]];
    let ([a0, a1], [b0, b1]) = (last2(a), last2(b));
    let batch = |s: &Shape| if s.rank() == 3 { s.dims()[0] } else { 1 };
    let stride = |s: &Shape, size: usize| if s.rank() == 3 { size } else { 0 };
    let entries = batch(a).max(batch(b));
    MatmulDims {
        batch: entries,
        sum_over: 1,
        entries,
        m: if trans_a { a1 } else { a0 },
        n: if trans_b { b0 } else { b1 },
        k: if trans_a { a0 } else { a1 },
        stride_a: stride(a, a0 * a1),
        stride_b: stride(b, b0 * b1),
        trans_a,
        trans_b,
        accumulate,
        bias,
        relu: false,
    }
}

/// `nodes` with matrix products fused with what follows them, where nothing else reads the
/// product and no binding needs splitting (the fused node keeps its index; a product it
/// absorbs is then read by nothing and not scheduled, so it never gets a buffer):
/// - a bias add after a product (directly or through a reshape), bias along the product's
///   rows or columns, becomes one [`Op::MatmulBias`]: a layer's output is written once;
/// - a ReLU after such a product and bias joins them (its input is then never stored, as
///   autodiff takes a ReLU's gradient from its output);
/// - a ReLU's gradient after a max pooling's (windows that tile the input, the pooling
///   reading the ReLU's output) is one [`Op::MaxPoolReluBackward`] pass;
/// - a batched product that only a sum over its batch reads becomes a few partial sums
///   ([`Op::MatmulBatchSum`]) on software adapters, instead of one product per entry (a
///   convolution's filter gradient: 100 products of 73 KB down to a handful).
fn fuse_matmuls(nodes: &[Node], outputs: &[NodeId], device: &Device, limits: &wgpu::Limits) -> Vec<Node> {
    let live = schedule(nodes, outputs);
    let mut readers = vec![0usize; nodes.len()];
    for &i in &live {
        for x in &nodes[i].inputs {
            readers[x.index()] += 1;
        }
    }
    for o in outputs {
        readers[o.index()] += 1;
    }
    let fits = |id: &NodeId| nodes[id.index()].shape.numel() as u64 * 4 <= limits.max_storage_buffer_binding_size;
    let software = device.info().device_type == wgpu::DeviceType::Cpu;
    let mut fused = nodes.to_vec();
    for &i in &live {
        match nodes[i].op {
            Op::Elementwise { op: ElementwiseOp::Add, .. } => {
                for slot in 0..2 {
                    let (sum, bias) = (nodes[i].inputs[slot], nodes[i].inputs[1 - slot]);
                    let mut product = sum;
                    if nodes[product.index()].op == Op::Reshape && readers[product.index()] == 1 {
                        product = nodes[product.index()].inputs[0];
                    }
                    let Op::Matmul { trans_a, trans_b } = nodes[product.index()].op else { continue };
                    let p = &nodes[product.index()].shape;
                    let [m, n] = [p.dims()[p.rank() - 2], p.dims()[p.rank() - 1]];
                    let alone = readers[product.index()] == 1 && nodes[sum.index()].shape == nodes[i].shape;
                    let axis = bias_axis(&nodes[i].shape, &nodes[bias.index()].shape, m, n).filter(|_| alone);
                    let Some(per_row) = axis else { continue };
                    let (a, b) = (nodes[product.index()].inputs[0], nodes[product.index()].inputs[1]);
                    if [a, b, bias, NodeId(i)].iter().all(fits) {
                        fused[i].op = Op::MatmulBias { trans_a, trans_b, per_row, relu: false };
                        fused[i].inputs = vec![a, b, bias];
                        break;
                    }
                }
            }
            Op::Elementwise { op: ElementwiseOp::Relu, .. } => {
                let sum = nodes[i].inputs[0];
                if let Op::MatmulBias { trans_a, trans_b, per_row, relu: false } = fused[sum.index()].op {
                    if readers[sum.index()] == 1 {
                        fused[i].op = Op::MatmulBias { trans_a, trans_b, per_row, relu: true };
                        fused[i].inputs = fused[sum.index()].inputs.clone();
                    }
                }
            }
            Op::Elementwise { op: ElementwiseOp::ReluBackward, .. } => {
                // Max pooling of a ReLU's output y: the pooling's gradient, masked by y > 0.
                let (pooled, y) = (nodes[i].inputs[0], nodes[i].inputs[1]);
                let Op::Pool2dBackward { max: true, window } = nodes[pooled.index()].op else { continue };
                let tiles = kernels::pool2d::tiles(&window);
                let relu_output = matches!(nodes[y.index()].op, Op::Elementwise { op: ElementwiseOp::Relu, .. });
                if tiles && relu_output && readers[pooled.index()] == 1 && nodes[pooled.index()].inputs[1] == y {
                    fused[i].op = Op::MaxPoolReluBackward { window };
                    fused[i].inputs = nodes[pooled.index()].inputs.clone();
                }
            }
            Op::Reduce { op: ReduceOp::Sum, .. } => {
                let product = nodes[i].inputs[0];
                let Op::Matmul { trans_a, trans_b } = nodes[product.index()].op else { continue };
                let p = nodes[product.index()].shape.dims().to_vec();
                // Only the batch axis is reduced.
                if p.len() != 3 || readers[product.index()] != 1 || nodes[i].shape.dims() != [1, p[1], p[2]] {
                    continue;
                }
                let (a, b) = (nodes[product.index()].inputs[0], nodes[product.index()].inputs[1]);
                let (sa, sb) = (&nodes[a.index()].shape, &nodes[b.index()].shape);
                let dims = matmul_dims(sa, sb, trans_a, trans_b, false, Bias::None);
                let groups = kernels::matmul::batch_sum_groups(&dims, device.matmul_variant(), software, limits);
                let Some(groups) = groups.filter(|_| [a, b, product].iter().all(fits)) else { continue };
                let Ok(partial_sums) = Shape::new(&[groups, p[1], p[2]]) else { continue };
                fused[product.index()].op =
                    Op::MatmulBatchSum { trans_a, trans_b, sum_over: dims.entries.div_ceil(groups) };
                fused[product.index()].shape = partial_sums;
            }
            _ => {}
        }
    }
    if software {
        fuse_few_tap_convs(nodes, &live, &mut fused);
    }
    fused
}

/// Turns a product of filters `[K, C·KH·KW]` with an im2col's columns, with the bias per
/// filter and the ReLU that [`fuse_matmuls`] fused after it, into one [`Op::Conv2dTaps`] where
/// the filters are small ([`TapsKernel::suits`](kernels::conv2d_taps::TapsKernel::suits)).
/// The im2col then runs only where something else reads its columns (the filters'
/// gradient, when training).
fn fuse_few_tap_convs(nodes: &[Node], live: &[usize], fused: &mut [Node]) {
    for &i in live {
        let (bias, relu) = match fused[i].op {
            Op::Matmul { trans_a: false, trans_b: false } => (false, false),
            Op::MatmulBias { trans_a: false, trans_b: false, per_row: true, relu } => (true, relu),
            _ => continue,
        };
        let (filters, cols) = (fused[i].inputs[0], fused[i].inputs[1]);
        let Op::Im2col(window) = nodes[cols.index()].op else { continue };
        let &[k, _] = nodes[filters.index()].shape.dims() else { continue };
        let x = nodes[cols.index()].inputs[0];
        if kernels::conv2d_taps::TapsKernel::suits(k, nodes[x.index()].shape.dims()[1], &window) {
            fused[i].op = Op::Conv2dTaps { window, bias, relu };
            fused[i].inputs = [vec![x, filters], fused[i].inputs[2..].to_vec()].concat();
        }
    }
}

/// Whether `bias`, broadcast to `out` (a product of `m × n` matrices, row-major, under any
/// shape), is a vector along the product's rows (`Some(true)`: one value per row) or its
/// columns (`Some(false)`); `None` for any other broadcast, a single value among them.
fn bias_axis(out: &Shape, bias: &Shape, m: usize, n: usize) -> Option<bool> {
    let (out, bias) = (out.dims(), bias.dims());
    let lead = out.len().checked_sub(bias.len())?;
    let varying: Vec<usize> = (0..bias.len()).filter(|&d| bias[d] != 1).map(|d| d + lead).collect();
    let (&first, &last) = (varying.first()?, varying.last()?);
    if (first..=last).any(|d| bias[d - lead] != out[d]) {
        return None;
    }
    let span: usize = out[first..=last].iter().product();
    let tail: usize = out[last + 1..].iter().product();
    if span == n && tail == 1 {
        Some(false)
    } else if span == m && tail == n {
        Some(true)
    } else {
        None
    }
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
