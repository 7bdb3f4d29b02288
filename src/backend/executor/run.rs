//! Running a plan: one command encoder and one submit a run, and reading values back.

use super::binding::no_buffer;
use super::plan::{LaunchTime, Plan, Step, Timing};
use crate::backend::gpu_timer::GpuTimer;
use crate::backend::kernels::PARAMS_SLOT;
use crate::backend::kernels::params::{ElementwiseParams, Params};
use crate::error::{Error, Result};
use crate::ir::graph::{Node, NodeId};
use std::sync::Arc;

impl Plan {
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

    /// Records one run (every launch, as [`Plan::run`] would submit it) into the
    /// application's `encoder`, for the application to submit with its own work: a frame's
    /// render passes and a training or inference step in one submit.
    ///
    /// The contract:
    /// - **Before recording**, write inputs ([`Plan::write`], or commands recorded earlier in
    ///   `encoder` that fill a buffer bound with [`Plan::bind_input`]).
    /// - **Per-run words.** Recording queues this run's changing parameter words (Adam's
    ///   bias correction, dropout's run number) with `Queue::write_buffer`, which wgpu
    ///   applies at the start of the next `Queue::submit` on the plan's queue. So submit
    ///   `encoder` before recording this plan again or calling [`Plan::run`]: one recorded
    ///   run per submit.
    /// - **Buffers.** The run reads inputs, parameters and states, writes parameters and
    ///   states (updates), declared outputs and its own intermediates. Commands recorded
    ///   after this call in the same encoder, and any later submit, see the outputs in
    ///   [`Plan::buffer`]; the application may write an input again once this run's submit
    ///   is made, and must not write the plan's other buffers.
    /// - **Reading back** ([`Plan::read`]) works after the application's submit, as after a run.
    pub fn record(&mut self, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        self.device.check_lost()?;
        self.write_run_words();
        self.encode(encoder, Timing::Untimed);
        self.counters.dispatches += self.steps.len() as u64;
        self.runs += 1;
        Ok(())
    }

    /// Queues the parameter words that change per run (Adam's bias correction, dropout's run
    /// number), to ride in the run's submit.
    fn write_run_words(&self) {
        for k in 0..self.updates.len() {
            if self.updates[k].1.varies_per_step() && self.runs > 0 {
                self.write_update_params(k);
            }
        }
        for &(launch, block) in &self.dropouts {
            let block = Params::Elementwise(ElementwiseParams { step: self.runs as u32, ..block });
            self.device.queue().write_buffer(
                &self.uniforms,
                launch as u64 * PARAMS_SLOT,
                bytemuck::cast_slice(block.words()),
            );
        }
    }

    fn submit(&mut self, reads: &[NodeId], timing: Timing) -> Result<()> {
        self.device.check_lost()?;
        for &n in reads {
            self.node_checked(n)?;
            self.staging_for(n.index())?;
        }
        self.write_run_words();
        let device = self.device.clone();
        let mut encoder = device
            .wgpu_device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("shadergrad run") });
        self.encode(&mut encoder, timing);
        for &n in reads {
            self.record_copy(&mut encoder, n)?;
        }
        device.scoped("run", || device.queue().submit([encoder.finish()]))?;
        self.counters.submits += 1;
        self.counters.dispatches += self.steps.len() as u64;
        self.runs += 1;
        Ok(())
    }

    /// Records every launch into `encoder`: in one compute pass (cut where a launch copies
    /// operands into textures), or each in its own between timestamps for a profiled run.
    fn encode(&self, encoder: &mut wgpu::CommandEncoder, timing: Timing) {
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
                copy_operands(encoder, step);
                record(&mut encoder.begin_compute_pass(&pass(k)), step);
            }
        } else {
            // Copies are not pass commands, so a launch that copies operands starts a pass;
            // a timed run stamps the first pass's start and the last's end.
            let starts: Vec<usize> =
                (0..self.steps.len()).filter(|&k| k == 0 || !self.steps[k].copies.is_empty()).collect();
            for (p, &start) in starts.iter().enumerate() {
                let end = starts.get(p + 1).copied().unwrap_or(self.steps.len());
                copy_operands(encoder, &self.steps[start]);
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
            timer.record_resolve(encoder);
        }
    }

    pub(super) fn node_checked(&self, node: NodeId) -> Result<&Node> {
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
                self.graph.node(node).op.name()
            )))
        }
    }

    pub(super) fn staging_for(&mut self, node: usize) -> Result<()> {
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
        let what = n.name.clone().unwrap_or_else(|| format!("node {} ({})", node.index(), n.op.name()));
        let values = self.device.read_staging(&self.staging[&node.index()], n.shape.numel(), &what)?;
        self.counters.readbacks += 1;
        Ok(values)
    }
}
