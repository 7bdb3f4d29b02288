//! The sliding window of convolutions and poolings.

use crate::error::{Error, Result};
use crate::ir::shape::Shape;

/// Stride and zero padding of a convolution or pooling window, per axis (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Window extent [h, w].
    pub kernel: [usize; 2],
    /// Step between windows [h, w].
    pub stride: [usize; 2],
    /// Zeros added on each side [h, w].
    pub padding: [usize; 2],
}

impl Window {
    /// The output extent [oh, ow] over an input of extent [h, w], or an error naming `op`.
    pub fn output(&self, op: &'static str, input: &Shape, h: usize, w: usize) -> Result<[usize; 2]> {
        let mut out = [0; 2];
        for (d, extent) in [h, w].into_iter().enumerate() {
            let padded = extent + 2 * self.padding[d];
            if self.stride[d] == 0 || self.kernel[d] == 0 || padded < self.kernel[d] {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "a {:?} window with stride {:?} and padding {:?} does not fit input {input}",
                        self.kernel, self.stride, self.padding
                    ),
                });
            }
            out[d] = (padded - self.kernel[d]) / self.stride[d] + 1;
        }
        Ok(out)
    }
}
