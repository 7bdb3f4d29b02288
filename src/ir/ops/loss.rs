//! The losses, each reduced to its mean.

/// Which loss; the discriminant is the shader's `LOSS` constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LossKind {
    /// Mean squared error.
    Mse = 0,
    /// Binary cross-entropy of probabilities.
    Bce = 1,
    /// Binary cross-entropy of logits (sigmoid fused, stable).
    BceWithLogits = 2,
    /// Negative log-likelihood of log-probabilities `[N, C]` at integer labels `[N]`.
    Nll = 3,
    /// Cross-entropy of logits `[N, C]` at integer labels `[N]` (log-softmax fused).
    CrossEntropy = 4,
}

impl LossKind {
    /// The loss's name in errors and reports.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::Bce => "bce",
            LossKind::BceWithLogits => "bce_with_logits",
            LossKind::Nll => "nll",
            LossKind::CrossEntropy => "cross_entropy",
        }
    }

    /// True for the losses whose target is one class index per row.
    pub fn takes_labels(self) -> bool {
        matches!(self, LossKind::Nll | LossKind::CrossEntropy)
    }
}
