//! What a check found: the errors of a case and its worst mismatches.

/// Largest accepted relative error of GPU results (f32) against the f64 reference.
pub const GPU_TOLERANCE: f64 = 1e-4;
/// Largest accepted relative error of the reference backward against finite differences.
pub const FD_TOLERANCE: f64 = 1e-6;
/// One element where two computations disagree.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Which result: "forward", "grad x0", … or "fd x0".
    pub what: String,
    /// Row-major index of the element.
    pub index: usize,
    /// The value checked.
    pub got: f64,
    /// The value it should be.
    pub expected: f64,
    /// Their relative error.
    pub error: f64,
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// The op and variant, e.g. `matmul_nt`.
    pub op: String,
    /// The input shapes, e.g. `[33, 257] x [7, 257]`.
    pub shapes: String,
    /// Max relative error of the GPU forward.
    pub forward_error: f64,
    /// Max relative error of the GPU gradients (0 for forward-only ops).
    pub backward_error: f64,
    /// False for forward-only ops (max, argmax), whose backward and fd columns mean nothing.
    pub has_backward: bool,
    /// Max relative error of the reference gradients against finite differences.
    pub fd_error: f64,
    /// The worst mismatches, worst first (empty when every check passed).
    pub worst: Vec<Mismatch>,
}

impl CaseReport {
    /// Keeps the five worst of `all` when a check failed (and none when all passed).
    pub(crate) fn keep_worst(&mut self, mut all: Vec<Mismatch>) {
        if !self.passed() {
            all.sort_by(|a, b| b.error.total_cmp(&a.error));
            all.truncate(5);
            self.worst = all;
        }
    }

    /// True when all three checks are within tolerance.
    pub fn passed(&self) -> bool {
        self.forward_error <= GPU_TOLERANCE && self.backward_error <= GPU_TOLERANCE && self.fd_error <= FD_TOLERANCE
    }
}

/// Relative error of each element: |got − expected| / (|expected| + mean |expected|), so values
/// near zero are judged against the array's scale rather than against themselves.
pub(super) fn compare(what: &str, got: &[f64], expected: &[f64], out: &mut Vec<Mismatch>) -> f64 {
    let scale = expected.iter().map(|v| v.abs()).sum::<f64>() / expected.len().max(1) as f64 + f64::MIN_POSITIVE;
    let mut worst = 0.0f64;
    for (index, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let error = if g.is_finite() { (g - e).abs() / (e.abs() + scale) } else { f64::INFINITY };
        worst = worst.max(error);
        out.push(Mismatch { what: what.to_string(), index, got: g, expected: e, error });
    }
    if got.len() != expected.len() {
        return f64::INFINITY;
    }
    worst
}
