//! Recurrent layers unrolled in time: an RNN (tanh or ReLU), LSTM or GRU layer over a
//! time-major sequence, built from products, slices and cell steps, so that backpropagation
//! through time is autodiff through the unrolled graph and the whole sequence (forward,
//! backward, update) is one plan.
//!
//! The input's product with W_ih is one matrix product for every step; each step then adds
//! its product with W_hh and applies the cell: an activation for an RNN, the fused steps of
//! [`CellStep`] for an LSTM (its cell state, then its output) and a GRU, whose gradients are
//! kernels of their own. Gates are in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n), and the
//! GRU's b_hn sits inside the reset product, as PyTorch's does.
//!
//! Sequences of several lengths run padded, with a mask: while m = (t < length) holds a step
//! updates the state; after it the state is frozen and the output is 0, as PyTorch's packed
//! sequences behave. The state is selected as m·new + (1 − m)·old, which is exact in floats
//! (one term is 0), so valid steps give the unmasked layer's values bit for bit.

use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use crate::ir::ops::elementwise::ElementwiseOp;
use crate::ir::ops::recurrent::CellStep;
use crate::ir::shape::Shape;

/// Which cell a recurrent layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// h′ = tanh(W_ih x + b_ih + W_hh h + b_hh).
    RnnTanh,
    /// h′ = relu(W_ih x + b_ih + W_hh h + b_hh).
    RnnRelu,
    /// Long short-term memory, with a cell state beside h.
    Lstm,
    /// Gated recurrent unit.
    Gru,
}

impl CellKind {
    /// Gate blocks in the weights' rows: 1, 4 (i, f, g, o) or 3 (r, z, n).
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Its name in errors and reports.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::RnnTanh => "rnn_tanh",
            CellKind::RnnRelu => "rnn_relu",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }
}

/// A layer's parameters, in PyTorch's layout: `weight_ih` `[G·H, F]`, `weight_hh` `[G·H, H]`,
/// and the two biases `[G·H]` where the layer has them.
#[derive(Clone, Copy, Debug)]
pub struct CellWeights {
    /// Input-to-hidden weights.
    pub w_ih: NodeId,
    /// Hidden-to-hidden weights.
    pub w_hh: NodeId,
    /// Input-to-hidden and hidden-to-hidden biases.
    pub biases: Option<(NodeId, NodeId)>,
}

/// What a layer gives: the output at every step and the final state.
#[derive(Clone, Copy, Debug)]
pub struct LayerOutput {
    /// h at every step, `[T, B, H]`.
    pub output: NodeId,
    /// h after the last step, `[B, H]`.
    pub h: NodeId,
    /// The LSTM's cell state after the last step, `[B, H]`.
    pub c: Option<NodeId>,
}

