//! Reverse-mode differentiation: appends to a graph the nodes that compute gradients.
//!
//! Every rule below is written with the same graph ops a user has (batch norm's and the
//! embedding's with their own backward ops, checked with them), so the backward pass runs on
//! checked kernels and is compiled into the same plan as the forward pass.
//!
//! A value read in slices (a recurrent layer's input product, step by step; its gates) gets
//! the gradients of its slices joined by one `cat`, with zeros where no slice reads it, rather
//! than each slice's gradient padded to the whole and summed: the same values, without a
//! full-size tensor per slice. Likewise a matrix read by several products (a weight read once
//! a step) gets one product over all of their rows rather than a product each and their sum.

use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use crate::ir::ops::elementwise::{ElementwiseOp, Gradient, Saved};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::reduce::ReduceOp;
use std::collections::HashMap;

/// Appends the gradient of `output` with respect to each of `wrt` and returns those nodes, in
/// order. `seed` is the gradient flowing into `output` (same shape); `None` means 1, which
/// needs `output` to hold one value (a loss).
pub fn gradients(graph: &mut Graph, output: NodeId, seed: Option<NodeId>, wrt: &[NodeId]) -> Result<Vec<NodeId>> {
    let count = output.index() + 1;
    if count > graph.nodes().len() || wrt.iter().any(|w| w.index() >= graph.nodes().len()) {
        return Err(Error::Graph("gradients: a node is not in this graph".into()));
    }
    let seed = match seed {
        Some(s) => {
            if graph.shape(s) != graph.shape(output) {
                return Err(Error::ShapeMismatch {
                    op: "gradients",
                    lhs: graph.shape(output).clone(),
                    rhs: graph.shape(s).clone(),
                    reason: "the seed gradient must have the output's shape".into(),
                });
            }
            s
        }
        None => {
            if graph.shape(output).numel() != 1 {
                return Err(Error::InvalidArgument {
                    op: "gradients",
                    message: format!(
                        "the output has shape {}; without a seed gradient it must be a single value (a loss)",
                        graph.shape(output)
                    ),
                });
            }
            let dims = graph.shape(output).dims().to_vec();
            graph.fill(&dims, 1.0)?
        }
    };

    // A node needs a gradient if some `wrt` node flows into it.
    let mut flows = vec![false; count];
    for w in wrt {
        if w.index() < count {
            flows[w.index()] = true;
        }
    }
    for i in 0..count {
        if !flows[i] {
            flows[i] = graph.nodes()[i].inputs.iter().any(|x| flows[x.index()]);
        }
    }

    let mut grads: HashMap<usize, Vec<Part>> = HashMap::new();
    grads.insert(output.index(), vec![Part::Whole(seed)]);
    for i in (0..count).rev() {
        if !flows[i] {
            continue;
        }
        let Some(parts) = grads.remove(&i) else { continue };
        let g = combine(graph, NodeId(i), parts)?;
        let node = graph.nodes()[i].clone();
        for (slot, &x) in node.inputs.iter().enumerate() {
            if !flows[x.index()] {
                continue;
            }
            let part = match node.op {
                Op::Narrow { axis, start } => Part::Slice { axis, start, grad: g },
                ref op => match input_gradient(graph, NodeId(i), op, &node.inputs, slot, g)? {
                    Some(d) => Part::Whole(d),
                    None => continue,
                },
            };
            grads.entry(x.index()).or_default().push(part);
        }
        // The combined gradient stays for the `wrt` nodes read below.
        grads.insert(i, vec![Part::Whole(g)]);
    }
    wrt.iter()
        .map(|w| match grads.remove(&w.index()) {
            Some(parts) => {
                let g = combine(graph, *w, parts)?;
                grads.insert(w.index(), vec![Part::Whole(g)]);
                Ok(g)
            }
            // The output does not depend on w: its gradient is zero.
            None => {
                let dims = graph.shape(*w).dims().to_vec();
                graph.fill(&dims, 0.0)
            }
        })
        .collect()
}

