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

// OP, the op (the numbers of kernels::elementwise::ElementwiseOp). Forward ops read x = a
// (and y = b for binary ones). A backward op reads the output's gradient as a and, as b, the
// op's input (relu, leaky relu, selu) or its output (sigmoid, tanh), whichever is cheaper.
override OP: u32 = 0u;
// 1: both operands have the output's shape, so element i of each is read without the
// broadcast index's divisions (software adapters make them lane by lane).
override DENSE: u32 = 0u;

const SELU_ALPHA: f32 = 1.6732632423543772;
const SELU_SCALE: f32 = 1.0507009873554805;

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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn apply(x: f32, y: f32, i: u32) -> f32 {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: { return p.alpha * x; }
        case 5u: { return max(x, 0.0); }
        case 6u: { return select(0.0, x, y > 0.0); }
        // leaky relu with slope alpha, and its backward
        case 7u: { return select(p.alpha * x, x, x > 0.0); }
        case 8u: { return select(p.alpha * x, x, y > 0.0); }
        case 9u: { return sigmoid(x); }
        // gradient x through a sigmoid whose output was y
        case 10u: { return x * y * (1.0 - y); }
        case 11u: { return tanh(x); }
        // gradient x through a tanh whose output was y
        case 12u: { return x * (1.0 - y * y); }
        case 13u: { return SELU_SCALE * select(SELU_ALPHA * (exp(x) - 1.0), x, x > 0.0); }
        case 14u: { return x * SELU_SCALE * select(SELU_ALPHA * exp(y), 1.0, y > 0.0); }
        // alpha + a
        case 15u: { return p.alpha + x; }
        // 1 / sqrt(a)
        case 16u: { return inverseSqrt(x); }
        // a · b³ · alpha: the gradient a through rsqrt, whose output was b (alpha = −1/2)
        case 17u: { return p.alpha * x * y * y * y; }
        // dropout with drop probability alpha, scaled by 1 / (1 − alpha); also its own backward
        case 18u: { return select(0.0, x / (1.0 - p.alpha), keep(p.first + i)); }
        default: { return 0.0; }
    }
}

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
