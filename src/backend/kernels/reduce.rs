//! `shaders/reduce.wgsl`: sums (and means) over chosen axes.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid, words4};
use super::params::{Params, ReduceParams};
use crate::error::{Error, Result};
use crate::ir::ops::reduce::ReduceOp;
use crate::ir::shape::{MAX_RANK, Shape};

/// Reductions at least this long get a workgroup per output.
const WIDE_FROM: usize = 128;
/// Above this many outputs, a workgroup each would leave most invocations idle too long.
const WIDE_MAX_OUTPUTS: usize = 1 << 14;
/// Outputs of one `reduce_columns` workgroup (its x extent).
const COLUMNS: usize = 32;

/// Reduces `input` down to `kept` (same rank, extent 1 on each reduced axis); sums are
/// multiplied by `factor`.
/// `accumulate` combines with the output's current values (sum: adds; max: keeps the larger).
pub fn launch(
    op: ReduceOp,
    input: &Shape,
    kept: &Shape,
    factor: f32,
    accumulate: bool,
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let in4 = input.padded4();
    let out4 = kept.padded4();
    let mut red4 = [1; MAX_RANK];
    for d in 0..MAX_RANK {
        if out4[d] == 1 {
            red4[d] = in4[d];
        }
    }
    let n_out = kept.numel();
    let n_red: usize = red4.iter().product();
    let mut strides = [0; MAX_RANK];
    let own = input.strides();
    strides[MAX_RANK - own.len()..].copy_from_slice(&own);
    let params = Params::Reduce(ReduceParams {
        out_shape: words4(out4),
        red_shape: words4(red4),
        in_stride: words4(strides),
        n_out: n_out as u32,
        n_red: n_red as u32,
        factor,
        accumulate: accumulate as u32,
    });
    // Where the innermost axis is kept, neighbouring outputs read neighbouring elements: their
    // invocations go side by side (`reduce_columns`), so a bias gradient's column sums read
    // rows whole instead of a workgroup striding down each column.
    let columns = out4[MAX_RANK - 1] > 1;
    let (entry, groups) = if n_red >= WIDE_FROM && columns {
        ("reduce_columns", n_out.div_ceil(COLUMNS) as u64)
    } else if n_red >= WIDE_FROM && n_out <= WIDE_MAX_OUTPUTS {
        ("reduce_wide", n_out as u64)
    } else {
        ("reduce_serial", (n_out as u64).div_ceil(256))
    };
    Ok(Launch {
        key: KernelKey {
            family: Family::Reduce,
            entry,
            inputs: 1,
            outputs: 1,
            texture: TextureBinding::None,
            constants: vec![("OP", op as u32)],
        },
        params,
        groups: grid(op.name(), input, groups, limits)?,
    })
}

/// Whether `launch` (a reduction of `input` down to `kept`) is a sum over axes 0, 2 and 3 of
/// [N, C, H, W] (a convolution's bias gradient), which [`channel_sums_textured`] can read
/// from the plan's texture where an image is whole texels (C·H·W in fours; planes need not
/// be: a 7×7 layer's 64 or 128 channels, 13 ms in `reduce_wide` before).
pub fn sums_channels(launch: &Launch, input: &Shape, kept: &Shape) -> bool {
    let (d, k) = (input.dims(), kept.dims());
    launch.key.constants.contains(&("OP", ReduceOp::Sum as u32)) && d.len() == 4 && k == [1, d[1], 1, 1]
}

/// `launch` (for which [`sums_channels`] holds) for the images `images` only, reading them
/// from the plan's texture (texel 0 on); each launch after the first adds to the sums.
pub fn channel_sums_textured(launch: &Launch, images: std::ops::Range<usize>, limits: &wgpu::Limits) -> Result<Launch> {
    let mut textured = launch.clone();
    textured.key.entry = "sum_channels_tex";
    textured.key.texture = TextureBinding::Read;
    let p = textured.params.reduce_mut().ok_or_else(|| not_reduce(launch))?;
    p.red_shape[0] = images.len() as u32;
    p.accumulate |= (images.start > 0) as u32;
    // One workgroup per channel.
    let channels = Shape::new(&[p.out_shape[1] as usize])?;
    textured.groups = grid("sum", &channels, channels.numel() as u64, limits)?;
    Ok(textured)
}

fn not_reduce(launch: &Launch) -> Error {
    Error::Graph(format!("{}: not a reduction's launch", launch.key.entry))
}
