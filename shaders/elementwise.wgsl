// out = f(a, b) element by element, with NumPy broadcasting: each operand is read through its
// own strides over the output's 4-D shape, and a broadcast axis has stride 0. The op is an
// override constant, so each op is its own pipeline with no branch in the loop.

struct Params {
    shape: vec4<u32>,
    stride_a: vec4<u32>,
    stride_b: vec4<u32>,
    n: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

const ADD: u32 = 0u;
const SUB: u32 = 1u;
const MUL: u32 = 2u;
const DIV: u32 = 3u;
// alpha · a
const SCALE: u32 = 4u;
const RELU: u32 = 5u;
// a · [b > 0]: the gradient a of relu's output, routed through where its input b was positive.
const RELU_BACKWARD: u32 = 6u;

override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn apply(x: f32, y: f32) -> f32 {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: { return p.alpha * x; }
        case 5u: { return max(x, 0.0); }
        case 6u: { return select(0.0, x, y > 0.0); }
        default: { return 0.0; }
    }
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.y * groups.x + wid.x) * 256u + lid;
    if (i >= p.n) {
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
    out[i] = apply(a[ia], b[ib]);
}