impl Graph {
    /// One recurrent layer over x `[T, B, F]` (time-major) from the state `h0` `[B, H]` (and,
    /// for an LSTM, `c0`), zeros where not given. With a `mask` `[T, B, 1]` of 1s (steps a
    /// sequence has) and 0s (padding), padded steps leave the state as it was and output 0, so
    /// the final state of each sequence is the one at its own length.
    pub fn recurrent_layer(
        &mut self,
        kind: CellKind,
        x: NodeId,
        weights: CellWeights,
        h0: Option<NodeId>,
        c0: Option<NodeId>,
        mask: Option<NodeId>,
    ) -> Result<LayerOutput> {
        let (t_len, batch, features, hidden) = self.recurrent_sizes(kind, x, &weights)?;
        if let Some(m) = mask
            && self.shape(m).dims() != [t_len, batch, 1]
        {
            return Err(Error::ShapeMismatch {
                op: kind.name(),
                lhs: self.shape(x).clone(),
                rhs: self.shape(m).clone(),
                reason: format!("the mask must be [steps {t_len}, batch {batch}, 1]"),
            });
        }
        let masks = match mask {
            Some(m) => {
                let flipped = self.scale(m, -1.0)?;
                Some((m, self.add_scalar(flipped, 1.0)?))
            }
            None => None,
        };
        for (what, state) in [("h0", h0), ("c0", c0)] {
            if let Some(s) = state
                && self.shape(s).dims() != [batch, hidden]
            {
                return Err(Error::ShapeMismatch {
                    op: kind.name(),
                    lhs: self.shape(x).clone(),
                    rhs: self.shape(s).clone(),
                    reason: format!("the starting state {what} must be [batch {batch}, hidden {hidden}]"),
                });
            }
        }
        let flat = self.reshape(x, &[t_len * batch, features])?;
        let mut xw = self.matmul_t(flat, weights.w_ih, false, true)?;
        // Where both biases only add to the gates (all but the GRU, whose b_hn is inside the
        // reset product), they join the input product once rather than each step's.
        let per_step_bias = match weights.biases {
            Some((b_ih, b_hh)) if kind != CellKind::Gru => {
                let both = self.add(b_ih, b_hh)?;
                xw = self.add(xw, both)?;
                None
            }
            Some((b_ih, b_hh)) => {
                xw = self.add(xw, b_ih)?;
                Some(b_hh)
            }
            None => None,
        };
        let mut h = match h0 {
            Some(h) => h,
            None => self.fill(&[batch, hidden], 0.0)?,
        };
        let mut c = match (kind, c0) {
            (CellKind::Lstm, Some(c)) => Some(c),
            (CellKind::Lstm, None) => Some(self.fill(&[batch, hidden], 0.0)?),
            _ => None,
        };
        let mut outputs = Vec::with_capacity(t_len);
        for t in 0..t_len {
            let xs = self.narrow(xw, 0, (t * batch) as isize, batch)?;
            let mut hs = self.matmul_t(h, weights.w_hh, false, true)?;
            if let Some(b_hh) = per_step_bias {
                hs = self.add(hs, b_hh)?;
            }
            let (h_new, c_new) = self.cell(kind, xs, hs, h, c)?;
            let Some((m, keep)) = masks else {
                (h, c) = (h_new, c_new);
                outputs.push(h);
                continue;
            };
            let step = |g: &mut Graph, all: NodeId| -> Result<NodeId> {
                let one = g.narrow(all, 0, t as isize, 1)?;
                g.reshape(one, &[batch, 1])
            };
            let (m, keep) = (step(self, m)?, step(self, keep)?);
            let out = self.mul(m, h_new)?;
            h = self.masked_state(out, keep, h)?;
            if let (Some(new), Some(old)) = (c_new, c) {
                let written = self.mul(m, new)?;
                c = Some(self.masked_state(written, keep, old)?);
            }
            outputs.push(out);
        }
        let output = self.stack(&outputs, 0)?;
        Ok(LayerOutput { output, h, c })
    }

    /// m·new (given as `written`) + (1 − m)·old.
    fn masked_state(&mut self, written: NodeId, keep: NodeId, old: NodeId) -> Result<NodeId> {
        let kept = self.mul(keep, old)?;
        self.add(written, kept)
    }

    /// One step: the new h (and c) from the two affine maps `xs` and `hs` `[B, G·H]`.
    fn cell(
        &mut self,
        kind: CellKind,
        xs: NodeId,
        hs: NodeId,
        h: NodeId,
        c: Option<NodeId>,
    ) -> Result<(NodeId, Option<NodeId>)> {
        match kind {
            CellKind::RnnTanh | CellKind::RnnRelu => {
                let s = self.add(xs, hs)?;
                let op = if kind == CellKind::RnnTanh { ElementwiseOp::Tanh } else { ElementwiseOp::Relu };
                Ok((self.unary(op, 0.0, s)?, None))
            }
            CellKind::Lstm => {
                let pre = self.add(xs, hs)?;
                let c_prev = c.ok_or_else(|| Error::Graph("lstm: a step without a cell state".into()))?;
                let c = self.cell_step(CellStep::LstmState, &[pre, c_prev])?;
                Ok((self.cell_step(CellStep::LstmOutput, &[pre, c])?, Some(c)))
            }
            CellKind::Gru => Ok((self.cell_step(CellStep::Gru, &[xs, hs, h])?, None)),
        }
    }

