//! One copy of an operand's elements into the plan's texture, before a launch.

use crate::backend::kernels::matmul::TEXEL_ROW;
use crate::ir::graph::NodeId;

/// Bytes in a texel row.
pub(crate) const ROW_BYTES: u64 = TEXEL_ROW as u64 * 16;

/// One copy of an operand's elements into a texture, before a launch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OperandCopy {
    /// The operand.
    pub node: NodeId,
    /// Where its elements start in its buffer, in bytes (a multiple of 16).
    pub offset: u64,
    /// What is copied.
    pub layout: CopyLayout,
    /// The texel row it starts at.
    pub row: u64,
}

/// The elements an [`OperandCopy`] takes from its buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CopyLayout {
    /// `bytes` in a row (a multiple of 16), filling the texture's rows in turn.
    Flat { bytes: u64 },
    /// `rows` runs of `texels` texels, `stride` bytes apart in the buffer (a band of k out of
    /// an operand stored along k), packed `per_row` runs to a texel row (the kernel's
    /// `run_start` finds them).
    Strided { rows: u64, texels: u64, per_row: u64, stride: u64 },
}

impl OperandCopy {
    /// Texel rows the copy fills.
    pub(crate) fn rows(&self) -> u64 {
        match self.layout {
            CopyLayout::Flat { bytes } => rows(bytes),
            CopyLayout::Strided { rows, per_row, .. } => rows.div_ceil(per_row),
        }
    }
}

/// Texel rows that `bytes` fill.
pub(crate) fn rows(bytes: u64) -> u64 {
    bytes.div_ceil(ROW_BYTES)
}

/// A flat copy of `count` elements from element `first`.
pub(crate) fn flat(node: NodeId, (first, count): (usize, usize), row: u64) -> OperandCopy {
    OperandCopy { node, offset: first as u64 * 4, layout: CopyLayout::Flat { bytes: count as u64 * 4 }, row }
}
