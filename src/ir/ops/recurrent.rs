//! The fused steps of the recurrent cells (built into layers by `crate::ir::recurrent`): each
//! gives one state from the step's gate pre-activations, in PyTorch's gate order, so a step
//! is a launch or two rather than a dozen elementwise ones.

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
