//! Losses reduced to their mean, and their gradients.

use super::{Array, softmax::log_softmax};
use crate::ir::ops::loss::LossKind;

/// log clamped at −100, as PyTorch's binary cross-entropy does.
fn clamped_log(v: f64) -> f64 {
    v.ln().max(-100.0)
}

fn label(target: &Array, row: usize, classes: usize) -> usize {
    (target.data[row].max(0.0) as usize).min(classes - 1)
}

/// The mean loss.
pub fn loss(kind: LossKind, pred: &Array, target: &Array) -> f64 {
    match kind {
        LossKind::Mse => mean(pred.data.iter().zip(&target.data).map(|(p, t)| (p - t) * (p - t))),
        LossKind::Bce => mean(
            pred.data.iter().zip(&target.data).map(|(p, t)| -(t * clamped_log(*p) + (1.0 - t) * clamped_log(1.0 - p))),
        ),
        LossKind::BceWithLogits => mean(pred.data.iter().zip(&target.data).map(|(x, t)| {
            let p = 1.0 / (1.0 + (-x).exp());
            -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        })),
        LossKind::Nll | LossKind::CrossEntropy => {
            let (rows, c) = (pred.dims[0], pred.dims[1]);
            let logp = if kind == LossKind::Nll { pred.clone() } else { log_softmax(pred) };
            mean((0..rows).map(|r| -logp.data[r * c + label(target, r, c)]))
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

/// d loss / d pred, times the loss's gradient `g`.
pub fn loss_backward(kind: LossKind, pred: &Array, target: &Array, g: f64) -> Array {
    let n = pred.data.len() as f64;
    let mut out = Array::zeros(&pred.dims);
    match kind {
        LossKind::Mse => {
            for i in 0..pred.data.len() {
                out.data[i] = g * 2.0 * (pred.data[i] - target.data[i]) / n;
            }
        }
        LossKind::Bce => {
            for i in 0..pred.data.len() {
                let (p, t) = (pred.data[i], target.data[i]);
                out.data[i] = g * (p - t) / (p * (1.0 - p)) / n;
            }
        }
        LossKind::BceWithLogits => {
            for i in 0..pred.data.len() {
                let s = 1.0 / (1.0 + (-pred.data[i]).exp());
                out.data[i] = g * (s - target.data[i]) / n;
            }
        }
        LossKind::Nll | LossKind::CrossEntropy => {
            let (rows, c) = (pred.dims[0], pred.dims[1]);
            let logp = log_softmax(pred);
            for r in 0..rows {
                let y = label(target, r, c);
                for j in 0..c {
                    let onehot = if j == y { 1.0 } else { 0.0 };
                    let d = if kind == LossKind::Nll { -onehot } else { logp.data[r * c + j].exp() - onehot };
                    out.data[r * c + j] = g * d / rows as f64;
                }
            }
        }
    }
    out
}
