//! Lowering: the kernel launch that computes a node, and what it binds.

use super::chunk::Part;
use super::kernel_graph::{Kernel, KernelNode};
use super::texture_reads::{TextureRead, texture_input};
use crate::backend::device::Device;
use crate::backend::kernels::{
    self, Launch,
    matmul::{Bias, MatmulDims, MatmulVariant},
};
use crate::error::Result;
use crate::ir::graph::{NodeId, Op};
use crate::ir::ops::elementwise::ElementwiseOp;
use crate::ir::ops::recurrent::Scan;
use crate::ir::shape::Shape;

/// One node lowered to a kernel launch: what it binds to read and to write.
pub(super) struct Lowered {
    pub launch: Launch,
    pub reads: Vec<NodeId>,
    pub writes: Vec<NodeId>,
    /// A matrix product's sizes (its operands are the first two reads).
    pub matmul: Option<MatmulDims>,
    /// What the kernel can read from the plan's texture instead of storage.
    pub texture_read: Option<TextureRead>,
}

/// The kernel launch computing node `i`, with the nodes it reads and writes; `None` for nodes
/// that need no kernel. `part` describes a chunk of a split launch: the shapes some nodes have
/// within it, and whether a matmul adds to its output.
pub(super) fn lower(
    nodes: &[KernelNode],
    i: usize,
    device: &Device,
    limits: &wgpu::Limits,
    part: &Part,
) -> Result<Option<Lowered>> {
    let n = &nodes[i];
    let shape = |id: NodeId| part.shapes.get(&id.index()).unwrap_or(&nodes[id.index()].shape);
    let out = shape(NodeId(i));
    let strategy = device.strategy();
    // A chunk cut for storage bindings reads nothing from the texture.
    let textured_inputs = strategy.textured_inputs() && !part.storage_only;
    let variant = match strategy.matmul {
        v if v.reads_textures() && !textured_inputs => MatmulVariant::RegisterBlocked,
        v => v,
    };
    let mut matmul = None;
    let launch = match n.kernel {
        Kernel::MatmulBias { trans_a, trans_b, per_row, activation } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let bias = if per_row { Bias::PerRow } else { Bias::PerColumn };
            let mut dims = matmul_dims(shape(a), shape(b), trans_a, trans_b, part.accumulate, bias);
            dims.activation = activation;
            matmul = Some(dims);
            (kernels::matmul::launch(dims, variant, out, limits)?, n.inputs.clone())
        }
        Kernel::MatmulBatchSum { trans_a, trans_b, sum_over } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let mut dims = matmul_dims(shape(a), shape(b), trans_a, trans_b, part.accumulate, Bias::None);
            dims.sum_over = sum_over;
            dims.batch = out.dims()[0];
            matmul = Some(dims);
            (kernels::matmul::launch(dims, variant, out, limits)?, vec![a, b, a])
        }
        Kernel::Conv2dTaps { window, bias, relu } => {
            let (x, filters) = (n.inputs[0], n.inputs[1]);
            let k = shape(filters).dims()[0];
            let inputs = vec![x, filters, *n.inputs.get(2).unwrap_or(&filters)];
            (kernels::conv2d_taps::launch(shape(x), k, &window, bias, relu, limits)?, inputs)
        }
        Kernel::MaxPoolReluBackward { window } => {
            let (g, y) = (n.inputs[0], n.inputs[1]);
            (kernels::pool2d::max_relu_backward(shape(y), &window, shape(g), limits)?, n.inputs.clone())
        }
        Kernel::Prefix => return Ok(None),
        Kernel::Op(ref op) => match *op {
            Op::Input | Op::Param | Op::Fill(_) | Op::State(_) | Op::Reshape => return Ok(None),
            Op::Matmul { trans_a, trans_b } => {
                let (a, b) = (n.inputs[0], n.inputs[1]);
                let dims = matmul_dims(shape(a), shape(b), trans_a, trans_b, part.accumulate, Bias::None);
                matmul = Some(dims);
                // No bias: A is bound in its place.
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
            Op::Reduce { op, factor } => (
                kernels::reduce::launch(op, shape(n.inputs[0]), out, factor, part.accumulate, limits)?,
                n.inputs.clone(),
            ),
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
            Op::Embedding => {
                let (weight, indices) = (n.inputs[0], n.inputs[1]);
                (kernels::layout::gather_rows(out, shape(weight).dims()[0], limits)?, vec![weight, indices])
            }
            Op::IndexOrder { rows } => {
                let indices = n.inputs[0];
                (kernels::layout::index_order(out, rows, limits)?, vec![indices, indices])
            }
            Op::EmbeddingBackward => {
                let (g, order) = (n.inputs[0], n.inputs[1]);
                (kernels::layout::gather_rows_backward(out, shape(order).dims()[1], limits)?, vec![g, order])
            }
            Op::OneHot => {
                let x = n.inputs[0];
                (kernels::layout::one_hot(out, out.dims()[1], limits)?, vec![x, x])
            }
            Op::BatchNormStats { batch: true, eps } => {
                (kernels::batch_norm::stats(shape(n.inputs[0]), eps, limits)?, n.inputs.clone())
            }
            Op::BatchNormStats { batch: false, eps } => {
                (kernels::batch_norm::given_stats(shape(n.inputs[0]), eps, limits)?, n.inputs.clone())
            }
            Op::BatchNorm { .. } => {
                let (x, stats) = (n.inputs[0], n.inputs[1]);
                (kernels::batch_norm::forward(shape(x), limits)?, vec![x, stats, stats])
            }
            Op::BatchNormGradSums { batch, eps } => {
                (kernels::batch_norm::grad_sums(shape(n.inputs[1]), eps, batch, limits)?, n.inputs.clone())
            }
            Op::BatchNormBackward => (kernels::batch_norm::backward(out, limits)?, n.inputs.clone()),
            Op::CellStep(step) => (kernels::recurrent::step(step, out, limits)?, padded_inputs(&n.inputs)),
            Op::CellStepBackward { step, slot } => {
                // Every step's last input is its state [B, H].
                let hidden = shape(n.inputs[n.inputs.len() - 1]).dims()[1];
                (kernels::recurrent::backward(step, slot, out, hidden, limits)?, padded_inputs(&n.inputs))
            }
            Op::RecurrentScan(scan) => {
                // Inputs [xw, w_hh, init, b_hh?, mask?] bound as [xw, w_hh, b_hh, mask, init].
                let (xw, w_hh, init) = (n.inputs[0], n.inputs[1], n.inputs[2]);
                let hidden = shape(w_hh).dims()[1];
                let launch = kernels::scan::scan(scan, shape(xw), hidden, out, limits)?;
                (launch, scan_bindings(scan, &n.inputs[3..], [xw, w_hh], [init, xw]))
            }
            Op::RecurrentScanBackward(scan) => {
                // Inputs [grad, states, xw, w_hh, b_hh?, mask?].
                let (grad, states, xw, w_hh) = (n.inputs[0], n.inputs[1], n.inputs[2], n.inputs[3]);
                let hidden = shape(w_hh).dims()[1];
                let launch = kernels::scan::backward(scan, shape(xw), hidden, out, limits)?;
                (launch, scan_bindings(scan, &n.inputs[4..], [xw, w_hh], [states, grad]))
            }
            Op::Update(opt) => {
                // Writes the parameter and its states in place; reads only the gradient.
                let mut writes = vec![n.inputs[0]];
                writes.extend(&n.inputs[2..]);
                let launch = kernels::optim::launch(&opt, out, 1, limits)?;
                // The texture holds the arrays in the kernel's order: parameter, gradient, states.
                let texture_read = (textured_inputs && kernels::optim::reads_texture(&launch))
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
        },
    };
    let texture_read = if textured_inputs { texture_input(n, &launch.0, &shape) } else { None };
    Ok(Some(Lowered { launch: launch.0, reads: launch.1, writes: vec![NodeId(i)], matmul, texture_read }))
}

