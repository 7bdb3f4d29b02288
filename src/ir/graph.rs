//! Define, then run: a graph of ops with shapes inferred as it is built. Building checks every
//! shape, so a plan compiled from a graph never meets a shape error at run time.

use crate::error::{Error, Result};
use crate::ir::ops::elementwise::{Arity, ElementwiseOp, for_each_activation};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::ir::ops::recurrent::{CellStep, Scan};
use crate::ir::ops::reduce::ReduceOp;
use crate::ir::ops::window::Window;
use crate::ir::shape::Shape;

/// A node of a [`Graph`]: the value one op produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) usize);

impl NodeId {
    /// The node's position in its graph.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What a node computes from its inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Data the caller writes before each run (a batch, labels).
    Input,
    /// A trainable tensor that lives on the GPU for the plan's life.
    Param,
    /// A tensor filled with one value when the plan is compiled.
    Fill(f32),
    /// State that updates change in place (optimizer moments, running statistics), filled
    /// with this value when the plan is compiled.
    State(f32),
    /// op(a) · op(b) of two matrices, or of batches of them ([batch, rows, cols], a plain
    /// matrix serving every entry).
    Matmul {
        /// a is read transposed.
        trans_a: bool,
        /// b is read transposed.
        trans_b: bool,
    },
    /// An elementwise op over broadcast inputs.
    Elementwise {
        /// Which op.
        op: ElementwiseOp,
        /// Its scalar operand (for `Scale`).
        alpha: f32,
    },
    /// Reduces the axes where the node's shape has extent 1 and the input's does not; the node
    /// keeps the input's rank.
    Reduce {
        /// Sum, max or argmax.
        op: ReduceOp,
        /// Multiplies a sum: 1 for a sum, 1/count for a mean.
        factor: f32,
    },
    /// The input broadcast to the node's shape, times `factor`.
    Expand {
        /// Multiplies every element.
        factor: f32,
    },
    /// The same elements under another shape; no kernel, the buffer is shared.
    Reshape,
    /// Zeroes each element with probability `p` and scales the rest by 1 / (1 − p); the mask is
    /// a function of (seed, run number, index), so a gradient through the same op (same seed)
    /// in the same run reuses it.
    Dropout {
        /// Drop probability.
        p: f32,
        /// Seed of the mask.
        seed: u32,
    },
    /// A loss of inputs [pred, target], reduced to its mean: one value.
    Loss(LossKind),
    /// d loss / d pred for inputs [grad, pred, target].
    LossBackward(LossKind),
    /// Softmax (or log-softmax) along the last axis.
    Softmax {
        /// Log-softmax.
        log: bool,
    },
    /// Its gradient, for inputs [grad, output].
    SoftmaxBackward {
        /// Log-softmax.
        log: bool,
    },
    /// Convolution of inputs [x `[N, C, H, W]`, w `[K, C, KH, KW]`], computed directly.
    Conv2d(Window),
    /// The patches of [x `[N, C, H, W]`] as columns `[N, C·KH·KW, OH·OW]`.
    Im2col(Window),
    /// The gradient of x `[N, C, H, W]` (the node's shape) from that of its columns.
    Col2im(Window),
    /// Its gradient with respect to x, for inputs [grad, w].
    Conv2dBackwardInput(Window),
    /// Its gradient with respect to w, for inputs [grad, x].
    Conv2dBackwardWeight(Window),
    /// Max (`max`) or average pooling of [x `[N, C, H, W]`].
    Pool2d {
        /// Max pooling; else average.
        max: bool,
        /// The window.
        window: Window,
    },
    /// Its gradient, for inputs [grad, x].
    Pool2dBackward {
        /// Max pooling; else average.
        max: bool,
        /// The window.
        window: Window,
    },
    /// The elements of x from `start` along `axis`, for the node's extent there.
    Narrow {
        /// The axis.
        axis: usize,
        /// The first element taken along it.
        start: usize,
    },
    /// x placed at `start` along `axis` of zeros shaped as the node (narrow's gradient).
    Pad {
        /// The axis.
        axis: usize,
        /// Where x begins along it.
        start: usize,
    },
    /// x with its axes reordered: the node's axis d is x's axis `perm[d]` (the first rank
    /// entries are used).
    Permute([usize; 4]),
    /// Inputs [a, b] joined along `axis`.
    Concat {
        /// The axis.
        axis: usize,
    },
    /// One-hot rows `[n, classes]` of class indices `[n]` (a row of zeros for an index
    /// outside the classes).
    OneHot,
    /// Rows of inputs [weight `[N, D]`, indices `[…]`] (indices as f32): `[…, D]`; an index
    /// outside the rows gives zeros.
    Embedding,
    /// Indices `[…]` (as f32) sorted, for an embedding's gradient: `[2, n]`, the indices in
    /// ascending order (one outside 0…rows−1 as `rows`, last), then each one's position, equal
    /// indices in order of position.
    IndexOrder {
        /// The embedding's rows.
        rows: usize,
    },
    /// Its weight's gradient `[N, D]` for inputs [grad `[…, D]`, the indices' [`Op::IndexOrder`]]:
    /// each row the sum of the gradient's rows at its index, in order of position (no atomics:
    /// runs agree bit for bit).
    EmbeddingBackward,
    /// A batch norm's per-channel table `[4, C]` (rows in [`stats_row`]: mean, variance,
    /// scale γ/√(var + eps), shift β), for inputs [x `[N, C, …]`, gamma, beta] when `batch`
    /// (the batch's mean and biased variance), else [mean and variance `[2, C]`, gamma, beta].
    ///
    /// [`stats_row`]: crate::ir::batch_norm::stats_row
    BatchNormStats {
        /// The batch's own statistics (training); else given ones (the running statistics).
        batch: bool,
        /// Added to the variance.
        eps: f32,
    },
    /// (x − mean) · scale + shift per channel, for inputs [x, statistics, gamma, beta]: the
    /// kernel reads x and the statistics; gamma and beta are inputs for their gradients.
    BatchNorm {
        /// The statistics are the batch's own, so x's gradient carries their dependence on x.
        batch: bool,
        /// Added to the variance.
        eps: f32,
    },
    /// A batch norm's gradient sums `[6, C]` (rows in [`grad_row`]), for inputs [grad, x,
    /// statistics].
    ///
    /// [`grad_row`]: crate::ir::batch_norm::grad_row
    BatchNormGradSums {
        /// As the batch norm's.
        batch: bool,
        /// As the batch norm's.
        eps: f32,
    },
    /// A batch norm's x gradient k · g + b · (x − mean) + c per channel, for inputs [grad, x,
    /// gradient sums] (which hold k, b, c and the mean).
    BatchNormBackward,
    /// One step of a recurrent cell, its gate arithmetic fused
    /// ([`crate::ir::ops::recurrent::CellStep`] lists its inputs).
    CellStep(CellStep),
    /// The gradient of a cell step with respect to its input `slot`, for inputs [the output's
    /// gradient, the step's inputs…].
    CellStepBackward {
        /// The step.
        step: CellStep,
        /// Which of its inputs.
        slot: usize,
    },
    /// A recurrent layer's recurrence over every step, for inputs [xw, w_hh, the starting
    /// state, b_hh (GRU), the mask (where masked)]
    /// ([`crate::ir::ops::recurrent`] describes them and its output).
    RecurrentScan(Scan),
    /// The gradients of a scan's gate pre-activations and starting state, for inputs [the
    /// states' gradient, the states, then the scan's inputs but the starting state].
    RecurrentScanBackward(Scan),
    /// An optimizer step for inputs [param, grad, states…], in place, after everything else.
    Update(Optimizer),
    /// state ← (1 − momentum) · state + momentum · factor · value for inputs [state, value], in
    /// place, after everything else.
    RunningAverage {
        /// Weight of the new value.
        momentum: f32,
        /// Multiplies the value (n / (n − 1) turns a biased variance into an unbiased one).
        factor: f32,
    },
}

