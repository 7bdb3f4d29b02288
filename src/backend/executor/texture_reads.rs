//! Where a plan's storage kernels read inputs from the operand texture (on adapters whose
//! products read theirs from it, [`Strategy::textured_inputs`]): which kernels can, which
//! input, and the launches that copy it there.
//!
//! [`Strategy::textured_inputs`]: crate::backend::strategy::Strategy::textured_inputs

use super::chunk::PlanChunk;
use super::kernel_graph::{Kernel, KernelNode};
use crate::backend::kernels::{self, Launch};
use crate::backend::operand_textures::{TextureInput, input_chunks, update_chunks};
use crate::ir::graph::{NodeId, Op};
use crate::ir::ops::reduce::ReduceOp;
use crate::ir::shape::Shape;

/// Inputs a storage kernel can read from the plan's texture (where products read theirs
/// from textures), copied in before each of its launches.
pub(super) enum TextureRead {
    /// One input, in units (planes, images) that launches take whole.
    Units(TextureInput),
    /// An optimizer update's parameter, gradient and states, a range of elements of each a
    /// launch.
    Update { arrays: Vec<NodeId>, elements: usize },
}

impl TextureRead {
    /// The launches of `launch`, each with its copies and copying at most `budget` bytes;
    /// `None` where they cannot be made.
    pub(super) fn chunks(
        &self,
        launch: &Launch,
        bindings: &[(NodeId, u64, u64)],
        limits: &wgpu::Limits,
        budget: usize,
    ) -> Option<Vec<PlanChunk>> {
        match self {
            TextureRead::Units(input) => input_chunks(launch, input, bindings, limits, budget),
            TextureRead::Update { arrays, elements } => {
                update_chunks(launch, arrays, *elements, bindings, limits, budget)
            }
        }
    }
}

/// The input of storage kernel `n` that it can read from the plan's texture (where products
/// read theirs from textures): max pooling's, forward and back, im2col's and col2im's, and
/// the input of a convolution's bias gradient.
pub(super) fn texture_input<'a>(
    n: &KernelNode,
    launch: &Launch,
    shape: &dyn Fn(NodeId) -> &'a Shape,
) -> Option<TextureRead> {
    let pooled = |x: NodeId, window: &crate::ir::ops::window::Window| {
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
    let input = match n.kernel {
        Kernel::Op(Op::Pool2d { max: true, window }) => pooled(n.inputs[0], &window),
        Kernel::Op(Op::Pool2dBackward { max: true, window }) if kernels::pool2d::tiles(&window) => {
            pooled(n.inputs[1], &window)
        }
        Kernel::MaxPoolReluBackward { window } => pooled(n.inputs[1], &window),
        Kernel::Op(Op::Col2im(window)) if window.stride == [1, 1] => {
            Some(by_image(1, kernels::conv2d::col2im_textured))
        }
        Kernel::Op(Op::Im2col(_)) if kernels::conv2d::im2col_reads_texture(launch) => {
            Some(by_image(0, kernels::conv2d::im2col_textured))
        }
        Kernel::Op(Op::Reduce { op: ReduceOp::Sum, .. })
            if kernels::reduce::sums_channels(launch, shape(n.inputs[0]), &n.shape) =>
        {
            Some(by_image(0, kernels::reduce::channel_sums_textured))
        }
        _ => None,
    };
    input.map(TextureRead::Units)
}
