// Sums over some axes of a 4-D input, times a factor (1 for sum, 1/count for mean). The output
// keeps the input's rank with extent 1 on reduced axes. Summation order is fixed (no atomics),
// so results are bit-identical run to run.
//
// reduce_serial: one invocation per output; for short reductions with many outputs.
// reduce_wide: one workgroup per output, 256 partial sums and a tree; for long reductions.

struct Params {
    // Extent of each kept axis, 1 on reduced axes.
    out_shape: vec4<u32>,
    // Extent of each reduced axis, 1 on kept axes.
    red_shape: vec4<u32>,
    // The input's row-major strides.
    in_stride: vec4<u32>,
    n_out: u32,
    n_red: u32,
    factor: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WIDE: u32 = 256u;
var<workgroup> partial: array<f32, WIDE>;

// Offset in x of the coordinates of `index` over `extents`.
fn offset(index: u32, extents: vec4<u32>) -> u32 {
    var rest = index;
    var at = 0u;
    for (var d = 3i; d >= 0i; d = d - 1i) {
        let e = extents[d];
        at = at + (rest % e) * p.in_stride[d];
        rest = rest / e;
    }
    return at;
}

@compute @workgroup_size(256)
fn reduce_serial(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let j = (wid.y * groups.x + wid.x) * 256u + lid;
    if (j >= p.n_out) {
        return;
    }
    let base = offset(j, p.out_shape);
    var sum = 0.0;
    for (var t = 0u; t < p.n_red; t = t + 1u) {
        sum = sum + x[base + offset(t, p.red_shape)];
    }
    out[j] = sum * p.factor;
}

@compute @workgroup_size(256)
fn reduce_wide(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let j = wid.y * groups.x + wid.x;
    if (j >= p.n_out) {
        return;
    }
    let base = offset(j, p.out_shape);
    var sum = 0.0;
    for (var t = lid; t < p.n_red; t = t + WIDE) {
        sum = sum + x[base + offset(t, p.red_shape)];
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var half = WIDE / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            partial[lid] = partial[lid] + partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[j] = partial[0] * p.factor;
    }
}