/// One contribution to a node's gradient.
enum Part {
    /// The gradient of the whole node.
    Whole(NodeId),
    /// The gradient of the slice starting at `start` along `axis` (a narrow's).
    Slice { axis: usize, start: usize, grad: NodeId },
}

/// The sum of the contributions to `node`'s gradient. Several slices along one axis that do not
/// overlap are joined by one `cat`, zeros filling the gaps; others are padded to the whole.
fn combine(graph: &mut Graph, node: NodeId, parts: Vec<Part>) -> Result<NodeId> {
    let dims = graph.shape(node).dims().to_vec();
    let mut wholes = Vec::new();
    let mut slices: Vec<(usize, usize, NodeId)> = Vec::new();
    for part in parts {
        match part {
            Part::Whole(g) => wholes.push(g),
            Part::Slice { axis, start, grad } => slices.push((axis, start, grad)),
        }
    }
    // A lone slice is one pad; several along one axis, one join.
    let joinable = slices.len() > 1 && slices.windows(2).all(|w| w[0].0 == w[1].0);
    if joinable {
        let axis = slices[0].0;
        slices.sort_by_key(|&(_, start, _)| start);
        let mut pieces = Vec::new();
        let mut at = 0;
        let mut overlap = false;
        for &(_, start, grad) in &slices {
            if start < at {
                overlap = true;
                break;
            }
            if start > at {
                let mut gap = dims.clone();
                gap[axis] = start - at;
                pieces.push(graph.fill(&gap, 0.0)?);
            }
            pieces.push(grad);
            at = start + graph.shape(grad).dims()[axis];
        }
        if !overlap {
            if at < dims[axis] {
                let mut gap = dims.clone();
                gap[axis] = dims[axis] - at;
                pieces.push(graph.fill(&gap, 0.0)?);
            }
            wholes.push(graph.cat(&pieces, axis as isize)?);
            slices.clear();
        }
    }
    for (axis, start, grad) in slices {
        wholes.push(graph.pad(grad, axis, start, &dims)?);
    }
    let wholes = join_products(graph, wholes)?;
    let (&first, rest) = wholes.split_first().ok_or_else(|| Error::Graph("autodiff: a gradient of no parts".into()))?;
    rest.iter().try_fold(first, |total, &d| graph.add(total, d))
}

/// `wholes` (gradients of one node, to be summed) with those that are products Aᵀ·B of
/// matrices, several of them, replaced by one product of the As and the Bs joined along their
/// rows: Σ Aₜᵀ·Bₜ = [A₁; …; Aₜ]ᵀ·[B₁; …; Bₜ]. A weight read once a step (an unrolled recurrent
/// layer's W_hh, a decoder's layers step by step) then gets its gradient from one product over
/// every step's rows instead of a full-size product a step and a sum of them (the language
/// model's W_hh: 35 products of [1024, 256] from 20 rows each, and 34 adds).
fn join_products(graph: &mut Graph, wholes: Vec<NodeId>) -> Result<Vec<NodeId>> {
    let is_gram = |g: &Graph, d: NodeId| {
        let n = g.node(d);
        n.op == Op::Matmul { trans_a: true, trans_b: false } && n.inputs.iter().all(|&x| g.shape(x).rank() == 2)
    };
    let (products, mut rest): (Vec<NodeId>, Vec<NodeId>) = wholes.into_iter().partition(|&d| is_gram(graph, d));
    if products.len() < 2 {
        rest.extend(products);
        return Ok(rest);
    }
    let mut pairs: Vec<(NodeId, NodeId)> =
        products.iter().map(|&d| (graph.node(d).inputs[0], graph.node(d).inputs[1])).collect();
    // Latest-made first, which for an unrolled layer is its first step: the As then join in the
    // order its input slices' gradients do, and `cat` reuses that join (the same gradients).
    pairs.sort_by_key(|&(a, _)| std::cmp::Reverse(a.index()));
    let (a_parts, b_parts): (Vec<NodeId>, Vec<NodeId>) = pairs.into_iter().unzip();
    let a = graph.cat(&a_parts, 0)?;
    let b = graph.cat(&b_parts, 0)?;
    rest.push(graph.matmul_t(a, b, true, false)?);
    Ok(rest)
}

