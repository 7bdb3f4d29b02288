//! What one generated direct convolution is written for, and which convolutions suit it.

use crate::ir::ops::window::Window;
use std::collections::BTreeSet;

/// What one generated `conv2d_taps` kernel is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TapsKernel {
    /// K, the filters.
    pub out_channels: u32,
    /// C, the input's channels.
    pub in_channels: u32,
    /// The window [KH, KW].
    pub kernel: [u32; 2],
    /// The stride [height, width] (padding is a parameter).
    pub stride: [u32; 2],
    /// A bias per filter is added.
    pub bias: bool,
    /// A ReLU follows.
    pub relu: bool,
    /// The output's rows come in fours (OW a multiple of 4), so four pixels store as one vector.
    pub vec4_stores: bool,
}

impl TapsKernel {
    /// The first layer of the course's MNIST CNN, for validating the generated source.
    pub const EXAMPLE: TapsKernel = TapsKernel {
        out_channels: 32,
        in_channels: 1,
        kernel: [3, 3],
        stride: [1, 1],
        bias: true,
        relu: true,
        vec4_stores: true,
    };

    /// Whether a convolution with `out_channels` filters of `in_channels` channels over
    /// `window` runs the direct kernel on software adapters: few enough weights and input
    /// values ([`MAX_WEIGHTS`], [`MAX_LOADS`]).
    pub fn suits(out_channels: usize, in_channels: usize, window: &Window) -> bool {
        let kernel = TapsKernel::new(out_channels, in_channels, window);
        let taps = kernel.taps() as usize;
        let loads = in_channels * window.kernel[0] * kernel.columns().len();
        out_channels * taps <= MAX_WEIGHTS && loads <= MAX_LOADS
    }

    /// The kernel for `out_channels` filters of `in_channels` channels over `window`, with no
    /// bias, ReLU or vector stores.
    pub(crate) fn new(out_channels: usize, in_channels: usize, window: &Window) -> TapsKernel {
        TapsKernel {
            out_channels: out_channels as u32,
            in_channels: in_channels as u32,
            kernel: window.kernel.map(|v| v as u32),
            stride: window.stride.map(|v| v as u32),
            bias: false,
            relu: false,
            vec4_stores: false,
        }
    }

    pub(crate) fn taps(&self) -> u32 {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// The input columns the four pixels' windows read, as offsets from the first pixel's.
    pub(crate) fn columns(&self) -> BTreeSet<u32> {
        let [sw, kw] = [self.stride[1], self.kernel[1]];
        (0..4).flat_map(|j| (0..kw).map(move |dx| j * sw + dx)).collect()
    }
}

/// The most weights (K·C·KH·KW) the direct kernel writes out, each a line of the generated
/// shader: its first compile on llvmpipe grows faster than they do (measured: 0.04 s for
/// 288, 0.13 s for 450, 0.24 s for 864, 0.85 s for 1728, 1.3 s for 2400), and they sit in
/// workgroup memory. Within this, every shape measured ran several times faster than im2col
/// and the product (BENCHMARKS.md).
pub const MAX_WEIGHTS: usize = 2048;

/// The most input values one invocation loads and holds (C·KH times the columns its four
/// pixels' windows span).
pub const MAX_LOADS: usize = 512;
