//! `shaders/pool2d.wgsl`: max and average pooling and their gradients.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid, window_words};
use super::params::{Params, Pool2dParams};
use crate::error::{Error, Result};
use crate::ir::ops::window::Window;
use crate::ir::shape::Shape;

fn launch(
    entry: &'static str,
    max: bool,
    x: &Shape,
    window: &Window,
    y: &Shape,
    work: &Shape,
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let d = x.dims();
    let (oh, ow) = (y.dims()[2], y.dims()[3]);
    let [[kh, kw], [stride_h, stride_w], [pad_h, pad_w]] = window_words(window);
    let params = Pool2dParams {
        planes: (d[0] * d[1]) as u32,
        h: d[2] as u32,
        w: d[3] as u32,
        oh: oh as u32,
        ow: ow as u32,
        kh,
        kw,
        stride_h,
        stride_w,
        pad_h,
        pad_w,
        ..Default::default()
    };
    Ok(Launch {
        key: KernelKey {
            family: Family::Pool2d,
            entry,
            inputs: 2,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![("MAX", max as u32), ("PAIRS", pair_kind(window))],
        },
        params: Params::Pool2d(params),
        groups: grid(if max { "max_pool2d" } else { "avg_pool2d" }, work, (work.numel() as u64).div_ceil(256), limits)?,
    })
}

/// y = pool(x) for x [N, C, H, W] and y [N, C, OH, OW].
pub fn forward(max: bool, x: &Shape, window: &Window, y: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    launch("pool_forward", max, x, window, y, y, limits)
}

/// The gradient through a ReLU and the max pooling after it (windows that tile the input),
/// from the pooling's output gradient and the ReLU's output y (the pooling's input).
pub fn max_relu_backward(y: &Shape, window: &Window, pooled: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    if !tiles(window) {
        return Err(crate::error::Error::InvalidArgument {
            op: "max_pool2d",
            message: format!("a ReLU's gradient fuses only with windows that tile the input, not {window:?}"),
        });
    }
    let mut launch = backward(true, y, window, pooled, limits)?;
    let mut p = block(&launch)?;
    p.relu = 1;
    launch.params = Params::Pool2d(p);
    Ok(launch)
}

/// Whether `window` is the usual 2×2 pool at stride 2 without padding, whose windows the
/// kernels read without loops (`PAIRS`).
fn pairs(window: &Window) -> bool {
    pair_kind(window) == 1
}

/// The shader's `PAIRS`: 1 for 2×2 windows at stride 2 without padding, 2 with padding
/// (lab 10-2's last pool), 0 for other windows.
fn pair_kind(window: &Window) -> u32 {
    match (window.kernel, window.stride, window.padding) {
        ([2, 2], [2, 2], [0, 0]) => 1,
        ([2, 2], [2, 2], _) => 2,
        _ => 0,
    }
}

/// The launch's block, which every pool2d launch has.
fn block(launch: &Launch) -> Result<Pool2dParams> {
    launch.params.pool2d().copied().ok_or_else(|| Error::Graph(format!("{}: not a pool2d launch", launch.key.entry)))
}

/// Whether max pooling of `x` by `window` (forward, or its gradient) can read x from the
/// plan's texture: 2×2 windows at stride 2 on rows of even width, whose pairs of inputs lie
/// in one texel, and planes of whole texels, so each launch's first plane starts one.
pub fn reads_texture(x: &Shape, window: &Window) -> bool {
    let d = x.dims();
    pairs(window) && d[3].is_multiple_of(2) && (d[2] * d[3]).is_multiple_of(4)
}

/// `launch` (a max pooling or its gradient, for which [`reads_texture`] holds) for the planes
/// `planes` only, reading their inputs from the plan's texture, where they start at texel 0.
pub fn textured(launch: &Launch, planes: std::ops::Range<usize>, limits: &wgpu::Limits) -> Result<Launch> {
    let mut p = block(launch)?;
    // Unpadded windows on rows of a width in fours and an even height: two windows'
    // inputs are two whole texels, their gradients two vectors (`max_backward_quads_tex`).
    let quads = launch.key.constants.contains(&("PAIRS", 1)) && p.w.is_multiple_of(4) && p.h.is_multiple_of(2);
    let outputs = (p.oh * p.ow) as usize;
    let (entry, per_plane) = match (launch.key.entry, launch.key.constants.contains(&("MAX", 1))) {
        ("pool_forward", true) => ("max_pool_tex", outputs),
        ("max_backward_tiling", _) if quads => ("max_backward_quads_tex", outputs / 2),
        ("max_backward_tiling", _) => ("max_backward_tiling_tex", cells_per_plane(&p)),
        (entry, _) => return Err(Error::Graph(format!("pool2d's {entry} does not read textures"))),
    };
    let mut textured = launch.clone();
    textured.key.entry = entry;
    textured.key.texture = TextureBinding::Read;
    p.planes = planes.len() as u32;
    p.first = planes.start as u32;
    textured.params = Params::Pool2d(p);
    let work = Shape::new(&[planes.len(), per_plane])?;
    textured.groups = grid("max_pool2d", &work, (work.numel() as u64).div_ceil(256), limits)?;
    Ok(textured)
}

/// Invocations of `max_backward_tiling` per plane: one per window-sized cell of the padded
/// input.
fn cells_per_plane(p: &Pool2dParams) -> usize {
    ((p.h + p.pad_h).div_ceil(p.kh) * (p.w + p.pad_w).div_ceil(p.kw)) as usize
}

/// Whether `window`'s windows tile the input (stride = kernel, the usual 2×2 pool), so max
/// pooling's gradient can visit each window once (`max_backward_tiling`).
pub fn tiles(window: &Window) -> bool {
    window.stride == window.kernel
}

/// dx from dy and x.
pub fn backward(max: bool, x: &Shape, window: &Window, y: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    if max && tiles(window) {
        let mut launch = launch("max_backward_tiling", max, x, window, y, x, limits)?;
        let d = x.dims();
        let work = (d[0] * d[1] * cells_per_plane(&block(&launch)?)) as u64;
        launch.groups = grid("max_pool2d", x, work.div_ceil(256), limits)?;
        return Ok(launch);
    }
    launch("pool_backward", max, x, window, y, x, limits)
}
