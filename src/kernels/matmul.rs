//! `shaders/matmul.wgsl`: batched matrix products with either operand transposed.

use super::pack::Packing;
use super::{Family, KernelKey, Launch, TextureBinding, grid};
use crate::error::{Error, Result};
use crate::operand_textures::COPY_BUDGET;
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
    /// 128×128 tiles, 8×8 outputs a thread, operands staged in workgroup memory as vectors
    /// (`main_tiled_large`): the usual shape of a fast single-precision product on
    /// hardware GPUs, for large products; not yet measured on one (`benches/gpu_run.sh`
    /// times it beside [`MatmulVariant::Tiled`]).
    TiledLarge,
    /// [`MatmulVariant::RegisterBlocked`]'s 8×8 blocks reading A and B from a read-only
    /// storage texture that the plan copies them into, four elements a texel: several times
    /// the speed on software adapters, whose storage loads walk the SIMD lanes one by one
    /// while a texel load gathers. Operands that do not come in fours ([`packings`]) are
    /// packed into padded texels by a kernel rather than copied; products too large for the
    /// texture's budget run the storage-reading blocks.
    Textured,
    /// [`MatmulVariant::Textured`] with each row of a workgroup one subgroup of eight lanes
    /// (lavapipe with 256-bit vectors), in blocks of 16 rows by 4 columns: the row's lanes
    /// share their 16 rows of A, each lane fetches two of the sixteen texels and broadcasts
    /// hand them round (6 fetches a lane per four steps along k for 256 products, against
    /// 16 for the 8×8 blocks without subgroups). Needs the adapter's `SUBGROUP` feature and
    /// subgroups of exactly eight ([`MatmulVariant::runs_on`]).
    TexturedSubgroups,
}

/// Texels in a row of an operand texture: 16 KiB, a multiple of the 256 bytes a
/// buffer-to-texture copy needs per row.
pub const TEXEL_ROW: u32 = 1024;

/// Whether plain copies put `dims`'s operands in texels: k and each operand's contiguous
/// extent (the one its storage runs along) and batch stride multiples of 4, so a texel's
/// four elements are four consecutive values of one row or column and every matrix starts
/// on a texel. Otherwise [`packings`] says which operands a kernel packs.
pub fn textures_fit(dims: &MatmulDims) -> bool {
    packings(dims) == [None, None]
}

/// How each operand of `dims` (A, B) is packed into texels, or `None` for one a plain copy
/// lays out (see [`textures_fit`]). Where k is not a multiple of 4 both are packed, so the
/// padded k reads as zeros on both sides.
pub fn packings(dims: &MatmulDims) -> [Option<Packing>; 2] {
    let odd_k = !dims.k.is_multiple_of(4);
    let a = match dims.trans_a {
        false => Packing::new(dims.m, dims.k, false),
        true => Packing::new(dims.k, dims.m, true),
    };
    let b = match dims.trans_b {
        true => Packing::new(dims.n, dims.k, false),
        false => Packing::new(dims.k, dims.n, true),
    };
    let needs = |p: &Packing, stride: usize| odd_k || !p.cols.is_multiple_of(4) || !stride.is_multiple_of(4);
    [needs(&a, dims.stride_a).then_some(a), needs(&b, dims.stride_b).then_some(b)]
}

/// Parameter words of a textured launch: its first matrix of C, the texels before each
/// operand's first element in the texture (wrapping: B sits after A), and the batch entries
/// it sums ([`TextureLaunch::entries`]).
pub const Z0_WORD: usize = 11;
/// See [`Z0_WORD`].
pub const ORIGIN_A_WORD: usize = 12;
/// See [`Z0_WORD`].
pub const ORIGIN_B_WORD: usize = 13;
/// See [`Z0_WORD`].
pub const ENTRY_LO_WORD: usize = 14;
/// See [`Z0_WORD`].
pub const ENTRY_HI_WORD: usize = 15;
/// The parameter word that says how an operand stored along k lies in the texture: 0, its
/// rows contiguous; else this many rows (runs of k / 4 texels) to a texel row (a band of k,
/// [`depth_bands`]).
pub const RUNS_WORD: usize = 16;
/// The parameter words that hold the texels between consecutive matrices of A and of B in
/// the texture (a quarter of the batch strides unless an operand is packed).
pub const TEX_STRIDE_A_WORD: usize = 17;
/// See [`TEX_STRIDE_A_WORD`].
pub const TEX_STRIDE_B_WORD: usize = 18;
/// The word that makes a launch store the ReLU of what it writes (a fused ReLU).
pub const RELU_WORD: usize = 10;
/// The word that makes a launch add to C (see [`MatmulDims::accumulate`]).
pub const ACCUMULATE_WORD: usize = 6;

/// One launch of a product that reads its operands from a texture: matrices `z0 .. z0 + zs`
/// of C, summing only the batch entries in `entries` (all of each matrix's, unless a
/// matrix summed over many entries is cut into several launches, which then add to it),
/// and the elements of A and B to copy in first, as (first, count): `None` where the
/// texture already holds them (an operand every entry shares, after the first launch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextureLaunch {
    /// The first matrix of C.
    pub z0: usize,
    /// Matrices of C.
    pub zs: usize,
    /// The batch entries summed.
    pub entries: std::ops::Range<usize>,
    /// Add to C rather than overwrite it.
    pub accumulate: bool,
    /// Elements of A to copy.
    pub a: Option<(usize, usize)>,
    /// Elements of B to copy.
    pub b: Option<(usize, usize)>,
}

/// A plain product whose operands pass `budget` together, as a batch of bands of A's rows
/// (A stored [m, k] and not batched, B not batched, no bias per row): the sizes of each band
/// but the last, and the last band's rows. `None` where it cannot be cut so, or B alone
/// leaves room for fewer than 4 rows of A.
pub fn row_bands(dims: &MatmulDims, budget: usize) -> Option<(MatmulDims, usize)> {
    let plain = dims.batch == 1 && dims.entries == 1 && dims.stride_a == 0 && dims.stride_b == 0;
    if !plain || dims.trans_a || dims.bias == Bias::PerRow || dims.accumulate {
        return None;
    }
    let rows = budget.checked_sub(4 * dims.k * dims.n)? / (4 * dims.k);
    if rows < 4 || rows >= dims.m {
        return None;
    }
    let bands = dims.m.div_ceil(rows);
    let banded = MatmulDims { batch: bands, entries: bands, m: rows, stride_a: rows * dims.k, ..*dims };
    Some((banded, dims.m - (bands - 1) * rows))
}

