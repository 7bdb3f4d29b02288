//! `shaders/matmul.wgsl`: batched matrix products with either operand transposed.

use super::{Family, KernelKey, Launch, grid};
use crate::error::{Error, Result};
use crate::shape::Shape;

/// Which matmul kernel runs: the same results either way, each faster on its kind of adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// 8×8 outputs per invocation in registers, no workgroup memory or barriers: best on
    /// software adapters (lavapipe), where barriers are slow.
    RegisterBlocked,
    /// 64×64 tiles with operands staged in workgroup memory: best on hardware GPUs.
    Tiled,
}

impl MatmulVariant {
    /// Parses `blocked` or `tiled` (as `SHADERGRAD_MATMUL` takes them).
    pub fn parse(value: &str) -> Option<MatmulVariant> {
        match value.trim().to_ascii_lowercase().as_str() {
            "blocked" | "register" | "register-blocked" => Some(MatmulVariant::RegisterBlocked),
            "tiled" | "shared" => Some(MatmulVariant::Tiled),
            _ => None,
        }
    }

    /// Rows and columns of C one workgroup computes.
    fn tile(self) -> u64 {
        match self {
            MatmulVariant::RegisterBlocked => 64,
            MatmulVariant::Tiled => 64,
        }
    }

    fn entry(self) -> &'static str {
        match self {
            MatmulVariant::RegisterBlocked => "main",
            MatmulVariant::Tiled => "main_tiled",
        }
    }
}

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
    /// Add the product to C's current values (a product split along k, after its first chunk).
    pub accumulate: bool,
}

/// The launch for `dims` with `variant`; `out` names the shape in limit errors.
pub fn launch(dims: MatmulDims, variant: MatmulVariant, out: &Shape, limits: &wgpu::Limits) -> Result<Launch> {
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
    let tile = variant.tile();
    let tiles = (dims.n as u64).div_ceil(tile) * (dims.m as u64).div_ceil(tile);
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
    let params = [dims.m, dims.n, dims.k, dims.stride_a, dims.stride_b, dims.m * dims.n, dims.accumulate as usize, 0];
    Ok(Launch {
        key: KernelKey {
            family: Family::Matmul,
            entry: variant.entry(),
            inputs: 2,
            outputs: 1,
            constants: vec![("TRANS_A", dims.trans_a as u32), ("TRANS_B", dims.trans_b as u32)],
        },
        params: params.iter().map(|&v| v as u32).collect(),
        groups: [x, y, dims.batch as u32],
    })
}
