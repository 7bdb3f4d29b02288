//! The plan compiler's own IR: the user's graph after fusion. A node either computes one user
//! op as it is or is a kernel that does the work of several, which only fusion makes; the
//! user-facing [`Op`] keeps only what users build.

use crate::ir::graph::{Node, NodeId, Op};
use crate::ir::ops::elementwise::ElementwiseOp;
use crate::ir::ops::window::Window;
use crate::ir::shape::Shape;

/// What a node of a compiled graph computes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kernel {
    /// A user op, by its own kernel (or by none: leaves, reshapes).
    Op(Op),
    /// op(a) · op(b) plus a bias vector on every row or every column of the product, for
    /// inputs [a, b, bias], then an activation where one is given: a product, its bias add
    /// and the activation after it, where nothing else reads the product (or the sum), so
    /// those are never stored on their own.
    MatmulBias {
        /// a is read transposed.
        trans_a: bool,
        /// b is read transposed.
        trans_b: bool,
        /// The bias is per row of the product (else per column).
        per_row: bool,
        /// The activation applied to the biased product (an op of
        /// [`ElementwiseOp::is_activation`]).
        activation: Option<ElementwiseOp>,
    },
    /// Partial sums over a batch of products: matrix z of the output is the sum of
    /// `op(a[e]) · op(b[e])` over `sum_over` consecutive entries e from z·sum_over on; made
    /// from a batched product that only a sum over its batch reads (a shared matrix's
    /// gradient, a convolution's filters'), which then folds a few partial sums instead of
    /// one product per entry.
    MatmulBatchSum {
        /// a is read transposed.
        trans_a: bool,
        /// b is read transposed.
        trans_b: bool,
        /// Batch entries each output matrix sums.
        sum_over: usize,
    },
    /// A convolution of few taps for inputs [x `[N, C, H, W]`, filters `[K, C·KH·KW]`, and
    /// the bias, one per filter, where `bias`], computed directly, then a ReLU where `relu`
    /// (the node is shaped as the product it replaces): an im2col's product with the filters,
    /// with the bias and ReLU fused after it.
    Conv2dTaps {
        /// The window.
        window: Window,
        /// A bias per filter is added.
        bias: bool,
        /// A ReLU follows.
        relu: bool,
    },
    /// The gradient through a ReLU and the max pooling after it, for inputs [grad, y] with y
    /// the ReLU's output (the pooling's input), for windows that tile the input (stride =
    /// kernel): a pooling's gradient that only the ReLU's gradient reads.
    MaxPoolReluBackward {
        /// The window.
        window: Window,
    },
    /// The first bytes of its input, read in place with no launch: a narrow from the start of
    /// an axis with only extents of 1 before it (the steps before the last of a recurrent
    /// scan's states), which is not a plan output (a tensor's slice is a copy of its own).
    Prefix,
}

impl Kernel {
    /// The user op it computes as it is, if it is not a fused kernel.
    pub(crate) fn op(&self) -> Option<&Op> {
        match self {
            Kernel::Op(op) => Some(op),
            _ => None,
        }
    }

    /// A short name for messages and profiles: the user op's, or the fused kernel's.
    pub(crate) fn name(&self) -> String {
        match self {
            Kernel::Op(op) => op.name(),
            Kernel::MatmulBias { .. } => "matmulbias".into(),
            Kernel::MatmulBatchSum { .. } => "matmulbatchsum".into(),
            Kernel::Conv2dTaps { .. } => "conv2dtaps".into(),
            Kernel::MaxPoolReluBackward { .. } => "maxpoolrelubackward".into(),
            Kernel::Prefix => "prefix".into(),
        }
    }

    /// A value that no kernel computes, alive for the whole plan.
    pub(crate) fn is_leaf(&self) -> bool {
        self.op().is_some_and(Op::is_leaf)
    }

    /// An in-place update, run after every other kernel.
    pub(crate) fn is_update(&self) -> bool {
        self.op().is_some_and(Op::is_update)
    }
}

/// Whether node `i` is stored in its input's buffer: a reshape, or a [`Kernel::Prefix`].
pub(crate) fn is_view(nodes: &[KernelNode], i: usize) -> bool {
    matches!(nodes[i].kernel, Kernel::Op(Op::Reshape) | Kernel::Prefix)
}

/// A node of a compiled graph, at the index of the user node it replaces.
#[derive(Clone, Debug)]
pub(crate) struct KernelNode {
    /// What it computes.
    pub kernel: Kernel,
    /// What it reads.
    pub inputs: Vec<NodeId>,
    /// The shape of its value (a fused kernel's own: partial sums have fewer entries).
    pub shape: Shape,
    /// The user node's name (inputs and parameters have one).
    pub name: Option<String>,
}

impl From<&Node> for KernelNode {
    fn from(node: &Node) -> KernelNode {
        KernelNode {
            kernel: Kernel::Op(node.op.clone()),
            inputs: node.inputs.clone(),
            shape: node.shape.clone(),
            name: node.name.clone(),
        }
    }
}
