//! `shaders/matmul.wgsl`: batched matrix products with either operand transposed.

use super::{Family, KernelKey, Launch, grid};
use crate::error::{Error, Result};
use crate::shape::Shape;

/// Which matmul kernel runs: the same results either way, each faster on its kind of adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// Outputs in registers, no workgroup memory or barriers: best on software adapters
    /// (lavapipe), where barriers are slow. 8×8 per invocation; 32×16 for products of at
    /// least [`LARGE`] (about twice the speed there, for a compile of seconds on first use);
    /// 32×8 in short workgroups for few rows and many columns ([`WIDE`]).
    RegisterBlocked,
    /// [`MatmulVariant::RegisterBlocked`] with the 32×16 blocks for every size (to check them).
    RegisterBlockedLarge,
    /// 64×64 tiles with operands staged in workgroup memory: best on hardware GPUs.
    Tiled,
}

/// Rows, columns and depth from which the register-blocked variant uses 32×16 blocks: below
/// this, edge blocks waste most of their work and the 8×8 kernel is as fast.
pub const LARGE: [usize; 3] = [256, 128, 64];

/// At most these rows, and at least these columns and depth: the register-blocked variant's
/// 32×8 blocks in 16×2 workgroups (64×128 tiles), for convolutions' products and layers
/// over batches of about a hundred.
pub const WIDE: [usize; 3] = [128, 128, 64];

/// A register-blocked entry point's shape: each invocation of a `wx × wy` workgroup computes
/// `rows × cols` outputs of C (cols a multiple of 4).
#[derive(Clone, Copy)]
struct Block {
    rows: usize,
    cols: usize,
    wx: usize,
    wy: usize,
}

impl Block {
    /// Rows and columns of C one workgroup computes.
    fn tile(self) -> [u64; 2] {
        [(self.wy * self.rows) as u64, (self.wx * self.cols) as u64]
    }
}

const BLOCK: Block = Block { rows: 8, cols: 8, wx: 8, wy: 8 };
const BLOCK_LARGE: Block = Block { rows: 32, cols: 16, wx: 8, wy: 8 };
/// For few rows and many columns (a convolution's filters times an image's patches): tall
/// blocks in a workgroup only two rows high, so 64 rows fill a tile.
const BLOCK_WIDE: Block = Block { rows: 32, cols: 8, wx: 16, wy: 2 };

/// `shaders/matmul.wgsl` with the register-blocked entry points appended.
pub(crate) fn source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let mut s = include_str!("../../shaders/matmul.wgsl").to_string();
        s += &register_blocked_entry("main", BLOCK);
        s += &register_blocked_entry("main_large", BLOCK_LARGE);
        s += &register_blocked_entry("main_wide", BLOCK_WIDE);
        s
    })
}

