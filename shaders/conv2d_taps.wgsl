// A convolution of few taps (C·KH·KW small: a network's first layer on images), computed
// directly: y [N, K, OH, OW] = conv2d(x [N, C, H, W], filters [K, C·KH·KW]) (+ bias [K]),
// then a ReLU where asked. The plan compiler makes it from an im2col and its product on
// software adapters, where a product of so few taps runs mostly padding and stores.
//
// This file is the fixed part; src/kernels/conv2d_taps.rs appends the entry point
// `conv2d_taps`, written out for one filter shape, stride, bias and ReLU: every filter and
// bias index is then a constant, which llvmpipe loads once for all SIMD lanes (a scalar load
// and a broadcast) where a computed index takes a load per lane. It does so only outside
// divergent control flow, so the entry never returns early: lanes past the end compute the
// last pixel again and skip their stores.
//
// One invocation: four consecutive output pixels of one row, for every output channel.

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    oh: u32,
    ow: u32,
    pad_h: u32,
    pad_w: u32,
    // Invocations along a row of output pixels: ceil(ow / 4).
    quads: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> filters: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;

const LANES: u32 = 64u;

// x at row `iy` and column `ix` of the plane starting at `plane`; 0 in the zero padding.
fn x_at(plane: u32, iy: i32, ix: i32) -> f32 {
    let inside = iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
    let at = plane + u32(clamp(iy, 0, i32(p.h) - 1)) * p.w + u32(clamp(ix, 0, i32(p.w) - 1));
    return select(0.0, x[at], inside);
}
