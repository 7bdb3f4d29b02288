//! Launches as the plan binds them: a chunk of a split launch, and a launch ready to bind.

use crate::backend::kernels::Launch;
use crate::backend::operand_textures::copy::OperandCopy;
use crate::ir::graph::NodeId;
use crate::ir::shape::Shape;
use std::collections::HashMap;

/// A chunk of a launch split to keep every binding within `max_storage_buffer_binding_size`:
/// the shapes of the split nodes inside the chunk, and whether a matmul adds to its output.
#[derive(Default)]
pub(crate) struct Part {
    pub shapes: HashMap<usize, Shape>,
    pub accumulate: bool,
    /// The chunk's first row in the whole tensor.
    pub first_row: usize,
    /// Matrix products read storage, not textures (a chunk binds part of a buffer).
    pub storage_only: bool,
}

/// A launch ready to bind: each binding is (node, byte offset, byte size), reads then writes,
/// and the operands to copy into textures before it runs.
pub(crate) struct PlanChunk {
    /// The kernel and its parameters.
    pub launch: Launch,
    /// What it binds, reads then writes.
    pub bindings: Vec<(NodeId, u64, u64)>,
    /// Operands copied into the plan's texture first.
    pub copies: Vec<OperandCopy>,
    /// Texel rows of the plan's texture that the launch's product uses (0: none).
    pub texture_rows: u64,
}
