// The scan of a recurrent layer (src/ir/ops/recurrent.rs) and its gradient through time: an
// invocation per batch row runs every step of the sequence, since a row's state depends only
// on its own earlier states, so no invocation waits for another. For each state feature j it
// forms its gates' products with W_hh (row k·H + j, PyTorch's layout) and its cell. Every
// invocation reads the same W_hh element at the same time (the loops' counters index it), so
// it is one load for a SIMD row or warp; only the row's own state is read per invocation. One
// launch for the whole sequence, where the steps one by one take a product and a cell launch
// each, forward and backward.
//
// CELL 0: RNN tanh; 1: RNN ReLU; 2: LSTM (gates i, f, g, o; a state is h then c); 3: GRU
// (gates r, z, n; b_hh apart, since n takes r·(W_hn h + b_hn)).

struct Params {
    // Steps T.
    steps: u32,
    // Batch rows B.
    batch: u32,
    // State features H.
    hidden: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Both entries: the input product xw [T, B, G·H], W_hh [G·H, H], b_hh [G·H] (a GRU's; else xw
// again) and the mask [T, B, 1] (where MASKED; else xw again).
@group(0) @binding(1) var<storage, read> xw: array<f32>;
@group(0) @binding(2) var<storage, read> w_hh: array<f32>;
@group(0) @binding(3) var<storage, read> b_hh: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
// scan: the starting state [B, S]. scan_backward: the states [T + 1, B, S].
@group(0) @binding(5) var<storage, read> e: array<f32>;
// scan_backward: the states' gradient [T + 1, B, S] (scan: xw again).
@group(0) @binding(6) var<storage, read> d_states: array<f32>;
// scan: the states [T + 1, B, S]. scan_backward: the gradients [T + 1, B, P].
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

override CELL: u32 = 0u;
override MASKED: u32 = 0u;

const GROUP: u32 = 64u;

fn gates() -> u32 {
    switch CELL {
        case 2u: { return 4u; }
        case 3u: { return 3u; }
        default: { return 1u; }
    }
}

// Features of a state: h, and c for an LSTM.
fn state_width() -> u32 {
    return select(1u, 2u, CELL == 2u) * p.hidden;
}

// Whether row b has step t.
fn has_step(t: u32, b: u32) -> bool {
    return MASKED == 0u || mask[t * p.batch + b] > 0.5;
}

// b_hh's entry for gate k of feature j: a GRU's, which is not in xw; 0 for the others.
fn hidden_bias(k: u32, j: u32) -> f32 {
    if (CELL == 3u) {
        return b_hh[k * p.hidden + j];
    }
    return 0.0;
}

// Gate k of feature j's product with h (plus its hidden bias): row k·H + j of W_hh times the
// state's h at `h_at` of `out` (scan: the states it writes). WGSL takes no pointer to a
// storage buffer as an argument, hence one function for each buffer h is read from.
fn state_product_out(k: u32, j: u32, h_at: u32) -> f32 {
    let row = (k * p.hidden + j) * p.hidden;
    var sum = 0.0;
    for (var i = 0u; i < p.hidden; i = i + 1u) {
        sum = sum + w_hh[row + i] * out[h_at + i];
    }
    return sum + hidden_bias(k, j);
}

// As `state_product_out`, with h read from `e` (scan_backward: the states).
fn state_product_e(k: u32, j: u32, h_at: u32) -> f32 {
    let row = (k * p.hidden + j) * p.hidden;
    var sum = 0.0;
    for (var i = 0u; i < p.hidden; i = i + 1u) {
        sum = sum + w_hh[row + i] * e[h_at + i];
    }
    return sum + hidden_bias(k, j);
}

@compute @workgroup_size(64)
fn scan(inv: Invocation) {
    let b = invocation_index(inv, GROUP);
    if (b >= p.batch) {
        return;
    }
    let h = p.hidden;
    let width = state_width();
    let rows = gates() * h;
    for (var j = 0u; j < width; j = j + 1u) {
        out[b * width + j] = e[b * width + j];
    }
    for (var t = 0u; t < p.steps; t = t + 1u) {
        let before = (t * p.batch + b) * width;
        let after = before + p.batch * width;
        let x_at = (t * p.batch + b) * rows;
        let step = has_step(t, b);
        for (var j = 0u; j < h; j = j + 1u) {
            var new_h = out[before + j];
            var new_c = 0.0;
            if (step) {
                switch CELL {
                    case 2u: {
                        let ig = sigmoid(xw[x_at + j] + state_product_out(0u, j, before));
                        let fg = sigmoid(xw[x_at + h + j] + state_product_out(1u, j, before));
                        let gg = tanh(xw[x_at + 2u * h + j] + state_product_out(2u, j, before));
                        let og = sigmoid(xw[x_at + 3u * h + j] + state_product_out(3u, j, before));
                        new_c = fg * out[before + h + j] + ig * gg;
                        new_h = og * tanh(new_c);
                    }
                    case 3u: {
                        let r = sigmoid(xw[x_at + j] + state_product_out(0u, j, before));
                        let z = sigmoid(xw[x_at + h + j] + state_product_out(1u, j, before));
                        let n = tanh(xw[x_at + 2u * h + j] + r * state_product_out(2u, j, before));
                        new_h = n + z * (out[before + j] - n);
                    }
                    case 1u: {
                        new_h = max(xw[x_at + j] + state_product_out(0u, j, before), 0.0);
                    }
                    default: {
                        new_h = tanh(xw[x_at + j] + state_product_out(0u, j, before));
                    }
                }
            } else if (CELL == 2u) {
                new_c = out[before + h + j];
            }
            out[after + j] = new_h;
            if (CELL == 2u) {
                out[after + h + j] = new_c;
            }
        }
    }
}

// Step t's gate gradients go to entry t of `out`. The gradient flowing into the state before
// the current step is kept in the row's entry T (h's in columns [0, H), c's in [H, 2H)); after
// the first step it is the starting state's gradient.
@compute @workgroup_size(64)
fn scan_backward(inv: Invocation) {
    let b = invocation_index(inv, GROUP);
    if (b >= p.batch) {
        return;
    }
    let h = p.hidden;
    let width = state_width();
    let rows = gates() * h;
    // Columns of the gradients: the input product's, then (GRU) the state product's.
    let cols = select(rows, 2u * rows, CELL == 3u);
    let of_states = select(0u, rows, CELL == 3u);
    let carry = (p.steps * p.batch + b) * cols;
    for (var j = 0u; j < cols; j = j + 1u) {
        out[carry + j] = 0.0;
    }
    for (var s = 0u; s < p.steps; s = s + 1u) {
        let t = p.steps - 1u - s;
        let before = (t * p.batch + b) * width;
        let after = before + p.batch * width;
        let x_at = (t * p.batch + b) * rows;
        let grad_at = (t * p.batch + b) * cols;
        let step = has_step(t, b);
        for (var j = 0u; j < h; j = j + 1u) {
            let dh = d_states[after + j] + out[carry + j];
            // What reaches the state before the step other than through W_hh.
            var direct_h = dh;
            if (CELL == 2u) {
                let dc = d_states[after + h + j] + out[carry + h + j];
                var dc_before = dc;
                var grads = vec4<f32>(0.0);
                if (step) {
                    let ig = sigmoid(xw[x_at + j] + state_product_e(0u, j, before));
                    let fg = sigmoid(xw[x_at + h + j] + state_product_e(1u, j, before));
                    let gg = tanh(xw[x_at + 2u * h + j] + state_product_e(2u, j, before));
                    let og = sigmoid(xw[x_at + 3u * h + j] + state_product_e(3u, j, before));
                    let tc = tanh(e[after + h + j]);
                    let dc_all = dc + dh * og * (1.0 - tc * tc);
                    grads = vec4<f32>(
                        dc_all * gg * ig * (1.0 - ig),
                        dc_all * e[before + h + j] * fg * (1.0 - fg),
                        dc_all * ig * (1.0 - gg * gg),
                        dh * tc * og * (1.0 - og),
                    );
                    dc_before = dc_all * fg;
                    direct_h = 0.0;
                }
                for (var k = 0u; k < 4u; k = k + 1u) {
                    out[grad_at + k * h + j] = grads[k];
                }
                out[carry + h + j] = dc_before;
            } else if (CELL == 3u) {
                var input_grads = vec3<f32>(0.0);
                var state_grads = vec3<f32>(0.0);
                if (step) {
                    let hr = state_product_e(0u, j, before);
                    let hz = state_product_e(1u, j, before);
                    let hn = state_product_e(2u, j, before);
                    let r = sigmoid(xw[x_at + j] + hr);
                    let z = sigmoid(xw[x_at + h + j] + hz);
                    let n = tanh(xw[x_at + 2u * h + j] + r * hn);
                    let dn = dh * (1.0 - z) * (1.0 - n * n);
                    let dz = dh * (e[before + j] - n) * z * (1.0 - z);
                    let dr = dn * hn * r * (1.0 - r);
                    input_grads = vec3<f32>(dr, dz, dn);
                    state_grads = vec3<f32>(dr, dz, dn * r);
                    direct_h = dh * z;
                }
                for (var k = 0u; k < 3u; k = k + 1u) {
                    out[grad_at + k * h + j] = input_grads[k];
                    out[grad_at + rows + k * h + j] = state_grads[k];
                }
            } else {
                var da = 0.0;
                if (step) {
                    let y = e[after + j];
                    da = select(select(0.0, dh, y > 0.0), dh * (1.0 - y * y), CELL == 0u);
                    direct_h = 0.0;
                }
                out[grad_at + j] = da;
            }
            out[carry + j] = direct_h;
        }
        // Through W_hh: the state product's gradient times column j.
        for (var j = 0u; j < h; j = j + 1u) {
            var sum = out[carry + j];
            for (var g = 0u; g < rows; g = g + 1u) {
                sum = sum + out[grad_at + of_states + g] * w_hh[g * h + j];
            }
            out[carry + j] = sum;
        }
    }
    // The starting state is also entry 0 of the states.
    for (var j = 0u; j < width; j = j + 1u) {
        out[carry + j] = out[carry + j] + d_states[b * width + j];
    }
}
