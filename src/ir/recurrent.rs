//! Recurrent layers: an RNN (tanh or ReLU), LSTM or GRU layer over a time-major sequence.
//!
//! The input's product with W_ih is one matrix product for every step (with both biases, but
//! for the GRU's b_hh, whose b_hn sits inside the reset product). The steps then run one of
//! two ways, by the work a step takes ([`SCAN_MAX_ITERATIONS`]):
//! - small layers (every layer of the course's labs): one scan op
//!   ([`crate::ir::ops::recurrent`]) runs every step, its product with W_hh and its cell, and
//!   one backward op its gradient through time; W_hh's gradient is one product of every step's
//!   gate gradients with the states before them. A layer is a handful of launches however long
//!   its sequence.
//! - larger ones: the layer is unrolled, each step its slice of the input product, its product
//!   with W_hh and its fused [`CellStep`]s (an LSTM's cell state, then its output; a GRU's new
//!   state), so backpropagation through time is autodiff through the unrolled graph.
//!
//! Gates are in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n). Sequences of several lengths
//! run padded, with a mask: while m = (t < length) holds a step updates the state; after it
//! the state is held and the output is 0, as PyTorch's packed sequences behave, so the last
//! state is each sequence's own final one. Where unrolled, the state is selected as
//! m·new + (1 − m)·old, which is exact in floats (one term is 0), so valid steps give the
//! unmasked layer's values bit for bit.

use crate::error::{Error, Result};
use crate::ir::graph::{Graph, NodeId, Op};
use crate::ir::ops::elementwise::ElementwiseOp;
pub use crate::ir::ops::recurrent::CellKind;
use crate::ir::ops::recurrent::{CellStep, Scan};
use crate::ir::shape::Shape;

/// The most loop iterations one invocation of a scan may run ([`scan_iterations`]). A scan's
/// invocation runs its batch row's whole sequence, so its work grows with T·G·H², one
/// multiply-add after another; past this a layer runs step by step, each step's product spread
/// over the whole adapter (the language model's LSTM of 256 over 35 steps: 18 million a row).
/// It is also half of what llvmpipe allows: it ends an invocation's loops after 65,535
/// iterations in all, silently.
pub const SCAN_MAX_ITERATIONS: usize = 1 << 15;

/// An upper bound on the loop iterations of one invocation of a scan of `steps` steps over
/// states of `hidden` features (its backward's, the larger: each step recomputes the G·H
/// gates from h, G·H² multiply-adds, and carries the gradient through W_hh, as many more).
pub fn scan_iterations(kind: CellKind, steps: usize, hidden: usize) -> usize {
    let gates = kind.gates() * hidden;
    steps * (2 * gates * (hidden + 2)) + 4 * gates
}

