// Max and average pooling over 2-D windows of NCHW tensors, and their gradients. MAX = 1
// selects max pooling (padding counts as −∞; the gradient goes to the first maximum of each
// window in row-major order, as PyTorch's CPU kernel chooses); MAX = 0 average pooling
// (padding counts as zeros in the window's size, PyTorch's count_include_pad).
//
//   pool_forward          a = x (b bound to x)   → y [N, C, OH, OW]
//   pool_backward         a = dy, b = x           → dx [N, C, H, W]
//   max_backward_tiling   the same, for max pooling whose windows tile the input
//                         (stride = kernel)
//   max_pool_tex, max_backward_tiling_tex
//                         max pooling and its gradient with 2×2 windows at stride 2 on rows
//                         of even width, reading x from the plan's texture (`x_texels`)
//   max_backward_quads_tex
//                         the gradient for rows of a width in fours and an even height,
//                         two windows an invocation, stored as vectors
//
// A launch covers the planes `first .. first + planes` of its tensors (all of them, but for
// the `_tex` entry points, whose x in the texture is just those planes').

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    // max_backward_tiling: 1 when x is a ReLU's output and the gradient goes through that
    // ReLU too (kept only where x > 0).
    relu: u32,
    first: u32,
}

override MAX: u32 = 1u;
// 1: 2×2 windows at stride 2 without padding (the usual pool): a window's four inputs are
// read as straight-line code, with no loop or bounds check (on software adapters each load
// is already a loop over the SIMD lanes). 2: 2×2 windows at stride 2 with padding, read by
// the general loops with constant bounds.
override PAIRS: u32 = 0u;

// The window's extents and strides: constants for 2×2 windows at stride 2 (PAIRS), so the
// loops over a window unroll and divisions by them are shifts.
fn kh() -> u32 {
    return select(p.kh, 2u, PAIRS != 0u);
}

fn kw() -> u32 {
    return select(p.kw, 2u, PAIRS != 0u);
}

fn stride_h() -> u32 {
    return select(p.stride_h, 2u, PAIRS != 0u);
}

fn stride_w() -> u32 {
    return select(p.stride_w, 2u, PAIRS != 0u);
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// `out` again, for `max_backward_quads_tex`, which stores whole vectors (an entry binds one
// or the other).
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;
// The `_tex` entry points read x from here instead of `b`: four elements a texel from the
// launch's first plane on, TEXEL_ROW texels a row. On software adapters a storage load is a
// loop over the SIMD lanes, one element each, while a texel load gathers four (the plan
// copies x in, which costs little beside the loads it saves).
@group(0) @binding(4) var x_texels: texture_storage_2d<rgba32float, read>;

// Where a window's first maximum is (its flat index in x) and its value.
struct Argmax {
    at: u32,
    best: f32,
}

// The first maximum of window (oy, ox) of `plane`.
fn window_argmax(plane: u32, oy: u32, ox: u32) -> Argmax {
    if (PAIRS == 1u) {
        return pair_argmax(plane, oy, ox);
    }
    var best = -3.4028235e38;
    var at = 0xffffffffu;
    for (var dy = 0u; dy < kh(); dy = dy + 1u) {
        let iy = i32(oy * stride_h() + dy) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var dx = 0u; dx < kw(); dx = dx + 1u) {
            let ix = i32(ox * stride_w() + dx) - i32(p.pad_w);
            if (ix < 0 || ix >= i32(p.w)) {
                continue;
            }
            let i = (plane * p.h + u32(iy)) * p.w + u32(ix);
            if (b[i] > best || at == 0xffffffffu) {
                best = b[i];
                at = i;
            }
        }
    }
    return Argmax(at, best);
}

// window_argmax for a 2×2 window at stride 2 without padding (PAIRS), which lies inside x.
fn pair_argmax(plane: u32, oy: u32, ox: u32) -> Argmax {
    let i0 = (plane * p.h + 2u * oy) * p.w + 2u * ox;
    return argmax_of_pairs(i0, vec2<f32>(b[i0], b[i0 + 1u]), vec2<f32>(b[i0 + p.w], b[i0 + p.w + 1u]));
}

// pair_argmax reading x from the texture (rows of even width: a window's row of two lies in
// one texel).
fn pair_argmax_tex(plane: u32, oy: u32, ox: u32) -> Argmax {
    let i0 = (plane * p.h + 2u * oy) * p.w + 2u * ox;
    let local = i0 - p.first * p.h * p.w;
    return argmax_of_pairs(i0, texel_pair(local), texel_pair(local + p.w));
}

// Elements i and i + 1 of the texture, for an even i.
fn texel_pair(i: u32) -> vec2<f32> {
    let v = texel(i / 4u);
    return select(v.zw, v.xy, i % 4u == 0u);
}

