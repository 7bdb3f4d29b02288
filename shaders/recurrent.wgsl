// The fused cell steps of src/ir/ops/recurrent.rs and their gradients, an invocation per
// output element. A state element (b, j) of [B, H] has its gates at b·G·H + k·H + j of the
// pre-activations [B, G·H]: LSTM i, f, g, o (both products and biases summed); GRU r, z, n
// (the input's product xs and the state's hs apart, since n takes r·h_n). Each gradient is
// written as the composition of elementwise ops it replaces computes it.

struct Params {
    // Output elements.
    count: u32,
    // State features H.
    hidden: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Forward: the step's inputs in order. Backward: the output's gradient, then the step's
// inputs. Entry points with fewer inputs bind the last one again.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> d: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// Where gate k of state element i lies in pre-activations of `gates` blocks.
fn gate_at(i: u32, k: u32, gates: u32) -> u32 {
    return (i / p.hidden) * gates * p.hidden + k * p.hidden + i % p.hidden;
}

// For an element e of pre-activations [B, G·H]: its state element and its gate block.
fn state_of(e: u32, gates: u32) -> vec2<u32> {
    let row = e / (gates * p.hidden);
    let col = e % (gates * p.hidden);
    return vec2<u32>(row * p.hidden + col % p.hidden, col / p.hidden);
}

// lstm_state: a = pre, b = c′.
@compute @workgroup_size(64)
fn lstm_state(inv: Invocation) {
    let i = invocation_index(inv, 64u);
    if (i >= p.count) {
        return;
    }
    let ig = sigmoid(a[gate_at(i, 0u, 4u)]);
    let fg = sigmoid(a[gate_at(i, 1u, 4u)]);
    let gg = tanh(a[gate_at(i, 2u, 4u)]);
    out[i] = fg * b[i] + ig * gg;
}

// lstm_output: a = pre, b = c.
@compute @workgroup_size(64)
fn lstm_output(inv: Invocation) {
    let i = invocation_index(inv, 64u);
    if (i >= p.count) {
        return;
    }
    out[i] = sigmoid(a[gate_at(i, 3u, 4u)]) * tanh(b[i]);
}

// gru_cell: a = xs, b = hs, c = h′.
@compute @workgroup_size(64)
fn gru_cell(inv: Invocation) {
    let i = invocation_index(inv, 64u);
    if (i >= p.count) {
        return;
    }
    let r = sigmoid(a[gate_at(i, 0u, 3u)] + b[gate_at(i, 0u, 3u)]);
    let z = sigmoid(a[gate_at(i, 1u, 3u)] + b[gate_at(i, 1u, 3u)]);
    let n = tanh(a[gate_at(i, 2u, 3u)] + r * b[gate_at(i, 2u, 3u)]);
    out[i] = n + z * (c[i] - n);
}

// lstm_state_backward_pre: the pre-activations' gradient [B, 4H]; a = g, b = pre, c = c′.
@compute @workgroup_size(64)
fn lstm_state_backward_pre(inv: Invocation) {
    let e = invocation_index(inv, 64u);
    if (e >= p.count) {
        return;
    }
    let s = state_of(e, 4u);
    let i = s.x;
    let ig = sigmoid(b[gate_at(i, 0u, 4u)]);
    let fg = sigmoid(b[gate_at(i, 1u, 4u)]);
    let gg = tanh(b[gate_at(i, 2u, 4u)]);
    var v = 0.0;
    switch s.y {
        case 0u: { v = a[i] * gg * ig * (1.0 - ig); }
        case 1u: { v = a[i] * c[i] * fg * (1.0 - fg); }
        case 2u: { v = a[i] * ig * (1.0 - gg * gg); }
        default: {}
    }
    out[e] = v;
}

// lstm_state_backward_prev: c′'s gradient g·σ(f); a = g, b = pre.
@compute @workgroup_size(64)
fn lstm_state_backward_prev(inv: Invocation) {
    let i = invocation_index(inv, 64u);
    if (i >= p.count) {
        return;
    }
    out[i] = a[i] * sigmoid(b[gate_at(i, 1u, 4u)]);
}

// lstm_output_backward_pre: the pre-activations' gradient [B, 4H], o's block alone; a = g,
// b = pre, c = c.
@compute @workgroup_size(64)
fn lstm_output_backward_pre(inv: Invocation) {
    let e = invocation_index(inv, 64u);
    if (e >= p.count) {
        return;
    }
    let s = state_of(e, 4u);
    var v = 0.0;
    if (s.y == 3u) {
        let og = sigmoid(b[e]);
        v = a[s.x] * tanh(c[s.x]) * og * (1.0 - og);
    }
    out[e] = v;
}

// lstm_output_backward_state: c's gradient g·σ(o)·(1 − tanh² c); a = g, b = pre, c = c.
@compute @workgroup_size(64)
fn lstm_output_backward_state(inv: Invocation) {
    let i = invocation_index(inv, 64u);
    if (i >= p.count) {
        return;
    }
    let t = tanh(c[i]);
    out[i] = a[i] * sigmoid(b[gate_at(i, 3u, 4u)]) * (1.0 - t * t);
}

// The GRU's gate gradients at state element i: (r's, z's, n's pre-activation, r) for
// a = g, b = xs, c = hs, d = h′.
fn gru_gate_gradients(i: u32) -> vec4<f32> {
    let hr = c[gate_at(i, 0u, 3u)];
    let r = sigmoid(b[gate_at(i, 0u, 3u)] + hr);
    let z = sigmoid(b[gate_at(i, 1u, 3u)] + c[gate_at(i, 1u, 3u)]);
    let hn = c[gate_at(i, 2u, 3u)];
    let n = tanh(b[gate_at(i, 2u, 3u)] + r * hn);
    let g = a[i];
    let dn = g * (1.0 - z) * (1.0 - n * n);
    let dz = g * (d[i] - n) * z * (1.0 - z);
    let dr = dn * hn * r * (1.0 - r);
    return vec4<f32>(dr, dz, dn, r);
}

// gru_cell_backward_input: xs's gradient [B, 3H].
@compute @workgroup_size(64)
fn gru_cell_backward_input(inv: Invocation) {
    let e = invocation_index(inv, 64u);
    if (e >= p.count) {
        return;
    }
    let s = state_of(e, 3u);
    out[e] = gru_gate_gradients(s.x)[s.y];
}

// gru_cell_backward_hidden: hs's gradient [B, 3H] (n's is r times the input's).
@compute @workgroup_size(64)
fn gru_cell_backward_hidden(inv: Invocation) {
    let e = invocation_index(inv, 64u);
    if (e >= p.count) {
        return;
    }
    let s = state_of(e, 3u);
    let grads = gru_gate_gradients(s.x);
    out[e] = select(grads[s.y], grads.z * grads.w, s.y == 2u);
}

// gru_cell_backward_state: h′'s gradient g·z.
@compute @workgroup_size(64)
fn gru_cell_backward_state(inv: Invocation) {
    let i = invocation_index(inv, 64u);
    if (i >= p.count) {
        return;
    }
    out[i] = a[i] * sigmoid(b[gate_at(i, 1u, 3u)] + c[gate_at(i, 1u, 3u)]);
}