/// The gradient reaching input `slot` of `node` (with inputs `inputs`), given the node's own
/// gradient `g`; `None` where the input's part is held in another input's gradient.
fn input_gradient(
    graph: &mut Graph,
    node: NodeId,
    op: &Op,
    inputs: &[NodeId],
    slot: usize,
    g: NodeId,
) -> Result<Option<NodeId>> {
    let x = inputs[slot];
    let x_dims = graph.shape(x).dims().to_vec();
    let d = match *op {
        Op::Matmul { trans_a, trans_b } => {
            let (a, b) = (inputs[0], inputs[1]);
            // With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC, transposed
            // back wherever the operand was stored transposed.
            let d = match (slot, trans_a, trans_b) {
                (0, false, _) => graph.matmul_t(g, b, false, !trans_b)?,
                (0, true, _) => graph.matmul_t(b, g, trans_b, true)?,
                (_, _, false) => graph.matmul_t(a, g, !trans_a, false)?,
                (_, _, true) => graph.matmul_t(g, a, true, trans_a)?,
            };
            // A matrix that served a whole batch gets the sum of its gradients over the batch.
            graph.sum_to(d, &x_dims, 1.0)
        }
        Op::Elementwise { op, alpha } => match op.gradient() {
            Gradient::Arithmetic => arithmetic_gradient(graph, node, op, alpha, inputs, slot, g),
            Gradient::Through { backward, saved, alpha: own } => {
                let saved = match saved {
                    Saved::Input => x,
                    Saved::Output => node,
                };
                graph.elementwise_backward(backward, own.unwrap_or(alpha), g, saved)
            }
            Gradient::OfGradient if slot == 0 => graph.elementwise_backward(op, alpha, g, inputs[1]),
            Gradient::OfGradient => no_gradient("a backward op's saved input"),
            Gradient::Dropout => graph.dropout(g, alpha, 0),
        },
        Op::Reduce { op: ReduceOp::Sum, factor } => graph.expand(g, &x_dims, factor),
        Op::Reduce { op, .. } => no_gradient(op.name()),
        Op::Expand { factor } => graph.sum_to(g, &x_dims, factor),
        Op::Reshape => graph.reshape(g, &x_dims),
        // Linear with a fixed mask: the gradient is the same dropout of g.
        Op::Dropout { p, seed } => graph.dropout(g, p, seed),
        Op::Loss(kind) => match (slot, kind) {
            (0, _) => graph.loss_backward(kind, g, inputs[0], inputs[1]),
            // MSE is symmetric: the target's gradient is the prediction's, negated.
            (_, LossKind::Mse) => {
                let d_pred = graph.loss_backward(kind, g, inputs[0], inputs[1])?;
                graph.scale(d_pred, -1.0)
            }
            _ => no_gradient(&format!("the target of {}", kind.name())),
        },
        Op::Softmax { log } => graph.softmax_backward(log, g, node),
        Op::Conv2d(window) => {
            if slot == 0 {
                graph.conv2d_backward_input(window, g, inputs[1], &x_dims)
            } else {
                graph.conv2d_backward_weight(window, g, inputs[0], &x_dims)
            }
        }
        Op::Im2col(window) => graph.col2im(window, g, &x_dims),
        Op::Conv2dBackwardInput(_) | Op::Conv2dBackwardWeight(_) | Op::Col2im(_) => {
            no_gradient("a convolution's gradient")
        }
        Op::Pool2d { max, window } => graph.pool2d_backward(max, window, g, x),
        Op::Pool2dBackward { .. } => no_gradient("a pooling's gradient"),
        Op::LossBackward(_) | Op::SoftmaxBackward { .. } => no_gradient("a backward op"),
        Op::Update(_) | Op::RunningAverage { .. } => no_gradient("an in-place update"),
        // Narrows are gathered by `combine`; alone, a narrow's gradient is padded.
        Op::Narrow { axis, start } => graph.pad(g, axis, start, &x_dims),
        Op::Pad { axis, start } => graph.narrow(g, axis as isize, start as isize, x_dims[axis]),
        Op::Permute(perm) => {
            let rank = x_dims.len();
            let mut inverse = vec![0isize; rank];
            for (d, &p) in perm[..rank].iter().enumerate() {
                inverse[p] = d as isize;
            }
            graph.permute(g, &inverse)
        }
        Op::Concat { axis } => {
            let first = graph.shape(inputs[0]).dims()[axis];
            graph.narrow(g, axis as isize, if slot == 0 { 0 } else { first as isize }, x_dims[axis])
        }
        Op::BatchNorm { .. } => return graph.batch_norm_gradient(node, slot, g),
        Op::BatchNormStats { .. } => {
            no_gradient("batch norm's statistics (the batch norm's own gradient holds theirs)")
        }
        Op::BatchNormGradSums { .. } | Op::BatchNormBackward => no_gradient("a batch norm's gradient"),
        Op::OneHot => no_gradient("one_hot"),
        Op::CellStep(step) => graph.cell_step_backward(step, slot, g, inputs),
        Op::CellStepBackward { .. } => no_gradient("a cell step's gradient"),
        Op::RecurrentScan(scan) => return graph.scan_gradient(scan, node, slot, g),
        Op::RecurrentScanBackward(_) => no_gradient("a recurrent scan's gradient"),
        Op::Embedding if slot == 0 => graph.embedding_backward(g, inputs[1], x_dims[0]),
        Op::Embedding => no_gradient("an embedding's indices"),
        Op::IndexOrder { .. } | Op::EmbeddingBackward => no_gradient("an embedding's gradient"),
        Op::Input | Op::Param | Op::Fill(_) | Op::State(_) => no_gradient("a leaf"),
    };
    d.map(Some)
}