// Texel `t` of the launch's part of the texture, counted row by row.
fn texel(t: u32) -> vec4<f32> {
    return textureLoad(x_texels, vec2<u32>(t % TEXEL_ROW, t / TEXEL_ROW));
}

// The first maximum of the 2×2 window whose rows are `top` (from flat index i0) and `bottom`.
fn argmax_of_pairs(i0: u32, top: vec2<f32>, bottom: vec2<f32>) -> Argmax {
    let i2 = i0 + p.w;
    // Strictly greater: the first maximum in row-major order wins, and NaNs never do.
    var at = i0;
    var best = top.x;
    at = select(at, i0 + 1u, top.y > best);
    best = select(best, top.y, top.y > best);
    at = select(at, i2, bottom.x > best);
    best = select(best, bottom.x, bottom.x > best);
    at = select(at, i2 + 1u, bottom.y > best);
    best = select(best, bottom.y, bottom.y > best);
    return Argmax(at, best);
}

// The flat index in y of invocation `local`'s output (the launch's planes start at `first`).
fn output_index(local: u32) -> u32 {
    return local + p.first * p.oh * p.ow;
}

// (x, y, plane) of output `id`.
fn output_of(id: u32) -> vec3<u32> {
    return vec3<u32>(id % p.ow, (id / p.ow) % p.oh, id / (p.ow * p.oh));
}

@compute @workgroup_size(256)
fn pool_forward(inv: Invocation) {
    let local = invocation_index(inv, 256u);
    if (local >= p.planes * p.oh * p.ow) {
        return;
    }
    let id = output_index(local);
    let o = output_of(id);
    let ox = o.x;
    let oy = o.y;
    let plane = o.z;
    if (MAX == 1u) {
        out[id] = window_argmax(plane, oy, ox).best;
        return;
    }
    var sum = 0.0;
    for (var dy = 0u; dy < kh(); dy = dy + 1u) {
        let iy = i32(oy * stride_h() + dy) - i32(p.pad_h);
        for (var dx = 0u; dx < kw(); dx = dx + 1u) {
            let ix = i32(ox * stride_w() + dx) - i32(p.pad_w);
            if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                sum = sum + a[(plane * p.h + u32(iy)) * p.w + u32(ix)];
            }
        }
    }
    out[id] = sum / f32(kh() * kw());
}

@compute @workgroup_size(256)
fn max_pool_tex(inv: Invocation) {
    let local = invocation_index(inv, 256u);
    if (local >= p.planes * p.oh * p.ow) {
        return;
    }
    let id = output_index(local);
    let o = output_of(id);
    out[id] = pair_argmax_tex(o.z, o.y, o.x).best;
}

// One invocation per input element: the gradient of every window that took it.
@compute @workgroup_size(256)
fn pool_backward(inv: Invocation) {
    let local = invocation_index(inv, 256u);
    if (local >= p.planes * p.h * p.w) {
        return;
    }
    let id = local + p.first * p.h * p.w;
    let x = id % p.w;
    let y = (id / p.w) % p.h;
    let plane = id / (p.w * p.h);
    // Windows oy with oy·stride − pad ≤ y < oy·stride − pad + kh, likewise for x.
    let y_end = min((y + p.pad_h) / stride_h() + 1u, p.oh);
    let x_end = min((x + p.pad_w) / stride_w() + 1u, p.ow);
    let y_start = select(0u, (y + p.pad_h + 1u - kh() + stride_h() - 1u) / stride_h(), y + p.pad_h + 1u > kh());
    let x_start = select(0u, (x + p.pad_w + 1u - kw() + stride_w() - 1u) / stride_w(), x + p.pad_w + 1u > kw());
    var sum = 0.0;
    for (var oy = y_start; oy < y_end; oy = oy + 1u) {
        for (var ox = x_start; ox < x_end; ox = ox + 1u) {
            let g = a[(plane * p.oh + oy) * p.ow + ox];
            if (MAX == 1u) {
                if (window_argmax(plane, oy, ox).at == id) {
                    sum = sum + g;
                }
            } else {
                sum = sum + g / f32(kh() * kw());
            }
        }
    }
    out[id] = sum;
}

// Max pooling's gradient when the windows tile the input (stride = kernel, the usual 2×2
// pool): one invocation per window-sized cell of the padded input reads the cell once, finds
// its first maximum and writes every input in it: the window's gradient at the maximum, 0
// elsewhere. Cells past the last window (inputs no window reaches) write zeros. The general
// kernel above finds each input's windows and their maxima again for every input.
@compute @workgroup_size(256)
fn max_backward_tiling(inv: Invocation) {
    let local = invocation_index(inv, 256u);
    if (local >= p.planes * cells_y() * cells_x()) {
        return;
    }
    let c = cell_of(local);
    // A cell past the last window has no maximum.
    var max = Argmax(0xffffffffu, 0.0);
    if (c.y < p.oh && c.x < p.ow) {
        max = window_argmax(c.z, c.y, c.x);
    }
    write_cell(c, max);
}

