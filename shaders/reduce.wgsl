// Reduces some axes of a 4-D input. OP 0: the sum times a factor (1 for sum, 1/count for
// mean); OP 1: the max; OP 2: the argmax, as the row-major index within the reduced axes
// (the first one among equal maxima). The output keeps the input's rank with extent 1 on
// reduced axes. The order of combination is fixed (no atomics), so results are bit-identical
// run to run.
//
// reduce_serial: one invocation per output; for short reductions with many outputs.
// reduce_wide: one workgroup per output, 256 partial sums and a tree; for long reductions
// whose elements lie together (row sums).
// reduce_columns: 32 outputs a workgroup, each summed by 8 invocations over consecutive
// eighths of its elements and then a tree; for long reductions whose outputs lie together
// (column sums: a bias gradient), so that neighbouring invocations read neighbouring elements.
// sum_channels_tex: OP 0 over axes 0, 2 and 3 of x [N, C, H, W] (a convolution's bias
// gradient), reading x from the plan's texture: one workgroup of eight per channel.
// How a workgroup's invocations share the elements does not change which maximum wins:
// `combine` breaks ties between invocations by index.

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
    // 1: combine with the output's current value (a reduction split into chunks of rows).
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// sum_channels_tex reads x from here instead: the launch's images (red_shape.x of them),
// four elements a texel (an image is whole texels; a plane need not be), TEXEL_ROW texels a
// row. On software adapters a
// storage load is a loop over the SIMD lanes, one element each; a texel load gathers four.
@group(0) @binding(3) var x_texels: texture_storage_2d<rgba32float, read>;

override OP: u32 = 0u;

const WIDE: u32 = 256u;
var<workgroup> partial: array<f32, WIDE>;
var<workgroup> partial_at: array<u32, WIDE>;
// sum_channels_tex's workgroup: one SIMD row of a software adapter, whose barriers cost little
// (a workgroup of 256 is 32 rows switched at every barrier: launches that each sum a few
// images spent more on their trees than on their loads).
const NARROW: u32 = 8u;
var<workgroup> narrow_partial: array<f32, NARROW>;

// A running reduction: the sum, or the best value and where it was.
struct Acc {
    value: f32,
    at: u32,
}

fn start() -> Acc {
    return Acc(select(-3.4028235e38, 0.0, OP == 0u), 0u);
}

// Folds element t (value v) into acc; elements arrive in increasing t within one invocation.
fn fold(acc: Acc, v: f32, t: u32) -> Acc {
    if (OP == 0u) {
        return Acc(acc.value + v, 0u);
    }
    if (v > acc.value) {
        return Acc(v, t);
    }
    return acc;
}

// Combines two partial results, `a` holding the lower indices.
fn combine(a: Acc, b: Acc) -> Acc {
    if (OP == 0u) {
        return Acc(a.value + b.value, 0u);
    }
    if (b.value > a.value || (b.value == a.value && b.at < a.at)) {
        return b;
    }
    return a;
}

fn finish(acc: Acc, old: f32) -> f32 {
    let add = p.accumulate == 1u;
    switch OP {
        case 0u: { return select(acc.value * p.factor, old + acc.value * p.factor, add); }
        case 1u: { return select(acc.value, max(old, acc.value), add); }
        default: { return f32(acc.at); }
    }
}

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
fn reduce_serial(inv: Invocation) {
    let j = invocation_index(inv, 256u);
    if (j >= p.n_out) {
        return;
    }
    let base = offset(j, p.out_shape);
    var acc = start();
    // Runs of the innermost reduced axis, walked by its stride: the divisions of `offset`
    // once per run (software adapters make them lane by lane), the same order of elements.
    let inner = innermost_reduced();
    let run = p.red_shape[inner];
    let step = p.in_stride[inner];
    for (var t0 = 0u; t0 < p.n_red; t0 = t0 + run) {
        var at = base + offset(t0, p.red_shape);
        for (var s = 0u; s < run; s = s + 1u) {
            acc = fold(acc, x[at], t0 + s);
            at = at + step;
        }
    }
    out[j] = finish(acc, out[j]);
}

// The innermost axis with a reduced extent over 1 (axis 0 if there is none).
fn innermost_reduced() -> i32 {
    var inner = 3i;
    for (; inner > 0i && p.red_shape[inner] == 1u; inner = inner - 1i) {}
    return inner;
}

