//! Batch norm in training mode (the batch's statistics) with the textbook gradient, and in
//! evaluation mode (given statistics).

use super::Array;

/// Channel of each element and the number of elements per channel, for x [N, C] or [N, C, H, W].
fn channels(x: &Array) -> (Vec<usize>, usize) {
    let c = x.dims[1];
    let inner: usize = x.dims[2..].iter().product();
    let of = (0..x.data.len()).map(|i| (i / inner) % c).collect();
    (of, x.data.len() / c)
}

/// Per-channel mean and biased variance.
pub fn statistics(x: &Array) -> (Vec<f64>, Vec<f64>) {
    let c = x.dims[1];
    let (of, count) = channels(x);
    let mut mean = vec![0.0; c];
    for (i, &v) in x.data.iter().enumerate() {
        mean[of[i]] += v / count as f64;
    }
    let mut var = vec![0.0; c];
    for (i, &v) in x.data.iter().enumerate() {
        var[of[i]] += (v - mean[of[i]]).powi(2) / count as f64;
    }
    (mean, var)
}

/// y = (x − mean) / √(var + eps) · gamma + beta with the batch's statistics.
pub fn batch_norm(x: &Array, gamma: &Array, beta: &Array, eps: f64) -> Array {
    let (mean, var) = statistics(x);
    let c = mean.len();
    batch_norm_given(x, &Array::new(&[c], mean), &Array::new(&[c], var), gamma, beta, eps)
}

/// Gradients of x, gamma and beta given the output's gradient `g`:
/// dx = γ/σ · (g − mean(g) − x̂ · mean(g · x̂)) per channel.
pub fn batch_norm_backward(x: &Array, gamma: &Array, eps: f64, g: &Array) -> (Array, Array, Array) {
    let c = x.dims[1];
    let (of, count) = channels(x);
    let (mean, var) = statistics(x);
    let xhat: Vec<f64> =
        x.data.iter().enumerate().map(|(i, &v)| (v - mean[of[i]]) / (var[of[i]] + eps).sqrt()).collect();
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for i in 0..x.data.len() {
        dgamma[of[i]] += g.data[i] * xhat[i];
        dbeta[of[i]] += g.data[i];
    }
    let dx = (0..x.data.len())
        .map(|i| {
            let k = of[i];
            let n = count as f64;
            gamma.data[k] / (var[k] + eps).sqrt() * (g.data[i] - dbeta[k] / n - xhat[i] * dgamma[k] / n)
        })
        .collect();
    (Array::new(&x.dims, dx), Array::new(&[c], dgamma), Array::new(&[c], dbeta))
}

/// y = (x − mean) / √(var + eps) · gamma + beta with a given `mean` and `var` per channel
/// (evaluation mode: the running statistics).
pub fn batch_norm_given(x: &Array, mean: &Array, var: &Array, gamma: &Array, beta: &Array, eps: f64) -> Array {
    let (of, _) = channels(x);
    let data = x
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = of[i];
            (v - mean.data[c]) / (var.data[c] + eps).sqrt() * gamma.data[c] + beta.data[c]
        })
        .collect();
    Array::new(&x.dims, data)
}

/// Gradients of x, gamma and beta through [`batch_norm_given`]: the statistics are constants,
/// so dx = γ/σ · g.
pub fn batch_norm_given_backward(
    x: &Array,
    mean: &Array,
    var: &Array,
    gamma: &Array,
    eps: f64,
    g: &Array,
) -> (Array, Array, Array) {
    let c = x.dims[1];
    let (of, _) = channels(x);
    let sigma = |k: usize| (var.data[k] + eps).sqrt();
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    let mut dx = vec![0.0; x.data.len()];
    for i in 0..x.data.len() {
        let k = of[i];
        dgamma[k] += g.data[i] * (x.data[i] - mean.data[k]) / sigma(k);
        dbeta[k] += g.data[i];
        dx[i] = gamma.data[k] / sigma(k) * g.data[i];
    }
    (Array::new(&x.dims, dx), Array::new(&[c], dgamma), Array::new(&[c], dbeta))
}
