// 2-D convolution (cross-correlation, as PyTorch) on NCHW tensors with stride and zero padding,
// and its two gradients. Bias is a separate broadcast add.
//
//   conv2d_forward          a = x [N, C, H, W], b = w [K, C, KH, KW]  → y [N, K, OH, OW]
//   conv2d_backward_input   a = dy [N, K, OH, OW], b = w              → dx [N, C, H, W]
//   conv2d_backward_weight  a = dy, b = x                             → dw [K, C, KH, KW]

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    // col2im_tex: the launch's first image (it covers `n` of them).
    first: u32,
    _pad1: u32,
    _pad2: u32,
}

// 1: both strides are 1 (window_of needs no division).
override UNIT_STRIDE: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// col2im_tex reads the columns from here instead: the launch's images, four elements a texel,
// TEXEL_ROW texels a row, from the texture's second row (a tap left of the first column
// reads the first row, not past the texture's start); im2col_3x3_tex reads x, from the
// first row. On software adapters a storage load is a loop over the SIMD lanes, one element
// each, while a texel load gathers four (im2col, taking one element a fetch, still gained:
// BENCHMARKS.md, session 8).
@group(0) @binding(4) var texels: texture_storage_2d<rgba32float, read>;


// One invocation: one output pixel for 4 consecutive output channels, so each input value
// loaded serves four products.
@compute @workgroup_size(256)
fn conv2d_forward(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    let k_blocks = (p.k + 3u) / 4u;
    let pixels = p.oh * p.ow;
    if (id >= p.n * k_blocks * pixels) {
        return;
    }
    let pixel = id % pixels;
    let kb = (id / pixels) % k_blocks;
    let n = id / (pixels * k_blocks);
    let oy = pixel / p.ow;
    let ox = pixel % p.ow;
    let k0 = kb * 4u;
    // Channels past K read the last filter again and are not stored.
    let ks = min(vec4<u32>(k0, k0 + 1u, k0 + 2u, k0 + 3u), vec4<u32>(p.k - 1u));
    let taps = p.c * p.kh * p.kw;
    var acc = vec4<f32>(0.0);
    for (var ci = 0u; ci < p.c; ci = ci + 1u) {
        for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
            let iy = i32(oy * p.stride_h + dy) - i32(p.pad_h);
            if (iy < 0 || iy >= i32(p.h)) {
                continue;
            }
            let row = ((n * p.c + ci) * p.h + u32(iy)) * p.w;
            for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
                let ix = i32(ox * p.stride_w + dx) - i32(p.pad_w);
                if (ix < 0 || ix >= i32(p.w)) {
                    continue;
                }
                let v = a[row + u32(ix)];
                let tap = (ci * p.kh + dy) * p.kw + dx;
                let wv = vec4<f32>(b[ks.x * taps + tap], b[ks.y * taps + tap], b[ks.z * taps + tap], b[ks.w * taps + tap]);
                acc = fma(vec4<f32>(v), wv, acc);
            }
        }
    }
    let base = (n * p.k + k0) * pixels + pixel;
    out[base] = acc.x;
    if (k0 + 1u < p.k) { out[base + pixels] = acc.y; }
    if (k0 + 2u < p.k) { out[base + 2u * pixels] = acc.z; }
    if (k0 + 3u < p.k) { out[base + 3u * pixels] = acc.w; }
}

// The output position whose window reads input position `at` through tap `tap` along one
// axis (o·stride + tap − pad = at), or `extent` if no output's window does. Stride 1, the
// usual, takes no division: software adapters are slow at it, and run both sides of a branch
// unless the compiler removes one (UNIT_STRIDE).
fn window_of(at: u32, tap: u32, stride: u32, pad: u32, extent: u32) -> u32 {
    let t = i32(at + pad) - i32(tap);
    if (t < 0) {
        return extent;
    }
    var o = u32(t);
    if (UNIT_STRIDE == 0u && stride != 1u) {
        if (o % stride != 0u) {
            return extent;
        }
        o = o / stride;
    }
    return min(o, extent);
}

