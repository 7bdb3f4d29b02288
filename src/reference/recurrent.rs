//! One recurrent layer (RNN with tanh or ReLU, LSTM, GRU) over a time-major sequence, with
//! backpropagation through time written out step by step, in PyTorch's gate order (LSTM: i, f,
//! g, o; GRU: r, z, n) and its GRU rule (b_hn inside the reset product).

use super::Array;
use crate::ir::ops::recurrent::{CellKind, CellStep, Scan};

/// A layer's inputs: x `[T, B, F]`, the weights `[G·H, F]` and `[G·H, H]`, the biases `[G·H]`
/// (zeros for a layer without them), the starting state h₀ `[B, H]` and, for an LSTM, c₀; and
/// each sequence's length where they differ (its later steps are padding: they output 0 and
/// leave the state alone).
pub struct Layer<'a> {
    /// The cell.
    pub kind: CellKind,
    /// The inputs, time-major.
    pub x: &'a Array,
    /// Input-to-hidden weights.
    pub w_ih: &'a Array,
    /// Hidden-to-hidden weights.
    pub w_hh: &'a Array,
    /// Input-to-hidden bias.
    pub b_ih: &'a Array,
    /// Hidden-to-hidden bias.
    pub b_hh: &'a Array,
    /// The starting hidden state.
    pub h0: &'a Array,
    /// The starting cell state (LSTM; ignored otherwise).
    pub c0: &'a Array,
    /// Steps of each batch row (`None`: all T).
    pub lengths: Option<&'a [usize]>,
}

/// The gradients of every input of a [`Layer`], in its field order.
pub struct Gradients {
    /// Of x.
    pub x: Array,
    /// Of w_ih.
    pub w_ih: Array,
    /// Of w_hh.
    pub w_hh: Array,
    /// Of b_ih.
    pub b_ih: Array,
    /// Of b_hh.
    pub b_hh: Array,
    /// Of h₀.
    pub h0: Array,
    /// Of c₀ (zeros but for an LSTM).
    pub c0: Array,
}

/// What one step computed, kept for the backward pass.
struct Step {
    h_prev: Vec<f64>,
    c_prev: Vec<f64>,
    /// W_ih x + b_ih.
    xs: Vec<f64>,
    /// W_hh h + b_hh.
    hs: Vec<f64>,
    h: Vec<f64>,
    c: Vec<f64>,
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

impl Layer<'_> {
    fn sizes(&self) -> (usize, usize, usize, usize) {
        let [t, b, f] = self.x.dims[..] else { panic!("x must be [T, B, F], got {:?}", self.x.dims) };
        (t, b, f, self.w_hh.dims[1])
    }

    /// The steps row `b` has.
    fn length(&self, b: usize) -> usize {
        self.lengths.map_or(self.x.dims[0], |l| l[b])
    }

    /// Each row's steps up to its length.
    fn run(&self) -> Vec<Vec<Step>> {
        let (t_len, batch, f, h) = self.sizes();
        let mut per_row: Vec<Vec<Step>> = Vec::new();
        for b in 0..batch {
            let mut h_prev = self.h0.data[b * h..(b + 1) * h].to_vec();
            let mut c_prev =
                if self.kind == CellKind::Lstm { self.c0.data[b * h..(b + 1) * h].to_vec() } else { vec![0.0; h] };
            let mut steps = Vec::new();
            for t in 0..self.length(b).min(t_len) {
                let x = &self.x.data[(t * batch + b) * f..(t * batch + b + 1) * f];
                let xs = product(self.w_ih, x, Some(self.b_ih));
                let hs = product(self.w_hh, &h_prev, Some(self.b_hh));
                let (h_new, c_new) = cell(self.kind, &xs, &hs, &h_prev, &c_prev);
                steps.push(Step {
                    h_prev: h_prev.clone(),
                    c_prev: c_prev.clone(),
                    xs,
                    hs,
                    h: h_new.clone(),
                    c: c_new.clone(),
                });
                h_prev = h_new;
                c_prev = c_new;
            }
            per_row.push(steps);
        }
        per_row
    }

