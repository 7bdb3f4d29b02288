// Layout ops: kernels that move elements without arithmetic. Tensors are row-major; dims and
// strides come padded to four axes with leading ones, one invocation per output element.
//   strided_copy  out[idx] = a[start + Σ idx·strides]    (narrow, select, permute)
//   pad           a placed at `start` along `axis` of a zero tensor    (narrow's gradient)
//   concat        a, then b, along `axis`; a has extent `start` there
//   one_hot       out[r, c] = 1 where a[r] (a class index, as f32) equals c, else 0

struct Params {
    // Elements of the output.
    count: u32,
    // pad and concat: the axis (0–3 of the padded dims).
    axis: u32,
    // strided_copy: element offset into a; pad: where a starts along axis; concat: a's extent
    // along axis.
    start: u32,
    // pad: a's extent along axis; one_hot: classes.
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