/// The gradients of add, sub, mul, div, scale and add_scalar.
fn arithmetic_gradient(
    graph: &mut Graph,
    node: NodeId,
    op: ElementwiseOp,
    alpha: f32,
    inputs: &[NodeId],
    slot: usize,
    g: NodeId,
) -> Result<NodeId> {
    let x_dims = graph.shape(inputs[slot]).dims().to_vec();
    match op {
        ElementwiseOp::Add => graph.sum_to(g, &x_dims, 1.0),
        ElementwiseOp::Sub => graph.sum_to(g, &x_dims, if slot == 0 { 1.0 } else { -1.0 }),
        ElementwiseOp::Mul => {
            let t = graph.mul(g, inputs[1 - slot])?;
            graph.sum_to(t, &x_dims, 1.0)
        }
        ElementwiseOp::Div if slot == 0 => {
            let t = graph.div(g, inputs[1])?;
            graph.sum_to(t, &x_dims, 1.0)
        }
        ElementwiseOp::Div => {
            // d(a/b)/db = −(a/b)/b, and a/b is this node's own value.
            let t = graph.mul(g, node)?;
            let t = graph.div(t, inputs[1])?;
            graph.sum_to(t, &x_dims, -1.0)
        }
        ElementwiseOp::Scale => graph.scale(g, alpha),
        ElementwiseOp::AddScalar => Ok(g),
        other => no_gradient(&format!("{} (not arithmetic)", other.name())),
    }
}

fn no_gradient(what: &str) -> Result<NodeId> {
    Err(Error::Graph(format!("gradients: {what} cannot be differentiated")))
}
