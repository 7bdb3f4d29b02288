// Batch norm over x viewed as [N, C, inner] (inner: H·W, or L, or 1); element i is in channel
// (i / inner) % C. batch_norm_stats and batch_norm_grad_sums give each channel a workgroup
// that walks its N·inner elements and sums them by a tree (in a fixed order: runs agree bit
// for bit); batch_norm_given_stats makes the same table from the running statistics;
// batch_norm_forward and batch_norm_backward go element by element (below). The tables'
// rows are those of src/ir/batch_norm.rs: stats_row (mean, variance, scale, shift) and
// grad_row (γ's and β's gradients, k, b, c, the mean).

struct Params {
    // Items of x in this launch (a launch split along N takes some of them).
    batch: u32,
    channels: u32,
    // Elements of an item's channel.
    inner: u32,
    // Added to the variance.
    eps: f32,
    // 1: the statistics are the batch's own, so x's gradient carries their dependence on x.
    from_batch: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// batch_norm_stats: x, γ, β. batch_norm_given_stats: the mean and variance [2, C], γ, β.
// batch_norm_forward: x and the statistics (bound twice). batch_norm_grad_sums: the output's
// gradient g, x, the statistics. batch_norm_backward: g, x, the gradient sums.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// An invocation's place in its channel's walk: item n, element i of the item's channel.
struct Walk {
    n: u32,
    i: u32,
}

// The walk of invocation `local` visits elements local, local + TREE_WIDTH, … of the channel's
// N·inner, stepping (n, i) without a division per element (software adapters make each one
// lane by lane).
fn walk_start(local: u32) -> Walk {
    return Walk(local / p.inner, local % p.inner);
}

fn walk_next(w: Walk) -> Walk {
    var n = w.n + TREE_WIDTH / p.inner;
    var i = w.i + TREE_WIDTH % p.inner;
    if (i >= p.inner) {
        i = i - p.inner;
        n = n + 1u;
    }
    return Walk(n, i);
}

fn at(ch: u32, w: Walk) -> u32 {
    return (w.n * p.channels + ch) * p.inner + w.i;
}

fn channel_of(i: u32) -> u32 {
    return (i / p.inner) % p.channels;
}

// The statistics' table for channel ch, with γ in b and β in c.
fn write_stats(ch: u32, mean: f32, variance: f32) {
    let n = p.channels;
    out[ch] = mean;
    out[n + ch] = variance;
    out[2u * n + ch] = b[ch] / sqrt(variance + p.eps);
    out[3u * n + ch] = c[ch];
}

// The mean, then the mean square about it: two walks over the channel's elements, which
// keeps the variance exact where the mean is large against the spread.
@compute @workgroup_size(256)
fn batch_norm_stats(inv: Invocation) {
    let ch = workgroup_index(inv);
    if (ch >= p.channels) {
        return;
    }
    let count = f32(p.batch * p.inner);
    var s = 0.0;
    for (var w = walk_start(inv.local); w.n < p.batch; w = walk_next(w)) {
        s = s + a[at(ch, w)];
    }
    let mean = workgroup_sum(inv.local, s) / count;
    // Every invocation has read the tree's sum before the next sum overwrites it.
    workgroupBarrier();
    var q = 0.0;
    for (var w = walk_start(inv.local); w.n < p.batch; w = walk_next(w)) {
        let d = a[at(ch, w)] - mean;
        q = q + d * d;
    }
    let variance = workgroup_sum(inv.local, q) / count;
    if (inv.local == 0u) {
        write_stats(ch, mean, variance);
    }
}

@compute @workgroup_size(64)
fn batch_norm_given_stats(inv: Invocation) {
    let ch = invocation_index(inv, 64u);
    if (ch >= p.channels) {
        return;
    }
    write_stats(ch, a[ch], a[p.channels + ch]);
}

// The element passes take a workgroup per plane (an item's channel) where planes are long
// (BY_PLANE): the channel's coefficients are then the same for the whole workgroup, read once,
// and no invocation divides to find its channel; short planes (inner 1 for [N, C]) take an
// invocation per element instead.
override BY_PLANE: u32 = 1u;
const PLANE_GROUP: u32 = 64u;

// The elements a workgroup or invocation covers: those of plane `plane` from `first` by
// `step` in plane mode, or element `first` alone.
struct Span {
    ch: u32,
    first: u32,
    end: u32,
    step: u32,
}

fn span(inv: Invocation) -> Span {
    if (BY_PLANE == 1u) {
        let plane = workgroup_index(inv);
        if (plane >= p.batch * p.channels) {
            return Span(0u, 0u, 0u, 1u);
        }
        let base = plane * p.inner;
        return Span(plane % p.channels, base + inv.local, base + p.inner, PLANE_GROUP);
    }
    let i = invocation_index(inv, PLANE_GROUP);
    if (i >= p.batch * p.channels * p.inner) {
        return Span(0u, 0u, 0u, 1u);
    }
    return Span(channel_of(i), i, i + 1u, 1u);
}

// y = (x − mean) · scale + shift.
@compute @workgroup_size(64)
fn batch_norm_forward(inv: Invocation) {
    let s = span(inv);
    let n = p.channels;
    let mean = b[s.ch];
    let scale = b[2u * n + s.ch];
    let shift = b[3u * n + s.ch];
    for (var i = s.first; i < s.end; i = i + s.step) {
        out[i] = (a[i] - mean) * scale + shift;
    }
}

// Σ g and Σ g·(x − mean) per channel, then the table of grad_row. With the batch's
// statistics, dx = k · (g − Σ g / M − x̂ · Σ g·x̂ / M) for x̂ = (x − mean) / σ, k = γ / σ and
// M elements a channel, which is k · g + b · (x − mean) + c with b = −k · Σ g·x̂ / (σ · M) and
// c = −k · Σ g / M; with given statistics, dx = k · g.
@compute @workgroup_size(256)
fn batch_norm_grad_sums(inv: Invocation) {
    let ch = workgroup_index(inv);
    if (ch >= p.channels) {
        return;
    }
    let n = p.channels;
    let mean = c[ch];
    let inv_std = 1.0 / sqrt(c[n + ch] + p.eps);
    var sg = 0.0;
    var sgx = 0.0;
    for (var w = walk_start(inv.local); w.n < p.batch; w = walk_next(w)) {
        let t = at(ch, w);
        sg = sg + a[t];
        sgx = sgx + a[t] * (b[t] - mean);
    }
    let sum_g = workgroup_sum(inv.local, sg);
    workgroupBarrier();
    let sum_g_centred = workgroup_sum(inv.local, sgx);
    if (inv.local == 0u) {
        let count = f32(p.batch * p.inner);
        let d_gamma = sum_g_centred * inv_std;
        let k = c[2u * n + ch];
        let from_batch = p.from_batch == 1u;
        out[ch] = d_gamma;
        out[n + ch] = sum_g;
        out[2u * n + ch] = k;
        out[3u * n + ch] = select(0.0, -k * inv_std * d_gamma / count, from_batch);
        out[4u * n + ch] = select(0.0, -k * sum_g / count, from_batch);
        out[5u * n + ch] = mean;
    }
}

// dx = k · g + b · (x − mean) + c.
@compute @workgroup_size(64)
fn batch_norm_backward(inv: Invocation) {
    let s = span(inv);
    let n = p.channels;
    let k = c[2u * n + s.ch];
    let slope = c[3u * n + s.ch];
    let offset = c[4u * n + s.ch];
    let mean = c[5u * n + s.ch];
    for (var i = s.first; i < s.end; i = i + s.step) {
        out[i] = k * a[i] + slope * (b[i] - mean) + offset;
    }
}
