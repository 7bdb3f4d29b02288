// Layout ops: kernels that move elements without arithmetic. Tensors are row-major; dims and
// strides come padded to four axes with leading ones, one invocation per output element.
//   strided_copy  out[idx] = a[start + Σ idx·strides]    (narrow, select, permute)
//   pad           a placed at `start` along `axis` of a zero tensor    (narrow's gradient)
//   concat        a, then b, along `axis`; a has extent `start` there
//   one_hot       out[r, c] = 1 where a[r] (a class index, as f32) equals c, else 0
//   gather_rows   an embedding's rows, and gather_rows_backward their gradient from the
//                 indices' index_order (below)

struct Params {
    // Elements of the output.
    count: u32,
    // pad and concat: the axis (0–3 of the padded dims).
    axis: u32,
    // strided_copy: element offset into a; pad: where a starts along axis; concat: a's extent
    // along axis; gather_rows: the weight's rows; gather_rows_backward: the positions;
    // index_order: the rows.
    start: u32,
    // pad: a's extent along axis; one_hot: classes; gather_rows(_backward): features;
    // index_order: the positions.
    extent: u32,
    // The output's dims.
    dims: vec4<u32>,
    // strided_copy: a's stride for each output axis.
    strides: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
// Single-input entry points leave `b` bound to `a`.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// The 4-D index of row-major position i in dims d.
fn unravel(i: u32, d: vec4<u32>) -> vec4<u32> {
    return vec4<u32>(i / (d.y * d.z * d.w), (i / (d.z * d.w)) % d.y, (i / d.w) % d.z, i % d.w);
}

fn ravel(idx: vec4<u32>, d: vec4<u32>) -> u32 {
    return ((idx.x * d.y + idx.y) * d.z + idx.z) * d.w + idx.w;
}

// dims d with axis `axis` set to `extent`.
fn with_extent(d: vec4<u32>, axis: u32, extent: u32) -> vec4<u32> {
    var e = d;
    e[axis] = extent;
    return e;
}

@compute @workgroup_size(256)
fn strided_copy(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.count) {
        return;
    }
    let idx = unravel(i, p.dims);
    out[i] = a[p.start + dot(idx, p.strides)];
}

@compute @workgroup_size(256)
fn pad(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.count) {
        return;
    }
    let a_dims = with_extent(p.dims, p.axis, p.extent);
    var idx = unravel(i, p.dims);
    let at = idx[p.axis];
    if (at < p.start || at >= p.start + p.extent) {
        out[i] = 0.0;
        return;
    }
    idx[p.axis] = at - p.start;
    out[i] = a[ravel(idx, a_dims)];
}

@compute @workgroup_size(256)
fn concat(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.count) {
        return;
    }
    var idx = unravel(i, p.dims);
    let at = idx[p.axis];
    if (at < p.start) {
        out[i] = a[ravel(idx, with_extent(p.dims, p.axis, p.start))];
    } else {
        idx[p.axis] = at - p.start;
        out[i] = b[ravel(idx, with_extent(p.dims, p.axis, p.dims[p.axis] - p.start))];
    }
}

@compute @workgroup_size(256)
fn one_hot(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.count) {
        return;
    }
    let label = a[i / p.extent];
    // A label outside [0, classes) (or not whole) gives a row of zeros.
    out[i] = select(0.0, 1.0, label >= 0.0 && label == f32(i % p.extent));
}

// The row index an f32 holds, or `rows` (none) where it is negative, not whole or too large.
fn row_index(v: f32, rows: u32) -> u32 {
    if (v >= 0.0 && v < f32(rows) && fract(v) == 0.0) {
        return u32(v);
    }
    return rows;
}

// gather_rows: out[q, d] = a[b[q], d] for the weight a [start rows, extent features] and the
// indices b; zeros for an index outside the rows.
@compute @workgroup_size(256)
fn gather_rows(inv: Invocation) {
    let i = invocation_index(inv, 256u);
    if (i >= p.count) {
        return;
    }
    let row = row_index(b[i / p.extent], p.start);
    out[i] = select(0.0, a[row * p.extent + i % p.extent], row < p.start);
}

// index_order: for the n = extent indices b, out[0, k] the k-th smallest index (one outside
// the start rows counted as start) and out[1, k] its position, equal indices in order of
// position. An invocation per position counts the positions before it in that order: n² reads
// in all, and no two invocations write one place.
@compute @workgroup_size(256)
fn index_order(inv: Invocation) {
    let q = invocation_index(inv, 256u);
    let n = p.extent;
    if (q >= n) {
        return;
    }
    let key = row_index(b[q], p.start);
    var rank = 0u;
    for (var k = 0u; k < n; k = k + 1u) {
        let other = row_index(b[k], p.start);
        rank = rank + select(0u, 1u, other < key || (other == key && k < q));
    }
    out[rank] = f32(key);
    out[n + rank] = f32(q);
}

// The first of the n sorted indices of the order table b that is at least `row`.
fn first_at_least(row: u32, n: u32) -> u32 {
    var lo = 0u;
    var hi = n;
    while (lo < hi) {
        let mid = (lo + hi) / 2u;
        if (u32(b[mid]) < row) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// gather_rows_backward: out[n, d] = Σ a[q, d] over the positions q whose index is n, in order of
// q, for a the gradient [positions (start), extent features] and b the indices' index_order.
// A workgroup per row finds its run of the sorted indices, then each invocation adds its
// features' values along it: no atomics, and runs agree bit for bit.
const GATHER_GROUP: u32 = 64u;

@compute @workgroup_size(64)
fn gather_rows_backward(inv: Invocation) {
    let n = workgroup_index(inv);
    let rows = p.count / p.extent;
    if (n >= rows) {
        return;
    }
    let first = first_at_least(n, p.start);
    let end = first_at_least(n + 1u, p.start);
    for (var d0 = 0u; d0 < p.extent; d0 = d0 + GATHER_GROUP) {
        let d = d0 + inv.local;
        if (d < p.extent) {
            var acc = 0.0;
            for (var k = first; k < end; k = k + 1u) {
                acc = acc + a[u32(b[p.start + k]) * p.extent + d];
            }
            out[n * p.extent + d] = acc;
        }
    }
}