/// A plain product too large for the budget that [`row_bands`] cannot cut either, as bands
/// along k (the ranges returned): as few as fit, of about equal depth (multiples of 4), each
/// launch adding its band's product to C. An operand stored along k (A as [m, k], B as
/// [n, k]) has its band's rows packed [`runs_per_row`] to a texel row, the other operand's
/// band is contiguous; the texel rows both fill stay within `budget` bytes. Where a copy
/// cannot lay the operands out ([`textures_fit`]), each band is packed ([`band_packing`]),
/// so k need not come in fours. A fused ReLU is applied by the last band's launch, to the
/// whole sum. `None` where nothing fits.
pub fn depth_bands(dims: &MatmulDims, budget: usize) -> Option<Vec<std::ops::Range<usize>>> {
    let plain = dims.batch == 1 && dims.entries == 1 && dims.stride_a == 0 && dims.stride_b == 0;
    if !plain || dims.accumulate {
        return None;
    }
    let packed = !textures_fit(dims);
    let row_bytes = TEXEL_ROW as usize * 16;
    let texel_rows = |along_k: bool, width: usize, depth: usize| match (packed, along_k) {
        (true, _) => Some(band_packing(along_k, width, depth, dims.k).texels().div_ceil(TEXEL_ROW as usize)),
        (false, true) => runs_per_row(depth, dims.k).map(|runs| width.div_ceil(runs)),
        (false, false) => Some((4 * depth * width).div_ceil(row_bytes)),
    };
    let fits = |depth: usize| {
        let a = texel_rows(!dims.trans_a, dims.m, depth);
        let b = texel_rows(dims.trans_b, dims.n, depth);
        depth > 0 && matches!((a, b), (Some(a), Some(b)) if (a + b) * row_bytes <= budget)
    };
    // Fewer bands cannot fit: their elements alone would pass the budget.
    let fewest = (4 * dims.k * (dims.m + dims.n)).div_ceil(budget.max(1)).max(2);
    (fewest..=dims.k.div_ceil(4)).find_map(|bands| {
        let depth = dims.k.div_ceil(bands).next_multiple_of(4);
        let last = dims.k.checked_sub((bands - 1) * depth)?;
        (fits(depth) && fits(last)).then(|| (0..bands).map(|j| j * depth..((j + 1) * depth).min(dims.k)).collect())
    })
}

/// How a band of `depth` along k of an operand of a plain product is packed: `width` rows
/// of `depth` (out of rows of `k`) for one stored along k, else `depth` rows of `width`
/// padded to four rows.
pub fn band_packing(along_k: bool, width: usize, depth: usize, k: usize) -> Packing {
    match along_k {
        true => Packing::new(width, depth, false).with_row_stride(k),
        false => Packing::new(depth, width, true),
    }
}

/// How many rows of an operand stored along `k` share a texel row, each a run of `depth`
/// of them (a band along k): as many as fit, but a multiple of what makes the texel row's
/// first run start a multiple of 256 bytes into the buffer (wgpu's rule for the rows of a
/// copy). `None` if not even that many fit, or `depth` is 0.
pub fn runs_per_row(depth: usize, k: usize) -> Option<usize> {
    let fit = (TEXEL_ROW as usize).checked_div(depth / 4)?;
    // runs·k·4 bytes must be a multiple of 256: runs a multiple of 64 / gcd(k, 64).
    let step = 64usize >> k.trailing_zeros().min(6);
    let runs = fit / step * step;
    (runs > 0).then_some(runs)
}

/// How a textured product (`dims`) is cut so that no launch copies more than `budget`
/// bytes of operands, or `None` if one batch entry's operands alone pass it (the product
/// then reads storage). Launches take as many matrices of C as fit, at most `max_z` (the
/// adapter's workgroups per dimension); a matrix that sums more entries than fit (a
/// convolution's filter gradient) is summed over several launches. Regions count elements
/// as they lie in the texture: as stored for a copied operand, padded for a packed one
/// ([`packings`]; matrices [`Packing::texels`] apart).
pub fn texture_launches(dims: &MatmulDims, budget: usize, max_z: usize) -> Option<Vec<TextureLaunch>> {
    // (stride, size) of each operand's matrices in the texture, in elements.
    let [packed_a, packed_b] = packings(dims);
    let footprint = |packing: Option<Packing>, stride: usize, size: usize| match packing {
        Some(p) => (if stride == 0 { 0 } else { 4 * p.texels() }, 4 * p.texels()),
        None => (stride, size),
    };
    let (stride_a, size_a) = footprint(packed_a, dims.stride_a, dims.m * dims.k);
    let (stride_b, size_b) = footprint(packed_b, dims.stride_b, dims.k * dims.n);
    let whole = |stride: usize, size: usize| if stride == 0 { 4 * size } else { 0 };
    let shared = whole(stride_a, size_a) + whole(stride_b, size_b);
    let per_entry = 4 * (stride_a + stride_b);
    if shared + per_entry > budget {
        return None;
    }
    let room = budget - shared;
    let region = |stride: usize, size: usize, entries: &std::ops::Range<usize>, first: bool| {
        if stride == 0 {
            first.then_some((0, size))
        } else {
            Some((entries.start * stride, (entries.len() - 1) * stride + size))
        }
    };
    let mut launches = Vec::new();
    let mut push = |z0: usize, zs: usize, entries: std::ops::Range<usize>, accumulate: bool| {
        let first = launches.is_empty();
        let a = region(stride_a, size_a, &entries, first);
        let b = region(stride_b, size_b, &entries, first);
        launches.push(TextureLaunch { z0, zs, entries, accumulate: accumulate || dims.accumulate, a, b });
    };
    let end = |z: usize| ((z + 1) * dims.sum_over).min(dims.entries);
    let per_z = per_entry * dims.sum_over;
    if per_z <= room {
        let step = room.checked_div(per_z).unwrap_or(dims.batch).clamp(1, dims.batch.clamp(1, max_z.max(1)));
        for z0 in (0..dims.batch).step_by(step.max(1)) {
            let zs = step.min(dims.batch - z0);
            push(z0, zs, z0 * dims.sum_over..end(z0 + zs - 1), false);
        }
    } else {
        let step = room / per_entry;
        for z in 0..dims.batch {
            for e0 in (z * dims.sum_over..end(z)).step_by(step) {
                push(z, 1, e0..(e0 + step).min(end(z)), e0 > z * dims.sum_over);
            }
        }
    }
    Some(launches)
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
/// For [`MatmulVariant::TexturedSubgroups`]: as many accumulators as [`BLOCK`], but rows,
/// which a subgroup shares, rather than columns, which each lane fetches for itself (16
/// rows by 4 columns: the CNN step 7 % faster than with 8×8 on lavapipe, matmul 1024² the
/// same; 8×4, 8×16 and 16×8 were no faster than 8×8 on matmul 1024²).
const BLOCK_SG: Block = Block { rows: 16, cols: 4, wx: 8, wy: 4 };
/// [`BLOCK_SG`] in 64×64 tiles (two subgroups a row), for adapters whose grids cannot hold
/// a product's 64×32 tiles (they fold over x and y only; z is the batch).
const BLOCK_SG_SQUARE: Block = Block { rows: 16, cols: 4, wx: 16, wy: 4 };
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
        s += &texture_entry("main_tex", BLOCK, false, "store");
        s += &texture_entry("main_tex4", BLOCK, false, "store4");
        s += &tiled_large_entry();
        s
    })
}

