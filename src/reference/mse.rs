//! Mean squared error.

use super::Array;

/// mean((pred − target)²).
pub fn mse(pred: &Array, target: &Array) -> f64 {
    let n = pred.data.len() as f64;
    pred.data.iter().zip(&target.data).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / n
}

/// Gradients of pred and target, given the loss's gradient `g`.
pub fn mse_backward(pred: &Array, target: &Array, g: f64) -> (Array, Array) {
    let n = pred.data.len() as f64;
    let dp: Vec<f64> = pred.data.iter().zip(&target.data).map(|(p, t)| g * 2.0 * (p - t) / n).collect();
    let dt = dp.iter().map(|v| -v).collect();
    (Array::new(&pred.dims, dp), Array::new(&target.dims, dt))
}