    /// The output at every step `[T, B, H]`.
    pub fn forward(&self) -> Array {
        let (t_len, batch, _, h) = self.sizes();
        let rows = self.run();
        let mut out = vec![0.0; t_len * batch * h];
        for (b, steps) in rows.iter().enumerate() {
            for (t, s) in steps.iter().enumerate() {
                out[(t * batch + b) * h..(t * batch + b + 1) * h].copy_from_slice(&s.h);
            }
        }
        Array::new(&[t_len, batch, h], out)
    }

    /// Every input's gradient, given the outputs' gradient `g` `[T, B, H]`.
    pub fn backward(&self, g: &Array) -> Gradients {
        let (_, batch, f, h) = self.sizes();
        let gates = self.w_hh.dims[0];
        let mut grads = Gradients {
            x: Array::zeros(&self.x.dims),
            w_ih: Array::zeros(&self.w_ih.dims),
            w_hh: Array::zeros(&self.w_hh.dims),
            b_ih: Array::zeros(&[gates]),
            b_hh: Array::zeros(&[gates]),
            h0: Array::zeros(&[batch, h]),
            c0: Array::zeros(&[batch, h]),
        };
        for (b, steps) in self.run().iter().enumerate() {
            let mut dh_next = vec![0.0; h];
            let mut dc_next = vec![0.0; h];
            for (t, s) in steps.iter().enumerate().rev() {
                let dh: Vec<f64> = (0..h).map(|j| g.data[(t * batch + b) * h + j] + dh_next[j]).collect();
                let (dxs, dhs, dh_direct) = cell_backward(self.kind, s, &dh, &mut dc_next);
                let x = &self.x.data[(t * batch + b) * f..(t * batch + b + 1) * f];
                for r in 0..gates {
                    grads.b_ih.data[r] += dxs[r];
                    grads.b_hh.data[r] += dhs[r];
                    for (k, &xk) in x.iter().enumerate() {
                        grads.w_ih.data[r * f + k] += dxs[r] * xk;
                        grads.x.data[(t * batch + b) * f + k] += self.w_ih.data[r * f + k] * dxs[r];
                    }
                    for (k, &hk) in s.h_prev.iter().enumerate() {
                        grads.w_hh.data[r * h + k] += dhs[r] * hk;
                    }
                }
                dh_next = (0..h)
                    .map(|k| dh_direct[k] + (0..gates).map(|r| self.w_hh.data[r * h + k] * dhs[r]).sum::<f64>())
                    .collect();
            }
            grads.h0.data[b * h..(b + 1) * h].copy_from_slice(&dh_next);
            if self.kind == CellKind::Lstm {
                grads.c0.data[b * h..(b + 1) * h].copy_from_slice(&dc_next);
            }
        }
        grads
    }
}

/// One step's new state (h, c) of one batch row, from the two affine maps.
fn cell(kind: CellKind, xs: &[f64], hs: &[f64], h_prev: &[f64], c_prev: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let h = h_prev.len();
    match kind {
        CellKind::RnnTanh => ((0..h).map(|j| (xs[j] + hs[j]).tanh()).collect(), vec![0.0; h]),
        CellKind::RnnRelu => ((0..h).map(|j| (xs[j] + hs[j]).max(0.0)).collect(), vec![0.0; h]),
        CellKind::Lstm => {
            let gate = |k: usize, j: usize| xs[k * h + j] + hs[k * h + j];
            let c: Vec<f64> =
                (0..h).map(|j| sigmoid(gate(1, j)) * c_prev[j] + sigmoid(gate(0, j)) * gate(2, j).tanh()).collect();
            ((0..h).map(|j| sigmoid(gate(3, j)) * c[j].tanh()).collect(), c)
        }
        CellKind::Gru => {
            let new: Vec<f64> = (0..h)
                .map(|j| {
                    let r = sigmoid(xs[j] + hs[j]);
                    let z = sigmoid(xs[h + j] + hs[h + j]);
                    let n = (xs[2 * h + j] + r * hs[2 * h + j]).tanh();
                    (1.0 - z) * n + z * h_prev[j]
                })
                .collect();
            (new, vec![0.0; h])
        }
    }
}

