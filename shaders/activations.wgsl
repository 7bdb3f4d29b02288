// The math of the activations of src/ir/ops/elementwise.rs (and their gradients), shared by
// the modules that apply them: elementwise.wgsl, and matmul.wgsl where a product stores an
// activation of its output.

const SELU_ALPHA: f32 = 1.6732632423543772;
const SELU_SCALE: f32 = 1.0507009873554805;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;
// log2(e) split into its first 12 significant bits and the rest.
const LOG2E_HIGH: f32 = 1.4423828125;
const LOG2E_LOW: f32 = 3.12228388963387e-4;

fn sigmoid(x: f32) -> f32 {
    // exp of a non-positive number only: no overflow for large |x|.
    let e = exp(-abs(x));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// v cut to its 12 leading significant bits: the product of two such numbers is exact in f32.
fn high12(v: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(v) & 0xfffff000u);
}

// e^(−w²/2 + small), for w ≥ 0. Rounding w², or the product with log2(e) inside exp, would
// cost up to w²·2⁻²⁵ of the result (3e-6 at w = 6): −(w²/2)·log2(e) is formed from products
// of 12-bit halves, which are exact, so exp2 meets only the rounding of a small remainder.
fn exp_minus_half_square(w: f32, small: f32) -> f32 {
    let s = high12(w);
    // w² = s² + (w − s)(w + s), s² exact; log2(e) = LOG2E_HIGH + LOG2E_LOW.
    let square = s * s;
    let square_high = high12(square);
    let exact = 0.5 * square_high * LOG2E_HIGH;
    let rest = 0.5 * ((square - square_high) * LOG2E_HIGH + square * LOG2E_LOW)
        + (0.5 * (w - s) * (w + s) - small) * 1.4426950408889634;
    return exp2(-exact) * exp2(-rest);
}

// Φ(−w) = ½ erfc(w/√2) for w ≥ 0, by the Chebyshev fit of erfc of Press et al. (Numerical
// Recipes, erfcc), whose relative error is below 1.2e-7 everywhere: relative, so Φ keeps f32
// precision in its far left tail, where 1 + erf(x) would cancel.
fn normal_tail(w: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * 0.70710678118654752 * w);
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return 0.5 * t * exp_minus_half_square(w, poly);
}

// Φ(x), the standard normal distribution function.
fn normal_cdf(x: f32) -> f32 {
    let tail = normal_tail(abs(x));
    return select(tail, 1.0 - tail, x >= 0.0);
}

// GELU's tanh approximation as x · σ(2u), u = √(2/π)(x + 0.044715x³), since ½(1 + tanh u) =
// σ(2u): σ keeps its precision where 1 + tanh u and 1 − tanh² u would cancel.
fn gelu_tanh(x: f32) -> f32 {
    return x * sigmoid(2.0 * SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
}

// Its derivative, σ(2u) + 2x σ(2u) σ(−2u) u'.
fn gelu_tanh_slope(x: f32) -> f32 {
    let u2 = 2.0 * SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
    let s = sigmoid(u2);
    return s + x * s * sigmoid(-u2) * 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);
}
