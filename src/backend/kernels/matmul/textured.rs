//! How a product that reads its operands from the plan's texture lies there, and how it is
//! cut into launches that each copy in no more than the texture's budget.

use super::dims::{Bias, MatmulDims};
use crate::backend::kernels::pack::Packing;

/// Texels in a row of an operand texture: 16 KiB, a multiple of the 256 bytes a
/// buffer-to-texture copy needs per row.
pub const TEXEL_ROW: u32 = 1024;

/// Bytes of operands one launch copies at most, and so about the texture's size, in a plan
/// whose buffers are small (`operand_textures::copy_budget`): small beside a plan's buffers (the memory
/// target is 1.25× what training must keep: the MLP of the course keeps 4.8 MB, its plan's
/// buffers take 5.0), yet room for a 784×256 layer's weights and bands of its input.
/// Products whose operands for one batch entry pass the budget are cut along rows or k, or
/// read storage.
pub const COPY_BUDGET: usize = 896 << 10;

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
