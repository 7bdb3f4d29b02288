//! How plans are made for one adapter, chosen once per device. Software adapters (lavapipe,
//! llvmpipe, WARP) run every SIMD lane of a workgroup on one CPU core, where a storage load
//! walks the lanes one by one and a launch costs as much as a small kernel's work; GPUs want
//! the opposite. Every choice that follows from which one a plan runs on is made here: the
//! product kernel, whether storage kernels read the operand texture, how many partial sums a
//! product summed over its batch gets, how much a launch may copy into the texture, and
//! whether a small first convolution runs directly.

use crate::backend::kernels::matmul::{COPY_BUDGET, MatmulVariant};

/// Which class of adapter a device's plans are made for. Software adapters get kernels that
/// read operands from textures, products summed over a batch in a handful of partial sums,
/// and direct first convolution layers; GPUs get tiled products, a few dozen partial sums,
/// and every convolution through im2col.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSet {
    /// Plans for software adapters.
    Software,
    /// Plans for hardware GPUs.
    Gpu,
}

impl KernelSet {
    /// The set for an adapter of type `device_type`.
    pub fn for_adapter(device_type: wgpu::DeviceType) -> KernelSet {
        match device_type {
            wgpu::DeviceType::Cpu => KernelSet::Software,
            _ => KernelSet::Gpu,
        }
    }

    /// `software` or `gpu`, as `SHADERGRAD_KERNELS` takes them.
    pub fn parse(value: &str) -> Option<KernelSet> {
        match value.trim().to_ascii_lowercase().as_str() {
            "software" => Some(KernelSet::Software),
            "gpu" => Some(KernelSet::Gpu),
            _ => None,
        }
    }
}

/// Software adapters run about this many workgroups at once with room to balance: a product
/// summed over its batch keeps at least this many in flight.
const CPU_WORKGROUPS: u64 = 32;

/// A GPU's partial sums of a product summed over its batch fill about this many workgroups:
/// enough for the product's few megaflops, and each partial sum is a matrix of C kept until
/// the sum (one per entry took the deep CNN's step to 1.42× its memory floor).
const GPU_WORKGROUPS: u64 = 128;

/// The plan-making choices for one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// The class of adapter plans are made for.
    pub kernels: KernelSet,
    /// The matrix-product kernel.
    pub matmul: MatmulVariant,
    /// Workgroups a product summed over its batch keeps in flight through its partial sums.
    pub batch_sum_workgroups: u64,
}

impl Strategy {
    /// The choices for `kernels`, with `matmul` where given; `subgroups` says whether the
    /// adapter runs the subgroup product (the best on software adapters that have it).
    pub const fn new(kernels: KernelSet, matmul: Option<MatmulVariant>, subgroups: bool) -> Strategy {
        let matmul = match (matmul, kernels) {
            (Some(chosen), _) => chosen,
            (None, KernelSet::Software) if subgroups => MatmulVariant::TexturedSubgroups,
            (None, KernelSet::Software) => MatmulVariant::Textured,
            (None, KernelSet::Gpu) => MatmulVariant::Tiled,
        };
        let batch_sum_workgroups = match kernels {
            KernelSet::Software => CPU_WORKGROUPS,
            KernelSet::Gpu => GPU_WORKGROUPS,
        };
        Strategy { kernels, matmul, batch_sum_workgroups }
    }

    /// Storage kernels that can (max pooling and its gradients, im2col, col2im, a channel
    /// sum, an optimizer step) read their inputs from the plan's operand texture, copied
    /// there before each launch, as the products do: on software adapters a texel load
    /// gathers four elements where a storage load takes one a lane.
    pub fn textured_inputs(&self) -> bool {
        self.matmul.reads_textures()
    }

    /// A convolution of few taps (a network's first layer on images) runs as one direct
    /// kernel instead of an im2col and a product, which on software adapters run mostly
    /// padding and stores.
    pub fn direct_convs(&self) -> bool {
        self.kernels == KernelSet::Software
    }

    /// Bytes a launch may copy into the operand texture, for a plan whose storage buffers
    /// take `plan_bytes`: [`COPY_BUDGET`], or a 25th of the buffers where that is more (at
    /// most 4 % more memory). Each launch costs a software adapter more than its work (a pass
    /// ends for the copy, the copy runs on one thread, the workgroups ramp up and drain), so
    /// fewer, larger launches pay: the CNN step (48 MiB of buffers) was faster at a 1.9 MiB
    /// budget than at 896 KiB in six of six alternating runs, by 8–18 % (BENCHMARKS.md).
    pub fn copy_budget(&self, plan_bytes: u64) -> usize {
        COPY_BUDGET.max((plan_bytes / 25) as usize)
    }
}
