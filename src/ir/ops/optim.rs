//! The optimizers and their settings, with PyTorch's formulas.

/// The names of every optimizer's per-parameter state tensors (`NAME.m` beside parameter
/// `NAME`): what [`Optimizer::states`] picks from, and what a weights loader knows to skip.
pub const OPTIMIZER_STATES: &[&str] = &["velocity", "m", "v", "sum_sq"];

/// An optimizer and its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent, with optional (Nesterov) momentum.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum factor (0: none).
        momentum: f32,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty added to the gradient as `weight_decay · param`.
        weight_decay: f32,
    },
    /// Adam with bias correction.
    Adam {
        /// Learning rate.
        lr: f32,
        /// Decay of the first moment.
        beta1: f32,
        /// Decay of the second moment.
        beta2: f32,
        /// Added to the denominator.
        eps: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
    },
    /// Adagrad.
    Adagrad {
        /// Learning rate.
        lr: f32,
        /// Added to the denominator.
        eps: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
    },
}

impl Optimizer {
    /// Plain SGD at learning rate `lr`.
    pub const fn sgd(lr: f32) -> Optimizer {
        Optimizer::Sgd { lr, momentum: 0.0, nesterov: false, weight_decay: 0.0 }
    }

    /// Adam at learning rate `lr` with PyTorch's defaults (0.9, 0.999, 1e-8).
    pub const fn adam(lr: f32) -> Optimizer {
        Optimizer::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }

    /// Adagrad at learning rate `lr` with PyTorch's eps (1e-10).
    pub const fn adagrad(lr: f32) -> Optimizer {
        Optimizer::Adagrad { lr, eps: 1e-10, weight_decay: 0.0 }
    }

    /// Its name in errors and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
            Optimizer::Adagrad { .. } => "adagrad",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::Adagrad { lr, .. } => lr,
        }
    }

    /// The same optimizer at another learning rate.
    pub fn with_lr(mut self, new: f32) -> Optimizer {
        match &mut self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::Adagrad { lr, .. } => *lr = new,
        }
        self
    }

    /// The weight decay (the L2 penalty added to the gradient).
    pub fn weight_decay(&self) -> f32 {
        match *self {
            Optimizer::Sgd { weight_decay, .. }
            | Optimizer::Adam { weight_decay, .. }
            | Optimizer::Adagrad { weight_decay, .. } => weight_decay,
        }
    }

    /// The same optimizer with another weight decay.
    pub fn with_weight_decay(mut self, new: f32) -> Optimizer {
        match &mut self {
            Optimizer::Sgd { weight_decay, .. }
            | Optimizer::Adam { weight_decay, .. }
            | Optimizer::Adagrad { weight_decay, .. } => *weight_decay = new,
        }
        self
    }

    /// Names of the state tensors it keeps per parameter, each of the parameter's shape.
    pub fn states(&self) -> &'static [&'static str] {
        match *self {
            Optimizer::Sgd { momentum: 0.0, .. } => &[],
            Optimizer::Sgd { .. } => &OPTIMIZER_STATES[0..1],
            Optimizer::Adam { .. } => &OPTIMIZER_STATES[1..3],
            Optimizer::Adagrad { .. } => &OPTIMIZER_STATES[3..4],
        }
    }

    /// True when the parameter block changes from step to step (Adam's bias correction).
    pub fn varies_per_step(&self) -> bool {
        matches!(self, Optimizer::Adam { .. })
    }
}

/// Adam's step size lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ), in f64 then rounded, as PyTorch does.
pub fn adam_corrections(lr: f32, beta1: f32, beta2: f32, t: u64) -> (f32, f32) {
    let t = t.max(1) as i32;
    let bias1 = 1.0 - (beta1 as f64).powi(t);
    let bias2 = 1.0 - (beta2 as f64).powi(t);
    ((lr as f64 / bias1) as f32, bias2.sqrt() as f32)
}
