// Optimizer updates, in place, one invocation per parameter element (Adam: four, as vectors,
// where the parameter comes in fours), with PyTorch's formulas.
//
//   sgd      outputs: param, velocity (velocity unused when momentum = 0)
//   adam     outputs: param, m, v
//   adagrad  outputs: param, sum of squares
//   running_average  a statistic's running estimate, as batch norm keeps it:
//            param ← (1 − lr) · param + lr · beta1 · grad, with lr the momentum, grad the
//            batch's statistic and beta1 a correction factor (n / (n − 1) for the variance)
//
// Weight decay adds wd · param to the gradient first, as PyTorch's `weight_decay` does.

struct Params {
    n: u32,
    lr: f32,
    // sgd: momentum; adam: beta1
    beta1: f32,
    // adam: beta2
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    // adam at step t: lr / (1 − beta1^t) and √(1 − beta2^t), computed on the host in f64
    // and rounded to f32, as PyTorch computes them in Python floats.
    step_size: f32,
    bias2_sqrt: f32,
    // sgd: 1 for Nesterov momentum
    nesterov: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // `adam_tex`: the first element the launch updates (a multiple of 4), and the texels
    // from one array to the next in the texture (the parameter's, the gradient's, m's, v's).
    first: u32,
    tex_stride: u32,
    _pad3: u32,
    _pad4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;

// The same buffers as vectors of four, for `adam_vec4` (an entry point binds only the
// variables it uses, so each binding slot has one type per entry point).
@group(0) @binding(1) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> param4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;

// `adam_tex` reads instead from the plan's operand texture (on software adapters, where a
// storage load is a loop over the SIMD lanes and a texel load one gather): a range of the
// parameter, its gradient, m and v, copied there one after another, four elements a texel
// and TEXEL_ROW texels a row.
@group(0) @binding(5) var operands: texture_storage_2d<rgba32float, read>;


// Plain SGD has no state: a layout of its own keeps it from binding buffers it never uses.
@compute @workgroup_size(256)
fn sgd_plain(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.n) {
        return;
    }
    let g = grad[i] + p.weight_decay * param[i];
    param[i] = param[i] - p.lr * g;
}

@compute @workgroup_size(256)
fn sgd_momentum(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.n) {
        return;
    }
    let g = grad[i] + p.weight_decay * param[i];
    // The velocity starts at zero, so the first step gives velocity = g as PyTorch's does.
    let velocity = p.beta1 * s1[i] + g;
    s1[i] = velocity;
    let step = select(velocity, g + p.beta1 * velocity, p.nesterov == 1u);
    param[i] = param[i] - p.lr * step;
}

@compute @workgroup_size(256)
fn adam(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.n) {
        return;
    }
    let g = grad[i] + p.weight_decay * param[i];
    let m = p.beta1 * s1[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g * g;
    s1[i] = m;
    s2[i] = v;
    let denom = sqrt(v) / p.bias2_sqrt + p.eps;
    param[i] = param[i] - p.step_size * m / denom;
}

// Adam's step for four elements: the new parameter, m and v.
struct Adam4 {
    param: vec4<f32>,
    m: vec4<f32>,
    v: vec4<f32>,
}

fn adam4(w: vec4<f32>, grad: vec4<f32>, m_old: vec4<f32>, v_old: vec4<f32>) -> Adam4 {
    let g = grad + p.weight_decay * w;
    let m = p.beta1 * m_old + (1.0 - p.beta1) * g;
    let v = p.beta2 * v_old + (1.0 - p.beta2) * g * g;
    let denom = sqrt(v) / p.bias2_sqrt + p.eps;
    return Adam4(w - p.step_size * m / denom, m, v);
}

// `adam` four elements at a time, for parameters of a multiple of 4 elements: each storage
// load and store moves a vector (one loop over the SIMD lanes on software adapters instead
// of four), the arithmetic per element unchanged.
@compute @workgroup_size(256)
fn adam_vec4(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.n / 4u) {
        return;
    }
    let s = adam4(param4[i], grad4[i], m4[i], v4[i]);
    m4[i] = s.m;
    v4[i] = s.v;
    param4[i] = s.param;
}

// Texel `t` of array `array` (0 the parameter, 1 the gradient, 2 m, 3 v) of the launch's
// copies.
fn copied(array: u32, t: u32) -> vec4<f32> {
    let v = array * p.tex_stride + t;
    return textureLoad(operands, vec2<u32>(v % TEXEL_ROW, v / TEXEL_ROW));
}

// `adam_vec4` for elements p.first .. p.n, reading from the texture.
@compute @workgroup_size(256)
fn adam_tex(inv: Invocation) {
    let t = invocation_index(inv, 256u);
    let i = p.first / 4u + t;
    if (i >= p.n / 4u) {
        return;
    }
    let s = adam4(copied(0u, t), copied(1u, t), copied(2u, t), copied(3u, t));
    m4[i] = s.m;
    v4[i] = s.v;
    param4[i] = s.param;
}

@compute @workgroup_size(256)
fn adagrad(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.n) {
        return;
    }
    let g = grad[i] + p.weight_decay * param[i];
    let sum = s1[i] + g * g;
    s1[i] = sum;
    param[i] = param[i] - p.lr * g / (sqrt(sum) + p.eps);
}

@compute @workgroup_size(256)
fn running_average(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.n) {
        return;
    }
    param[i] = (1.0 - p.lr) * param[i] + p.lr * p.beta1 * grad[i];
}
