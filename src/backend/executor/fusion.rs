//! Fusions the plan compiler makes before lowering, from the user's graph into its own
//! (`kernel_graph`): a product with its bias and activation, a pooling's gradient with a
//! ReLU's, a batched product with the sum over its batch, and a small first convolution
//! layer into one direct kernel; and the narrows it reads in place, with no launch.

use super::kernel_graph::{Kernel, KernelNode};
use super::lower::matmul_dims;
use super::plan::schedule;
use crate::backend::device::Device;
use crate::backend::kernels::{self, matmul::Bias};
use crate::ir::graph::{Node, NodeId, Op};
use crate::ir::ops::elementwise::ElementwiseOp;
use crate::ir::ops::reduce::ReduceOp;
use crate::ir::shape::Shape;

/// `nodes` as the kernel graph, with matrix products fused with what follows them, where
/// nothing else reads the product and no binding needs splitting (the fused node keeps its
/// index; a product it absorbs is then read by nothing and not scheduled, so it never gets a
/// buffer):
/// - a bias add after a product (directly or through a reshape), bias along the product's
///   rows or columns, becomes one [`Kernel::MatmulBias`]: a layer's output is written once;
/// - an activation after such a product and bias joins them, where nothing else reads the
///   sum (so never for an activation whose gradient reads its input; ReLU, sigmoid and tanh
///   take theirs from their output, so their input is then never stored);
/// - a ReLU's gradient after a max pooling's (windows that tile the input, the pooling
///   reading the ReLU's output) is one [`Kernel::MaxPoolReluBackward`] pass;
/// - a batched product that only a sum over its batch reads becomes a few partial sums
///   ([`Kernel::MatmulBatchSum`]), instead of one product per entry (a convolution's filter
///   gradient: 100 products of 73 KB down to a handful on software adapters, a few dozen
///   on GPUs).
pub(super) fn fuse_matmuls(
    nodes: &[Node],
    outputs: &[NodeId],
    device: &Device,
    limits: &wgpu::Limits,
) -> Vec<KernelNode> {
    let mut fused: Vec<KernelNode> = nodes.iter().map(KernelNode::from).collect();
    let live = schedule(&fused, outputs);
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
    let strategy = device.strategy();
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
                        fused[i].kernel = Kernel::MatmulBias { trans_a, trans_b, per_row, activation: None };
                        fused[i].inputs = vec![a, b, bias];
                        break;
                    }
                }
            }
            Op::Elementwise { op, .. } if op.is_activation() => {
                let sum = nodes[i].inputs[0];
                if let Kernel::MatmulBias { trans_a, trans_b, per_row, activation: None } = fused[sum.index()].kernel {
                    if readers[sum.index()] == 1 {
                        fused[i].kernel = Kernel::MatmulBias { trans_a, trans_b, per_row, activation: Some(op) };
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
                    fused[i].kernel = Kernel::MaxPoolReluBackward { window };
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
                let groups =
                    kernels::matmul::batch_sum_groups(&dims, strategy.matmul, strategy.batch_sum_workgroups, limits);
                // The product itself is never stored, so only what is bound must fit: a
                // 512-channel filter gradient at batch 32 is 302 MB of products but 9 MB a
                // partial sum.
                let Some(groups) = groups.filter(|_| [a, b].iter().all(fits)) else { continue };
                let Ok(partial_sums) = Shape::new(&[groups, p[1], p[2]]) else { continue };
                if partial_sums.numel() as u64 * 4 > limits.max_storage_buffer_binding_size {
                    continue;
                }
                fused[product.index()].kernel =
                    Kernel::MatmulBatchSum { trans_a, trans_b, sum_over: dims.entries.div_ceil(groups) };
                fused[product.index()].shape = partial_sums;
            }
            _ => {}
        }
    }
    if strategy.direct_convs() {
        fuse_few_tap_convs(nodes, &live, &mut fused);
    }
    fused
}

/// Makes each narrow that keeps the first bytes of its input a [`Kernel::Prefix`], but where a
/// plan output is that narrow or a reshape of it: an output keeps a buffer of its own.
pub(super) fn read_prefixes_in_place(nodes: &[Node], outputs: &[NodeId], fused: &mut [KernelNode]) {
    let mut own_buffer = vec![false; nodes.len()];
    for o in outputs {
        let mut at = o.index();
        own_buffer[at] = true;
        while nodes[at].op == Op::Reshape {
            at = nodes[at].inputs[0].index();
            own_buffer[at] = true;
        }
    }
    for i in 0..nodes.len() {
        if let Op::Narrow { axis, start: 0 } = nodes[i].op {
            let input = &nodes[nodes[i].inputs[0].index()].shape;
            if input.dims()[..axis].iter().all(|&d| d == 1) && !own_buffer[i] {
                fused[i].kernel = Kernel::Prefix;
            }
        }
    }
}

/// Turns a product of filters `[K, C·KH·KW]` with an im2col's columns, with the bias per
/// filter and the ReLU that [`fuse_matmuls`] fused after it, into one [`Kernel::Conv2dTaps`] where
/// the filters are small ([`TapsKernel::suits`](kernels::conv2d_taps::TapsKernel::suits)).
/// The im2col then runs only where something else reads its columns (the filters'
/// gradient, when training).
fn fuse_few_tap_convs(nodes: &[Node], live: &[usize], fused: &mut [KernelNode]) {
    for &i in live {
        let (bias, relu) = match fused[i].kernel {
            Kernel::Op(Op::Matmul { trans_a: false, trans_b: false }) => (false, false),
            // The direct kernel applies no activation but a ReLU.
            Kernel::MatmulBias { trans_a: false, trans_b: false, per_row: true, activation }
                if activation.is_none_or(|op| op == ElementwiseOp::Relu) =>
            {
                (true, activation.is_some())
            }
            _ => continue,
        };
        let (filters, cols) = (fused[i].inputs[0], fused[i].inputs[1]);
        let Op::Im2col(window) = nodes[cols.index()].op else { continue };
        let &[k, _] = nodes[filters.index()].shape.dims() else { continue };
        let x = nodes[cols.index()].inputs[0];
        if kernels::conv2d_taps::TapsKernel::suits(k, nodes[x.index()].shape.dims()[1], &window) {
            fused[i].kernel = Kernel::Conv2dTaps { window, bias, relu };
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