impl Op {
    /// A short name for messages and profiles (`matmul`, `relu`, `mse_backward`, …).
    pub fn name(&self) -> String {
        let name = match self {
            Op::Elementwise { op, .. } => op.name(),
            Op::Reduce { op, .. } => op.name(),
            Op::Loss(kind) => kind.name(),
            Op::LossBackward(kind) => return format!("{}_backward", kind.name()),
            Op::Input => "input",
            Op::Param => "param",
            Op::Fill(_) => "fill",
            Op::State(_) => "state",
            Op::Matmul { .. } => "matmul",
            Op::Expand { .. } => "expand",
            Op::Reshape => "reshape",
            Op::Dropout { .. } => "dropout",
            Op::Softmax { .. } => "softmax",
            Op::SoftmaxBackward { .. } => "softmaxbackward",
            Op::Conv2d(_) => "conv2d",
            Op::Im2col(_) => "im2col",
            Op::Col2im(_) => "col2im",
            Op::Conv2dBackwardInput(_) => "conv2dbackwardinput",
            Op::Conv2dBackwardWeight(_) => "conv2dbackwardweight",
            Op::Pool2d { .. } => "pool2d",
            Op::Pool2dBackward { .. } => "pool2dbackward",
            Op::Narrow { .. } => "narrow",
            Op::Pad { .. } => "pad",
            Op::Permute(_) => "permute",
            Op::Concat { .. } => "concat",
            Op::OneHot => "onehot",
            Op::Embedding => "embedding",
            Op::IndexOrder { .. } => "indexorder",
            Op::EmbeddingBackward => "embeddingbackward",
            Op::BatchNormStats { .. } => "batchnormstats",
            Op::BatchNorm { .. } => "batchnorm",
            Op::BatchNormGradSums { .. } => "batchnormgradsums",
            Op::BatchNormBackward => "batchnormbackward",
            Op::CellStep(step) => step.name(),
            Op::CellStepBackward { step, .. } => return format!("{}_backward", step.name()),
            Op::RecurrentScan(scan) => return scan.name(),
            Op::RecurrentScanBackward(scan) => return format!("{}_backward", scan.name()),
            Op::Update(_) => "update",
            Op::RunningAverage { .. } => "runningaverage",
        };
        name.to_string()
    }

