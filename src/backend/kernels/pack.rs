//! `shaders/pack.wgsl`: a matrix operand written into the plan's operand texture in padded
//! texels, for the products whose operands a plain copy cannot lay out in fours.

use super::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use super::params::{PackParams, Params};
use crate::error::Result;
use crate::ir::shape::Shape;

/// How the matrices of an operand lie in storage, and in the texture once packed: each
/// stored row becomes [`Packing::cols4`] texels (zeros past its end), then zero rows up to
/// `padded_rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packing {
    /// Stored rows of a matrix.
    pub rows: usize,
    /// Elements in a stored row (the operand's contiguous extent).
    pub cols: usize,
    /// Elements between the starts of consecutive rows (`cols`, unless the rows are a band
    /// of k out of wider ones).
    pub row_stride: usize,
    /// Rows in the texture: `rows`, or k rounded up to four for an operand stored across k.
    pub padded_rows: usize,
}

impl Packing {
    /// A matrix stored as `rows` rows of `cols`; `pad_rows_to_four` for one stored across k
    /// (k rows), whose missing k must read as zeros.
    pub fn new(rows: usize, cols: usize, pad_rows_to_four: bool) -> Packing {
        let padded_rows = if pad_rows_to_four { rows.next_multiple_of(4) } else { rows };
        Packing { rows, cols, row_stride: cols, padded_rows }
    }

    /// The same rows, `row_stride` elements apart in storage.
    pub fn with_row_stride(self, row_stride: usize) -> Packing {
        Packing { row_stride, ..self }
    }

    /// Texels one matrix takes in the texture.
    pub fn texels(&self) -> usize {
        self.padded_rows * self.cols4()
    }

    /// Texels a row takes.
    pub fn cols4(&self) -> usize {
        self.cols.div_ceil(4)
    }
}

/// The launch that packs `matrices` matrices laid out as `packing` says, the first at
/// element `offset` of its buffer and each `matrix_stride` elements after the last, into
/// the texture from texel `first_texel` on (one matrix after another, `packing.texels()`
/// apart). `out` names the shape in limit errors.
pub fn launch(
    packing: &Packing,
    (offset, matrix_stride, matrices): (usize, usize, usize),
    first_texel: u64,
    out: &Shape,
    limits: &wgpu::Limits,
) -> Result<Launch> {
    let texels = (matrices * packing.texels()) as u64;
    let params = PackParams {
        offset: offset as u32,
        matrix_stride: matrix_stride as u32,
        matrices: matrices as u32,
        rows: packing.rows as u32,
        cols: packing.cols as u32,
        padded_rows: packing.padded_rows as u32,
        cols4: packing.cols4() as u32,
        first_texel: first_texel as u32,
        row_stride: packing.row_stride as u32,
    };
    Ok(Launch {
        key: KernelKey {
            family: Family::Pack,
            entry: "pack",
            inputs: 1,
            outputs: 0,
            texture: TextureBinding::Write,
            constants: vec![],
        },
        params: Params::Pack(params),
        groups: grid("pack", out, texels.div_ceil(64), limits)?,
    })
}
