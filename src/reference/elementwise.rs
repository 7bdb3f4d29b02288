//! Elementwise ops with NumPy broadcasting.

use super::{Array, coords4, index4, pad4, reduce::sum_to};
use crate::ir::ops::elementwise::{ElementwiseOp, dropout_keeps};

/// The broadcast dims of two arrays (assumed compatible).
pub fn broadcast_dims(a: &[usize], b: &[usize]) -> Vec<usize> {
    let rank = a.len().max(b.len());
    let pad = |d: &[usize]| {
        let mut v = vec![1; rank - d.len()];
        v.extend_from_slice(d);
        v
    };
    pad(a).iter().zip(pad(b)).map(|(&x, y)| x.max(y)).collect()
}

/// One elementwise op on two values (NaN for dropout, whose mask needs the index: use
/// [`dropout`]).
pub fn apply(op: ElementwiseOp, alpha: f64, x: f64, y: f64) -> f64 {
    op.cpu(x, y, alpha)
}

/// op(a, b) over the broadcast shape; unary ops ignore b.
pub fn binary(op: ElementwiseOp, alpha: f64, a: &Array, b: &Array) -> Array {
    let dims = broadcast_dims(&a.dims, &b.dims);
    let (o4, a4, b4) = (pad4(&dims), pad4(&a.dims), pad4(&b.dims));
    let mut out = Array::zeros(&dims);
    for (i, v) in out.data.iter_mut().enumerate() {
        let c = coords4(i, o4);
        *v = apply(op, alpha, a.data[index4(c, a4)], b.data[index4(c, b4)]);
    }
    out
}

/// op(x) for a unary op.
pub fn unary(op: ElementwiseOp, alpha: f64, x: &Array) -> Array {
    binary(op, alpha, x, x)
}

/// Gradients of a and b of `binary(op, alpha, a, b)` given the output's gradient `g`.
pub fn binary_backward(op: ElementwiseOp, alpha: f64, a: &Array, b: &Array, g: &Array) -> (Array, Array) {
    let dims = g.dims.clone();
    let (o4, a4, b4) = (pad4(&dims), pad4(&a.dims), pad4(&b.dims));
    let mut ga = Array::zeros(&dims);
    let mut gb = Array::zeros(&dims);
    for i in 0..g.data.len() {
        let c = coords4(i, o4);
        let (x, y) = (a.data[index4(c, a4)], b.data[index4(c, b4)]);
        let (dx, dy) = op.derivative(x, y, alpha);
        ga.data[i] = g.data[i] * dx;
        gb.data[i] = g.data[i] * dy;
    }
    (sum_to(&ga, &a.dims, 1.0), sum_to(&gb, &b.dims, 1.0))
}

/// Dropout of `x` with drop probability `drop` at run `step`; the gradient is the same
/// function of the output's gradient.
pub fn dropout(x: &Array, drop: f32, seed: u32, step: u32) -> Array {
    let scale = 1.0 / (1.0 - drop as f64);
    let data = x
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| if dropout_keeps(seed, step, i as u32, drop) { v * scale } else { 0.0 })
        .collect();
    Array::new(&x.dims, data)
}
