//! The recurrence of a recurrent layer, built into layers by `crate::ir::recurrent` one of two
//! ways. A small layer runs as one scan: every step of the sequence in one op, so the layer is
//! a launch or two whatever its length, and so is its gradient through time. A larger one runs
//! step by step: a product with W_hh and a fused [`CellStep`] a step, whose launches then carry
//! work enough to fill the adapter.
//!
//! The scan takes the input's product with W_ih for all steps (`xw` `[T, B, G·H]`, with the
//! biases that only add to the gates), W_hh `[G·H, H]` in PyTorch's layout, the starting state
//! `[B, S]` and, for a GRU, b_hh (b_hn sits inside the reset product), and, where sequences
//! are padded, a mask `[T, B, 1]` of 1s (steps a sequence has) and 0s. It gives the states
//! `[T + 1, B, S]`: entry 0 the starting state, entry t + 1 the state after step t (held where
//! the mask is 0). A state is h, or h then c for an LSTM (S = H or 2H). Gates are in
//! PyTorch's order: LSTM i, f, g, o; GRU r, z, n.
//!
//! Its backward op gives `[T + 1, B, P]`: entry t the gradients of step t's gate
//! pre-activations (P = G·H: the input product's, which are also the state product's for an
//! RNN and an LSTM; a GRU's P = 2·G·H holds the input product's, then the state product's,
//! which differ in n's block), and entry T the starting state's gradient in its first S
//! columns (zeros after them). The steps' entries come first so that they are a prefix of the
//! buffer, which the plan reads in place (as it does the states before the last).

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
    /// Every cell, for listings.
    pub const ALL: [CellKind; 4] = [CellKind::RnnTanh, CellKind::RnnRelu, CellKind::Lstm, CellKind::Gru];

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

    /// Features of a state for `hidden` features of h: h, and c for an LSTM.
    pub fn state_width(self, hidden: usize) -> usize {
        if self == CellKind::Lstm { 2 * hidden } else { hidden }
    }

    /// Columns of the scan's gradient for `hidden` features (see the module's doc).
    pub fn gradient_width(self, hidden: usize) -> usize {
        let gates = self.gates() * hidden;
        if self == CellKind::Gru { 2 * gates } else { gates }
    }

    /// Whether the scan takes b_hh apart from the input product (the GRU's b_hn is inside
    /// the reset product; the other cells' biases only add to the gates).
    pub fn takes_hidden_bias(self) -> bool {
        self == CellKind::Gru
    }
}

/// A recurrent layer's scan over its steps: which cell, and whether a mask pads sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scan {
    /// The cell.
    pub cell: CellKind,
    /// A mask `[T, B, 1]` is the last input.
    pub masked: bool,
}

impl Scan {
    /// Its inputs after the starting state, in order: (b_hh where the cell takes it apart, the
    /// mask where masked).
    pub fn optional_inputs<T>(self, rest: impl IntoIterator<Item = T>) -> (Option<T>, Option<T>) {
        let mut rest = rest.into_iter();
        let b_hh = if self.cell.takes_hidden_bias() { rest.next() } else { None };
        let mask = if self.masked { rest.next() } else { None };
        (b_hh, mask)
    }

    /// Its name in errors, profiles and the conformance suite.
    pub fn name(self) -> String {
        format!("{}_scan{}", self.cell.name(), if self.masked { "_packed" } else { "" })
    }
}

/// One step of a cell, and the inputs it takes (B rows, H features, G gate blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellStep {
    /// The LSTM's new cell state c = σ(f)·c′ + σ(i)·tanh(g), for inputs [pre `[B, 4H]`
    /// (both products and biases summed, gates i, f, g, o), c′ `[B, H]`].
    LstmState,
    /// The LSTM's output h = σ(o)·tanh(c), for inputs [pre `[B, 4H]`, c `[B, H]`].
    LstmOutput,
    /// The GRU's new h = n + z·(h′ − n), with r = σ(x_r + h_r), z = σ(x_z + h_z) and
    /// n = tanh(x_n + r·h_n), for inputs [the input's product `[B, 3H]`, the state's `[B, 3H]`
    /// (each with its bias), h′ `[B, H]`].
    Gru,
}

impl CellStep {
    /// Every step, for listings.
    pub const ALL: [CellStep; 3] = [CellStep::LstmState, CellStep::LstmOutput, CellStep::Gru];

    /// Its name in errors, profiles and the conformance suite.
    pub fn name(self) -> &'static str {
        match self {
            CellStep::LstmState => "lstm_state",
            CellStep::LstmOutput => "lstm_output",
            CellStep::Gru => "gru_cell",
        }
    }

    /// Gate blocks of its pre-activations.
    pub fn gates(self) -> usize {
        match self {
            CellStep::LstmState | CellStep::LstmOutput => 4,
            CellStep::Gru => 3,
        }
    }

    /// How many of its inputs are `[B, G·H]` pre-activations; the one after them is `[B, H]`.
    pub fn gate_inputs(self) -> usize {
        match self {
            CellStep::LstmState | CellStep::LstmOutput => 1,
            CellStep::Gru => 2,
        }
    }
}