/// The gradients of one step's two affine maps (W_ih x + b_ih, W_hh h + b_hh) and what reaches
/// h before the step directly (a GRU's z·dh), from h's gradient `dh`; `dc` is c's on entry
/// (LSTM) and c-before-the-step's on return.
fn cell_backward(kind: CellKind, s: &Step, dh: &[f64], dc: &mut [f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (xs, hs, h) = (&s.xs, &s.hs, dh.len());
    let gates = xs.len();
    match kind {
        CellKind::RnnTanh => {
            let da: Vec<f64> = (0..h).map(|j| dh[j] * (1.0 - s.h[j] * s.h[j])).collect();
            (da.clone(), da, vec![0.0; h])
        }
        CellKind::RnnRelu => {
            let da: Vec<f64> = (0..h).map(|j| if xs[j] + hs[j] > 0.0 { dh[j] } else { 0.0 }).collect();
            (da.clone(), da, vec![0.0; h])
        }
        CellKind::Lstm => {
            let gate = |k: usize, j: usize| xs[k * h + j] + hs[k * h + j];
            let mut ds = vec![0.0; gates];
            for j in 0..h {
                let (i, fg, gg, o) = (sigmoid(gate(0, j)), sigmoid(gate(1, j)), gate(2, j).tanh(), sigmoid(gate(3, j)));
                let tc = s.c[j].tanh();
                let dc_all = dc[j] + dh[j] * o * (1.0 - tc * tc);
                ds[j] = dc_all * gg * i * (1.0 - i);
                ds[h + j] = dc_all * s.c_prev[j] * fg * (1.0 - fg);
                ds[2 * h + j] = dc_all * i * (1.0 - gg * gg);
                ds[3 * h + j] = dh[j] * tc * o * (1.0 - o);
                dc[j] = dc_all * fg;
            }
            (ds.clone(), ds, vec![0.0; h])
        }
        CellKind::Gru => {
            let mut dx_pre = vec![0.0; gates];
            let mut dh_pre = vec![0.0; gates];
            let mut direct = vec![0.0; h];
            for j in 0..h {
                let r = sigmoid(xs[j] + hs[j]);
                let z = sigmoid(xs[h + j] + hs[h + j]);
                let n = (xs[2 * h + j] + r * hs[2 * h + j]).tanh();
                let dn = dh[j] * (1.0 - z) * (1.0 - n * n);
                let dz = dh[j] * (s.h_prev[j] - n) * z * (1.0 - z);
                let dr = dn * hs[2 * h + j] * r * (1.0 - r);
                for (k, (dx, dhv)) in [(dr, dr), (dz, dz), (dn, dn * r)].into_iter().enumerate() {
                    dx_pre[k * h + j] = dx;
                    dh_pre[k * h + j] = dhv;
                }
                direct[j] = dh[j] * z;
            }
            (dx_pre, dh_pre, direct)
        }
    }
}

/// `w · v` for a `[rows, cols]` matrix, plus `bias` where given.
fn product(w: &Array, v: &[f64], bias: Option<&Array>) -> Vec<f64> {
    let cols = w.dims[1];
    (0..w.dims[0])
        .map(|r| bias.map_or(0.0, |b| b.data[r]) + (0..cols).map(|k| w.data[r * cols + k] * v[k]).sum::<f64>())
        .collect()
}

/// A scan's inputs [xw `[T, B, G·H]`, W_hh, the starting state `[B, S]`, b_hh (GRU), the mask
/// (masked)], by name.
struct ScanInputs<'a> {
    xw: &'a Array,
    w_hh: &'a Array,
    init: &'a Array,
    b_hh: Option<&'a Array>,
    mask: Option<&'a Array>,
    steps: usize,
    batch: usize,
    hidden: usize,
}

impl<'a> ScanInputs<'a> {
    fn new(scan: Scan, x: &'a [Array]) -> Self {
        let (b_hh, mask) = scan.optional_inputs(&x[3..]);
        let (steps, batch, hidden) = (x[0].dims[0], x[0].dims[1], x[1].dims[1]);
        ScanInputs { xw: &x[0], w_hh: &x[1], init: &x[2], b_hh, mask, steps, batch, hidden }
    }

    fn has_step(&self, t: usize, b: usize) -> bool {
        self.mask.is_none_or(|m| m.data[t * self.batch + b] > 0.5)
    }

