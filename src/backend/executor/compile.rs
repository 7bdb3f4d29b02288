//! Compiling a graph into a plan: fusion, schedule, buffers, launches, pipelines, bind
//! groups and parameter blocks, all made once.

use super::binding::{Binds, bind_group, no_buffer};
use super::chunk::{Part, PlanChunk};
use super::fusion::{fuse_matmuls, read_prefixes_in_place};
use super::kernel_graph::Kernel;
use super::lower::lower;
use super::memory;
use super::plan::{Counters, Plan, Step, schedule};
use super::split::split;
use crate::backend::device::Device;
use crate::backend::kernels::{Family, PARAMS_SLOT, TextureBinding};
use crate::backend::operand_textures::OperandTextures;
use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use std::collections::HashMap;
use std::sync::Arc;

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
        device.count_plan_compile();
        let limits = device.limits();
        let mut fused = fuse_matmuls(graph.nodes(), outputs, device, &limits);
        read_prefixes_in_place(graph.nodes(), outputs, &mut fused);
        let nodes = &fused[..];
        let order = schedule(nodes, outputs);
        let mut counters = Counters::default();
        let memory::Storage { slots, slot_of, readable, shared } =
            memory::assign(device, nodes, &order, outputs, source, bound, &mut counters)?;

        // Launches and their parameter blocks, packed into one uniform buffer.
        let budget = device.strategy().copy_budget(counters.bytes_allocated);
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
        let mut dropouts = Vec::new();
        for (k, (node, PlanChunk { launch, bindings, copies, .. })) in launches.into_iter().enumerate() {
            let pipeline = device.pipeline(&launch.key)?;
            let binds = Binds {
                buffers: bindings,
                params_bytes: launch.params.words().len() as u64 * 4,
                texture: launch.key.texture != TextureBinding::None,
            };
            let buffer_of = |id: NodeId| slot_of[id.index()].map(|slot| &*slots[slot].buffer);
            let label = nodes[node.index()].kernel.name();
            let bind_group = bind_group(
                device,
                &pipeline.layout,
                &label,
                (&uniforms, k),
                &binds,
                buffer_of,
                operand_textures.as_ref(),
            )?;
            device.queue().write_buffer(&uniforms, k as u64 * PARAMS_SLOT, bytemuck::cast_slice(launch.params.words()));
            match nodes[node.index()].kernel {
                // A split update's chunk covers only its part of the parameter.
                Kernel::Op(Op::Update(opt)) => updates.extend(launch.params.optim().map(|&p| (k, opt, p))),
                Kernel::Op(Op::Dropout { .. }) => dropouts.extend(launch.params.elementwise().map(|&p| (k, p))),
                _ => {}
            }
            // A pack launch is named apart from the product it feeds, so profiles show its cost.
            let op = match launch.key.family {
                Family::Pack => "pack".to_string(),
                _ => nodes[node.index()].kernel.name(),
            };
            let shape = nodes[node.index()].shape.clone();
            let entry = launch.key.entry;
            let copies = copies
                .into_iter()
                .map(|c| Ok((slots[slot_of[c.node.index()].ok_or_else(|| no_buffer(c.node))?].buffer.clone(), c)))
                .collect::<Result<Vec<_>>>()?;
            steps.push(Step { node, op, shape, entry, pipeline, bind_group, binds, groups: launch.groups, copies });
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
            lr_factor: 1.0,
            dropouts,
            counters,
            timer: None,
            operand_textures,
        };
        for (i, n) in nodes.iter().enumerate() {
            if let Kernel::Op(Op::Fill(value) | Op::State(value)) = n.kernel {
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
}