/// A WGSL entry point in which each invocation of an 8×8 workgroup computes a `rows × cols`
/// block of C (cols a multiple of 4) in registers: per step along k, `cols` loads of B and
/// `rows` of A (the same for all invocations of a row of the workgroup, so broadcast) feed
/// `rows × cols` products. Output blocks are numbered row-major and the numbers folded over x
/// and y of the grid; z is the batch. Edge blocks clamp their loads into range; what they
/// compute past the edge is never stored.
fn register_blocked_entry(name: &str, block: Block) -> String {
    use std::fmt::Write;
    let Block { rows, cols, wx, wy } = block;
    let [tile_m, tile_n] = block.tile();
    let groups = cols / 4;
    let mut w = String::new();
    let _ = writeln!(w, "\n// {rows}×{cols} outputs per invocation; a {wx}×{wy} workgroup covers {tile_m}×{tile_n}.");
    let _ = writeln!(
        w,
        "@compute @workgroup_size({wx}, {wy}, 1)\nfn {name}(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
         @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_id) lid: vec3<u32>,\n) {{"
    );
    let _ = writeln!(w, "    let tile = wid.y * groups.x + wid.x;");
    let _ = writeln!(w, "    let tiles_n = (p.n + {}u) / {tile_n}u;", tile_n - 1);
    let _ = writeln!(w, "    let row0 = ((tile / tiles_n) * {wy}u + lid.y) * {rows}u;");
    let _ = writeln!(w, "    let col0 = ((tile % tiles_n) * {wx}u + lid.x) * {cols}u;");
    let _ = writeln!(w, "    if (row0 >= p.m || col0 >= p.n) {{\n        return;\n    }}");
    let _ = writeln!(w, "    let base_c = wid.z * p.batch_stride_c;");
    for i in 0..rows {
        let _ = writeln!(w, "    let r{i} = min(row0 + {i}u, p.m - 1u);");
    }
    for j in 0..cols {
        let _ = writeln!(w, "    let c{j} = min(col0 + {j}u, p.n - 1u);");
    }
    for i in 0..rows {
        for g in 0..groups {
            let _ = writeln!(w, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    // Matrix z of C sums the products of batch entries z·sum_over onwards.
    let _ = writeln!(w, "    let first = wid.z * p.sum_over;");
    let _ = writeln!(w, "    let last = min(first + p.sum_over, p.entries);");
    let _ = writeln!(w, "    for (var entry = first; entry < last; entry = entry + 1u) {{");
    let _ = writeln!(w, "    let base_a = entry * p.batch_stride_a;");
    let _ = writeln!(w, "    let base_b = entry * p.batch_stride_b;");
    let _ = writeln!(w, "    for (var kk = 0u; kk < p.k; kk = kk + 1u) {{");
    for g in 0..groups {
        let loads: Vec<String> = (0..4).map(|t| format!("load_b(base_b, kk, c{})", 4 * g + t)).collect();
        let _ = writeln!(w, "        let b{g} = vec4<f32>({});", loads.join(", "));
    }
    for i in 0..rows {
        let _ = writeln!(w, "        let a{i} = vec4<f32>(load_a(base_a, r{i}, kk));");
        for g in 0..groups {
            let _ = writeln!(w, "        acc{i}_{g} = fma(a{i}, b{g}, acc{i}_{g});");
        }
    }
    let _ = writeln!(w, "    }}\n    }}");
    // A fused bias: zeros where there is none.
    for g in 0..groups {
        let _ = writeln!(w, "    let cb{g} = column_bias(col0 + {}u);", 4 * g);
    }
    for i in 0..rows {
        let _ = writeln!(w, "    let rb{i} = vec4<f32>(row_bias(r{i}));");
        for g in 0..groups {
            let _ =
                writeln!(w, "    store(base_c, row0 + {i}u, col0 + {}u, activate(acc{i}_{g} + rb{i} + cb{g}));", 4 * g);
        }
    }
    let _ = writeln!(w, "}}");
    w
}

impl MatmulVariant {
    /// Parses `blocked` or `tiled` (as `SHADERGRAD_MATMUL` takes them).
    pub fn parse(value: &str) -> Option<MatmulVariant> {
        match value.trim().to_ascii_lowercase().as_str() {
            "blocked" | "register" | "register-blocked" => Some(MatmulVariant::RegisterBlocked),
            "blocked-large" => Some(MatmulVariant::RegisterBlockedLarge),
            "tiled" | "shared" => Some(MatmulVariant::Tiled),
            _ => None,
        }
    }

    /// The entry point for `dims` and the rows and columns of C one workgroup computes.
    fn kernel(self, dims: &MatmulDims) -> (&'static str, [u64; 2]) {
        let large = dims.m >= LARGE[0] && dims.n >= LARGE[1] && dims.k >= LARGE[2];
        let wide = dims.m <= WIDE[0] && dims.n >= WIDE[1] && dims.k >= WIDE[2];
        match self {
            MatmulVariant::RegisterBlocked if large => ("main_large", BLOCK_LARGE.tile()),
            MatmulVariant::RegisterBlocked if wide => ("main_wide", BLOCK_WIDE.tile()),
            MatmulVariant::RegisterBlocked => ("main", BLOCK.tile()),
            MatmulVariant::RegisterBlockedLarge => ("main_large", BLOCK_LARGE.tile()),
            MatmulVariant::Tiled => ("main_tiled", [64, 64]),
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
    /// A bias added to every row or every column of C.
    pub bias: Bias,
    /// Each matrix of C sums the products of this many consecutive batch entries (1: one
    /// each); `batch` then counts the matrices of C, `entries` the products.
    pub sum_over: usize,
    /// Batch entries of A and B.
    pub entries: usize,
    /// Store the ReLU of each (biased) element.
    pub relu: bool,
}

/// Software adapters run about this many workgroups at once with room to balance: a product
/// summed over its batch keeps at least this many in flight.
const CPU_WORKGROUPS: u64 = 32;

/// Into how many partial sums a batched product that is summed over its batch (`dims`, one
/// product per entry) should be cut: enough that the partial sums' tiles keep the adapter
/// busy, and fewer than the entries (else nothing is gained). `None`: keep one product per
/// entry (hardware GPUs, whose parallelism the batch feeds). The partial sums are the
/// launch's z extent, so at most `limits.max_compute_workgroups_per_dimension`.
pub fn batch_sum_groups(
    dims: &MatmulDims,
    variant: MatmulVariant,
    software: bool,
    limits: &wgpu::Limits,
) -> Option<usize> {
    if !software {
        return None;
    }
    let (_, [tile_m, tile_n]) = variant.kernel(dims);
    let tiles = (dims.m as u64).div_ceil(tile_m) * (dims.n as u64).div_ceil(tile_n);
    let most = limits.max_compute_workgroups_per_dimension as u64;
    let groups = CPU_WORKGROUPS.div_ceil(tiles).clamp(2, most.max(2)) as usize;
    // Whole groups: the last one may sum fewer entries.
    let per = dims.entries.div_ceil(groups);
    let groups = dims.entries.div_ceil(per);
    (groups < dims.entries).then_some(groups)
}

/// Where a matrix product's fused bias goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bias {
    /// No bias.
    None,
    /// `bias[i]` is added to row i of C (a convolution's output channels).
    PerRow,
    /// `bias[j]` is added to column j of C (a linear layer's outputs).
    PerColumn,
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
    let (entry, [tile_m, tile_n]) = variant.kernel(&dims);
    let tiles = (dims.n as u64).div_ceil(tile_n) * (dims.m as u64).div_ceil(tile_m);
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
    let bias = match dims.bias {
        Bias::None => 0,
        Bias::PerRow => 1,
        Bias::PerColumn => 2,
    };
    let params = [
        dims.m,
        dims.n,
        dims.k,
        dims.stride_a,
        dims.stride_b,
        dims.m * dims.n,
        dims.accumulate as usize,
        bias,
        dims.sum_over,
        dims.entries,
        dims.relu as usize,
        0,
    ];
    Ok(Launch {
        key: KernelKey {
            family: Family::Matmul,
            entry,
            // A, B and the bias (A again where there is none).
            inputs: 3,
            outputs: 1,
            constants: vec![("TRANS_A", dims.trans_a as u32), ("TRANS_B", dims.trans_b as u32)],
        },
        params: params.iter().map(|&v| v as u32).collect(),
        groups: [x, y, dims.batch as u32],
    })
}