// One invocation per input element: the sum over every output that read it.
@compute @workgroup_size(256)
fn conv2d_backward_input(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    if (id >= p.n * p.c * p.h * p.w) {
        return;
    }
    let x = id % p.w;
    let y = (id / p.w) % p.h;
    let ci = (id / (p.w * p.h)) % p.c;
    let n = id / (p.w * p.h * p.c);
    var sum = 0.0;
    for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
        let oy = window_of(y, dy, p.stride_h, p.pad_h, p.oh);
        if (oy == p.oh) {
            continue;
        }
        for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
            let ox = window_of(x, dx, p.stride_w, p.pad_w, p.ow);
            if (ox == p.ow) {
                continue;
            }
            for (var k = 0u; k < p.k; k = k + 1u) {
                let g = a[((n * p.k + k) * p.oh + oy) * p.ow + ox];
                sum = fma(g, b[((k * p.c + ci) * p.kh + dy) * p.kw + dx], sum);
            }
        }
    }
    out[id] = sum;
}

// One workgroup per filter tap: 256 partial sums over the batch and the output pixels, then a
// fixed-order tree (no atomics: bit-identical runs).
@compute @workgroup_size(256)
fn conv2d_backward_weight(inv: Invocation) {
    let lid = inv.local;
    let tap_id = workgroup_index(inv);
    if (tap_id >= p.k * p.c * p.kh * p.kw) {
        return;
    }
    let dx = tap_id % p.kw;
    let dy = (tap_id / p.kw) % p.kh;
    let ci = (tap_id / (p.kw * p.kh)) % p.c;
    let k = tap_id / (p.kw * p.kh * p.c);
    let pixels = p.oh * p.ow;
    var sum = 0.0;
    for (var t = lid; t < p.n * pixels; t = t + TREE_WIDTH) {
        let n = t / pixels;
        let oy = (t % pixels) / p.ow;
        let ox = t % p.ow;
        let iy = i32(oy * p.stride_h + dy) - i32(p.pad_h);
        let ix = i32(ox * p.stride_w + dx) - i32(p.pad_w);
        if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
            let g = a[(n * p.k + k) * pixels + oy * p.ow + ox];
            sum = fma(g, b[((n * p.c + ci) * p.h + u32(iy)) * p.w + u32(ix)], sum);
        }
    }
    let total = workgroup_sum(lid, sum);
    if (lid == 0u) {
        out[tap_id] = total;
    }
}

// Patches of x as columns, for convolution by matrix product:
//   im2col  a = x [N, C, H, W] (b bound to x)  → cols [N, C·KH·KW, OH·OW], zeros for padding
//   col2im  a = dcols (b bound to dcols)        → dx [N, C, H, W], each element the sum of the
//                                                 column entries that copied it
// One invocation per output row of one column row: (image, channel·tap, oy), walking ox with
// no division in the loop. Index arithmetic by runtime divisors is what software adapters
// spend their time on; one invocation per element paid eight divisions for each copy.
@compute @workgroup_size(256)
fn im2col(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    let rows = p.c * p.kh * p.kw;
    if (id >= p.n * rows * p.oh) {
        return;
    }
    let oy = id % p.oh;
    let column_row = id / p.oh;
    let r = column_row % rows;
    let n = column_row / rows;
    let dx = r % p.kw;
    let dy = (r / p.kw) % p.kh;
    let ci = r / (p.kw * p.kh);
    let iy = i32(oy * p.stride_h + dy) - i32(p.pad_h);
    let row_inside = iy >= 0 && iy < i32(p.h);
    let in_row = ((n * p.c + ci) * p.h + u32(max(iy, 0))) * p.w;
    let out_row = id * p.ow;
    var ix = i32(dx) - i32(p.pad_w);
    for (var ox = 0u; ox < p.ow; ox = ox + 1u) {
        var v = 0.0;
        if (row_inside && ix >= 0 && ix < i32(p.w)) {
            v = a[in_row + u32(ix)];
        }
        out[out_row + ox] = v;
        ix = ix + i32(p.stride_w);
    }
}

