// out = f(a, b) element by element, with NumPy broadcasting: each operand is read through its
// own strides over the output's 4-D shape, and a broadcast axis has stride 0. The op is an
// override constant, so each op is its own pipeline with no branch in the loop.

struct Params {
    shape: vec4<u32>,
    stride_a: vec4<u32>,
    stride_b: vec4<u32>,
    n: u32,
    alpha: f32,
    // Dropout's seed and the plan's run number: with the element's index they fix its mask.
    seed: u32,
    step: u32,
    // The index of element 0 within the whole tensor (a launch split into chunks of rows
    // still draws each element's own dropout mask).
    first: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// OP, the op: its position in the table of src/ir/ops/elementwise.rs. Forward ops read x = a
// (and y = b for binary ones). A backward op reads the output's gradient as a and, as b, the
// value its forward op saved (its input or its output, whichever is cheaper).
override OP: u32 = 0u;
// 1: both operands have the output's shape, so element i of each is read without the
// broadcast index's divisions (software adapters make them lane by lane).
override DENSE: u32 = 0u;

const SELU_ALPHA: f32 = 1.6732632423543772;
const SELU_SCALE: f32 = 1.0507009873554805;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;
// log2(e) split into its first 12 significant bits and the rest.
const LOG2E_HIGH: f32 = 1.4423828125;
const LOG2E_LOW: f32 = 3.12228388963387e-4;

// A 32-bit integer hash with good avalanche (Wellons' lowbias32).
fn mix(v: u32) -> u32 {
    var x = v;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

// Dropout keeps element i with probability 1 − alpha: a pure function of (seed, step, i), so
// the backward pass regenerates the forward pass's mask and runs are reproducible.
fn keep(i: u32) -> bool {
    let h = mix(i ^ mix(p.seed ^ mix(p.step)));
    return f32(h >> 8u) * (1.0 / 16777216.0) >= p.alpha;
}

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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// `fn apply(x: f32, y: f32, i: u32) -> f32`, a switch over OP with one case per op of the
// table in src/ir/ops/elementwise.rs, is appended when the module is loaded.

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = ((wid.z * groups.y + wid.y) * groups.x + wid.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    if (DENSE == 1u) {
        out[i] = apply(a[i], b[i], i);
        return;
    }
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = 3i; d >= 0i; d = d - 1i) {
        let extent = p.shape[d];
        let coord = rest % extent;
        rest = rest / extent;
        ia = ia + coord * p.stride_a[d];
        ib = ib + coord * p.stride_b[d];
    }
    out[i] = apply(a[ia], b[ib], i);
}
