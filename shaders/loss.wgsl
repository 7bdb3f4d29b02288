// Losses reduced to their mean, and their gradients. LOSS picks the loss:
//   0 MSE               mean over elements of (pred − target)²
//   1 BCE               mean over elements of −(t log p + (1 − t) log(1 − p)), logs clamped at −100
//   2 BCE with logits   the same of sigmoid(x), computed stably from the logit x
//   3 NLL               mean over rows of −pred[row, label]   (pred holds log-probabilities)
//   4 cross-entropy     mean over rows of logsumexp(row) − x[row, label]
// For NLL and cross-entropy, pred is [rows, c] and target holds one class index per row
// (as f32); an index outside [0, c) is clamped into it.

struct Params {
    // Elements (losses 0–2) or rows (3–4).
    items: u32,
    // Classes per row (1 for losses 0–2).
    c: u32,
    // 1 / items of the whole tensor: the mean (a split launch covers only some items).
    scale: f32,
    // 1: add to the loss already in `out` (a loss split into chunks of rows).
    accumulate: u32,
}

override LOSS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
// Both entry points share one layout; loss_forward leaves `grad` unused (bound to `pred`).
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> target_: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;


fn label(row: u32) -> u32 {
    return min(u32(max(target_[row], 0.0)), p.c - 1u);
}

fn row_max(row: u32) -> f32 {
    var m = pred[row * p.c];
    for (var j = 1u; j < p.c; j = j + 1u) {
        m = max(m, pred[row * p.c + j]);
    }
    return m;
}

// log Σ exp(x) over a row, shifted by its max so no exp overflows.
fn row_logsumexp(row: u32, m: f32) -> f32 {
    var s = 0.0;
    for (var j = 0u; j < p.c; j = j + 1u) {
        s = s + exp(pred[row * p.c + j] - m);
    }
    return m + log(s);
}

fn softplus_neg_abs(x: f32) -> f32 {
    return log(1.0 + exp(-abs(x)));
}

fn item_loss(i: u32) -> f32 {
    switch LOSS {
        case 0u: {
            let d = pred[i] - target_[i];
            return d * d;
        }
        case 1u: {
            let t = target_[i];
            return -(t * max(log(pred[i]), -100.0) + (1.0 - t) * max(log(1.0 - pred[i]), -100.0));
        }
        case 2u: {
            let x = pred[i];
            return max(x, 0.0) - x * target_[i] + softplus_neg_abs(x);
        }
        case 3u: {
            return -pred[i * p.c + label(i)];
        }
        default: {
            return row_logsumexp(i, row_max(i)) - pred[i * p.c + label(i)];
        }
    }
}

// One workgroup: the loss is one number; 256 partial sums, then a fixed-order tree.
@compute @workgroup_size(256)
fn loss_forward(@builtin(local_invocation_index) lid: u32) {
    var sum = 0.0;
    for (var i = lid; i < p.items; i = i + TREE_WIDTH) {
        sum = sum + item_loss(i);
    }
    let total = workgroup_sum(lid, sum);
    if (lid == 0u) {
        out[0] = select(total * p.scale, out[0] + total * p.scale, p.accumulate == 1u);
    }
}

// d loss / d pred, one invocation per element of pred, times the loss's own gradient grad[0]
// (losses 0–3).
@compute @workgroup_size(256)
fn loss_backward(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.items * p.c) {
        return;
    }
    let g = grad[0] * p.scale;
    switch LOSS {
        case 0u: {
            out[i] = g * 2.0 * (pred[i] - target_[i]);
        }
        case 1u: {
            // As PyTorch: (p − t) / max(p (1 − p), 1e-12).
            let q = pred[i];
            out[i] = g * (q - target_[i]) / max(q * (1.0 - q), 1e-12);
        }
        case 2u: {
            let x = pred[i];
            let e = exp(-abs(x));
            let s = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
            out[i] = g * (s - target_[i]);
        }
        case 3u: {
            let row = i / p.c;
            out[i] = select(0.0, -g, i % p.c == label(row));
        }
        default: {
            // Cross-entropy has its own entry point, below.
            out[i] = 0.0;
        }
    }
}

// Cross-entropy's gradient, softmax(row) − one-hot(label), one invocation per row so that
// each row's max and log Σ exp are computed once rather than once per element.
@compute @workgroup_size(64)
fn cross_entropy_backward(inv: Invocation) {
    let row = invocation_index(inv, 64u);
    if (row >= p.items) {
        return;
    }
    let g = grad[0] * p.scale;
    let lse = row_logsumexp(row, row_max(row));
    let hot = label(row);
    for (var j = 0u; j < p.c; j = j + 1u) {
        let i = row * p.c + j;
        out[i] = g * (exp(pred[i] - lse) - select(0.0, 1.0, j == hot));
    }
}
