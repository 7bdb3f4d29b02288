//! `shaders/matmul.wgsl`: batched matrix products with either operand transposed.

use super::{grid, Family, KernelKey, Launch};
use crate::error::{Error, Result};
use crate::shape::Shape;

/// Rows and columns of C that one workgroup computes (8×8 invocations, 4×4 each).
const TILE: u64 = 32;

/// Sizes of one (batched) product C[m, n] = op(A)[m, k] · op(B)[k, n].
#[derive(Clone, Copy, Debug)]
pub struct MatmulDims {
    /// Matrices in the batch.
    pub batch: usize,
    /// Rows of C.
    pub m: usize,
    /// Columns of C.
    pub n: usize,
    /// The contracted extent.
    pub k: usize,
    /// Elements between batch entries of A (0: one A for all).
    pub stride_a: usize,
    /// Elements between batch entries of B (0: one B for all).
    pub stride_b: usize,
    /// A is stored [k, m].
    pub trans_a: bool,
    /// B is stored [n, k].
    pub trans_b: bool,
}

/// The launch for `dims`; `out` names the shape in limit errors.
pub fn launch(dims: MatmulDims, out: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
    let max = limits.max_compute_workgroups_per_dimension as u64;
    if dims.batch as u64 > max {
        return Err(Error::AdapterLimit {
            op: "matmul".into(),
            shape: out.clone(),
            limit: "max_compute_workgroups_per_dimension (batch)",
            needed: dims.batch as u64,
            available: max,
        });
    }
    let tiles = (dims.n as u64).div_ceil(TILE) * (dims.m as u64).div_ceil(TILE);
    let [x, y, z] = grid("matmul", out, tiles, limits)?;
    if z > 1 {
        // z carries the batch, so the tiles must fit in x and y.
        return Err(Error::AdapterLimit {
            op: "matmul".into(),
            shape: out.clone(),
            limit: "max_compute_workgroups_per_dimension (tiles over x and y)",
            needed: tiles,
            available: max * max,
        });
    }
    let params = [dims.m, dims.n, dims.k, dims.stride_a, dims.stride_b, dims.m * dims.n, 0, 0];
    Ok(Launch {
        key: KernelKey {
            family: Family::Matmul,
            entry: "main",
            inputs: 2,
            outputs: 1,
            constants: vec![("TRANS_A", dims.trans_a as u32), ("TRANS_B", dims.trans_b as u32)],
        },
        params: params.iter().map(|&v| v as u32).collect(),
        groups: [x, y, dims.batch as u32],
    })
}