@compute @workgroup_size(256)
fn max_backward_tiling_tex(inv: Invocation) {
    let local = invocation_index(inv, 256u);
    if (local >= p.planes * cells_y() * cells_x()) {
        return;
    }
    let c = cell_of(local);
    var max = Argmax(0xffffffffu, 0.0);
    if (c.y < p.oh && c.x < p.ow) {
        max = pair_argmax_tex(c.z, c.y, c.x);
    }
    write_cell(c, max);
}

// max_backward_tiling_tex for 2×2 windows at stride 2 without padding on rows of a width
// that comes in fours and an even height: one invocation per two windows side by side,
// whose two rows of four inputs are one texel each, read once and written as one vector
// each. llvmpipe stores lane by lane, a vector's four elements in one turn.
@compute @workgroup_size(256)
fn max_backward_quads_tex(inv: Invocation) {
    let local = invocation_index(inv, 256u);
    let quads = p.ow / 2u;
    if (local >= p.planes * p.oh * quads) {
        return;
    }
    let q = local % quads;
    let row = local / quads;
    // Both windows' outputs and inputs, from the launch's first plane and from the tensor's.
    let o = row * p.ow + 2u * q;
    let i0 = ((row / p.oh) * p.h + 2u * (row % p.oh)) * p.w + 4u * q;
    let first = p.first * p.h * p.w;
    let top = texel(i0 / 4u);
    let bottom = texel((i0 + p.w) / 4u);
    let left = argmax_of_pairs(first + i0, top.xy, bottom.xy);
    let right = argmax_of_pairs(first + i0 + 2u, top.zw, bottom.zw);
    let pooled = p.first * p.oh * p.ow + o;
    let g = vec2<f32>(
        select(a[pooled], 0.0, p.relu == 1u && !(left.best > 0.0)),
        select(a[pooled + 1u], 0.0, p.relu == 1u && !(right.best > 0.0)),
    );
    let at = first + i0;
    let picks = vec4<u32>(left.at, left.at, right.at, right.at);
    let gs = vec4<f32>(g.x, g.x, g.y, g.y);
    out4[at / 4u] = select(vec4<f32>(0.0), gs, picks == at + vec4<u32>(0u, 1u, 2u, 3u));
    let below = at + p.w;
    out4[below / 4u] = select(vec4<f32>(0.0), gs, picks == below + vec4<u32>(0u, 1u, 2u, 3u));
}

// Window-sized cells of the padded input, down and across.
fn cells_y() -> u32 {
    return (p.h + p.pad_h + kh() - 1u) / kh();
}

fn cells_x() -> u32 {
    return (p.w + p.pad_w + kw() - 1u) / kw();
}

// (x, y, plane) of the cell of invocation `local`.
fn cell_of(local: u32) -> vec3<u32> {
    let id = local + p.first * cells_y() * cells_x();
    return vec3<u32>(id % cells_x(), (id / cells_x()) % cells_y(), id / (cells_x() * cells_y()));
}

// Writes the gradient of every input in cell `c` (x, y, plane): the window's at its first
// maximum `max` (through the ReLU where one is fused), 0 elsewhere and in a cell with no
// maximum.
fn write_cell(c: vec3<u32>, max: Argmax) {
    let cx = c.x;
    let cy = c.y;
    let plane = c.z;
    let at = max.at;
    var g = 0.0;
    if (at != 0xffffffffu) {
        g = a[(plane * p.oh + cy) * p.ow + cx];
        if (p.relu == 1u && !(max.best > 0.0)) {
            g = 0.0;
        }
    }
    if (PAIRS == 1u) {
        // A cell past the last window (odd h or w) is cut by the input's edge.
        let i0 = (plane * p.h + 2u * cy) * p.w + 2u * cx;
        let right = 2u * cx + 1u < p.w;
        out[i0] = select(0.0, g, i0 == at);
        if (right) {
            out[i0 + 1u] = select(0.0, g, i0 + 1u == at);
        }
        if (2u * cy + 1u < p.h) {
            out[i0 + p.w] = select(0.0, g, i0 + p.w == at);
            if (right) {
                out[i0 + p.w + 1u] = select(0.0, g, i0 + p.w + 1u == at);
            }
        }
        return;
    }
    for (var dy = 0u; dy < kh(); dy = dy + 1u) {
        let iy = i32(cy * kh() + dy) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var dx = 0u; dx < kw(); dx = dx + 1u) {
            let ix = i32(cx * kw() + dx) - i32(p.pad_w);
            if (ix < 0 || ix >= i32(p.w)) {
                continue;
            }
            let i = (plane * p.h + u32(iy)) * p.w + u32(ix);
            out[i] = select(0.0, g, i == at);
        }
    }
}
