//! How a reduction combines the elements it reduces.

/// How the reduced elements combine; the discriminant is the shader's `OP` constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// The sum, times a factor.
    Sum = 0,
    /// The largest value.
    Max = 1,
    /// The index of the largest value within the reduced axes (the first of equals).
    Argmax = 2,
}

impl ReduceOp {
    /// The op's name in errors and reports.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
            ReduceOp::Argmax => "argmax",
        }
    }
}
