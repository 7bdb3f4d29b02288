//! The sizes of one (batched) product, where its fused bias goes and the activation after it.

use crate::ir::ops::elementwise::ElementwiseOp;

/// Sizes of one (batched) product C[m, n] = op(A)[m, k] · op(B)[k, n].
#[derive(Clone, Copy, Debug)]
pub struct MatmulDims {
    /// Matrices in the batch.
    pub batch: usize,
    /// Rows of C.
    pub m: usize,
    /// Columns of C.
    pub n: usize,
    /// The contracted extent.
    pub k: usize,
    /// Elements between batch entries of A (0: one A for all).
    pub stride_a: usize,
    /// Elements between batch entries of B (0: one B for all).
    pub stride_b: usize,
    /// A is stored [k, m].
    pub trans_a: bool,
    /// B is stored [n, k].
    pub trans_b: bool,
    /// Add the product to C's current values (a product split along k, after its first chunk).
    pub accumulate: bool,
    /// A bias added to every row or every column of C.
    pub bias: Bias,
    /// Each matrix of C sums the products of this many consecutive batch entries (1: one
    /// each); `batch` then counts the matrices of C, `entries` the products.
    pub sum_over: usize,
    /// Batch entries of A and B.
    pub entries: usize,
    /// The activation stored of each (biased) element (an op of
    /// [`ElementwiseOp::is_activation`]).
    pub activation: Option<ElementwiseOp>,
}

/// Where a matrix product's fused bias goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bias {
    /// No bias.
    None,
    /// `bias[i]` is added to row i of C (a convolution's output channels).
    PerRow,
    /// `bias[j]` is added to column j of C (a linear layer's outputs).
    PerColumn,
}
