//! PyTorch's `nn.RNN`, `nn.LSTM` and `nn.GRU`: stacked recurrent layers with PyTorch's
//! parameter names and layouts (`weight_ih_l0` `[G·H, input]`, `weight_hh_l0`, `bias_ih_l0`,
//! `bias_hh_l0`, …), so its state dicts load by name, and its construction draws.

use super::module::{Draw, Forward, InitPlan, Module};
use crate::error::{Error, Result};
use crate::init::Mt19937;
use crate::ir::graph::NodeId;
use crate::ir::recurrent::{CellKind, CellWeights};
use crate::state_dict::{StateEntry, StateKind};

/// A stack of recurrent layers, each layer's outputs the next one's inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Recurrent {
    /// The cell of every layer.
    pub kind: CellKind,
    /// Features of each input step.
    pub input_size: usize,
    /// Features of the state.
    pub hidden_size: usize,
    /// Layers.
    pub num_layers: usize,
    /// Whether each layer has its two biases.
    pub bias: bool,
    /// Inputs and outputs are `[B, T, F]`; else time-major `[T, B, F]`.
    pub batch_first: bool,
}

/// What the layers give: the last layer's output at every step and each layer's final state.
#[derive(Clone, Copy, Debug)]
pub struct RecurrentOutput {
    /// The last layer's h at every step: `[T, B, H]`, or `[B, T, H]` batch first.
    pub output: NodeId,
    /// Every layer's h after the last step, `[layers, B, H]`.
    pub h_n: NodeId,
    /// Every layer's cell state after the last step (LSTM), `[layers, B, H]`.
    pub c_n: Option<NodeId>,
}

impl Recurrent {
    /// `nn.RNN(input, hidden)`: one tanh layer, with biases, time-major.
    pub fn rnn(input: usize, hidden: usize) -> Recurrent {
        Recurrent::new(CellKind::RnnTanh, input, hidden)
    }

    /// `nn.LSTM(input, hidden)`.
    pub fn lstm(input: usize, hidden: usize) -> Recurrent {
        Recurrent::new(CellKind::Lstm, input, hidden)
    }

    /// `nn.GRU(input, hidden)`.
    pub fn gru(input: usize, hidden: usize) -> Recurrent {
        Recurrent::new(CellKind::Gru, input, hidden)
    }

    fn new(kind: CellKind, input_size: usize, hidden_size: usize) -> Recurrent {
        Recurrent { kind, input_size, hidden_size, num_layers: 1, bias: true, batch_first: false }
    }

    /// With `layers` layers (`num_layers`).
    pub fn layers(self, layers: usize) -> Recurrent {
        Recurrent { num_layers: layers, ..self }
    }

    /// Batch-first inputs and outputs (`batch_first=True`).
    pub fn batch_first(self) -> Recurrent {
        Recurrent { batch_first: true, ..self }
    }

    /// Without biases (`bias=False`).
    pub fn without_bias(self) -> Recurrent {
        Recurrent { bias: false, ..self }
    }

    /// An RNN with ReLU in place of tanh (`nonlinearity='relu'`).
    pub fn relu(self) -> Recurrent {
        let kind = if self.kind == CellKind::RnnTanh { CellKind::RnnRelu } else { self.kind };
        Recurrent { kind, ..self }
    }

