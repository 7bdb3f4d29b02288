//! GPU timestamps, where the adapter has them (`TIMESTAMP_QUERY`): around a run's compute pass
//! (the time the GPU spent on a run, apart from the host's waits and the submit overhead), or
//! around each launch of a profiled run.

use crate::backend::device::Device;
use crate::error::Result;

/// The most queries one query set may hold (WebGPU's limit).
const MAX_QUERIES: u32 = 4096;

/// Pairs of timestamps (a pass's start and end), one pair per timed pass, where they are
/// resolved, and a host copy.
pub(crate) struct GpuTimer {
    /// Query sets of at most [`MAX_QUERIES`] queries; pair k is in set k / (MAX_QUERIES / 2).
    sets: Vec<wgpu::QuerySet>,
    pairs: u32,
    resolved: wgpu::Buffer,
    staging: wgpu::Buffer,
}

impl GpuTimer {
    /// A timer of `pairs` passes for `device`, or `None` if its adapter has no timestamps.
    pub(crate) fn new(device: &Device, pairs: usize) -> Result<Option<GpuTimer>> {
        if !device.wgpu_device().features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Ok(None);
        }
        let pairs = pairs.max(1) as u32;
        let bytes = pairs as u64 * 16;
        let wgpu_device = device.wgpu_device();
        let (sets, resolved) = device.scoped("gpu timer", || {
            let per_set = MAX_QUERIES / 2;
            let sets = (0..pairs.div_ceil(per_set))
                .map(|s| {
                    wgpu_device.create_query_set(&wgpu::QuerySetDescriptor {
                        label: Some("shadergrad timestamps"),
                        ty: wgpu::QueryType::Timestamp,
                        count: 2 * (pairs - s * per_set).min(per_set),
                    })
                })
                .collect();
            let resolved = wgpu_device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shadergrad resolved timestamps"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (sets, resolved)
        })?;
        let staging = device.create_staging("timestamps readback", bytes)?;
        Ok(Some(GpuTimer { sets, pairs, resolved, staging }))
    }

    /// How many passes this timer times.
    pub(crate) fn pairs(&self) -> usize {
        self.pairs as usize
    }

    /// Pass `k`'s timestamp writes: its start and its end.
    pub(crate) fn pass_writes(&self, k: usize) -> wgpu::ComputePassTimestampWrites<'_> {
        let per_set = (MAX_QUERIES / 2) as usize;
        let first = (2 * (k % per_set)) as u32;
        wgpu::ComputePassTimestampWrites {
            query_set: &self.sets[k / per_set],
            beginning_of_pass_write_index: Some(first),
            end_of_pass_write_index: Some(first + 1),
        }
    }

    /// Pass `k`'s start stamp, end stamp or both, for a pair spanning several passes (`None`
    /// for a pass in the middle).
    pub(crate) fn span_writes(&self, k: usize, start: bool, end: bool) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let whole = self.pass_writes(k);
        (start || end).then(|| wgpu::ComputePassTimestampWrites {
            query_set: whole.query_set,
            beginning_of_pass_write_index: whole.beginning_of_pass_write_index.filter(|_| start),
            end_of_pass_write_index: whole.end_of_pass_write_index.filter(|_| end),
        })
    }

    /// Records the resolves and the copy to the host buffer, after the passes.
    pub(crate) fn record_resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        let per_set = MAX_QUERIES / 2;
        for (s, set) in self.sets.iter().enumerate() {
            let count = 2 * (self.pairs - s as u32 * per_set).min(per_set);
            encoder.resolve_query_set(set, 0..count, &self.resolved, s as u64 * MAX_QUERIES as u64 * 8);
        }
        encoder.copy_buffer_to_buffer(&self.resolved, 0, &self.staging, 0, self.pairs as u64 * 16);
    }

    /// Milliseconds between the two timestamps of each pass of the last submit.
    pub(crate) fn read_ms(&self, device: &Device) -> Result<Vec<f64>> {
        let words = device.read_staging(&self.staging, self.pairs as usize * 4, "GPU timestamps")?;
        let tick = |lo: f32, hi: f32| lo.to_bits() as u64 | (hi.to_bits() as u64) << 32;
        let period_ns = device.queue().get_timestamp_period() as f64;
        Ok(words
            .chunks_exact(4)
            .map(|w| {
                let (start, end) = (tick(w[0], w[1]), tick(w[2], w[3]));
                end.saturating_sub(start) as f64 * period_ns / 1e6
            })
            .collect())
    }
}
