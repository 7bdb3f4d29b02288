//! Softmax and log-softmax along the last axis.

use super::Array;

/// log-softmax of each row (last axis).
pub fn log_softmax(x: &Array) -> Array {
    let c = *x.dims.last().unwrap_or(&1);
    let mut out = x.clone();
    for row in out.data.chunks_mut(c) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        row.iter_mut().for_each(|v| *v -= lse);
    }
    out
}

/// softmax of each row (last axis).
pub fn softmax(x: &Array) -> Array {
    let mut out = log_softmax(x);
    out.data.iter_mut().for_each(|v| *v = v.exp());
    out
}

/// The gradient of x given the output's gradient `g`.
pub fn softmax_backward(log: bool, x: &Array, g: &Array) -> Array {
    let c = *x.dims.last().unwrap_or(&1);
    let y = softmax(x);
    let mut out = Array::zeros(&x.dims);
    for r in 0..x.data.len() / c {
        let (ys, gs) = (&y.data[r * c..(r + 1) * c], &g.data[r * c..(r + 1) * c]);
        let gsum: f64 = gs.iter().sum();
        let dot: f64 = gs.iter().zip(ys).map(|(g, y)| g * y).sum();
        for j in 0..c {
            out.data[r * c + j] = if log { gs[j] - ys[j] * gsum } else { ys[j] * (gs[j] - dot) };
        }
    }
    out
}