/// The sizes of op(a) · op(b) for operands of shapes `a` and `b` (matrices, or batches of
/// them: a matrix serves every entry of a batch, with stride 0).
pub(super) fn matmul_dims(
    a: &Shape,
    b: &Shape,
    trans_a: bool,
    trans_b: bool,
    accumulate: bool,
    bias: Bias,
) -> MatmulDims {
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
        activation: None,
    }
}

/// A cell step's inputs, the last repeated to the bindings its shader declares.
fn padded_inputs(inputs: &[NodeId]) -> Vec<NodeId> {
    let mut bound = inputs.to_vec();
    let last = inputs[inputs.len() - 1];
    bound.resize(kernels::recurrent::INPUTS.max(inputs.len()), last);
    bound
}

/// A scan's bindings: `first` (xw, W_hh), b_hh and the mask from `optional` (xw where the scan
/// has none), then `last`.
fn scan_bindings(scan: Scan, optional: &[NodeId], first: [NodeId; 2], last: [NodeId; 2]) -> Vec<NodeId> {
    let xw = first[0];
    let (b_hh, mask) = scan.optional_inputs(optional.iter().copied());
    let mut bound = first.to_vec();
    bound.extend([b_hh.unwrap_or(xw), mask.unwrap_or(xw)]);
    bound.extend(last);
    bound
}