/// Rows and columns of C a workgroup of [`tiled_large_entry`] computes.
const BIG_TILE: usize = 128;

/// The entry point `main_tiled_large`: a 128×128 tile of C per workgroup of 16×16 threads,
/// each computing rows `4·ty .. 4·ty + 4` and `64 + 4·ty ..` by columns `4·tx .. 4·tx + 4`
/// and `64 + 4·tx ..` (so that a warp's reads of workgroup memory are consecutive vectors),
/// along k in slices of 8 staged in workgroup memory: A's slice transposed and B's as
/// vectors of four along the tile's rows and columns. Each thread stages four elements of
/// each operand per slice and makes 64 products per pair of vector reads. Straight-line code
/// per thread, as the register-blocked entries, so the 64 accumulators stay in registers.
fn tiled_large_entry() -> String {
    use std::fmt::Write;
    const LANE: [&str; 4] = ["x", "y", "z", "w"];
    let half = BIG_TILE / 2;
    let mut w = String::new();
    let _ = writeln!(w, "\n// A slice of 8 along k of A's tile (transposed: [k][row / 4]) and of B's ([k][col / 4]).");
    let _ = writeln!(w, "var<workgroup> big_a: array<vec4<f32>, {}>;", 8 * BIG_TILE / 4);
    let _ = writeln!(w, "var<workgroup> big_b: array<vec4<f32>, {}>;", 8 * BIG_TILE / 4);
    let _ = writeln!(
        w,
        "@compute @workgroup_size(16, 16, 1)\nfn main_tiled_large(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
         @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_id) lid: vec3<u32>,\n    \
         @builtin(local_invocation_index) flat: u32,\n) {{"
    );
    let _ = writeln!(w, "    let tile = wid.y * groups.x + wid.x;");
    let _ = writeln!(w, "    let tiles_n = (p.n + {}u) / {BIG_TILE}u;", BIG_TILE - 1);
    // Uniform across the workgroup, so the barriers stay in uniform control flow.
    let _ =
        writeln!(w, "    if (tile >= tiles_n * ((p.m + {}u) / {BIG_TILE}u)) {{\n        return;\n    }}", BIG_TILE - 1);
    let _ = writeln!(w, "    let tile_row = (tile / tiles_n) * {BIG_TILE}u;");
    let _ = writeln!(w, "    let tile_col = (tile % tiles_n) * {BIG_TILE}u;");
    let _ = writeln!(w, "    let base_c = wid.z * p.batch_stride_c;");
    for i in 0..8 {
        for g in 0..2 {
            let _ = writeln!(w, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    // What each thread stages: four consecutive elements of a stored row (along k for A
    // stored [m, k] and B stored [n, k]; along the tile for the other layouts).
    let _ = writeln!(w, "    let along_k = vec2<u32>(flat / 2u, (flat % 2u) * 4u);");
    let _ = writeln!(w, "    let across_k = vec2<u32>((flat % 32u) * 4u, flat / 32u);");
    let _ = writeln!(w, "    let first = wid.z * p.sum_over;");
    let _ = writeln!(w, "    let last = min(first + p.sum_over, p.entries);");
    let _ = writeln!(w, "    for (var entry = first; entry < last; entry = entry + 1u) {{");
    let _ = writeln!(w, "    let base_a = entry * p.batch_stride_a;");
    let _ = writeln!(w, "    let base_b = entry * p.batch_stride_b;");
    let _ = writeln!(w, "    for (var k0 = 0u; k0 < p.k; k0 = k0 + 8u) {{");
    // An operand stored along k (A as [m, k], B as [n, k]): a thread takes four k of one
    // row or column, each into its own k row of the slice; stored across k: four rows or
    // columns at one k, one vector. (slice, when it lies along k, the tile's origin, the
    // fetch of (place in the operand's rows or columns, k)).
    type Fetch = fn(&str, &str) -> String;
    let operands: [(&str, &str, &str, Fetch); 2] = [
        ("big_a", "TRANS_A == 0u", "tile_row", |at, k| format!("fetch_a(base_a, {at}, {k})")),
        ("big_b", "TRANS_B == 1u", "tile_col", |at, k| format!("fetch_b(base_b, {k}, {at})")),
    ];
    for (slice, along, origin, fetch) in operands {
        let _ = writeln!(w, "        if ({along}) {{");
        for s in 0..4 {
            let value = fetch(&format!("{origin} + along_k.x"), &format!("k0 + along_k.y + {s}u"));
            let _ = writeln!(
                w,
                "            {slice}[(along_k.y + {s}u) * 32u + along_k.x / 4u][along_k.x % 4u] = {value};"
            );
        }
        let _ = writeln!(w, "        }} else {{");
        let loads: Vec<String> =
            (0..4).map(|s| fetch(&format!("{origin} + across_k.x + {s}u"), "k0 + across_k.y")).collect();
        let _ =
            writeln!(w, "            {slice}[across_k.y * 32u + across_k.x / 4u] = vec4<f32>({});", loads.join(", "));
        let _ = writeln!(w, "        }}");
    }
    let _ = writeln!(w, "        workgroupBarrier();");
    let _ = writeln!(w, "        for (var kk = 0u; kk < 8u; kk = kk + 1u) {{");
    let _ = writeln!(w, "            let a0 = big_a[kk * 32u + lid.y];");
    let _ = writeln!(w, "            let a1 = big_a[kk * 32u + 16u + lid.y];");
    let _ = writeln!(w, "            let b0 = big_b[kk * 32u + lid.x];");
    let _ = writeln!(w, "            let b1 = big_b[kk * 32u + 16u + lid.x];");
    for i in 0..8 {
        let a = format!("a{}.{}", i / 4, LANE[i % 4]);
        for g in 0..2 {
            let _ = writeln!(w, "            acc{i}_{g} = fma(vec4<f32>({a}), b{g}, acc{i}_{g});");
        }
    }
    let _ = writeln!(w, "        }}");
    let _ = writeln!(w, "        workgroupBarrier();");
    let _ = writeln!(w, "    }}\n    }}");
    for g in 0..2 {
        let _ = writeln!(w, "    let col{g} = tile_col + {}u + lid.x * 4u;", g * half);
        let _ = writeln!(w, "    let cb{g} = column_bias(col{g});");
    }
    for i in 0..8 {
        let _ = writeln!(w, "    let row{i} = tile_row + {}u + lid.y * 4u;", (i / 4) * half + i % 4);
        let _ = writeln!(w, "    let rb{i} = vec4<f32>(row_bias(min(row{i}, p.m - 1u)));");
        for g in 0..2 {
            let _ = writeln!(w, "    store(base_c, row{i}, col{g}, acc{i}_{g} + rb{i} + cb{g});");
        }
    }
    let _ = writeln!(w, "}}");
    w
}

/// [`source`] with the subgroup entry point `main_tex_sg`: a module of its own, which only
/// devices with the `SUBGROUP` feature can create.
pub(crate) fn subgroup_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        source().to_string()
            + &texture_entry("main_tex_sg", BLOCK_SG, true, "store")
            + &texture_entry("main_tex_sg4", BLOCK_SG, true, "store4")
            + &texture_entry("main_tex_sg_square", BLOCK_SG_SQUARE, true, "store")
            + &texture_entry("main_tex_sg_square4", BLOCK_SG_SQUARE, true, "store4")
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
    let Block { rows, cols, .. } = block;
    let groups = cols / 4;
    let mut w = block_prologue(name, block, "", false);
    // Matrix z of C sums the products of batch entries z·sum_over onwards.
    let _ = writeln!(w, "    let first = z * p.sum_over;");
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
    block_epilogue(&mut w, block, "store");
    w
}

/// The start of a register-blocked entry point (`kind` says what it reads, for the comment):
/// which block of C the invocation computes (returning if it lies outside C), its rows and
/// columns clamped into range (`r0..`, `c0..`), the matrix `z` of C and its `base_c`, and
/// the zeroed accumulators `acc{row}_{group of 4 columns}`.
fn block_prologue(name: &str, block: Block, kind: &str, subgroup: bool) -> String {
    use std::fmt::Write;
    let Block { rows, cols, wx, wy } = block;
    let [tile_m, tile_n] = block.tile();
    let mut w = String::new();
    let _ =
        writeln!(w, "\n// {rows}×{cols} outputs per invocation{kind}; a {wx}×{wy} workgroup covers {tile_m}×{tile_n}.");
    if subgroup {
        // Naga takes subgroup builtins only in one-dimensional workgroups: the invocation's
        // place in the wx × wy grid is rebuilt from its index.
        let _ = writeln!(
            w,
            "@compute @workgroup_size({}, 1, 1)\nfn {name}(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
             @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_index) index: u32,\n    \
             @builtin(subgroup_invocation_id) lane: u32,\n) {{",
            wx * wy
        );
        let _ = writeln!(w, "    let lid = vec2<u32>(index % {wx}u, index / {wx}u);");
    } else {
        let _ = writeln!(
            w,
            "@compute @workgroup_size({wx}, {wy}, 1)\nfn {name}(\n    @builtin(workgroup_id) wid: vec3<u32>,\n    \
             @builtin(num_workgroups) groups: vec3<u32>,\n    @builtin(local_invocation_id) lid: vec3<u32>,\n) {{"
        );
    }
    let _ = writeln!(w, "    let tile = wid.y * groups.x + wid.x;");
    let _ = writeln!(w, "    let tiles_n = (p.n + {}u) / {tile_n}u;", tile_n - 1);
    let _ = writeln!(w, "    let row0 = ((tile / tiles_n) * {wy}u + lid.y) * {rows}u;");
    let _ = writeln!(w, "    let col0 = ((tile % tiles_n) * {wx}u + lid.x) * {cols}u;");
    if subgroup {
        // A subgroup (a row of the workgroup) leaves together or not at all: every lane of
        // it takes part in its broadcasts, and one past C's columns computes clamped values
        // that `store` drops.
        let _ = writeln!(w, "    if (row0 >= p.m) {{\n        return;\n    }}");
    } else {
        let _ = writeln!(w, "    if (row0 >= p.m || col0 >= p.n) {{\n        return;\n    }}");
    }
    // z0 is 0 but for a textured product cut into launches along its batch.
    let _ = writeln!(w, "    let z = wid.z + p.z0;");
    let _ = writeln!(w, "    let base_c = z * p.batch_stride_c;");
    for i in 0..rows {
        let _ = writeln!(w, "    let r{i} = min(row0 + {i}u, p.m - 1u);");
    }
    for j in 0..cols {
        let _ = writeln!(w, "    let c{j} = min(col0 + {j}u, p.n - 1u);");
    }
    for i in 0..rows {
        for g in 0..cols / 4 {
            let _ = writeln!(w, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    w
}

/// The end of a register-blocked entry point: each accumulator plus the fused bias (zeros
/// where there is none) stored into C by `store` (`store` or `store4`, which also apply the
/// fused activation).
fn block_epilogue(w: &mut String, block: Block, store: &str) {
    use std::fmt::Write;
    let groups = block.cols / 4;
    for g in 0..groups {
        let _ = writeln!(w, "    let cb{g} = column_bias(col0 + {}u);", 4 * g);
    }
    for i in 0..block.rows {
        let _ = writeln!(w, "    let rb{i} = vec4<f32>(row_bias(r{i}));");
        for g in 0..groups {
            let _ = writeln!(w, "    {store}(base_c, row0 + {i}u, col0 + {}u, acc{i}_{g} + rb{i} + cb{g});", 4 * g);
        }
    }
    let _ = writeln!(w, "}}");
}

/// The texture-reading twin of [`register_blocked_entry`]: per four steps along k, each
/// invocation fetches `rows + cols` texels (four elements each) for `16 × rows × cols / 4`
/// products. Whichever way an operand is stored, its four-element texels are regrouped into
/// four k-values per row of A (`ak`) and per column of B (`bk`); on a SIMD-per-lane compiler
/// that regrouping is only renaming. Rows that do not come in fours lie in the texture
/// padded to whole texels ([`packings`]), so texel counts round up.
fn texture_entry(name: &str, block: Block, subgroup: bool, store: &str) -> String {
    use std::fmt::Write;
    const LANE: [&str; 4] = ["x", "y", "z", "w"];
    let Block { rows, cols, .. } = block;
    let groups = cols / 4;
    let mut w = block_prologue(name, block, " from texels", subgroup);
    // Texels a row of k, of m and of n takes (rows that do not come in fours are padded).
    let _ = writeln!(w, "    let k4 = (p.k + 3u) / 4u;");
    let _ = writeln!(w, "    let m4 = (p.m + 3u) / 4u;");
    let _ = writeln!(w, "    let n4 = (p.n + 3u) / 4u;");
    // Rows of A and columns of B clamped into range in fours too (texels across rows of a
    // transposed A, across columns of B).
    // (The subgroup variant finds only its lane's, below.)
    if !subgroup {
        for g in 0..rows / 4 {
            let _ = writeln!(w, "    let rq{g} = min(row0 / 4u + {g}u, m4 - 1u);");
        }
    }
    for g in 0..groups {
        let _ = writeln!(w, "    let cq{g} = min(col0 / 4u + {g}u, n4 - 1u);");
    }
    // Where each row of A and column of B starts, for an operand stored along k.
    if subgroup {
        // Of each eight rows, lane l fetches row l's texels (A stored [m, k]), or texel l of
        // the eight that hold the rows' four k-values (stored [k, m]); the subgroup shares
        // them by broadcasts.
        for h in 0..rows / 8 {
            let _ = writeln!(w, "    let ka_lane{h} = run_start(min(row0 + {}u + lane, p.m - 1u), k4);", 8 * h);
            let _ = writeln!(w, "    let rq_lane{h} = min(row0 / 4u + {}u + lane / 4u, m4 - 1u);", 2 * h);
        }
    } else {
        for i in 0..rows {
            let _ = writeln!(w, "    let ka{i} = run_start(r{i}, k4);");
        }
    }
    for j in 0..cols {
        let _ = writeln!(w, "    let kb{j} = run_start(c{j}, k4);");
    }
    let _ = writeln!(w, "    let first = max(z * p.sum_over, p.entry_lo);");
    let _ = writeln!(w, "    let last = min(min(z * p.sum_over + p.sum_over, p.entries), p.entry_hi);");
    let _ = writeln!(w, "    for (var entry = first; entry < last; entry = entry + 1u) {{");
    let _ = writeln!(w, "    let ta0 = entry * p.tex_stride_a - p.origin_a;");
    let _ = writeln!(w, "    let tb0 = entry * p.tex_stride_b - p.origin_b;");
    let _ = writeln!(w, "    for (var t = 0u; t < k4; t = t + 1u) {{");
    for i in 0..rows {
        let _ = writeln!(w, "        var ak{i}: vec4<f32>;");
    }
    for j in 0..cols {
        let _ = writeln!(w, "        var bk{j}: vec4<f32>;");
    }
    // A stored [m, k]: a texel is four k-values of one row. Stored [k, m]: four rows at one
    // k, so four texels (four k) give four rows their four k-values.
    let _ = writeln!(w, "        if (TRANS_A == 0u) {{");
    if subgroup {
        for h in 0..rows / 8 {
            let _ = writeln!(w, "            let mine{h} = texel(ta0 + ka_lane{h} + t);");
        }
    }
    for i in 0..rows {
        if subgroup {
            let _ = writeln!(w, "            ak{i} = subgroupBroadcast(mine{}, {}u);", i / 8, i % 8);
        } else {
            let _ = writeln!(w, "            ak{i} = texel(ta0 + ka{i} + t);");
        }
    }
    let _ = writeln!(w, "        }} else {{");
    if subgroup {
        for h in 0..rows / 8 {
            let _ = writeln!(w, "            let mine{h} = texel(ta0 + (4u * t + lane % 4u) * m4 + rq_lane{h});");
        }
    }
    for g in 0..rows / 4 {
        for s in 0..4 {
            if subgroup {
                let _ =
                    writeln!(w, "            let a{g}_{s} = subgroupBroadcast(mine{}, {}u);", g / 2, 4 * (g % 2) + s);
            } else {
                let _ = writeln!(w, "            let a{g}_{s} = texel(ta0 + (4u * t + {s}u) * m4 + rq{g});");
            }
        }
        for (l, lane) in LANE.iter().enumerate() {
            let _ = writeln!(
                w,
                "            ak{} = vec4<f32>(a{g}_0.{lane}, a{g}_1.{lane}, a{g}_2.{lane}, a{g}_3.{lane});",
                4 * g + l
            );
        }
    }
    let _ = writeln!(w, "        }}");
    // B stored [n, k]: a texel is four k-values of one column; stored [k, n]: four columns.
    let _ = writeln!(w, "        if (TRANS_B == 1u) {{");
    for j in 0..cols {
        let _ = writeln!(w, "            bk{j} = texel(tb0 + kb{j} + t);");
    }
    let _ = writeln!(w, "        }} else {{");
    for g in 0..groups {
        for s in 0..4 {
            let _ = writeln!(w, "            let b{g}_{s} = texel(tb0 + (4u * t + {s}u) * n4 + cq{g});");
        }
        for (l, lane) in LANE.iter().enumerate() {
            let _ = writeln!(
                w,
                "            bk{} = vec4<f32>(b{g}_0.{lane}, b{g}_1.{lane}, b{g}_2.{lane}, b{g}_3.{lane});",
                4 * g + l
            );
        }
    }
    let _ = writeln!(w, "        }}");
    for lane in LANE {
        for g in 0..groups {
            let _ = writeln!(
                w,
                "        let bv{g}{lane} = vec4<f32>(bk{}.{lane}, bk{}.{lane}, bk{}.{lane}, bk{}.{lane});",
                4 * g,
                4 * g + 1,
                4 * g + 2,
                4 * g + 3
            );
        }
    }
    for i in 0..rows {
        for g in 0..groups {
            for lane in LANE {
                let _ = writeln!(w, "        acc{i}_{g} = fma(vec4<f32>(ak{i}.{lane}), bv{g}{lane}, acc{i}_{g});");
            }
        }
    }
    let _ = writeln!(w, "    }}\n    }}");
    block_epilogue(&mut w, block, store);
    w
}

impl MatmulVariant {
    /// Parses `blocked`, `blocked-large`, `textured`, `textured-subgroups`, `tiled` or
    /// `tiled-large` (as `SHADERGRAD_MATMUL` takes them).
    pub fn parse(value: &str) -> Option<MatmulVariant> {
        match value.trim().to_ascii_lowercase().as_str() {
            "blocked" | "register" | "register-blocked" => Some(MatmulVariant::RegisterBlocked),
            "blocked-large" => Some(MatmulVariant::RegisterBlockedLarge),
            "tiled" | "shared" => Some(MatmulVariant::Tiled),
            "tiled-large" => Some(MatmulVariant::TiledLarge),
            "textured" | "blocked-textures" => Some(MatmulVariant::Textured),
            "textured-subgroups" => Some(MatmulVariant::TexturedSubgroups),
            _ => None,
        }
    }

    /// The textured variant whose kernel `key` names (a launch of a textured product).
    pub fn textured_of(key: &KernelKey) -> MatmulVariant {
        match key.family {
            Family::MatmulSubgroups => MatmulVariant::TexturedSubgroups,
            _ => MatmulVariant::Textured,
        }
    }

    /// Whether products that [`textures_fit`] read their operands from textures.
    pub fn reads_textures(self) -> bool {
        matches!(self, MatmulVariant::Textured | MatmulVariant::TexturedSubgroups)
    }

    /// Whether a device with `features` on an adapter described by `info` can run this
    /// variant: [`MatmulVariant::TexturedSubgroups`] needs subgroups, all of eight lanes.
    pub fn runs_on(self, features: wgpu::Features, info: &wgpu::AdapterInfo) -> bool {
        self != MatmulVariant::TexturedSubgroups
            || (features.contains(wgpu::Features::SUBGROUP)
                && info.subgroup_min_size == 8
                && info.subgroup_max_size == 8)
    }

    /// The entry point for `dims` and the rows and columns of C one workgroup computes, on an
    /// adapter with `limits`.
    fn kernel(self, dims: &MatmulDims, limits: &wgpu::Limits) -> (&'static str, [u64; 2]) {
        let large = dims.m >= LARGE[0] && dims.n >= LARGE[1] && dims.k >= LARGE[2];
        let wide = dims.m <= WIDE[0] && dims.n >= WIDE[1] && dims.k >= WIDE[2];
        // Rows of C in fours: the textured entries store vectors (`store4`).
        let fours = dims.n.is_multiple_of(4);
        match self {
            // 8×8 blocks for every size: measured no slower than the larger blocks from
            // texels (BENCHMARKS.md), which also compile for seconds and spill registers.
            MatmulVariant::Textured => (if fours { "main_tex4" } else { "main_tex" }, BLOCK.tile()),
            MatmulVariant::TexturedSubgroups => {
                let [tile_m, tile_n] = BLOCK_SG.tile();
                let tiles = (dims.m as u64).div_ceil(tile_m) * (dims.n as u64).div_ceil(tile_n);
                let most = limits.max_compute_workgroups_per_dimension as u64;
                match (tiles <= most * most, fours) {
                    (true, false) => ("main_tex_sg", BLOCK_SG.tile()),
                    (true, true) => ("main_tex_sg4", BLOCK_SG.tile()),
                    (false, false) => ("main_tex_sg_square", BLOCK_SG_SQUARE.tile()),
                    (false, true) => ("main_tex_sg_square4", BLOCK_SG_SQUARE.tile()),
                }
            }
            MatmulVariant::RegisterBlocked if large => ("main_large", BLOCK_LARGE.tile()),
            MatmulVariant::RegisterBlocked if wide => ("main_wide", BLOCK_WIDE.tile()),
            MatmulVariant::RegisterBlocked => ("main", BLOCK.tile()),
            MatmulVariant::RegisterBlockedLarge => ("main_large", BLOCK_LARGE.tile()),
            MatmulVariant::Tiled => ("main_tiled", [64, 64]),
            MatmulVariant::TiledLarge => ("main_tiled_large", [BIG_TILE as u64; 2]),
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

/// Workgroups one launch of a textured product summed over its batch should have at least,
/// where its partial sums stay small: a few per core of the machines software adapters run on.
const LAUNCH_WORKGROUPS: usize = 8;

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
    let (_, [tile_m, tile_n]) = variant.kernel(dims, limits);
    let tiles = (dims.m as u64).div_ceil(tile_m) * (dims.n as u64).div_ceil(tile_n);
    let most = limits.max_compute_workgroups_per_dimension as u64;
    let mut groups = CPU_WORKGROUPS.div_ceil(tiles).clamp(2, most.max(2)) as usize;
    // A textured product runs in launches of the entries the copy budget holds, one after
    // another, so each launch must keep the adapter busy on its own: partial sums of fewer
    // entries (one each, at the least) where their matrices stay small beside the budget.
    // (A filter gradient of few taps, 32×9, summed four entries a partial sum, ran 25
    // launches of one workgroup each.)
    let held = || texture_launches(dims, COPY_BUDGET, most as usize)?.first().map(|l| l.entries.len());
    if let Some(held) = variant.reads_textures().then(held).flatten() {
        let per = (held * tiles as usize / LAUNCH_WORKGROUPS).max(1);
        let finer = dims.entries.div_ceil(per).min(most as usize);
        if finer * dims.m * dims.n * 4 <= COPY_BUDGET / 4 {
            groups = groups.max(finer);
        }
    }
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
    let (entry, [tile_m, tile_n]) = variant.kernel(&dims, limits);
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
        // The first matrix, the texture origins and the entries summed: set per launch by
        // the plan where a textured product is cut along its batch.
        0,
        0,
        0,
        0,
        dims.entries,
        0,
        // Texel strides: the copied layout's; the plan sets a packed operand's.
        dims.stride_a / 4,
        dims.stride_b / 4,
    ];
    Ok(Launch {
        key: KernelKey {
            family: if variant == MatmulVariant::TexturedSubgroups { Family::MatmulSubgroups } else { Family::Matmul },
            entry,
            // A, B and the bias (A again where there is none).
            inputs: 3,
            outputs: 1,
            texture: if variant.reads_textures() { TextureBinding::Read } else { TextureBinding::None },
            constants: vec![("TRANS_A", dims.trans_a as u32), ("TRANS_B", dims.trans_b as u32)],
        },
        params: params.iter().map(|&v| v as u32).collect(),
        groups: [x, y, dims.batch as u32],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(batch: usize, [m, k, n]: [usize; 3], shared_a: bool, sum_over: usize) -> MatmulDims {
        let entries = batch * sum_over;
        MatmulDims {
            batch,
            m,
            n,
            k,
            stride_a: if shared_a { 0 } else { m * k },
            stride_b: k * n,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            bias: Bias::None,
            sum_over,
            entries,
            relu: false,
        }
    }

    /// Every entry of every matrix of C is summed by exactly one launch, the first launch
    /// of each matrix overwrites it, and no launch copies more than `budget` bytes.
    fn check_cover(d: &MatmulDims, launches: &[TextureLaunch], budget: usize) {
        let mut seen = vec![0; d.entries];
        let mut written = vec![false; d.batch];
        for l in launches {
            let copied = l.a.map_or(0, |r| r.1) + l.b.map_or(0, |r| r.1);
            assert!(copied * 4 <= budget, "{l:?} copies {} bytes", copied * 4);
            for (z, done) in written.iter_mut().enumerate().skip(l.z0).take(l.zs) {
                assert_eq!(l.accumulate, *done, "{l:?}");
                *done = true;
                let mine = (z * d.sum_over..((z + 1) * d.sum_over).min(d.entries)).filter(|e| l.entries.contains(e));
                for e in mine {
                    seen[e] += 1;
                    // The copies hold the entry's operands.
                    let (first, count) = l.b.unwrap();
                    assert!(first <= e * d.stride_b && e * d.stride_b + d.k * d.n <= first + count, "{l:?} entry {e}");
                }
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "{seen:?}");
        assert!(written.iter().all(|&w| w));
    }

    #[test]
    fn texture_launches_cover_each_entry_once_within_the_budget() {
        let budget = 1 << 20;
        // One launch; several launches with A copied by the first only; a batch sum whose
        // matrices take several launches each.
        for d in [dims(5, [16, 16, 64], true, 1), dims(8, [12, 64, 1160], true, 1), dims(2, [12, 64, 1160], true, 4)] {
            let launches = texture_launches(&d, budget, 65535).unwrap();
            check_cover(&d, &launches, budget);
            assert!(launches[0].a.is_some() && launches[1..].iter().all(|l| l.a.is_none()));
        }
        assert_eq!(texture_launches(&dims(5, [16, 16, 64], true, 1), 1 << 20, 65535).unwrap().len(), 1);
        assert_eq!(texture_launches(&dims(8, [12, 64, 1160], true, 1), 1 << 20, 65535).unwrap().len(), 3);
        // Both operands batched: each launch copies its own entries of both.
        let d = dims(6, [64, 288, 196], false, 1);
        let launches = texture_launches(&d, budget, 65535).unwrap();
        check_cover(&d, &launches, budget);
        assert!(launches.iter().all(|l| l.a.is_some()));
        // One entry past the budget: no textures.
        assert!(texture_launches(&dims(2, [512, 512, 512], false, 1), budget, 65535).is_none());
        // No launch past the adapter's workgroups per dimension.
        let d = dims(20, [16, 16, 64], true, 1);
        let launches = texture_launches(&d, budget, 8).unwrap();
        check_cover(&d, &launches, budget);
        assert!(launches.len() == 3 && launches.iter().all(|l| l.zs <= 8));
    }

    #[test]
    fn depth_bands_are_as_few_as_fit_and_cover_k() {
        let plain = |[m, k, n]: [usize; 3]| MatmulDims { stride_b: 0, ..dims(1, [m, k, n], true, 1) };
        let cover = |bands: &[std::ops::Range<usize>], k: usize| {
            bands.windows(2).all(|w| w[0].end == w[1].start)
                && bands.first().map(|b| b.start) == Some(0)
                && bands.last().map(|b| b.end) == Some(k)
                && bands.iter().all(|b| b.len() % 4 == 0 && !b.is_empty())
        };
        // 4·depth·2048 ≤ 1 MiB: 128, in 8 bands; 896 KiB: 112 at most, so 10 bands of 104
        // (the last 88) rather than 16 of 64.
        let d = plain([1024, 1024, 1024]);
        assert_eq!(depth_bands(&d, 1 << 20).unwrap(), (0..8).map(|j| j * 128..(j + 1) * 128).collect::<Vec<_>>());
        let bands = depth_bands(&d, 896 << 10).unwrap();
        assert!(cover(&bands, 1024) && bands.len() == 10 && bands[0].len() == 104, "{bands:?}");
        // B stored [n, k] is packed too; k = 544 needs no power of two.
        for d in [plain([40, 544, 512]), MatmulDims { trans_b: true, ..plain([300, 1000, 700]) }] {
            let bands = depth_bands(&d, 1 << 20).unwrap();
            assert!(cover(&bands, d.k), "{bands:?}");
            for depth in bands.iter().map(|b| b.len()) {
                let runs = runs_per_row(depth, d.k).unwrap();
                assert!(runs * depth / 4 <= 1024 && (runs * d.k * 4).is_multiple_of(256), "{depth} {runs}");
                let rows = |along_k: bool, width: usize| {
                    if along_k { width.div_ceil(runs) } else { (4 * depth * width).div_ceil(16 << 10) }
                };
                assert!((rows(!d.trans_a, d.m) + rows(d.trans_b, d.n)) * (16 << 10) <= 1 << 20);
            }
            assert!(bands.len() <= 4 * d.k * (d.m + d.n) / (1 << 20) + 2, "{bands:?}");
        }
        // A fused ReLU (applied by the last band) does not change the bands.
        let relu = MatmulDims { relu: true, ..plain([1024, 1024, 1024]) };
        assert_eq!(depth_bands(&relu, 1 << 20), depth_bands(&plain([1024, 1024, 1024]), 1 << 20));
    }

    #[test]
    fn packings_pad_what_a_copy_cannot_lay_out_in_fours() {
        let d = |[m, k, n]: [usize; 3], trans_a: bool, trans_b: bool| MatmulDims {
            trans_a,
            trans_b,
            stride_a: 0,
            ..dims(3, [m, k, n], true, 1)
        };
        // In fours: copied.
        assert_eq!(packings(&d([8, 12, 16], false, false)), [None, None]);
        assert!(textures_fit(&d([8, 12, 16], true, true)));
        // n odd: only B stored [k, n] is packed, rows of 10 in 3 texels; stored [n, k], copied.
        assert_eq!(packings(&d([8, 12, 10], false, false)), [None, Some(Packing::new(12, 10, true))]);
        assert_eq!(packings(&d([8, 12, 10], false, true)), [None, None]);
        assert_eq!(Packing::new(12, 10, true).texels(), 12 * 3);
        // k odd: both, the one stored across k with zero rows up to 12.
        let [a, b] = packings(&d([8, 9, 16], true, false));
        assert_eq!((a.unwrap().padded_rows, a.unwrap().cols4(), b.unwrap().padded_rows), (12, 2, 12));
        let [a, b] = packings(&d([8, 9, 16], false, true));
        assert_eq!((a.unwrap().padded_rows, a.unwrap().cols4(), b.unwrap().padded_rows), (8, 3, 16));
        // A batch stride out of fours (k and m in fours): A is packed.
        assert!(packings(&MatmulDims { stride_a: 8 * 12 + 2, ..d([8, 12, 16], false, false) })[0].is_some());
        // The budget counts packed matrices: a convolution's 9 taps × 784 pixels per image
        // padded to 12 rows (37,632 bytes), beside the shared 32×9 filters in rows of 3
        // texels (1,536 bytes): 24 images to a launch under 896 KiB.
        let conv = dims(100, [32, 9, 784], true, 1);
        let launches = texture_launches(&conv, 896 << 10, 65535).unwrap();
        assert_eq!(launches.iter().map(|l| l.zs).collect::<Vec<_>>(), [24, 24, 24, 24, 4]);
        assert_eq!(launches[0].a, Some((0, 32 * 12)));
        assert_eq!(launches[1].b, Some((24 * 12 * 784, 24 * 12 * 784)));
    }

    #[test]
    fn textured_batch_sums_keep_each_launch_busy_where_partial_sums_stay_small() {
        let limits = wgpu::Limits::default();
        // conv1's filter gradient: g [32, 784] times each image's 9×784 patches, transposed.
        let conv1 = MatmulDims { trans_b: true, ..dims(100, [32, 784, 9], false, 1) };
        assert_eq!(batch_sum_groups(&conv1, MatmulVariant::RegisterBlocked, true, &limits), Some(25));
        // Textured, 7 images a launch of one tile each: one product per image (a launch of 7
        // workgroups rather than partial sums of 4 in launches of one).
        assert_eq!(texture_launches(&conv1, COPY_BUDGET, 65535).unwrap()[0].entries.len(), 7);
        assert_eq!(batch_sum_groups(&conv1, MatmulVariant::Textured, true, &limits), None);
        // conv2's: 64×288 partial sums of 74 KB; 100 of them would not stay small.
        let conv2 = MatmulDims { trans_b: true, ..dims(100, [64, 196, 288], false, 1) };
        assert_eq!(batch_sum_groups(&conv2, MatmulVariant::Textured, true, &limits), Some(7));
        assert_eq!(batch_sum_groups(&conv2, MatmulVariant::Textured, false, &limits), None);
    }

    #[test]
    fn row_bands_fill_the_budget_beside_b_and_cover_every_row() {
        let d = MatmulDims { batch: 1, entries: 1, ..dims(1, [100, 512, 480], true, 1) };
        let d = MatmulDims { stride_b: 0, ..d };
        let (bands, last) = row_bands(&d, 1 << 20).unwrap();
        assert_eq!(bands.m, 32);
        assert_eq!((bands.batch, last), (4, 4));
        assert_eq!(bands.stride_a, 32 * 512);
        // A transposed cannot be cut into contiguous rows; a per-row bias would shift.
        assert!(row_bands(&MatmulDims { trans_a: true, ..d }, 1 << 20).is_none());
        assert!(row_bands(&MatmulDims { bias: Bias::PerRow, ..d }, 1 << 20).is_none());
    }
}