    /// Row b's steps (`None` where the mask skips one), from its starting state.
    fn run(&self, kind: CellKind, b: usize) -> Vec<Option<Step>> {
        let (h, rows) = (self.hidden, self.w_hh.dims[0]);
        let width = kind.state_width(h);
        let init = &self.init.data[b * width..(b + 1) * width];
        let (mut h_prev, mut c_prev) =
            (init[..h].to_vec(), if kind == CellKind::Lstm { init[h..].to_vec() } else { vec![0.0; h] });
        (0..self.steps)
            .map(|t| {
                if !self.has_step(t, b) {
                    return None;
                }
                let at = (t * self.batch + b) * rows;
                let xs = self.xw.data[at..at + rows].to_vec();
                let hs = product(self.w_hh, &h_prev, self.b_hh);
                let (h_new, c_new) = cell(kind, &xs, &hs, &h_prev, &c_prev);
                let step = Step { h_prev: h_prev.clone(), c_prev: c_prev.clone(), xs, hs, h: h_new, c: c_new };
                (h_prev, c_prev) = (step.h.clone(), step.c.clone());
                Some(step)
            })
            .collect()
    }
}

/// A recurrent layer's scan (see [`crate::ir::ops::recurrent`]) on its inputs [xw, W_hh, the
/// starting state, b_hh (GRU), the mask (masked)]: the states `[T + 1, B, S]`.
pub fn scan(scan: Scan, x: &[Array]) -> Array {
    let inputs = ScanInputs::new(scan, x);
    let (steps, batch, h) = (inputs.steps, inputs.batch, inputs.hidden);
    let width = scan.cell.state_width(h);
    let mut out = Array::zeros(&[steps + 1, batch, width]);
    for b in 0..batch {
        let mut state = inputs.init.data[b * width..(b + 1) * width].to_vec();
        out.data[b * width..(b + 1) * width].copy_from_slice(&state);
        for (t, step) in inputs.run(scan.cell, b).iter().enumerate() {
            if let Some(s) = step {
                state[..h].copy_from_slice(&s.h);
                if scan.cell == CellKind::Lstm {
                    state[h..].copy_from_slice(&s.c);
                }
            }
            let at = ((t + 1) * batch + b) * width;
            out.data[at..at + width].copy_from_slice(&state);
        }
    }
    out
}

/// The gradients of a [`scan`]'s inputs xw, W_hh, the starting state and (GRU) b_hh, given
/// the states' gradient `g` `[T + 1, B, S]`.
pub fn scan_backward(scan: Scan, x: &[Array], g: &Array) -> Vec<Array> {
    let inputs = ScanInputs::new(scan, x);
    let (batch, h) = (inputs.batch, inputs.hidden);
    let (width, rows) = (scan.cell.state_width(h), inputs.w_hh.dims[0]);
    let mut d_xw = Array::zeros(&inputs.xw.dims);
    let mut d_w = Array::zeros(&inputs.w_hh.dims);
    let mut d_init = Array::zeros(&inputs.init.dims);
    let mut d_b = Array::zeros(&[rows]);
    for b in 0..batch {
        let (mut dh_next, mut dc_next) = (vec![0.0; h], vec![0.0; h]);
        for (t, step) in inputs.run(scan.cell, b).iter().enumerate().rev() {
            let at = ((t + 1) * batch + b) * width;
            let dh: Vec<f64> = (0..h).map(|j| g.data[at + j] + dh_next[j]).collect();
            if scan.cell == CellKind::Lstm {
                (0..h).for_each(|j| dc_next[j] += g.data[at + h + j]);
            }
            let Some(s) = step else {
                dh_next = dh;
                continue;
            };
            let (dxs, dhs, direct) = cell_backward(scan.cell, s, &dh, &mut dc_next);
            d_xw.data[(t * batch + b) * rows..(t * batch + b + 1) * rows].copy_from_slice(&dxs);
            for (r, &d) in dhs.iter().enumerate() {
                d_b.data[r] += d;
                for (k, &hk) in s.h_prev.iter().enumerate() {
                    d_w.data[r * h + k] += d * hk;
                }
            }
            dh_next = (0..h)
                .map(|k| direct[k] + (0..rows).map(|r| inputs.w_hh.data[r * h + k] * dhs[r]).sum::<f64>())
                .collect();
        }
        for j in 0..width {
            let carried = if j < h { dh_next[j] } else { dc_next[j - h] };
            d_init.data[b * width + j] = carried + g.data[b * width + j];
        }
    }
    let mut grads = vec![d_xw, d_w, d_init];
    if scan.cell.takes_hidden_bias() {
        grads.push(d_b);
    }
    grads
}

