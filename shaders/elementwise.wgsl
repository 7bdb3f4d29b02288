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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// `fn apply(x: f32, y: f32, i: u32) -> f32`, a switch over OP with one case per op of the
// table in src/ir/ops/elementwise.rs, is appended when the module is loaded.

@compute @workgroup_size(256)
fn main(inv: Invocation) {
    let i = invocation_index(inv, 256u);
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
