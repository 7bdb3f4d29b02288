//! `shaders/matmul.wgsl`: batched matrix products with either operand transposed.

//!
//! The variants and their choice, a product's sizes and its launch (here); the entry points
//! generated per block shape (`entries`); how a textured product lies in the plan's texture
//! and is cut into launches (`textured`).

mod dims;
mod entries;
mod textured;

pub use dims::{Bias, MatmulDims};
pub(crate) use entries::{source, subgroup_source};
pub use textured::{
    COPY_BUDGET, TEXEL_ROW, TextureLaunch, band_packing, depth_bands, packings, row_bands, runs_per_row,
    texture_launches, textures_fit,
};

use crate::backend::kernels::elementwise::activation_code;
use crate::backend::kernels::launch::{Family, KernelKey, Launch, TextureBinding, grid};
use crate::backend::kernels::params::{MatmulParams, Params};
use crate::error::{Error, Result};
use crate::ir::shape::Shape;
use entries::{BIG_TILE, BLOCK, BLOCK_LARGE, BLOCK_SG, BLOCK_SG_SQUARE, BLOCK_WIDE};

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

/// Rows, columns and depth from which the register-blocked variant uses 32×16 blocks: below
/// this, edge blocks waste most of their work and the 8×8 kernel is as fast.
pub const LARGE: [usize; 3] = [256, 128, 64];

/// At most these rows, and at least these columns and depth: the register-blocked variant's
/// 32×8 blocks in 16×2 workgroups (64×128 tiles), for convolutions' products and layers
/// over batches of about a hundred.
pub const WIDE: [usize; 3] = [128, 128, 64];

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

/// Workgroups one launch of a textured product summed over its batch should have at least,
/// where its partial sums stay small: a few per core of the machines software adapters run on.
const LAUNCH_WORKGROUPS: usize = 8;

/// Into how many partial sums a batched product that is summed over its batch (`dims`, one
/// product per entry) should be cut: enough that the partial sums' tiles fill `in_flight`
/// workgroups, and fewer than the entries (else nothing is gained). `None`: keep one product per
/// entry. The partial sums are the launch's z extent, so at most
/// `limits.max_compute_workgroups_per_dimension`.
pub fn batch_sum_groups(
    dims: &MatmulDims,
    variant: MatmulVariant,
    in_flight: u64,
    limits: &wgpu::Limits,
) -> Option<usize> {
    let (_, [tile_m, tile_n]) = variant.kernel(dims, limits);
    let tiles = (dims.m as u64).div_ceil(tile_m) * (dims.n as u64).div_ceil(tile_n);
    let most = limits.max_compute_workgroups_per_dimension as u64;
    let mut groups = in_flight.div_ceil(tiles).clamp(2, most.max(2)) as usize;
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
    let u = |v: usize| v as u32;
    let params = MatmulParams {
        m: u(dims.m),
        n: u(dims.n),
        k: u(dims.k),
        batch_stride_a: u(dims.stride_a),
        batch_stride_b: u(dims.stride_b),
        batch_stride_c: u(dims.m * dims.n),
        accumulate: dims.accumulate as u32,
        bias_mode: bias,
        sum_over: u(dims.sum_over),
        entries: u(dims.entries),
        activate: dims.activation.is_some() as u32,
        // The first matrix, the texture origins and the entries summed: set per launch by
        // the plan where a textured product is cut along its batch.
        z0: 0,
        origin_a: 0,
        origin_b: 0,
        entry_lo: 0,
        entry_hi: u(dims.entries),
        runs: 0,
        // Texel strides: the copied layout's; the plan sets a packed operand's.
        tex_stride_a: u(dims.stride_a / 4),
        tex_stride_b: u(dims.stride_b / 4),
    };
    Ok(Launch {
        key: KernelKey {
            family: if variant == MatmulVariant::TexturedSubgroups { Family::MatmulSubgroups } else { Family::Matmul },
            entry,
            // A, B and the bias (A again where there is none).
            inputs: 3,
            outputs: 1,
            texture: if variant.reads_textures() { TextureBinding::Read } else { TextureBinding::None },
            constants: vec![
                ("TRANS_A", dims.trans_a as u32),
                ("TRANS_B", dims.trans_b as u32),
                ("ACTIVATION", activation_code(dims.activation)),
            ],
        },
        params: Params::Matmul(params),
        groups: [x, y, dims.batch as u32],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::kernels::pack::Packing;
    use crate::backend::strategy::{KernelSet, Strategy};
    use crate::ir::ops::elementwise::ElementwiseOp;

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
            activation: None,
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
        let relu = MatmulDims { activation: Some(ElementwiseOp::Relu), ..plain([1024, 1024, 1024]) };
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
        const SOFTWARE: u64 = Strategy::new(KernelSet::Software, None, false).batch_sum_workgroups;
        const GPU: u64 = Strategy::new(KernelSet::Gpu, None, false).batch_sum_workgroups;
        // conv1's filter gradient: g [32, 784] times each image's 9×784 patches, transposed.
        let conv1 = MatmulDims { trans_b: true, ..dims(100, [32, 784, 9], false, 1) };
        assert_eq!(batch_sum_groups(&conv1, MatmulVariant::RegisterBlocked, SOFTWARE, &limits), Some(25));
        // Textured, 7 images a launch of one tile each: one product per image (a launch of 7
        // workgroups rather than partial sums of 4 in launches of one).
        assert_eq!(texture_launches(&conv1, COPY_BUDGET, 65535).unwrap()[0].entries.len(), 7);
        assert_eq!(batch_sum_groups(&conv1, MatmulVariant::Textured, SOFTWARE, &limits), None);
        // conv2's: 64×288 partial sums of 74 KB; 100 of them would not stay small.
        let conv2 = MatmulDims { trans_b: true, ..dims(100, [64, 196, 288], false, 1) };
        assert_eq!(batch_sum_groups(&conv2, MatmulVariant::Textured, SOFTWARE, &limits), Some(7));
        // GPUs: partial sums whose 64×64 tiles fill about 128 workgroups, 4 images each for
        // conv2 (5 tiles a sum), 13 for the deep CNN's conv3 (18 tiles); conv1's single
        // tile would take more sums than images, so it keeps one product per image.
        assert_eq!(batch_sum_groups(&conv2, MatmulVariant::Tiled, GPU, &limits), Some(25));
        let conv3 = MatmulDims { trans_b: true, ..dims(100, [128, 49, 576], false, 1) };
        assert_eq!(batch_sum_groups(&conv3, MatmulVariant::Tiled, GPU, &limits), Some(8));
        assert_eq!(batch_sum_groups(&conv1, MatmulVariant::Tiled, GPU, &limits), None);
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