/// A fused cell step (see [`CellStep`]) on its inputs: the LSTM's pre-activations `[B, 4H]`
/// and c′ (or c), or the GRU's xs, hs `[B, 3H]` and h′; the new state `[B, H]`.
pub fn cell_step(step: CellStep, x: &[Array]) -> Array {
    let state = &x[step.gate_inputs()];
    let (batch, h) = (state.dims[0], state.dims[1]);
    let gates = step.gates();
    let at = |a: &Array, b: usize, k: usize, j: usize| a.data[b * gates * h + k * h + j];
    let mut out = Array::zeros(&[batch, h]);
    for b in 0..batch {
        for j in 0..h {
            let s = state.data[b * h + j];
            out.data[b * h + j] = match step {
                CellStep::LstmState => {
                    sigmoid(at(&x[0], b, 1, j)) * s + sigmoid(at(&x[0], b, 0, j)) * at(&x[0], b, 2, j).tanh()
                }
                CellStep::LstmOutput => sigmoid(at(&x[0], b, 3, j)) * s.tanh(),
                CellStep::Gru => {
                    let r = sigmoid(at(&x[0], b, 0, j) + at(&x[1], b, 0, j));
                    let z = sigmoid(at(&x[0], b, 1, j) + at(&x[1], b, 1, j));
                    let n = (at(&x[0], b, 2, j) + r * at(&x[1], b, 2, j)).tanh();
                    (1.0 - z) * n + z * s
                }
            };
        }
    }
    out
}

/// The gradient of every input of [`cell_step`] given its output's gradient `g`.
pub fn cell_step_backward(step: CellStep, x: &[Array], g: &Array) -> Vec<Array> {
    let state = &x[step.gate_inputs()];
    let (batch, h) = (state.dims[0], state.dims[1]);
    let gates = step.gates();
    let idx = |b: usize, k: usize, j: usize| b * gates * h + k * h + j;
    let mut grads: Vec<Array> = x.iter().map(|a| Array::zeros(&a.dims)).collect();
    for b in 0..batch {
        for j in 0..h {
            let (gv, s) = (g.data[b * h + j], state.data[b * h + j]);
            match step {
                CellStep::LstmState => {
                    let pre = &x[0].data;
                    let (i, f, gg) = (sigmoid(pre[idx(b, 0, j)]), sigmoid(pre[idx(b, 1, j)]), pre[idx(b, 2, j)].tanh());
                    grads[0].data[idx(b, 0, j)] = gv * gg * i * (1.0 - i);
                    grads[0].data[idx(b, 1, j)] = gv * s * f * (1.0 - f);
                    grads[0].data[idx(b, 2, j)] = gv * i * (1.0 - gg * gg);
                    grads[1].data[b * h + j] = gv * f;
                }
                CellStep::LstmOutput => {
                    let o = sigmoid(x[0].data[idx(b, 3, j)]);
                    let t = s.tanh();
                    grads[0].data[idx(b, 3, j)] = gv * t * o * (1.0 - o);
                    grads[1].data[b * h + j] = gv * o * (1.0 - t * t);
                }
                CellStep::Gru => {
                    let (xs, hs) = (&x[0].data, &x[1].data);
                    let r = sigmoid(xs[idx(b, 0, j)] + hs[idx(b, 0, j)]);
                    let z = sigmoid(xs[idx(b, 1, j)] + hs[idx(b, 1, j)]);
                    let hn = hs[idx(b, 2, j)];
                    let n = (xs[idx(b, 2, j)] + r * hn).tanh();
                    let dn = gv * (1.0 - z) * (1.0 - n * n);
                    let dz = gv * (s - n) * z * (1.0 - z);
                    let dr = dn * hn * r * (1.0 - r);
                    for (k, v) in [dr, dz, dn].into_iter().enumerate() {
                        grads[0].data[idx(b, k, j)] = v;
                        grads[1].data[idx(b, k, j)] = if k == 2 { v * r } else { v };
                    }
                    grads[2].data[b * h + j] = gv * z;
                }
            }
        }
    }
    grads
}
