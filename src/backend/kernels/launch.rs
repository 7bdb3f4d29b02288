//! What a kernel launch is: its shader family, pipeline key, parameter words and workgroups.

use super::conv2d_taps::kernel::TapsKernel;
use super::params::Params;
use crate::error::{Error, Result};
use crate::ir::ops::window::Window;
use crate::ir::shape::Shape;

/// Bytes reserved for each launch's parameters in the plan's uniform buffer; a multiple of
/// every adapter's `min_uniform_buffer_offset_alignment` (at most 256 by the WebGPU spec).
pub const PARAMS_SLOT: u64 = 256;

/// One WGSL file in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `shaders/matmul.wgsl`
    Matmul,
    /// `shaders/matmul.wgsl` with its subgroup entry point (a module only devices with the
    /// `SUBGROUP` feature create).
    MatmulSubgroups,
    /// `shaders/elementwise.wgsl`
    Elementwise,
    /// `shaders/reduce.wgsl`
    Reduce,
    /// `shaders/loss.wgsl`
    Loss,
    /// `shaders/softmax.wgsl`
    Softmax,
    /// `shaders/optim.wgsl`
    Optim,
    /// `shaders/conv2d.wgsl`
    Conv2d,
    /// `shaders/conv2d_taps.wgsl` with its entry point written out for one filter shape.
    Conv2dTaps(TapsKernel),
    /// `shaders/pool2d.wgsl`
    Pool2d,
    /// `shaders/layout.wgsl`
    Layout,
    /// `shaders/pack.wgsl`
    Pack,
    /// `shaders/batch_norm.wgsl`
    BatchNorm,
    /// `shaders/recurrent.wgsl`
    Recurrent,
    /// `shaders/scan.wgsl`
    Scan,
}

impl Family {
    /// Every family, for validation and listing.
    pub const ALL: [Family; 15] = [
        Family::Matmul,
        Family::MatmulSubgroups,
        Family::Elementwise,
        Family::Reduce,
        Family::Loss,
        Family::Softmax,
        Family::Optim,
        Family::Conv2d,
        Family::Conv2dTaps(TapsKernel::EXAMPLE),
        Family::Pool2d,
        Family::Layout,
        Family::Pack,
        Family::BatchNorm,
        Family::Recurrent,
        Family::Scan,
    ];

    /// The file's name in `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Family::Matmul | Family::MatmulSubgroups => "matmul.wgsl",
            Family::Elementwise => "elementwise.wgsl",
            Family::Reduce => "reduce.wgsl",
            Family::Loss => "loss.wgsl",
            Family::Softmax => "softmax.wgsl",
            Family::Optim => "optim.wgsl",
            Family::Conv2d => "conv2d.wgsl",
            Family::Conv2dTaps(_) => "conv2d_taps.wgsl",
            Family::Pool2d => "pool2d.wgsl",
            Family::Layout => "layout.wgsl",
            Family::Pack => "pack.wgsl",
            Family::BatchNorm => "batch_norm.wgsl",
            Family::Recurrent => "recurrent.wgsl",
            Family::Scan => "scan.wgsl",
        }
    }
}

/// A pipeline's identity: its shader, entry point, binding count and override constants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelKey {
    /// The shader file.
    pub family: Family,
    /// The entry point in it.
    pub entry: &'static str,
    /// Read-only storage inputs bound after the parameters.
    pub inputs: u32,
    /// Read-write storage outputs bound after the inputs.
    pub outputs: u32,
    /// Whether the plan's operand texture is bound after the outputs, and how.
    pub texture: TextureBinding,
    /// WGSL `override` constants, by name.
    pub constants: Vec<(&'static str, u32)>,
}

/// How a kernel binds the plan's operand texture (`rgba32float`, 2D, as a storage texture).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextureBinding {
    /// Not at all.
    None,
    /// Read-only: a matmul reading its operands in texels.
    Read,
    /// Write-only: the pack kernel putting an operand there.
    Write,
}

/// One kernel launch as the executor records it.
#[derive(Clone, Debug)]
pub struct Launch {
    /// Which pipeline.
    pub key: KernelKey,
    /// The uniform parameter block.
    pub params: Params,
    /// Workgroups in x, y, z.
    pub groups: [u32; 3],
}

/// Workgroups for `groups` linear workgroups, folded into y and then z wherever a dimension
/// would pass the adapter's per-dimension limit. Shaders rebuild the linear id as
/// `(wid.z * num_workgroups.y + wid.y) * num_workgroups.x + wid.x` and skip ids past the end.
pub fn grid(op: &str, shape: &Shape, groups: u64, limits: &wgpu::Limits) -> Result<[u32; 3]> {
    let max = limits.max_compute_workgroups_per_dimension as u64;
    let x = groups.clamp(1, max);
    let y = groups.div_ceil(x).min(max);
    let z = groups.div_ceil(x * y);
    if z > max {
        return Err(Error::AdapterLimit {
            op: op.to_string(),
            shape: shape.clone(),
            limit: "max_compute_workgroups_per_dimension",
            needed: z,
            available: max,
        });
    }
    Ok([x as u32, y as u32, z as u32])
}

/// A window's kernel, stride and padding as the parameter blocks' u32 pairs.
pub(crate) fn window_words(window: &Window) -> [[u32; 2]; 3] {
    [window.kernel, window.stride, window.padding].map(|pair| pair.map(|v| v as u32))
}

/// Packs four extents into u32 words, for a `vec4<u32>` parameter.
pub(crate) fn words4(values: [usize; 4]) -> [u32; 4] {
    values.map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_folds_into_y_and_z_past_the_dimension_limit() {
        let limits = wgpu::Limits { max_compute_workgroups_per_dimension: 100, ..wgpu::Limits::default() };
        let shape = Shape::new(&[1]).unwrap();
        assert_eq!(grid("t", &shape, 5, &limits).unwrap(), [5, 1, 1]);
        assert_eq!(grid("t", &shape, 250, &limits).unwrap(), [100, 3, 1]);
        assert_eq!(grid("t", &shape, 100 * 100 * 3 + 1, &limits).unwrap(), [100, 100, 4]);
        let err = grid("t", &shape, 100 * 100 * 100 + 1, &limits).unwrap_err().to_string();
        assert!(err.contains("max_compute_workgroups_per_dimension"), "{err}");
    }
}
