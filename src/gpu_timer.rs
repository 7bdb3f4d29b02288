//! GPU timestamps around a compute pass, where the adapter has them (`TIMESTAMP_QUERY`): the
//! time the GPU spent on a run, apart from the host's waits and the submit overhead.

use crate::device::Device;
use crate::error::Result;

/// Two timestamps (the pass's start and end), where they are resolved, and a host copy.
pub(crate) struct GpuTimer {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    staging: wgpu::Buffer,
}

impl GpuTimer {
    /// A timer for `device`, or `None` if its adapter has no timestamps.
    pub(crate) fn new(device: &Device) -> Result<Option<GpuTimer>> {
        if !device.wgpu_device().features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Ok(None);
        }
        let wgpu_device = device.wgpu_device();
        let (queries, resolved) = device.scoped("gpu timer", || {
            let queries = wgpu_device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("shadergrad pass timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let resolved = wgpu_device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shadergrad resolved timestamps"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (queries, resolved)
        })?;
        let staging = device.create_staging("timestamps readback", 16)?;
        Ok(Some(GpuTimer { queries, resolved, staging }))
    }

    /// The pass's timestamp writes: start at query 0, end at query 1.
    pub(crate) fn pass_writes(&self) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        }
    }

    /// Records the resolve and the copy to the host buffer, after the pass.
    pub(crate) fn record_resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.queries, 0..2, &self.resolved, 0);
        encoder.copy_buffer_to_buffer(&self.resolved, 0, &self.staging, 0, 16);
    }

    /// Milliseconds between the two timestamps of the last submitted pass.
    pub(crate) fn read_ms(&self, device: &Device) -> Result<f64> {
        let words = device.read_staging(&self.staging, 4, "GPU timestamps")?;
        let tick = |lo: f32, hi: f32| lo.to_bits() as u64 | (hi.to_bits() as u64) << 32;
        let (start, end) = (tick(words[0], words[1]), tick(words[2], words[3]));
        let period_ns = device.queue().get_timestamp_period() as f64;
        Ok(end.saturating_sub(start) as f64 * period_ns / 1e6)
    }
}
