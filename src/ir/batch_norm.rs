//! Batch norm as its own ops: per-channel statistics from one reduction, the normalization in
//! one pass, and a gradient in closed form from two per-channel sums, in place of the dozen
//! broadcast elementwise passes its composition from primitive ops (and their autodiff) takes.
//!
//! The input is viewed as `[N, C, inner]` (`inner` = H·W, or L, or 1); statistics reduce over
//! N and inner.

use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use crate::ir::shape::Shape;

/// The running statistics of a batch norm.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormState {
    /// Running mean `[C]`, zeros at first.
    pub running_mean: NodeId,
    /// Running (unbiased) variance `[C]`, ones at first.
    pub running_var: NodeId,
}

/// The rows of [`Op::BatchNormStats`]' `[4, C]` output.
pub mod stats_row {
    /// The mean a channel is centred by.
    pub const MEAN: usize = 0;
    /// The variance it is scaled by (biased, for the batch's own).
    pub const VAR: usize = 1;
    /// γ / √(var + eps).
    pub const SCALE: usize = 2;
    /// β.
    pub const SHIFT: usize = 3;
    /// Rows in all.
    pub const ROWS: usize = 4;
}

/// The rows of [`Op::BatchNormGradSums`]' `[6, C]` output: the parameters' gradients and the
/// coefficients of x's gradient `k · g + b · (x − mean) + c`.
pub mod grad_row {
    /// γ's gradient, Σ g · x̂.
    pub const GAMMA: usize = 0;
    /// β's gradient, Σ g.
    pub const BETA: usize = 1;
    /// k = γ / √(var + eps).
    pub const K: usize = 2;
    /// b = −k · Σ g·x̂ / (√(var + eps) · count) with the batch's statistics; 0 with given ones.
    pub const B: usize = 3;
    /// c = −k · Σ g / count with the batch's statistics; 0 with given ones.
    pub const C: usize = 4;
    /// The mean x is centred by, copied from the statistics.
    pub const MEAN: usize = 5;
    /// Rows in all.
    pub const ROWS: usize = 6;
}

impl Graph {
    /// The running-statistics states of a batch norm over `channels`, named `NAME.running_mean`
    /// and `NAME.running_var` (PyTorch's starting values: zeros and ones).
    pub fn batch_norm_state(&mut self, name: &str, channels: usize) -> Result<BatchNormState> {
        Ok(BatchNormState {
            running_mean: self.state(&format!("{name}.running_mean"), &[channels], 0.0)?,
            running_var: self.state(&format!("{name}.running_var"), &[channels], 1.0)?,
        })
    }

    /// Batch norm in training mode over x `[N, C, …]` (rank 2 to 4): normalizes with the
    /// batch's mean and biased variance per channel, then scales by `gamma` `[C]` and shifts by
    /// `beta` `[C]`; updates the running statistics with `momentum` (PyTorch's, default 0.1) at
    /// the end of each run, the variance unbiased as PyTorch keeps it.
    pub fn batch_norm_train(
        &mut self,
        x: NodeId,
        gamma: NodeId,
        beta: NodeId,
        state: BatchNormState,
        momentum: f32,
        eps: f32,
    ) -> Result<NodeId> {
        let (channels, count) = self.batch_norm_layout(x, gamma, beta)?;
        let stats = Shape::new(&[stats_row::ROWS, channels])?;
        let stats = self.push(Op::BatchNormStats { batch: true, eps }, vec![x, gamma, beta], stats, None);
        let y = self.push_batch_norm(x, stats, gamma, beta, true, eps);
        let mean = self.stats_row(stats, stats_row::MEAN, channels)?;
        let var = self.stats_row(stats, stats_row::VAR, channels)?;
        let unbias = if count > 1 { count as f32 / (count - 1) as f32 } else { 1.0 };
        self.running_average(state.running_mean, mean, momentum, 1.0)?;
        self.running_average(state.running_var, var, momentum, unbias)?;
        Ok(y)
    }

