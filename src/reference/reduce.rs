//! Sums and means over axes, and their inverse, broadcasting.

use super::{Array, coords4, index4, pad4};

/// Sums `x` down to `dims` (which broadcast to x's dims), times `factor`.
pub fn sum_to(x: &Array, dims: &[usize], factor: f64) -> Array {
    let (x4, t4) = (pad4(&x.dims), pad4(dims));
    let mut out = Array::zeros(dims);
    for (i, &v) in x.data.iter().enumerate() {
        out.data[index4(coords4(i, x4), t4)] += v;
    }
    for v in &mut out.data {
        *v *= factor;
    }
    out
}

/// `x` broadcast to `dims`, times `factor`.
pub fn expand(x: &Array, dims: &[usize], factor: f64) -> Array {
    let (x4, t4) = (pad4(&x.dims), pad4(dims));
    let mut out = Array::zeros(dims);
    for (i, v) in out.data.iter_mut().enumerate() {
        *v = factor * x.data[index4(coords4(i, t4), x4)];
    }
    out
}

/// The dims left after reducing `axes` (already non-negative), keeping them as 1.
pub fn kept_dims(dims: &[usize], axes: &[usize]) -> Vec<usize> {
    dims.iter().enumerate().map(|(d, &e)| if axes.contains(&d) { 1 } else { e }).collect()
}

/// The max (or, with `argmax`, its row-major index within the reduced axes, the first among
/// equals) of `x` over the axes where `kept` has extent 1.
pub fn max_to(x: &Array, kept: &[usize], argmax: bool) -> Array {
    let (x4, k4) = (pad4(&x.dims), pad4(kept));
    let mut best = Array::new(kept, vec![f64::NEG_INFINITY; kept.iter().product()]);
    let mut at = vec![0usize; best.data.len()];
    for (i, &v) in x.data.iter().enumerate() {
        let c = coords4(i, x4);
        let o = index4(c, k4);
        // Row-major index over the reduced axes only.
        let t = (0..4).filter(|&d| k4[d] == 1).fold(0, |acc, d| acc * x4[d] + c[d]);
        if v > best.data[o] {
            best.data[o] = v;
            at[o] = t;
        }
    }
    if argmax {
        best.data = at.iter().map(|&t| t as f64).collect();
    }
    best
}