/// A layer after its input product: what both ways of running its steps start from.
struct Prepared {
    kind: CellKind,
    /// W_ih x (+ biases) `[T·B, G·H]`.
    xw: NodeId,
    w_hh: NodeId,
    /// b_hh where it is not in `xw` (a GRU's).
    hidden_bias: Option<NodeId>,
    t_len: usize,
    batch: usize,
    hidden: usize,
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
        let hidden_bias = match weights.biases {
            Some((b_ih, b_hh)) if kind.takes_hidden_bias() => {
                xw = self.add(xw, b_ih)?;
                Some(b_hh)
            }
            Some((b_ih, b_hh)) => {
                let both = self.add(b_ih, b_hh)?;
                xw = self.add(xw, both)?;
                None
            }
            None => None,
        };
        let layer = Prepared { kind, xw, w_hh: weights.w_hh, hidden_bias, t_len, batch, hidden };
        if scan_iterations(kind, t_len, hidden) <= SCAN_MAX_ITERATIONS {
            self.scanned_layer(&layer, h0, c0, mask)
        } else {
            self.stepped_layer(&layer, h0, c0, mask)
        }
    }

    /// A layer as one scan over its steps.
    fn scanned_layer(
        &mut self,
        layer: &Prepared,
        h0: Option<NodeId>,
        c0: Option<NodeId>,
        mask: Option<NodeId>,
    ) -> Result<LayerOutput> {
        let &Prepared { kind, t_len, batch, hidden, .. } = layer;
        let rows = kind.gates() * hidden;
        let xw = self.reshape(layer.xw, &[t_len, batch, rows])?;
        let hidden_bias = match layer.hidden_bias {
            None if kind.takes_hidden_bias() => Some(self.fill(&[rows], 0.0)?),
            b => b,
        };
        let init = match (kind, h0, c0) {
            (CellKind::Lstm, Some(_), _) | (CellKind::Lstm, _, Some(_)) => {
                let mut parts = Vec::new();
                for state in [h0, c0] {
                    parts.push(match state {
                        Some(s) => s,
                        None => self.fill(&[batch, hidden], 0.0)?,
                    });
                }
                self.cat(&parts, 1)?
            }
            (_, Some(h0), _) => h0,
            _ => self.fill(&[batch, kind.state_width(hidden)], 0.0)?,
        };
        let scan = Scan { cell: kind, masked: mask.is_some() };
        let states = self.recurrent_scan(scan, xw, layer.w_hh, init, hidden_bias, mask)?;
        let steps = self.narrow(states, 0, 1, t_len)?;
        let last = self.narrow(states, 0, t_len as isize, 1)?;
        let last = self.reshape(last, &[batch, kind.state_width(hidden)])?;
        let (mut output, h, c) = if kind == CellKind::Lstm {
            let h = self.narrow(last, 1, 0, hidden)?;
            let c = self.narrow(last, 1, hidden as isize, hidden)?;
            (self.narrow(steps, 2, 0, hidden)?, h, Some(c))
        } else {
            (steps, last, None)
        };
        if let Some(m) = mask {
            output = self.mul(output, m)?;
        }
        Ok(LayerOutput { output, h, c })
    }

    /// A layer step by step: each step's slice of the input product, its product with W_hh and
    /// its cell.
    fn stepped_layer(
        &mut self,
        layer: &Prepared,
        h0: Option<NodeId>,
        c0: Option<NodeId>,
        mask: Option<NodeId>,
    ) -> Result<LayerOutput> {
        let &Prepared { kind, xw, w_hh, hidden_bias, t_len, batch, hidden } = layer;
        let masks = match mask {
            Some(m) => {
                let flipped = self.scale(m, -1.0)?;
                Some((m, self.add_scalar(flipped, 1.0)?))
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
            let mut hs = self.matmul_t(h, w_hh, false, true)?;
            if let Some(b_hh) = hidden_bias {
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

    /// The recurrence of a layer (see [`crate::ir::ops::recurrent`]): the states `[T + 1, B,
    /// S]` from the input product `xw` `[T, B, G·H]`, `w_hh` `[G·H, H]`, the starting state
    /// `init` `[B, S]`, b_hh `[G·H]` for a GRU and, where `scan.masked`, the `mask` `[T, B, 1]`.
    pub fn recurrent_scan(
        &mut self,
        scan: Scan,
        xw: NodeId,
        w_hh: NodeId,
        init: NodeId,
        hidden_bias: Option<NodeId>,
        mask: Option<NodeId>,
    ) -> Result<NodeId> {
        let op = scan.cell.name();
        for x in [xw, w_hh, init].into_iter().chain(hidden_bias).chain(mask) {
            self.check(op, x)?;
        }
        let (sx, sw) = (self.shape(xw).clone(), self.shape(w_hh).clone());
        let mismatch = |lhs: &Shape, rhs: &Shape, reason: String| Error::ShapeMismatch {
            op,
            lhs: lhs.clone(),
            rhs: rhs.clone(),
            reason,
        };
        let gates = scan.cell.gates();
        let (&[t_len, batch, rows], &[w_rows, hidden]) = (sx.dims(), sw.dims()) else {
            return Err(mismatch(&sx, &sw, "the input product must be [T, B, G·H] and W_hh [G·H, H]".into()));
        };
        if rows != gates * hidden || w_rows != rows || t_len == 0 || batch == 0 {
            let reason = format!("the input product must be [T, B, {gates}·H] for W_hh [{gates}·H, H]");
            return Err(mismatch(&sx, &sw, reason));
        }
        let iterations = scan_iterations(scan.cell, t_len, hidden);
        if iterations > SCAN_MAX_ITERATIONS {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "a scan of {t_len} steps over states of {hidden} runs {iterations} loop iterations an invocation, \
                     past the {SCAN_MAX_ITERATIONS} it may (run the layer step by step: Graph::recurrent_layer does)"
                ),
            });
        }
        let width = scan.cell.state_width(hidden);
        let si = self.shape(init).clone();
        if si.dims() != [batch, width] {
            return Err(mismatch(&sx, &si, format!("the starting state must be [batch {batch}, {width}]")));
        }
        let mut inputs = vec![xw, w_hh, init];
        match (scan.cell.takes_hidden_bias(), hidden_bias) {
            (true, Some(b)) if self.shape(b).dims() == [rows] => inputs.push(b),
            (true, Some(b)) => return Err(mismatch(&sw, self.shape(b), format!("b_hh must be [{rows}]"))),
            (false, None) => {}
            _ => {
                let message = "a GRU's scan takes b_hh, and only a GRU's (the others add it to the input product)";
                return Err(Error::InvalidArgument { op, message: message.into() });
            }
        }
        match (scan.masked, mask) {
            (true, Some(m)) if self.shape(m).dims() == [t_len, batch, 1] => inputs.push(m),
            (true, Some(m)) => {
                let reason = format!("the mask must be [steps {t_len}, batch {batch}, 1]");
                return Err(mismatch(&sx, self.shape(m), reason));
            }
            (false, None) => {}
            _ => {
                let message = "a mask is given exactly when the scan is masked";
                return Err(Error::InvalidArgument { op, message: message.into() });
            }
        }
        let shape = Shape::new(&[t_len + 1, batch, width])?;
        Ok(self.push(Op::RecurrentScan(scan), inputs, shape, None))
    }

    /// The gradient reaching input `slot` of the scan `node`, given the states' gradient `g`:
    /// from one backward op that every slot shares (made by the first that asks).
    pub(crate) fn scan_gradient(&mut self, scan: Scan, node: NodeId, slot: usize, g: NodeId) -> Result<Option<NodeId>> {
        let inputs = self.node(node).inputs.clone();
        let (xw, w_hh) = (inputs[0], inputs[1]);
        let [t_len, batch, rows] = self.shape(xw).dims()[..] else {
            return Err(Error::Graph("scan_gradient: the input product must be [T, B, G·H]".into()));
        };
        let hidden = self.shape(w_hh).dims()[1];
        let mut backward_inputs = vec![g, node];
        backward_inputs.extend(inputs.iter().enumerate().filter(|&(i, _)| i != 2).map(|(_, &x)| x));
        let shape = Shape::new(&[t_len + 1, batch, scan.cell.gradient_width(hidden)])?;
        let grads = self.push_once(Op::RecurrentScanBackward(scan), backward_inputs, shape);
        // The state products' gradients (a GRU's after its input product's).
        let of_states = if scan.cell == CellKind::Gru { rows } else { 0 };
        let d = match slot {
            0 => {
                let steps = self.narrow(grads, 0, 0, t_len)?;
                self.narrow(steps, 2, 0, rows)?
            }
            1 => {
                // dW_hh: the sum over steps and rows of (state product's gradient)ᵀ · h before it.
                let steps = self.narrow(grads, 0, 0, t_len)?;
                let d_hs = self.narrow(steps, 2, of_states as isize, rows)?;
                let d_hs = self.reshape(d_hs, &[t_len * batch, rows])?;
                let before = self.narrow(node, 0, 0, t_len)?;
                let h_before = self.narrow(before, 2, 0, hidden)?;
                let h_before = self.reshape(h_before, &[t_len * batch, hidden])?;
                self.matmul_t(d_hs, h_before, true, false)?
            }
            2 => {
                let init = self.narrow(grads, 0, t_len as isize, 1)?;
                let init = self.narrow(init, 2, 0, scan.cell.state_width(hidden))?;
                let dims = self.shape(inputs[2]).dims().to_vec();
                self.reshape(init, &dims)?
            }
            3 if scan.cell.takes_hidden_bias() => {
                let steps = self.narrow(grads, 0, 0, t_len)?;
                let d_hs = self.narrow(steps, 2, of_states as isize, rows)?;
                self.sum_to(d_hs, &[rows], 1.0)?
            }
            _ => return Ok(None),
        };
        Ok(Some(d))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an LSTM layer of `hidden` over `steps` steps and says which ops it used.
    fn lstm_ops(steps: usize, hidden: usize) -> Vec<String> {
        let mut g = Graph::new();
        let x = g.input("x", &[steps, 2, 3]).unwrap();
        let w_ih = g.param("w_ih", &[4 * hidden, 3]).unwrap();
        let w_hh = g.param("w_hh", &[4 * hidden, hidden]).unwrap();
        let weights = CellWeights { w_ih, w_hh, biases: None };
        g.recurrent_layer(CellKind::Lstm, x, weights, None, None, None).unwrap();
        g.nodes().iter().map(|n| n.op.name()).collect()
    }

    #[test]
    fn small_layers_scan_and_large_ones_step() {
        assert!(scan_iterations(CellKind::Lstm, 7, 10) <= SCAN_MAX_ITERATIONS);
        let small = lstm_ops(7, 10);
        assert!(small.iter().any(|op| op == "lstm_scan") && !small.iter().any(|op| op == "lstm_state"));
        assert!(scan_iterations(CellKind::Lstm, 35, 256) > SCAN_MAX_ITERATIONS);
        let large = lstm_ops(35, 256);
        assert!(!large.iter().any(|op| op == "lstm_scan"));
        assert_eq!(large.iter().filter(|op| *op == "lstm_state").count(), 35);
    }

    #[test]
    fn a_scan_past_its_iterations_is_a_named_error() {
        let mut g = Graph::new();
        let (steps, batch, hidden) = (35, 2, 256);
        let xw = g.input("xw", &[steps, batch, 4 * hidden]).unwrap();
        let w_hh = g.param("w_hh", &[4 * hidden, hidden]).unwrap();
        let init = g.fill(&[batch, 2 * hidden], 0.0).unwrap();
        let scan = Scan { cell: CellKind::Lstm, masked: false };
        let err = g.recurrent_scan(scan, xw, w_hh, init, None, None).unwrap_err().to_string();
        assert!(err.contains("lstm") && err.contains("35 steps over states of 256") && err.contains("32768"), "{err}");
    }
}
