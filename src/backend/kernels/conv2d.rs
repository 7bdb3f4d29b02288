//! `shaders/conv2d.wgsl`: 2-D convolution on NCHW and its gradients.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid, window_words};
use super::params::{Conv2dParams, Params};
use crate::error::{Error, Result};
use crate::ir::ops::window::Window;
use crate::ir::shape::Shape;

/// The parameter block shared by the three entry points.
fn params(x: &Shape, k: usize, window: &Window, out_hw: [usize; 2]) -> Params {
    let d = x.dims().iter().map(|&v| v as u32).collect::<Vec<_>>();
    let [oh, ow] = out_hw.map(|v| v as u32);
    let [[kh, kw], [stride_h, stride_w], [pad_h, pad_w]] = window_words(window);
    Params::Conv2d(Conv2dParams {
        n: d[0],
        c: d[1],
        h: d[2],
        w: d[3],
        k: k as u32,
        oh,
        ow,
        kh,
        kw,
        stride_h,
        stride_w,
        pad_h,
        pad_w,
        ..Default::default()
    })
}

/// The launch's block, which every conv2d launch has.
fn block(launch: &Launch) -> Result<Conv2dParams> {
    launch.params.conv2d().copied().ok_or_else(|| Error::Graph(format!("{}: not a conv2d launch", launch.key.entry)))
}

/// `UNIT_STRIDE` lets the shader compiler drop the divisions by the stride (software
/// adapters run a vector division as one division per lane).
fn key(entry: &'static str, window: &Window) -> KernelKey {
    let unit = window.stride == [1, 1];
    KernelKey {
        family: Family::Conv2d,
        entry,
        inputs: 2,
        outputs: 1,
        texture: TextureBinding::None,
        constants: vec![("UNIT_STRIDE", unit as u32)],
    }
}

/// y = conv2d(x, w) for x [N, C, H, W], w [K, C, KH, KW], y [N, K, OH, OW].
pub fn forward(x: &Shape, k: usize, window: &Window, y: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let d = y.dims();
    let invocations = d[0] * k.div_ceil(4) * d[2] * d[3];
    Ok(Launch {
        key: key("conv2d_forward", window),
        params: params(x, k, window, [d[2], d[3]]),
        groups: grid("conv2d", y, (invocations as u64).div_ceil(256), limits)?,
    })
}

/// dx from dy and w.
pub fn backward_input(x: &Shape, k: usize, window: &Window, y: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let d = y.dims();
    Ok(Launch {
        key: key("conv2d_backward_input", window),
        params: params(x, k, window, [d[2], d[3]]),
        groups: grid("conv2d_backward_input", x, (x.numel() as u64).div_ceil(256), limits)?,
    })
}

/// dw from dy and x; `w` is the filter's shape.
pub fn backward_weight(x: &Shape, w: &Shape, window: &Window, y: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let d = y.dims();
    Ok(Launch {
        key: key("conv2d_backward_weight", window),
        params: params(x, w.dims()[0], window, [d[2], d[3]]),
        groups: grid("conv2d_backward_weight", w, w.numel() as u64, limits)?,
    })
}

/// The patches of x [N, C, H, W] as columns [N, C·KH·KW, OH·OW] (`y` is the convolution's
/// output shape, for OH and OW).
pub fn im2col(x: &Shape, window: &Window, cols: &Shape, out_hw: [usize; 2], limits: &wgpu::Limits) -> Result<Launch> {
    // One invocation per row of output pixels, or for a 3×3 window at stride 1 per row of
    // output pixels of the nine taps together (a sliding window).
    let (entry, rows) = match (window.kernel, window.stride) {
        ([3, 3], [1, 1]) => ("im2col_3x3", cols.numel() / out_hw[1] / 9),
        _ => ("im2col", cols.numel() / out_hw[1]),
    };
    Ok(Launch {
        key: key(entry, window),
        params: params(x, 0, window, out_hw),
        groups: grid("im2col", cols, (rows as u64).div_ceil(256), limits)?,
    })
}

/// Whether `launch` (an im2col) has a twin that reads x from the plan's texture
/// ([`im2col_textured`]): the 3×3 window at stride 1.
pub fn im2col_reads_texture(launch: &Launch) -> bool {
    launch.key.entry == "im2col_3x3"
}

/// `launch` (an im2col that [`im2col_reads_texture`]) for the images `images` only,
/// reading them from the plan's texture, from its first texel row.
pub fn im2col_textured(launch: &Launch, images: std::ops::Range<usize>, limits: &wgpu::Limits) -> Result<Launch> {
    // One invocation per plane and output row.
    let p = block(launch)?;
    let work = [images.len(), p.c as usize, p.oh as usize];
    textured(launch, "im2col_3x3_tex", images, &work, limits)
}

/// `launch` (a col2im at stride 1) for the images `images` only, reading their columns from
/// the plan's texture, from its second texel row.
pub fn col2im_textured(launch: &Launch, images: std::ops::Range<usize>, limits: &wgpu::Limits) -> Result<Launch> {
    let p = block(launch)?;
    // One invocation per four consecutive elements of an input row.
    let work = [images.len(), p.c as usize, p.h as usize, (p.w as usize).div_ceil(4)];
    textured(launch, "col2im_tex", images, &work, limits)
}

/// `launch` as `entry`, reading `images` from the plan's texture, with an invocation per
/// element of `work`.
fn textured(
    launch: &Launch,
    entry: &'static str,
    images: std::ops::Range<usize>,
    work: &[usize],
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let mut textured = launch.clone();
    textured.key.entry = entry;
    textured.key.texture = TextureBinding::Read;
    let mut p = block(launch)?;
    p.n = images.len() as u32;
    p.first = images.start as u32;
    textured.params = Params::Conv2d(p);
    let work = Shape::new(work)?;
    textured.groups = grid(entry, &work, (work.numel() as u64).div_ceil(256), limits)?;
    Ok(textured)
}

/// The gradient of x from the gradient of its columns.
pub fn col2im(x: &Shape, window: &Window, out_hw: [usize; 2], limits: &wgpu::Limits) -> Result<Launch> {
    Ok(Launch {
        key: key("col2im", window),
        params: params(x, 0, window, out_hw),
        // One invocation per row of the image.
        groups: grid("col2im", x, (x.numel() as u64 / x.dims()[3] as u64).div_ceil(256), limits)?,
    })
}
