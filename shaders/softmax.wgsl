// Softmax and log-softmax along the last axis, one invocation per row, and their gradients.
// LOG = 1 selects log-softmax. Rows are shifted by their max so no exp overflows.

struct Params {
    rows: u32,
    c: u32,
    _pad0: u32,
    _pad1: u32,
}

override LOG: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
// softmax_forward reads x as `a` (and `b`, bound to the same buffer);
// softmax_backward reads the output's gradient as `a` and the forward output as `b`.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn softmax_forward(inv: Invocation) {
    let row = invocation_index(inv, 64u);
    if (row >= p.rows) {
        return;
    }
    let base = row * p.c;
    var m = a[base];
    for (var j = 1u; j < p.c; j = j + 1u) {
        m = max(m, a[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < p.c; j = j + 1u) {
        s = s + exp(a[base + j] - m);
    }
    // exp(x − m) / s and (x − m) − log s: never m + log s, whose rounding would cost
    // about |m|·2⁻²⁴ of every output (5e-6 on logits near 48).
    let log_s = log(s);
    let inv_s = 1.0 / s;
    for (var j = 0u; j < p.c; j = j + 1u) {
        let shifted = a[base + j] - m;
        out[base + j] = select(exp(shifted) * inv_s, shifted - log_s, LOG == 1u);
    }
}

// softmax:     dx = y ⊙ (g − Σ g ⊙ y)
// log-softmax: dx = g − exp(y) Σ g
@compute @workgroup_size(64)
fn softmax_backward(inv: Invocation) {
    let row = invocation_index(inv, 64u);
    if (row >= p.rows) {
        return;
    }
    let base = row * p.c;
    var s = 0.0;
    for (var j = 0u; j < p.c; j = j + 1u) {
        s = s + select(a[base + j] * b[base + j], a[base + j], LOG == 1u);
    }
    for (var j = 0u; j < p.c; j = j + 1u) {
        let g = a[base + j];
        let y = b[base + j];
        out[base + j] = select(y * (g - s), g - exp(y) * s, LOG == 1u);
    }
}