    /// The layers' forward pass on x from the starting states `h0` (and `c0` for an LSTM),
    /// each `[layers, B, H]`, zeros where not given.
    ///
    /// Sequences of several lengths run padded with a `mask` (`[B, T, 1]` batch first, else
    /// `[T, B, 1]`; [`crate::data::packed::Lengths::mask`] makes it): 1 at the steps a sequence
    /// has, 0 at its padding. That is PyTorch's `pack_padded_sequence`: padded steps output 0
    /// and change no state or gradient, and `h_n` is each sequence's state at its own length.
    pub fn forward_with_state(
        &self,
        f: &mut Forward<'_>,
        x: NodeId,
        h0: Option<NodeId>,
        c0: Option<NodeId>,
        mask: Option<NodeId>,
    ) -> Result<RecurrentOutput> {
        let dims = f.graph().shape(x).dims().to_vec();
        let [_, _, features] = dims[..] else {
            return Err(self.error(format!("expected an input of rank 3, got {dims:?}")));
        };
        if features != self.input_size {
            return Err(self.error(format!("expected {} input features, got an input {dims:?}", self.input_size)));
        }
        if self.kind != CellKind::Lstm && c0.is_some() {
            return Err(self.error("only an LSTM has a cell state c0".into()));
        }
        let batch = if self.batch_first { dims[0] } else { dims[1] };
        let mask = match mask {
            Some(m) => {
                let want = [dims[0], dims[1], 1];
                if f.graph().shape(m).dims() != want {
                    let got = f.graph().shape(m).clone();
                    let layout = if self.batch_first { "[B, T, 1]" } else { "[T, B, 1]" };
                    return Err(
                        self.error(format!("the mask must be {layout} = {want:?} for an input {dims:?}, got {got}"))
                    );
                }
                Some(if self.batch_first { f.graph().transpose(m, 0, 1)? } else { m })
            }
            None => None,
        };
        let mut h = if self.batch_first { f.graph().transpose(x, 0, 1)? } else { x };
        let (mut finals, mut cells) = (Vec::new(), Vec::new());
        for l in 0..self.num_layers {
            let [w_ih, w_hh, b_ih, b_hh] = self.names(l);
            let rows = self.kind.gates() * self.hidden_size;
            let input = if l == 0 { self.input_size } else { self.hidden_size };
            let weights = CellWeights {
                w_ih: f.param(&w_ih, &[rows, input])?,
                w_hh: f.param(&w_hh, &[rows, self.hidden_size])?,
                biases: if self.bias { Some((f.param(&b_ih, &[rows])?, f.param(&b_hh, &[rows])?)) } else { None },
            };
            let start = |f: &mut Forward<'_>, s: Option<NodeId>, what: &str| -> Result<Option<NodeId>> {
                let Some(s) = s else { return Ok(None) };
                let want = [self.num_layers, batch, self.hidden_size];
                if f.graph().shape(s).dims() != want {
                    let got = f.graph().shape(s).clone();
                    return Err(self.error(format!("the starting state {what} must be {want:?}, got {got}")));
                }
                let layer = f.graph().narrow(s, 0, l as isize, 1)?;
                Ok(Some(f.graph().reshape(layer, &[batch, self.hidden_size])?))
            };
            let (h0_l, c0_l) = (start(f, h0, "h0")?, start(f, c0, "c0")?);
            let out = f.graph().recurrent_layer(self.kind, h, weights, h0_l, c0_l, mask)?;
            h = out.output;
            finals.push(out.h);
            cells.extend(out.c);
        }
        let output = if self.batch_first { f.graph().transpose(h, 0, 1)? } else { h };
        let h_n = f.graph().stack(&finals, 0)?;
        let c_n = if cells.is_empty() { None } else { Some(f.graph().stack(&cells, 0)?) };
        Ok(RecurrentOutput { output, h_n, c_n })
    }

    /// Layer `l`'s parameter names.
    fn names(&self, l: usize) -> [String; 4] {
        ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map(|n| format!("{n}_l{l}"))
    }

    fn error(&self, message: String) -> Error {
        Error::InvalidArgument { op: self.kind.name(), message }
    }
}

impl Module for Recurrent {
    /// The last layer's output at every step.
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        Ok(self.forward_with_state(f, x, None, None, None)?.output)
    }

    fn own_state(&self) -> Vec<StateEntry> {
        let rows = self.kind.gates() * self.hidden_size;
        let mut entries = Vec::new();
        for l in 0..self.num_layers {
            let input = if l == 0 { self.input_size } else { self.hidden_size };
            let [w_ih, w_hh, b_ih, b_hh] = self.names(l);
            entries.push(StateEntry::new(w_ih, vec![rows, input], StateKind::Parameter));
            entries.push(StateEntry::new(w_hh, vec![rows, self.hidden_size], StateKind::Parameter));
            if self.bias {
                entries.push(StateEntry::new(b_ih, vec![rows], StateKind::Parameter));
                entries.push(StateEntry::new(b_hh, vec![rows], StateKind::Parameter));
            }
        }
        entries
    }

    /// Every parameter U(±1/√hidden), in state-dict order, as PyTorch's `reset_parameters`
    /// draws them; no plan redraws them.
    fn own_init(&self, _plan: InitPlan, rng: &mut Mt19937) -> Vec<Draw> {
        let bound = 1.0 / (self.hidden_size as f32).sqrt();
        self.own_state()
            .into_iter()
            .map(|e| {
                let values = (0..e.dims.iter().product()).map(|_| rng.uniform(-bound, bound)).collect();
                Draw::kept(&e.name, values)
            })
            .collect()
    }

    fn type_name(&self) -> String {
        match self.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => "RNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
        }
        .into()
    }

    fn extra_repr(&self) -> String {
        let mut s = format!("{}, {}", self.input_size, self.hidden_size);
        if self.num_layers != 1 {
            s += &format!(", num_layers={}", self.num_layers);
        }
        if !self.bias {
            s += ", bias=False";
        }
        if self.batch_first {
            s += ", batch_first=True";
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::graph::Graph;
    use crate::nn::Mode;

    #[test]
    fn masks_and_starting_states_of_the_wrong_shape_are_named_errors() {
        let model = Recurrent::lstm(4, 6).batch_first();
        let mut g = Graph::new();
        let x = g.input("x", &[3, 6, 4]).unwrap();
        let mask = g.input("mask", &[3, 5, 1]).unwrap();
        let h0 = g.input("h0", &[1, 2, 6]).unwrap();
        let mut f = Forward::new(&mut g, Mode::Train, 0, "");
        let err = model.forward_with_state(&mut f, x, None, None, Some(mask)).unwrap_err().to_string();
        assert!(
            err.contains("lstm: the mask must be [B, T, 1] = [3, 6, 1] for an input [3, 6, 4], got [3, 5, 1]"),
            "{err}"
        );
        let err = model.forward_with_state(&mut f, x, Some(h0), None, None).unwrap_err().to_string();
        assert!(err.contains("the starting state h0 must be [1, 3, 6]"), "{err}");
    }
}