    /// One fused cell step on `inputs` (see [`CellStep`]), checking their shapes.
    pub fn cell_step(&mut self, step: CellStep, inputs: &[NodeId]) -> Result<NodeId> {
        let op = step.name();
        let gate_inputs = step.gate_inputs();
        if inputs.len() != gate_inputs + 1 {
            return Err(Error::InvalidArgument {
                op,
                message: format!("takes {} inputs, not {}", gate_inputs + 1, inputs.len()),
            });
        }
        for &x in inputs {
            self.check(op, x)?;
        }
        let state = self.shape(inputs[gate_inputs]).clone();
        let [batch, hidden] = state.dims()[..] else {
            return Err(Error::InvalidArgument { op, message: format!("the state must be [B, H], got {state}") });
        };
        for &x in &inputs[..gate_inputs] {
            let gates = self.shape(x).clone();
            if gates.dims() != [batch, step.gates() * hidden] {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: gates,
                    rhs: state,
                    reason: format!("the gates must be [B, {}·H] for a state [B, H]", step.gates()),
                });
            }
        }
        Ok(self.push(Op::CellStep(step), inputs.to_vec(), Shape::new(&[batch, hidden])?, None))
    }

    /// The gradient of a cell step with respect to its input `slot`, from the step's output
    /// gradient `grad` and its `inputs`.
    pub fn cell_step_backward(
        &mut self,
        step: CellStep,
        slot: usize,
        grad: NodeId,
        inputs: &[NodeId],
    ) -> Result<NodeId> {
        let shape = self.shape(inputs[slot]).clone();
        let mut all = vec![grad];
        all.extend_from_slice(inputs);
        Ok(self.push(Op::CellStepBackward { step, slot }, all, shape, None))
    }

    /// T, B, F and H, checking x and the weights against each other.
    fn recurrent_sizes(
        &self,
        kind: CellKind,
        x: NodeId,
        weights: &CellWeights,
    ) -> Result<(usize, usize, usize, usize)> {
        let op = kind.name();
        let sx = self.shape(x).clone();
        let [t_len, batch, features] = sx.dims()[..] else {
            return Err(Error::InvalidArgument {
                op,
                message: format!("expected a time-major input [T, B, F], got {sx}"),
            });
        };
        if t_len == 0 || batch == 0 {
            return Err(Error::InvalidArgument { op, message: format!("the sequence {sx} has no steps or no items") });
        }
        let hh = self.shape(weights.w_hh).clone();
        let g = kind.gates();
        let [rows, hidden] = hh.dims()[..] else {
            return Err(Error::InvalidArgument { op, message: format!("weight_hh must be [G·H, H], got {hh}") });
        };
        let mismatch = |lhs, rhs, reason: String| Error::ShapeMismatch { op, lhs, rhs, reason };
        if rows != g * hidden {
            return Err(mismatch(sx, hh, format!("weight_hh must have {g}·H rows for hidden size H = {hidden}")));
        }
        let ih = self.shape(weights.w_ih).clone();
        if ih.dims() != [g * hidden, features] {
            return Err(mismatch(
                sx,
                ih,
                format!("weight_ih must be [{}, {features}] (the input's features)", g * hidden),
            ));
        }
        if let Some((b_ih, b_hh)) = weights.biases {
            for b in [b_ih, b_hh] {
                if self.shape(b).dims() != [g * hidden] {
                    return Err(mismatch(hh, self.shape(b).clone(), format!("each bias must be [{}]", g * hidden)));
                }
            }
        }
        Ok((t_len, batch, features, hidden))
    }
}
