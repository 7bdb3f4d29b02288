//! Ops composed from other graph ops: their backward passes come from autodiff through
//! kernels that are each checked, and the composition itself is checked against a reference.

use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId};
use crate::ir::ops::elementwise::ElementwiseOp;

impl Graph {
    /// The gradients scaled together so that their global L2 norm is at most `max_norm`:
    /// each times min(1, max_norm / (‖g‖ + 1e-6)), PyTorch's `clip_grad_norm_` (the norm over
    /// every element of every gradient, in the step's own submit: nothing is read back).
    pub fn clip_grad_norm(&mut self, grads: &[NodeId], max_norm: f32) -> Result<Vec<NodeId>> {
        if !(max_norm.is_finite() && max_norm > 0.0) {
            return Err(Error::InvalidArgument {
                op: "clip_grad_norm",
                message: format!("the largest norm must be a positive number, got {max_norm}"),
            });
        }
        let Some((&first, rest)) = grads.split_first() else { return Ok(Vec::new()) };
        let mut squares = self.sum_of_squares(first)?;
        for &d in rest {
            let s = self.sum_of_squares(d)?;
            squares = self.add(squares, s)?;
        }
        let norm = self.unary(ElementwiseOp::Sqrt, 0.0, squares)?;
        let shifted = self.add_scalar(norm, 1e-6)?;
        let dims = self.shape(shifted).dims().to_vec();
        let limit = self.fill(&dims, max_norm)?;
        let ratio = self.div(limit, shifted)?;
        // The ratio is positive, so clamping it to [−1, 1] is min(ratio, 1).
        let coefficient = self.unary(ElementwiseOp::Clip, 1.0, ratio)?;
        grads.iter().map(|&d| self.mul(d, coefficient)).collect()
    }

    /// Each gradient element clamped to [−limit, limit], PyTorch's `clip_grad_value_`.
    pub fn clip_grad_value(&mut self, grads: &[NodeId], limit: f32) -> Result<Vec<NodeId>> {
        if !(limit.is_finite() && limit > 0.0) {
            return Err(Error::InvalidArgument {
                op: "clip_grad_value",
                message: format!("the clamp must be a positive number, got {limit}"),
            });
        }
        grads.iter().map(|&d| self.unary(ElementwiseOp::Clip, limit, d)).collect()
    }

    /// Average pooling of x `[N, C, H, W]` to `output` `[oh, ow]` over PyTorch's bins: output
    /// row i averages input rows ⌊i·H/oh⌋ to ⌈(i+1)·H/oh⌉ (exclusive), columns alike, so bins
    /// may differ in size and overlap, and the output may be larger than the input. Bins of
    /// one size run as one average pool; others pool rows, then columns, bin by bin.
    pub fn adaptive_avg_pool2d(&mut self, x: NodeId, output: [usize; 2]) -> Result<NodeId> {
        let dims = self.shape(x).dims().to_vec();
        if dims.len() != 4 || output.contains(&0) || dims[2] == 0 || dims[3] == 0 {
            return Err(Error::InvalidArgument {
                op: "adaptive_avg_pool2d",
                message: format!(
                    "pooling {} to {output:?} needs an input [N, C, H, W] and an output of at least 1×1",
                    self.shape(x)
                ),
            });
        }
        let input = [dims[2], dims[3]];
        if input[0].is_multiple_of(output[0]) && input[1].is_multiple_of(output[1]) {
            let bin = [input[0] / output[0], input[1] / output[1]];
            return self.avg_pool2d(x, bin, bin, [0, 0]);
        }
        let rows = self.adaptive_mean_along(x, 2, output[0])?;
        self.adaptive_mean_along(rows, 3, output[1])
    }

    /// x averaged along `axis` over the `out` bins of PyTorch's rule.
    fn adaptive_mean_along(&mut self, x: NodeId, axis: usize, out: usize) -> Result<NodeId> {
        let extent = self.shape(x).dims()[axis];
        if extent == out {
            return Ok(x);
        }
        let bins: Vec<NodeId> = (0..out)
            .map(|i| {
                let (start, end) = adaptive_bin(i, extent, out);
                let part = self.narrow(x, axis as isize, start as isize, end - start)?;
                self.mean_axes(part, &[axis as isize], true)
            })
            .collect::<Result<_>>()?;
        self.cat(&bins, axis as isize)
    }

    fn sum_of_squares(&mut self, x: NodeId) -> Result<NodeId> {
        let squares = self.mul(x, x)?;
        self.sum(squares)
    }
}

/// The input range `[start, end)` of output `i` of `out` over `extent` inputs, PyTorch's
/// adaptive pooling rule.
pub fn adaptive_bin(i: usize, extent: usize, out: usize) -> (usize, usize) {
    (i * extent / out, ((i + 1) * extent).div_ceil(out))
}