// The same columns for a 3×3 window at stride 1 (the course's convolutions), one invocation
// per (image, channel, oy) writing all nine column rows: a sliding window along ox loads
// three new values a step where the general entry loads nine (storage loads are what
// software adapters spend im2col on; stores cost little).
@compute @workgroup_size(256)
fn im2col_3x3(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    if (id >= p.n * p.c * p.oh) {
        return;
    }
    let oy = id % p.oh;
    let plane = id / p.oh;
    let window = window3(plane, oy);
    // At output column ox, `left`, `mid` and `right` hold x's columns ox - pad, ox + 1 - pad
    // and ox + 2 - pad of the window's three rows (one row a component).
    var mid = load3(window, i32(0) - i32(p.pad_w));
    var right = load3(window, i32(1) - i32(p.pad_w));
    for (var ox = 0u; ox < p.ow; ox = ox + 1u) {
        let left = mid;
        mid = right;
        right = load3(window, i32(ox + 2u) - i32(p.pad_w));
        store_taps(plane, oy, ox, left, mid, right);
    }
}

// `im2col_3x3` for the launch's images (p.n of them from image p.first), reading x from the
// texture.
@compute @workgroup_size(256)
fn im2col_3x3_tex(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    if (id >= p.n * p.c * p.oh) {
        return;
    }
    let oy = id % p.oh;
    // The plane's place in the texture, and in the whole batch's columns.
    let copied = id / p.oh;
    let plane = p.first * p.c + copied;
    let window = window3(copied, oy);
    var mid = load3_tex(window, i32(0) - i32(p.pad_w));
    var right = load3_tex(window, i32(1) - i32(p.pad_w));
    for (var ox = 0u; ox < p.ow; ox = ox + 1u) {
        let left = mid;
        mid = right;
        right = load3_tex(window, i32(ox + 2u) - i32(p.pad_w));
        store_taps(plane, oy, ox, left, mid, right);
    }
}

// The three rows of x under a 3×3 window: where each starts (its first element, counted
// from the plane's first) and whether it lies inside the image.
struct Window3 {
    rows: vec3<u32>,
    inside: vec3<bool>,
}

// The window over output row `oy` of plane `plane` (counted where x is read from).
fn window3(plane: u32, oy: u32) -> Window3 {
    let iy = vec3<i32>(i32(oy)) + vec3<i32>(0, 1, 2) - vec3<i32>(i32(p.pad_h));
    let rows = (plane * p.h + vec3<u32>(max(iy, vec3<i32>(0)))) * p.w;
    return Window3(rows, iy >= vec3<i32>(0) & iy < vec3<i32>(i32(p.h)));
}

// The nine taps' values at output (oy, ox) of `plane`, stored into its nine column rows:
// column row (ci·9 + tap) of image n starts at ((n·C·9 + ci·9 + tap)·OH + oy)·OW, and
// plane = n·C + ci, so tap 0's is (plane·9·OH + oy)·OW; each next tap's is OH·OW on.
fn store_taps(plane: u32, oy: u32, ox: u32, left: vec3<f32>, mid: vec3<f32>, right: vec3<f32>) {
    let at = (plane * 9u * p.oh + oy) * p.ow + ox;
    let step = p.oh * p.ow;
    out[at] = left.x;
    out[at + step] = mid.x;
    out[at + 2u * step] = right.x;
    out[at + 3u * step] = left.y;
    out[at + 4u * step] = mid.y;
    out[at + 5u * step] = right.y;
    out[at + 6u * step] = left.z;
    out[at + 7u * step] = mid.z;
    out[at + 8u * step] = right.z;
}

// x at column ix of the window's three rows (zero outside the image).
fn load3(window: Window3, ix: i32) -> vec3<f32> {
    var v = vec3<f32>(0.0);
    if (ix >= 0 && ix < i32(p.w)) {
        if (window.inside.x) { v.x = a[window.rows.x + u32(ix)]; }
        if (window.inside.y) { v.y = a[window.rows.y + u32(ix)]; }
        if (window.inside.z) { v.z = a[window.rows.z + u32(ix)]; }
    }
    return v;
}

// `load3` from the texture.
fn load3_tex(window: Window3, ix: i32) -> vec3<f32> {
    var v = vec3<f32>(0.0);
    if (ix >= 0 && ix < i32(p.w)) {
        if (window.inside.x) { v.x = texel_element(window.rows.x + u32(ix)); }
        if (window.inside.y) { v.y = texel_element(window.rows.y + u32(ix)); }
        if (window.inside.z) { v.z = texel_element(window.rows.z + u32(ix)); }
    }
    return v;
}