    /// A leaf: a value that no op computes (inputs, parameters, fills, states).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input | Op::Param | Op::Fill(_) | Op::State(_))
    }

    /// An in-place update: it writes its first input, after everything that reads the old value.
    pub fn is_update(&self) -> bool {
        matches!(self, Op::Update(_) | Op::RunningAverage { .. })
    }
}

/// One node: its op, its inputs and the shape of its value.
#[derive(Clone, Debug)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// What it reads.
    pub inputs: Vec<NodeId>,
    /// The shape of its value.
    pub shape: Shape,
    /// A name, for inputs and parameters.
    pub name: Option<String>,
}

/// A computation built node by node; the backend compiles it into a plan (`Plan::compile`).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Every node, in the order built (inputs always come before the nodes that read them).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// The shape of `id`'s value.
    pub fn shape(&self, id: NodeId) -> &Shape {
        &self.nodes[id.0].shape
    }

    /// The node named `name` (an input or parameter).
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name.as_deref() == Some(name)).map(NodeId)
    }

    pub(crate) fn push(&mut self, op: Op, inputs: Vec<NodeId>, shape: Shape, name: Option<String>) -> NodeId {
        self.nodes.push(Node { op, inputs, shape, name });
        NodeId(self.nodes.len() - 1)
    }

    /// `op` on `inputs`, or the node that already computes it (same op, inputs and shape):
    /// for values that several gradient rules, or one join made twice, would otherwise build
    /// again.
    pub(crate) fn push_once(&mut self, op: Op, inputs: Vec<NodeId>, shape: Shape) -> NodeId {
        match self.nodes.iter().rposition(|n| n.op == op && n.inputs == inputs && n.shape == shape) {
            Some(i) => NodeId(i),
            None => self.push(op, inputs, shape, None),
        }
    }

    pub(crate) fn check(&self, op: &'static str, id: NodeId) -> Result<()> {
        if id.0 < self.nodes.len() {
            Ok(())
        } else {
            Err(Error::Graph(format!("{op}: node {} is not in this graph", id.0)))
        }
    }

    /// A value the caller writes before each run.
    pub fn input(&mut self, name: &str, dims: &[usize]) -> Result<NodeId> {
        let shape = Shape::new(dims)?;
        Ok(self.push(Op::Input, vec![], shape, Some(name.to_string())))
    }

    /// A trainable parameter (zeros until written).
    pub fn param(&mut self, name: &str, dims: &[usize]) -> Result<NodeId> {
        let shape = Shape::new(dims)?;
        Ok(self.push(Op::Param, vec![], shape, Some(name.to_string())))
    }

    /// A tensor of one repeated value.
    pub fn fill(&mut self, dims: &[usize], value: f32) -> Result<NodeId> {
        let shape = Shape::new(dims)?;
        Ok(self.push(Op::Fill(value), vec![], shape, None))
    }

    /// The matrix product a · b of a [m, k] and b [k, n].
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.matmul_t(a, b, false, false)
    }

    /// op(a) · op(b), where op transposes the last two axes when its flag is set: a [k, m] is
    /// read as [m, k], b [n, k] as [k, n]. Either operand may carry a leading batch axis
    /// ([batch, rows, cols]); a matrix without one is used for every entry of the batch.
    pub fn matmul_t(&mut self, a: NodeId, b: NodeId, trans_a: bool, trans_b: bool) -> Result<NodeId> {
        self.check("matmul", a)?;
        self.check("matmul", b)?;
        let (sa, sb) = (self.shape(a).clone(), self.shape(b).clone());
        let mismatch = |reason: String| Error::ShapeMismatch { op: "matmul", lhs: sa.clone(), rhs: sb.clone(), reason };
        if !(2..=3).contains(&sa.rank()) || !(2..=3).contains(&sb.rank()) {
            return Err(mismatch("operands must be matrices, or batches of matrices (rank 3)".into()));
        }
        let batch_a = (sa.rank() == 3).then(|| sa.dims()[0]);
        let batch_b = (sb.rank() == 3).then(|| sb.dims()[0]);
        if let (Some(x), Some(y)) = (batch_a, batch_b) {
            if x != y {
                return Err(mismatch(format!("the batch extents differ ({x} vs {y})")));
            }
        }
        let (da, db) = (&sa.dims()[sa.rank() - 2..], &sb.dims()[sb.rank() - 2..]);
        let (m, ka) = if trans_a { (da[1], da[0]) } else { (da[0], da[1]) };
        let (kb, n) = if trans_b { (db[1], db[0]) } else { (db[0], db[1]) };
        if ka != kb {
            return Err(mismatch(format!(
                "the inner extents differ ({ka} vs {kb}, transposes: a {trans_a}, b {trans_b})"
            )));
        }
        let shape = match batch_a.or(batch_b) {
            Some(batch) => Shape::new(&[batch, m, n])?,
            None => Shape::new(&[m, n])?,
        };
        Ok(self.push(Op::Matmul { trans_a, trans_b }, vec![a, b], shape, None))
    }

    fn binary(&mut self, op: ElementwiseOp, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.check(op.name(), a)?;
        self.check(op.name(), b)?;
        let shape = Shape::broadcast(op.name(), self.shape(a), self.shape(b))?;
        Ok(self.push(Op::Elementwise { op, alpha: 0.0 }, vec![a, b], shape, None))
    }

    /// A unary elementwise op of the table, with its scalar (ignored by ops without one).
    pub fn unary(&mut self, op: ElementwiseOp, alpha: f32, x: NodeId) -> Result<NodeId> {
        self.check(op.name(), x)?;
        if op.arity() != Arity::Unary {
            return Err(Error::InvalidArgument {
                op: op.name(),
                message: format!("{:?} is not a unary op", op.arity()),
            });
        }
        let shape = self.shape(x).clone();
        Ok(self.push(Op::Elementwise { op, alpha }, vec![x], shape, None))
    }

    /// a + b, broadcasting (a bias `[C]` adds to every row of `[N, C]`).
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(ElementwiseOp::Add, a, b)
    }

    /// a − b, broadcasting.
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(ElementwiseOp::Sub, a, b)
    }

    /// a · b element by element, broadcasting.
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(ElementwiseOp::Mul, a, b)
    }

    /// a / b element by element, broadcasting.
    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(ElementwiseOp::Div, a, b)
    }

    /// s · x.
    pub fn scale(&mut self, x: NodeId, s: f32) -> Result<NodeId> {
        self.unary(ElementwiseOp::Scale, s, x)
    }

    /// grad · `[x > 0]`: the gradient through a ReLU whose input or output was `x` (the two
    /// have the same positive elements; autodiff passes the output, which the next layer
    /// keeps anyway).
    pub fn relu_backward(&mut self, grad: NodeId, x: NodeId) -> Result<NodeId> {
        self.binary(ElementwiseOp::ReluBackward, grad, x)
    }

    /// x where x > 0, else slope · x.
    pub fn leaky_relu(&mut self, x: NodeId, slope: f32) -> Result<NodeId> {
        self.unary(ElementwiseOp::LeakyRelu, slope, x)
    }

    /// x + s.
    pub fn add_scalar(&mut self, x: NodeId, s: f32) -> Result<NodeId> {
        self.unary(ElementwiseOp::AddScalar, s, x)
    }

    /// Dropout with drop probability `p` in [0, 1), its mask drawn from `seed` and the plan's
    /// run number. Build it into training graphs only: evaluation is the identity.
    pub fn dropout(&mut self, x: NodeId, p: f32, seed: u32) -> Result<NodeId> {
        self.check("dropout", x)?;
        if !(0.0..1.0).contains(&p) {
            return Err(Error::InvalidArgument {
                op: "dropout",
                message: format!("drop probability {p} is not in [0, 1)"),
            });
        }
        let shape = self.shape(x).clone();
        Ok(self.push(Op::Dropout { p, seed }, vec![x], shape, None))
    }

    /// 1 / √x.
    pub fn rsqrt(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(ElementwiseOp::Rsqrt, 0.0, x)
    }

    /// A backward elementwise op: `grad` scaled by the derivative `op` computes from `saved`
    /// (the forward op's input or output, per [`ElementwiseOp`]).
    pub fn elementwise_backward(
        &mut self,
        op: ElementwiseOp,
        alpha: f32,
        grad: NodeId,
        saved: NodeId,
    ) -> Result<NodeId> {
        self.check(op.name(), grad)?;
        self.check(op.name(), saved)?;
        let (sg, ss) = (self.shape(grad).clone(), self.shape(saved).clone());
        if sg != ss {
            return Err(Error::ShapeMismatch {
                op: op.name(),
                lhs: sg,
                rhs: ss,
                reason: "a gradient and the value it flows through must have the same shape".into(),
            });
        }
        Ok(self.push(Op::Elementwise { op, alpha }, vec![grad, saved], sg, None))
    }

    /// Sum of all elements, as a scalar.
    pub fn sum(&mut self, x: NodeId) -> Result<NodeId> {
        let axes: Vec<isize> = (0..self.shape(x).rank() as isize).collect();
        self.reduce(ReduceOp::Sum, x, &axes, false, false)
    }

    /// Mean of all elements, as a scalar.
    pub fn mean(&mut self, x: NodeId) -> Result<NodeId> {
        let axes: Vec<isize> = (0..self.shape(x).rank() as isize).collect();
        self.reduce(ReduceOp::Sum, x, &axes, false, true)
    }

    /// Sum over `axes` (negative counts from the end); `keepdim` keeps them with extent 1.
    pub fn sum_axes(&mut self, x: NodeId, axes: &[isize], keepdim: bool) -> Result<NodeId> {
        self.reduce(ReduceOp::Sum, x, axes, keepdim, false)
    }

    /// Mean over `axes` (negative counts from the end); `keepdim` keeps them with extent 1.
    pub fn mean_axes(&mut self, x: NodeId, axes: &[isize], keepdim: bool) -> Result<NodeId> {
        self.reduce(ReduceOp::Sum, x, axes, keepdim, true)
    }

    /// The largest value over `axes`; `keepdim` keeps them with extent 1. Not differentiable.
    pub fn max_axes(&mut self, x: NodeId, axes: &[isize], keepdim: bool) -> Result<NodeId> {
        self.reduce(ReduceOp::Max, x, axes, keepdim, false)
    }

    /// Where the largest value over `axes` is (as f32; the row-major index within the reduced
    /// axes, the first among equals), e.g. the predicted class of each row with axes `[-1]`.
    pub fn argmax_axes(&mut self, x: NodeId, axes: &[isize], keepdim: bool) -> Result<NodeId> {
        self.reduce(ReduceOp::Argmax, x, axes, keepdim, false)
    }

    fn reduce(&mut self, rop: ReduceOp, x: NodeId, axes: &[isize], keepdim: bool, mean: bool) -> Result<NodeId> {
        let op = if mean { "mean" } else { rop.name() };
        self.check(op, x)?;
        let input = self.shape(x).clone();
        let mut kept = input.dims().to_vec();
        let mut count = 1;
        for &axis in axes {
            let a = input.axis(op, axis)?;
            if kept[a] == 1 && input.dims()[a] != 1 {
                return Err(Error::InvalidArgument { op, message: format!("axis {axis} is listed twice") });
            }
            count *= input.dims()[a];
            kept[a] = 1;
        }
        let factor = if mean { 1.0 / count as f32 } else { 1.0 };
        let reduced = if input.rank() == 0 && rop == ReduceOp::Sum {
            x
        } else {
            self.push(Op::Reduce { op: rop, factor }, vec![x], Shape::new(&kept)?, None)
        };
        if keepdim {
            return Ok(reduced);
        }
        let dims: Vec<usize> = (0..input.rank())
            .filter(|d| !axes.iter().any(|&a| input.axis(op, a).ok() == Some(*d)))
            .map(|d| input.dims()[d])
            .collect();
        self.reshape(reduced, &dims)
    }

    /// Sums `x` down to `dims`, the reverse of broadcasting `dims` up to `x`'s shape (how a
    /// bias's gradient is formed from its output's).
    pub fn sum_to(&mut self, x: NodeId, dims: &[usize], factor: f32) -> Result<NodeId> {
        self.check("sum_to", x)?;
        let input = self.shape(x).clone();
        let target = Shape::new(dims)?;
        if Shape::broadcast("sum_to", &target, &input)? != input {
            return Err(Error::ShapeMismatch {
                op: "sum_to",
                lhs: input,
                rhs: target,
                reason: "the target must broadcast to the input".into(),
            });
        }
        if target == input && factor == 1.0 {
            return Ok(x);
        }
        // Reduce keeps the rank: pad the target with leading ones, then drop them.
        let mut kept = vec![1; input.rank() - target.rank()];
        kept.extend_from_slice(dims);
        let reduced = self.push(Op::Reduce { op: ReduceOp::Sum, factor }, vec![x], Shape::new(&kept)?, None);
        self.reshape(reduced, dims)
    }

    /// `x` broadcast to `dims`, times `factor`.
    pub fn expand(&mut self, x: NodeId, dims: &[usize], factor: f32) -> Result<NodeId> {
        self.check("expand", x)?;
        let input = self.shape(x).clone();
        let target = Shape::new(dims)?;
        if Shape::broadcast("expand", &input, &target)? != target {
            return Err(Error::ShapeMismatch {
                op: "expand",
                lhs: input,
                rhs: target,
                reason: "the input must broadcast to the target".into(),
            });
        }
        Ok(self.push(Op::Expand { factor }, vec![x], target, None))
    }

    /// The same elements under the shape `dims`.
    pub fn reshape(&mut self, x: NodeId, dims: &[usize]) -> Result<NodeId> {
        self.check("reshape", x)?;
        let input = self.shape(x).clone();
        let shape = Shape::new(dims)?;
        if shape.numel() != input.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: input,
                rhs: shape,
                reason: "they hold different numbers of elements".into(),
            });
        }
        if shape == input {
            return Ok(x);
        }
        Ok(self.push(Op::Reshape, vec![x], shape, None))
    }

    /// Mean squared error of `pred` against `target` (same shape), as a scalar.
    pub fn mse(&mut self, pred: NodeId, target: NodeId) -> Result<NodeId> {
        self.loss(LossKind::Mse, pred, target)
    }

    /// Binary cross-entropy of probabilities `pred` against `target` (same shape), as a scalar.
    pub fn bce(&mut self, pred: NodeId, target: NodeId) -> Result<NodeId> {
        self.loss(LossKind::Bce, pred, target)
    }

    /// Binary cross-entropy of `sigmoid(logits)` against `target`, computed stably.
    pub fn bce_with_logits(&mut self, logits: NodeId, target: NodeId) -> Result<NodeId> {
        self.loss(LossKind::BceWithLogits, logits, target)
    }

    /// Mean negative log-likelihood of log-probabilities `[N, C]` at class indices `labels` `[N]`.
    pub fn nll(&mut self, log_probs: NodeId, labels: NodeId) -> Result<NodeId> {
        self.loss(LossKind::Nll, log_probs, labels)
    }

    /// Mean cross-entropy of logits `[N, C]` at class indices `labels` `[N]` (log-softmax fused).
    pub fn cross_entropy(&mut self, logits: NodeId, labels: NodeId) -> Result<NodeId> {
        self.loss(LossKind::CrossEntropy, logits, labels)
    }

    /// The loss `kind` of `pred` against `target`, reduced to its mean (the named methods above
    /// are this with their kind).
    pub fn loss(&mut self, kind: LossKind, pred: NodeId, target: NodeId) -> Result<NodeId> {
        self.check(kind.name(), pred)?;
        self.check(kind.name(), target)?;
        let (sp, st) = (self.shape(pred).clone(), self.shape(target).clone());
        let fits = if kind.takes_labels() {
            sp.rank() == 2 && st.rank() == 1 && st.dims()[0] == sp.dims()[0]
        } else {
            sp == st
        };
        if !fits {
            let reason = if kind.takes_labels() {
                "expected scores [N, C] and one class index per row [N]"
            } else {
                "prediction and target must have the same shape"
            };
            return Err(Error::ShapeMismatch { op: kind.name(), lhs: sp, rhs: st, reason: reason.into() });
        }
        Ok(self.push(Op::Loss(kind), vec![pred, target], Shape::scalar(), None))
    }

    /// The gradient of a loss with respect to its `pred`, given the loss's gradient `grad`.
    pub fn loss_backward(&mut self, kind: LossKind, grad: NodeId, pred: NodeId, target: NodeId) -> Result<NodeId> {
        let shape = self.shape(pred).clone();
        Ok(self.push(Op::LossBackward(kind), vec![grad, pred, target], shape, None))
    }

    /// Softmax along the last axis.
    pub fn softmax(&mut self, x: NodeId) -> Result<NodeId> {
        self.check("softmax", x)?;
        let shape = self.shape(x).clone();
        Ok(self.push(Op::Softmax { log: false }, vec![x], shape, None))
    }

    /// Log-softmax along the last axis.
    pub fn log_softmax(&mut self, x: NodeId) -> Result<NodeId> {
        self.check("log_softmax", x)?;
        let shape = self.shape(x).clone();
        Ok(self.push(Op::Softmax { log: true }, vec![x], shape, None))
    }

    /// The gradient through a (log-)softmax whose output was `y`.
    pub fn softmax_backward(&mut self, log: bool, grad: NodeId, y: NodeId) -> Result<NodeId> {
        let shape = self.shape(y).clone();
        Ok(self.push(Op::SoftmaxBackward { log }, vec![grad, y], shape, None))
    }

    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of x `[N, C, H, W]` with
    /// filters w `[K, C, KH, KW]`, `stride` and zero `padding` per axis (height, width): `[N, K, OH, OW]`.
    /// Computed as im2col and a batched matrix product (the filters `[K, C·KH·KW]` times each
    /// image's columns), which runs at matmul speed; the gradients follow by autodiff.
    pub fn conv2d(&mut self, x: NodeId, w: NodeId, stride: [usize; 2], padding: [usize; 2]) -> Result<NodeId> {
        let (window, out) = self.conv2d_shape(x, w, stride, padding)?;
        let d = out.dims().to_vec();
        let sw = self.shape(w).clone();
        let taps = sw.dims()[1] * sw.dims()[2] * sw.dims()[3];
        let cols = self.push(Op::Im2col(window), vec![x], Shape::new(&[d[0], taps, d[2] * d[3]])?, None);
        let filters = self.reshape(w, &[d[1], taps])?;
        let y = self.matmul(filters, cols)?;
        self.reshape(y, &d)
    }

    /// The same convolution by a direct kernel (one invocation per output pixel and four
    /// channels): checked against the same reference, kept as the reference kernel on GPUs.
    pub fn conv2d_direct(&mut self, x: NodeId, w: NodeId, stride: [usize; 2], padding: [usize; 2]) -> Result<NodeId> {
        let (window, shape) = self.conv2d_shape(x, w, stride, padding)?;
        Ok(self.push(Op::Conv2d(window), vec![x, w], shape, None))
    }

    /// The gradient of an input x (of dims `x_dims`) from the gradient of its im2col columns.
    pub fn col2im(&mut self, window: Window, grad: NodeId, x_dims: &[usize]) -> Result<NodeId> {
        let shape = Shape::new(x_dims)?;
        Ok(self.push(Op::Col2im(window), vec![grad], shape, None))
    }

    fn conv2d_shape(
        &mut self,
        x: NodeId,
        w: NodeId,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<(Window, Shape)> {
        self.check("conv2d", x)?;
        self.check("conv2d", w)?;
        let (sx, sw) = (self.shape(x).clone(), self.shape(w).clone());
        let mismatch = |reason: &str| Error::ShapeMismatch {
            op: "conv2d",
            lhs: sx.clone(),
            rhs: sw.clone(),
            reason: reason.into(),
        };
        if sx.rank() != 4 || sw.rank() != 4 {
            return Err(mismatch("expected input [N, C, H, W] and filters [K, C, KH, KW]"));
        }
        if sx.dims()[1] != sw.dims()[1] {
            return Err(mismatch("the input's channels (axis 1) must equal the filters' (axis 1)"));
        }
        let window = Window { kernel: [sw.dims()[2], sw.dims()[3]], stride, padding };
        let [oh, ow] = window.output("conv2d", &sx, sx.dims()[2], sx.dims()[3])?;
        Ok((window, Shape::new(&[sx.dims()[0], sw.dims()[0], oh, ow])?))
    }

    /// The gradient of a convolution's input x, from its output's gradient and its filters.
    pub fn conv2d_backward_input(
        &mut self,
        window: Window,
        grad: NodeId,
        w: NodeId,
        x_dims: &[usize],
    ) -> Result<NodeId> {
        let shape = Shape::new(x_dims)?;
        Ok(self.push(Op::Conv2dBackwardInput(window), vec![grad, w], shape, None))
    }

    /// The gradient of a convolution's filters, from its output's gradient and its input.
    pub fn conv2d_backward_weight(
        &mut self,
        window: Window,
        grad: NodeId,
        x: NodeId,
        w_dims: &[usize],
    ) -> Result<NodeId> {
        let shape = Shape::new(w_dims)?;
        Ok(self.push(Op::Conv2dBackwardWeight(window), vec![grad, x], shape, None))
    }

    /// Max pooling of x `[N, C, H, W]` over `kernel` windows (PyTorch's `max_pool2d`; padding
    /// never wins a window).
    pub fn max_pool2d(
        &mut self,
        x: NodeId,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<NodeId> {
        self.pool2d(true, x, Window { kernel, stride, padding })
    }

    /// Average pooling of x `[N, C, H, W]` over `kernel` windows (padding counts as zeros).
    pub fn avg_pool2d(
        &mut self,
        x: NodeId,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<NodeId> {
        self.pool2d(false, x, Window { kernel, stride, padding })
    }

    fn pool2d(&mut self, max: bool, x: NodeId, window: Window) -> Result<NodeId> {
        let op = if max { "max_pool2d" } else { "avg_pool2d" };
        self.check(op, x)?;
        let sx = self.shape(x).clone();
        if sx.rank() != 4 {
            return Err(Error::InvalidArgument { op, message: format!("expected an input [N, C, H, W], got {sx}") });
        }
        if window.padding[0] * 2 > window.kernel[0] || window.padding[1] * 2 > window.kernel[1] {
            return Err(Error::InvalidArgument {
                op,
                message: format!("padding {:?} must be at most half the window {:?}", window.padding, window.kernel),
            });
        }
        let [oh, ow] = window.output(op, &sx, sx.dims()[2], sx.dims()[3])?;
        let shape = Shape::new(&[sx.dims()[0], sx.dims()[1], oh, ow])?;
        Ok(self.push(Op::Pool2d { max, window }, vec![x], shape, None))
    }

    /// The gradient through a pooling of `x`.
    pub fn pool2d_backward(&mut self, max: bool, window: Window, grad: NodeId, x: NodeId) -> Result<NodeId> {
        let shape = self.shape(x).clone();
        Ok(self.push(Op::Pool2dBackward { max, window }, vec![grad, x], shape, None))
    }

    /// A state tensor named `name`, filled with `value` when compiled and changed only by
    /// in-place updates ([`Graph::running_average`]).
    pub fn state(&mut self, name: &str, dims: &[usize], value: f32) -> Result<NodeId> {
        let shape = Shape::new(dims)?;
        Ok(self.push(Op::State(value), vec![], shape, Some(name.to_string())))
    }

    /// Updates `state` in place at the end of each run: (1 − momentum) · state + momentum ·
    /// factor · value.
    pub fn running_average(&mut self, state: NodeId, value: NodeId, momentum: f32, factor: f32) -> Result<NodeId> {
        self.check("running_average", state)?;
        self.check("running_average", value)?;
        if !matches!(self.node(state).op, Op::State(_)) {
            return Err(Error::Graph(format!("running_average: node {} is not a state", state.0)));
        }
        let (ss, sv) = (self.shape(state).clone(), self.shape(value).clone());
        if ss != sv {
            return Err(Error::ShapeMismatch {
                op: "running_average",
                lhs: ss,
                rhs: sv,
                reason: "a state and its new value must have the same shape".into(),
            });
        }
        Ok(self.push(Op::RunningAverage { momentum, factor }, vec![state, value], ss, None))
    }

    /// Updates parameter `param` in place with `grad` by plain SGD at the end of each run.
    pub fn sgd_update(&mut self, param: NodeId, grad: NodeId, lr: f32) -> Result<NodeId> {
        self.optimizer_update(param, grad, Optimizer::sgd(lr))
    }

    /// Updates parameter `param` in place with `grad` by `opt` at the end of each run, adding
    /// the optimizer's state tensors (named `PARAM.STATE`, zeros at first) to the graph.
    pub fn optimizer_update(&mut self, param: NodeId, grad: NodeId, opt: Optimizer) -> Result<NodeId> {
        let op = opt.name();
        self.check(op, param)?;
        self.check(op, grad)?;
        if self.node(param).op != Op::Param {
            return Err(Error::Graph(format!("{op}: node {} is not a parameter", param.0)));
        }
        if self.nodes.iter().any(|n| matches!(n.op, Op::Update(_)) && n.inputs[0] == param) {
            return Err(Error::Graph(format!("{op}: parameter node {} already has an update", param.0)));
        }
        let (sp, sg) = (self.shape(param).clone(), self.shape(grad).clone());
        if sp != sg {
            return Err(Error::ShapeMismatch {
                op,
                lhs: sp,
                rhs: sg,
                reason: "a parameter and its gradient must have the same shape".into(),
            });
        }
        let base = self.node(param).name.clone().unwrap_or_else(|| format!("param{}", param.0));
        let mut inputs = vec![param, grad];
        for state in opt.states() {
            inputs.push(self.push(Op::State(0.0), vec![], sp.clone(), Some(format!("{base}.{state}"))));
        }
        Ok(self.push(Op::Update(opt), inputs, sp, None))
    }
}

/// `Graph::relu`, `Graph::gelu`, …: a method per activation of the elementwise table.
macro_rules! activation_methods {
    ($(($method:ident, $in_place:ident, $variant:ident, $constant:ident, $torch:literal),)*) => {
        impl Graph {
            $(
                #[doc = concat!("PyTorch's `", $torch, "` of x, element by element ([`ElementwiseOp::", stringify!($variant), "`]).")]
                pub fn $method(&mut self, x: NodeId) -> Result<NodeId> {
                    self.unary(ElementwiseOp::$variant, 0.0, x)
                }
            )*
        }
    };
}
for_each_activation!(activation_methods);