    /// Batch norm in evaluation mode: normalizes with the running statistics.
    pub fn batch_norm_eval(
        &mut self,
        x: NodeId,
        gamma: NodeId,
        beta: NodeId,
        state: BatchNormState,
        eps: f32,
    ) -> Result<NodeId> {
        let (channels, _) = self.batch_norm_layout(x, gamma, beta)?;
        for (what, s) in [("running mean", state.running_mean), ("running variance", state.running_var)] {
            if self.shape(s).dims() != [channels] {
                return Err(Error::ShapeMismatch {
                    op: "batch_norm",
                    lhs: self.shape(x).clone(),
                    rhs: self.shape(s).clone(),
                    reason: format!("the {what} must have one value per channel (axis 1)"),
                });
            }
        }
        let mean = self.reshape(state.running_mean, &[1, channels])?;
        let var = self.reshape(state.running_var, &[1, channels])?;
        let given = self.cat(&[mean, var], 0)?;
        let stats = Shape::new(&[stats_row::ROWS, channels])?;
        let stats = self.push(Op::BatchNormStats { batch: false, eps }, vec![given, gamma, beta], stats, None);
        Ok(self.push_batch_norm(x, stats, gamma, beta, false, eps))
    }

    /// The gradient reaching input `slot` of batch norm `node` (inputs [x, statistics, gamma,
    /// beta]) from the output's gradient `g`; `None` for the statistics, whose part in x's
    /// gradient x's own rule already holds.
    pub(crate) fn batch_norm_gradient(&mut self, node: NodeId, slot: usize, g: NodeId) -> Result<Option<NodeId>> {
        let Op::BatchNorm { batch, eps } = self.node(node).op else {
            return Err(Error::Graph("batch_norm_gradient: the node is not a batch norm".into()));
        };
        let [x, stats, ..] = self.node(node).inputs[..] else {
            return Err(Error::Graph("batch_norm_gradient: a batch norm has four inputs".into()));
        };
        if slot == 1 {
            return Ok(None);
        }
        let channels = self.shape(stats).dims()[1];
        let sums = self.grad_sums(g, x, stats, batch, eps)?;
        let d = match slot {
            0 => {
                let shape = self.shape(x).clone();
                self.push(Op::BatchNormBackward, vec![g, x, sums], shape, None)
            }
            2 => self.stats_row(sums, grad_row::GAMMA, channels)?,
            _ => self.stats_row(sums, grad_row::BETA, channels)?,
        };
        Ok(Some(d))
    }

    fn push_batch_norm(
        &mut self,
        x: NodeId,
        stats: NodeId,
        gamma: NodeId,
        beta: NodeId,
        batch: bool,
        eps: f32,
    ) -> NodeId {
        let shape = self.shape(x).clone();
        self.push(Op::BatchNorm { batch, eps }, vec![x, stats, gamma, beta], shape, None)
    }

    /// The gradient's per-channel sums, made once for the three gradients that read them.
    fn grad_sums(&mut self, g: NodeId, x: NodeId, stats: NodeId, batch: bool, eps: f32) -> Result<NodeId> {
        let shape = Shape::new(&[grad_row::ROWS, self.shape(stats).dims()[1]])?;
        Ok(self.push_once(Op::BatchNormGradSums { batch, eps }, vec![g, x, stats], shape))
    }

    /// Row `row` of a `[rows, C]` per-channel table, as `[C]`.
    fn stats_row(&mut self, table: NodeId, row: usize, channels: usize) -> Result<NodeId> {
        let r = self.narrow(table, 0, row as isize, 1)?;
        self.reshape(r, &[channels])
    }

    /// The channel count and the elements per channel, checking x `[N, C, …]` and the
    /// per-channel scale and shift.
    fn batch_norm_layout(&self, x: NodeId, gamma: NodeId, beta: NodeId) -> Result<(usize, usize)> {
        for id in [x, gamma, beta] {
            self.check("batch_norm", id)?;
        }
        let sx = self.shape(x).clone();
        if !(2..=4).contains(&sx.rank()) || sx.numel() == 0 {
            return Err(Error::InvalidArgument {
                op: "batch_norm",
                message: format!("expected a non-empty input [N, C], [N, C, L] or [N, C, H, W], got {sx}"),
            });
        }
        let channels = sx.dims()[1];
        for p in [gamma, beta] {
            if self.shape(p).dims() != [channels] {
                return Err(Error::ShapeMismatch {
                    op: "batch_norm",
                    lhs: sx.clone(),
                    rhs: self.shape(p).clone(),
                    reason: "scale and shift must have one value per channel (axis 1)".into(),
                });
            }
        }
        Ok((channels, sx.numel() / channels))
    }
}