@compute @workgroup_size(256)
fn reduce_wide(inv: Invocation) {
    let lid = inv.local;
    let j = workgroup_index(inv);
    if (j >= p.n_out) {
        return;
    }
    let base = offset(j, p.out_shape);
    var acc = start();
    // The innermost reduced axis: its runs of elements are walked by a stride, with the
    // divisions of `offset` once per run (software adapters are slow at them), where there
    // are runs enough to keep the workgroup busy.
    let inner = innermost_reduced();
    let run = p.red_shape[inner];
    let runs = p.n_red / run;
    if (runs >= WIDE) {
        let step = p.in_stride[inner];
        for (var r = lid; r < runs; r = r + WIDE) {
            let t0 = r * run;
            var at = base + offset(t0, p.red_shape);
            for (var i = 0u; i < run; i = i + 1u) {
                acc = fold(acc, x[at], t0 + i);
                at = at + step;
            }
        }
    } else {
        for (var t = lid; t < p.n_red; t = t + WIDE) {
            acc = fold(acc, x[base + offset(t, p.red_shape)], t);
        }
    }
    partial[lid] = acc.value;
    partial_at[lid] = acc.at;
    workgroupBarrier();
    for (var half = WIDE / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            let merged = combine(Acc(partial[lid], partial_at[lid]), Acc(partial[lid + half], partial_at[lid + half]));
            partial[lid] = merged.value;
            partial_at[lid] = merged.at;
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[j] = finish(Acc(partial[0], partial_at[0]), out[j]);
    }
}

const COLUMNS: u32 = 32u;
const SLICES: u32 = 8u;

@compute @workgroup_size(32, 8)
fn reduce_columns(inv: Invocation) {
    let column = inv.local % COLUMNS;
    let slice = inv.local / COLUMNS;
    let j = workgroup_index(inv) * COLUMNS + column;
    var acc = start();
    if (j < p.n_out) {
        let base = offset(j, p.out_shape);
        let inner = innermost_reduced();
        let run = p.red_shape[inner];
        let step = p.in_stride[inner];
        let chunk = (p.n_red + SLICES - 1u) / SLICES;
        let end = min(p.n_red, (slice + 1u) * chunk);
        // The slice's elements in order, a run of the innermost reduced axis at a time, with
        // the divisions of `offset` once per run.
        var t = slice * chunk;
        while (t < end) {
            let within = t % run;
            var at = base + offset(t - within, p.red_shape) + within * step;
            let stop = min(end, t - within + run);
            for (; t < stop; t = t + 1u) {
                acc = fold(acc, x[at], t);
                at = at + step;
            }
        }
    }
    partial[inv.local] = acc.value;
    partial_at[inv.local] = acc.at;
    workgroupBarrier();
    for (var half = SLICES / 2u; half > 0u; half = half / 2u) {
        if (slice < half) {
            let other = inv.local + half * COLUMNS;
            let merged = combine(Acc(partial[inv.local], partial_at[inv.local]), Acc(partial[other], partial_at[other]));
            partial[inv.local] = merged.value;
            partial_at[inv.local] = merged.at;
        }
        workgroupBarrier();
    }
    if (slice == 0u && j < p.n_out) {
        out[j] = finish(Acc(partial[inv.local], partial_at[inv.local]), out[j]);
    }
}

@compute @workgroup_size(8)
fn sum_channels_tex(inv: Invocation) {
    let lid = inv.local;
    let c = workgroup_index(inv);
    if (c >= p.n_out) {
        return;
    }
    let plane = p.red_shape.z * p.red_shape.w;
    let lanes = vec4<u32>(0u, 1u, 2u, 3u);
    var sum = vec4<f32>(0.0);
    for (var image = 0u; image < p.red_shape.x; image = image + 1u) {
        // The plane's elements, and the texels that hold them: where planes do not come in
        // fours (7×7), its first and last texels hold other channels' elements, masked off.
        let first = (image * p.out_shape.y + c) * plane;
        let end = first + plane;
        for (var t = first / 4u + lid; t < (end + 3u) / 4u; t = t + NARROW) {
            let texel = textureLoad(x_texels, vec2<u32>(t % TEXEL_ROW, t / TEXEL_ROW));
            let element = vec4<u32>(4u * t) + lanes;
            sum = sum + select(vec4<f32>(0.0), texel, element >= vec4<u32>(first) & element < vec4<u32>(end));
        }
    }
    narrow_partial[lid] = sum.x + sum.y + sum.z + sum.w;
    workgroupBarrier();
    for (var half = NARROW / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            narrow_partial[lid] = narrow_partial[lid] + narrow_partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[c] = finish(Acc(narrow_partial[0], 0u), out[c]);
    }
}
