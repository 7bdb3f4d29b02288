// Max and average pooling over 2-D windows of NCHW tensors, and their gradients. MAX = 1
// selects max pooling (padding counts as −∞; the gradient goes to the first maximum of each
// window in row-major order, as PyTorch's CPU kernel chooses); MAX = 0 average pooling
// (padding counts as zeros in the window's size, PyTorch's count_include_pad).
//
//   pool_forward          a = x (b bound to x)   → y [N, C, OH, OW]
//   pool_backward         a = dy, b = x           → dx [N, C, H, W]
//   max_backward_tiling   the same, for max pooling whose windows tile the input
//                         (stride = kernel)

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
}

override MAX: u32 = 1u;
// 1: 2×2 windows at stride 2 without padding (the usual pool): a window's four inputs are
// read as straight-line code, with no loop or bounds check (on software adapters each load
// is already a loop over the SIMD lanes).
override PAIRS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn linear_id(wid: vec3<u32>, groups: vec3<u32>, lid: u32) -> u32 {
    return ((wid.z * groups.y + wid.y) * groups.x + wid.x) * 256u + lid;
}

// The flat index in x of the first maximum of window (oy, ox) of `plane`, reading `b`.
fn window_argmax(plane: u32, oy: u32, ox: u32) -> u32 {
    if (PAIRS == 1u) {
        return pair_argmax(plane, oy, ox);
    }
    var best = -3.4028235e38;
    var at = 0xffffffffu;
    for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
        let iy = i32(oy * p.stride_h + dy) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
            let ix = i32(ox * p.stride_w + dx) - i32(p.pad_w);
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
    return at;
}

// window_argmax for a 2×2 window at stride 2 without padding (PAIRS), which lies inside x.
fn pair_argmax(plane: u32, oy: u32, ox: u32) -> u32 {
    let i0 = (plane * p.h + 2u * oy) * p.w + 2u * ox;
    let i2 = i0 + p.w;
    let v0 = b[i0];
    let v1 = b[i0 + 1u];
    let v2 = b[i2];
    let v3 = b[i2 + 1u];
    // Strictly greater: the first maximum in row-major order wins, and NaNs never do.
    var at = i0;
    var best = v0;
    at = select(at, i0 + 1u, v1 > best);
    best = select(best, v1, v1 > best);
    at = select(at, i2, v2 > best);
    best = select(best, v2, v2 > best);
    at = select(at, i2 + 1u, v3 > best);
    return at;
}

@compute @workgroup_size(256)
fn pool_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let id = linear_id(wid, groups, lid);
    if (id >= p.planes * p.oh * p.ow) {
        return;
    }
    let ox = id % p.ow;
    let oy = (id / p.ow) % p.oh;
    let plane = id / (p.ow * p.oh);
    if (MAX == 1u) {
        out[id] = b[window_argmax(plane, oy, ox)];
        return;
    }
    var sum = 0.0;
    for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
        let iy = i32(oy * p.stride_h + dy) - i32(p.pad_h);
        for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
            let ix = i32(ox * p.stride_w + dx) - i32(p.pad_w);
            if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                sum = sum + a[(plane * p.h + u32(iy)) * p.w + u32(ix)];
            }
        }
    }
    out[id] = sum / f32(p.kh * p.kw);
}

// One invocation per input element: the gradient of every window that took it.
@compute @workgroup_size(256)
fn pool_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let id = linear_id(wid, groups, lid);
    if (id >= p.planes * p.h * p.w) {
        return;
    }
    let x = id % p.w;
    let y = (id / p.w) % p.h;
    let plane = id / (p.w * p.h);
    // Windows oy with oy·stride − pad ≤ y < oy·stride − pad + kh, likewise for x.
    let y_end = min((y + p.pad_h) / p.stride_h + 1u, p.oh);
    let x_end = min((x + p.pad_w) / p.stride_w + 1u, p.ow);
    let y_start = select(0u, (y + p.pad_h + 1u - p.kh + p.stride_h - 1u) / p.stride_h, y + p.pad_h + 1u > p.kh);
    let x_start = select(0u, (x + p.pad_w + 1u - p.kw + p.stride_w - 1u) / p.stride_w, x + p.pad_w + 1u > p.kw);
    var sum = 0.0;
    for (var oy = y_start; oy < y_end; oy = oy + 1u) {
        for (var ox = x_start; ox < x_end; ox = ox + 1u) {
            let g = a[(plane * p.oh + oy) * p.ow + ox];
            if (MAX == 1u) {
                if (window_argmax(plane, oy, ox) == id) {
                    sum = sum + g;
                }
            } else {
                sum = sum + g / f32(p.kh * p.kw);
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
fn max_backward_tiling(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let cells_y = (p.h + p.pad_h + p.kh - 1u) / p.kh;
    let cells_x = (p.w + p.pad_w + p.kw - 1u) / p.kw;
    let id = linear_id(wid, groups, lid);
    if (id >= p.planes * cells_y * cells_x) {
        return;
    }
    let cx = id % cells_x;
    let cy = (id / cells_x) % cells_y;
    let plane = id / (cells_x * cells_y);
    var at = 0xffffffffu;
    var g = 0.0;
    if (cy < p.oh && cx < p.ow) {
        at = window_argmax(plane, cy, cx);
        g = a[(plane * p.oh + cy) * p.ow + cx];
        if (p.relu == 1u && !(b[at] > 0.0)) {
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
    for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
        let iy = i32(cy * p.kh + dy) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
            let ix = i32(cx * p.kw + dx) - i32(p.pad_w);
            if (ix < 0 || ix >= i32(p.w)) {
                continue;
            }
            let i = (plane * p.h + u32(iy)) * p.w + u32(ix);
            out[i] = select(0.0, g, i == at);
        }
    }
}