// Texel `t` of the texture, counted row by row.
fn texel(t: u32) -> vec4<f32> {
    return textureLoad(texels, vec2<u32>(t % TEXEL_ROW, t / TEXEL_ROW));
}

// Element `e` of what the launch copied into the texture (from its first row).
fn texel_element(e: u32) -> f32 {
    return texel(e / 4u)[e % 4u];
}

// One invocation per input row (image, channel, y), walking x: each element sums the column
// entries that copied it.
@compute @workgroup_size(256)
fn col2im(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    if (id >= p.n * p.c * p.h) {
        return;
    }
    let y = id % p.h;
    let ci = (id / p.h) % p.c;
    let n = id / (p.h * p.c);
    let pixels = p.oh * p.ow;
    let rows = p.c * p.kh * p.kw;
    for (var x = 0u; x < p.w; x = x + 1u) {
        var sum = 0.0;
        for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
            let oy = window_of(y, dy, p.stride_h, p.pad_h, p.oh);
            if (oy == p.oh) {
                continue;
            }
            for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
                let ox = window_of(x, dx, p.stride_w, p.pad_w, p.ow);
                if (ox == p.ow) {
                    continue;
                }
                let r = (ci * p.kh + dy) * p.kw + dx;
                sum = sum + a[(n * rows + r) * pixels + oy * p.ow + ox];
            }
        }
        out[id * p.w + x] = sum;
    }
}

// col2im for stride 1, reading the columns from the texture: one invocation per four
// consecutive elements of an input row, each tap's four entries two texel loads.
@compute @workgroup_size(256)
fn col2im_tex(inv: Invocation) {
    let id = invocation_index(inv, 256u);
    let quads = (p.w + 3u) / 4u;
    if (id >= p.n * p.c * p.h * quads) {
        return;
    }
    let x0 = (id % quads) * 4u;
    let y = (id / quads) % p.h;
    let ci = (id / (quads * p.h)) % p.c;
    let n = id / (quads * p.h * p.c);
    let pixels = p.oh * p.ow;
    let rows = p.c * p.kh * p.kw;
    let lanes = vec4<i32>(0, 1, 2, 3);
    var sum = vec4<f32>(0.0);
    for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
        let oy = i32(y + p.pad_h) - i32(dy);
        if (oy < 0 || oy >= i32(p.oh)) {
            continue;
        }
        for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
            // The outputs ox .. ox + 3 whose windows read x0 .. x0 + 3 through this tap.
            let ox = i32(x0 + p.pad_w) - i32(dx);
            let r = (ci * p.kh + dy) * p.kw + dx;
            let at = i32(4u * TEXEL_ROW + (n * rows + r) * pixels + u32(oy) * p.ow) + ox;
            let column = vec4<i32>(ox) + lanes;
            let inside = column >= vec4<i32>(0) & column < vec4<i32>(i32(p.ow));
            sum = sum + select(vec4<f32>(0.0), four_texels_from(u32(at)), inside);
        }
    }
    let base = ((p.first + n) * p.c + ci) * p.h * p.w + y * p.w + x0;
    out[base] = sum.x;
    if (x0 + 1u < p.w) { out[base + 1u] = sum.y; }
    if (x0 + 2u < p.w) { out[base + 2u] = sum.z; }
    if (x0 + 3u < p.w) { out[base + 3u] = sum.w; }
}

// Elements f .. f + 3 of the texture, from the one or two texels that hold them.
fn four_texels_from(f: u32) -> vec4<f32> {
    let t = f / 4u;
    let lo = texel(t);
    let shift = f % 4u;
    if (shift == 0u) {
        return lo;
    }
    let hi = texel(t + 1u);
    if (shift == 1u) {
        return vec4<f32>(lo.yzw, hi.x);
    }
    if (shift == 2u) {
        return vec4<f32>(lo.zw, hi.xy);
    }
    return vec4<f32>(lo.w, hi.xyz);
}
