//! How textured products, storage kernels' textured inputs and textured updates are cut into
//! launches within the copy budget, each with its copies or packing launches before it.

use super::copy::{CopyLayout, OperandCopy, ROW_BYTES, flat, rows};
use crate::backend::executor::chunk::PlanChunk;
use crate::backend::kernels::matmul::{self, MatmulDims, MatmulVariant, TEXEL_ROW};
use crate::backend::kernels::params::MatmulParams;
use crate::backend::kernels::{Launch, pack};
use crate::error::Result;
use crate::ir::graph::NodeId;
use crate::ir::shape::Shape;

/// The budget of a plain product (one matrix each) too large for `budget`, which runs in
/// bands: a quarter of the bytes its operands and result take already (the memory target's
/// 1.25×, applied to the product), and at least `budget`. Fewer bands read and write C fewer
/// times: on software adapters that costs a band about as long as its products take.
fn plain_budget(dims: &MatmulDims, budget: usize) -> usize {
    budget.max(dims.m * dims.k + dims.k * dims.n + dims.m * dims.n)
}

/// The launches of a textured product `launch` of `dims`, reading A from `a` and B from `b`
/// (bound whole, at offset 0), cut as [`matmul::texture_launches`] says, each with its
/// copies, or after the launches that pack its operands ([`matmul::packings`]); `None` if
/// the product's operands do not fit `budget`, or its launches would need a texture
/// taller than the adapter's `max_texture_dimension_2d` (it then reads storage).
pub(crate) fn textured_chunks(
    launch: &Launch,
    dims: &MatmulDims,
    operands: (NodeId, NodeId),
    bindings: &[(NodeId, u64, u64)],
    out: (&Shape, &wgpu::Limits),
    budget: usize,
) -> Option<Vec<PlanChunk>> {
    let chunks = chunks_within_budget(launch, dims, operands, bindings, out, budget)?;
    let tallest = chunks.iter().map(|c| c.texture_rows).max()?;
    (tallest <= out.1.max_texture_dimension_2d as u64).then_some(chunks)
}

/// [`textured_chunks`] before the texture's height is checked.
fn chunks_within_budget(
    launch: &Launch,
    dims: &MatmulDims,
    (a, b): (NodeId, NodeId),
    bindings: &[(NodeId, u64, u64)],
    (out, limits): (&Shape, &wgpu::Limits),
    budget: usize,
) -> Option<Vec<PlanChunk>> {
    // A plain product too large for the budget runs as bands of A's rows, one a launch; the
    // last band's launch has fewer rows.
    let max_z = limits.max_compute_workgroups_per_dimension as usize;
    let (launch, parts, last_rows) = match matmul::texture_launches(dims, budget, max_z) {
        Some(parts) => (launch.clone(), parts, None),
        // A plain product with packed operands packs up to its own budget in one launch, or
        // runs in packed bands along k.
        None if !matmul::textures_fit(dims) => {
            let budget = plain_budget(dims, budget);
            let plain = dims.batch == 1 && dims.entries == 1;
            match matmul::texture_launches(dims, budget, max_z) {
                Some(parts) if plain => (launch.clone(), parts, None),
                _ => return depth_chunks(launch, dims, (a, b), bindings, (out, limits), budget),
            }
        }
        None => {
            let budget = plain_budget(dims, budget);
            let Some((bands, last_rows)) = matmul::row_bands(dims, budget) else {
                return depth_chunks(launch, dims, (a, b), bindings, (out, limits), budget);
            };
            // The bands run the product's own kernel, with the bands' parameters and grid.
            let launch = matmul::launch(bands, MatmulVariant::textured_of(&launch.key), out, limits).ok()?;
            let parts = matmul::texture_launches(&bands, budget, max_z)?;
            if parts.iter().any(|p| p.zs != 1) || !matmul::textures_fit(&bands) {
                return None;
            }
            (launch, parts, Some(last_rows))
        }
    };
    let last = parts.len() - 1;
    // B starts after the most rows any launch copies of A, the same row for every launch
    // (a shared B is copied by the first launch only).
    let b_row = parts.iter().filter_map(|p| p.a).map(|(_, count)| rows(count as u64 * 4)).max().unwrap_or(0);
    let texture_rows = b_row + parts.iter().filter_map(|p| p.b).map(|(_, count)| rows(count as u64 * 4)).max()?;
    let [packed_a, packed_b] = matmul::packings(dims);
    let mut chunks = Vec::new();
    for (k, part) in parts.into_iter().enumerate() {
        let mut launch = launch.clone();
        let mut p = *launch.params.matmul()?;
        let mut part_a = part.a;
        if let (Some(rows), true) = (last_rows, k == last) {
            p.m = rows as u32;
            part_a = part.a.map(|(first, _)| (first, rows * dims.k));
        }
        p.z0 = part.z0 as u32;
        p.entry_lo = part.entries.start as u32;
        p.entry_hi = part.entries.end as u32;
        p.accumulate = part.accumulate as u32;
        launch.groups[2] = part.zs as u32;
        let mut copies = Vec::new();
        // Where each operand's texels start and how far apart its matrices lie.
        type Layout = fn(&mut MatmulParams) -> (&mut u32, &mut u32);
        let a_layout: Layout = |p| (&mut p.origin_a, &mut p.tex_stride_a);
        let b_layout: Layout = |p| (&mut p.origin_b, &mut p.tex_stride_b);
        let operands =
            [(a, part_a, packed_a, dims.stride_a, a_layout, 0), (b, part.b, packed_b, dims.stride_b, b_layout, b_row)];
        for (slot, (node, region, packing, stride, layout, row)) in operands.into_iter().enumerate() {
            let (origin, tex_stride) = layout(&mut p);
            // A launch that copies nothing of an operand (a shared one, after the first
            // launch) reads it where the first launch put it.
            let first = region.map_or(0, |(first, _)| first);
            *origin = ((first / 4) as u64).wrapping_sub(row * TEXEL_ROW as u64) as u32;
            match (region, packing) {
                (Some(region), None) => copies.push(flat(node, region, row)),
                (region, Some(packing)) => {
                    let texels = packing.texels();
                    *tex_stride = if stride == 0 { 0 } else { texels as u32 };
                    if let Some((first, count)) = region {
                        // Regions count the texture's (padded) elements: whole matrices.
                        let (entry, matrices) = (first / (4 * texels), count / (4 * texels));
                        let source = (entry * stride, stride, matrices);
                        let pack = pack::launch(&packing, source, row * TEXEL_ROW as u64, out, limits).ok()?;
                        let binding = vec![bindings[slot]];
                        chunks.push(PlanChunk { launch: pack, bindings: binding, copies: Vec::new(), texture_rows });
                    }
                }
                (None, None) => {}
            }
        }
        *launch.params.matmul_mut()? = p;
        chunks.push(PlanChunk { launch, bindings: bindings.to_vec(), copies, texture_rows });
    }
    Some(chunks)
}

/// An input that a storage kernel can read from the plan's texture instead of its buffer,
/// in units (planes, images) that launches take whole.
#[derive(Clone, Copy)]
pub(crate) struct TextureInput {
    /// The input.
    pub node: NodeId,
    /// Units in it.
    pub units: usize,
    /// Elements in a unit.
    pub unit_elements: usize,
    /// The texel row the units start at (rows before it are a margin the kernel may read
    /// into without leaving the texture).
    pub row: u64,
    /// The kernel's launch for a range of units, reading them from texel row `row` on.
    pub launch_for: fn(&Launch, std::ops::Range<usize>, &wgpu::Limits) -> Result<Launch>,
}

/// The launches of a storage kernel that reads `input` from the texture: each copies in as
/// many units as `budget` holds; `None` where a unit is not whole texels, passes the
/// budget, or the adapter's textures are too short.
pub(crate) fn input_chunks(
    launch: &Launch,
    input: &TextureInput,
    bindings: &[(NodeId, u64, u64)],
    limits: &wgpu::Limits,
    budget: usize,
) -> Option<Vec<PlanChunk>> {
    let per_unit = input.unit_elements;
    let per_launch = budget.checked_div(per_unit * 4)?.min(input.units);
    if !per_unit.is_multiple_of(4) || per_launch == 0 {
        return None;
    }
    let texture_rows = input.row + rows((per_launch * per_unit * 4) as u64);
    if texture_rows > limits.max_texture_dimension_2d as u64 {
        return None;
    }
    (0..input.units)
        .step_by(per_launch)
        .map(|first| {
            let units = first..(first + per_launch).min(input.units);
            let copy = flat(input.node, (units.start * per_unit, units.len() * per_unit), input.row);
            let launch = (input.launch_for)(launch, units, limits).ok()?;
            Some(PlanChunk { launch, bindings: bindings.to_vec(), copies: vec![copy], texture_rows })
        })
        .collect()
}

/// The launches of an optimizer update that reads its arrays from the texture
/// ([`crate::backend::kernels::optim::textured`]): `arrays` (the parameter, its gradient, its
/// states, of `elements` each, a multiple of 4) copied one after another, each launch as
/// many elements of each as `budget` holds. `None` where the adapter's textures are
/// too short.
pub(crate) fn update_chunks(
    launch: &Launch,
    arrays: &[NodeId],
    elements: usize,
    bindings: &[(NodeId, u64, u64)],
    limits: &wgpu::Limits,
    budget: usize,
) -> Option<Vec<PlanChunk>> {
    let rows_each = ((budget as u64 / ROW_BYTES) / arrays.len() as u64).min(rows(elements as u64 * 4));
    let texture_rows = rows_each * arrays.len() as u64;
    if rows_each == 0 || texture_rows > limits.max_texture_dimension_2d as u64 {
        return None;
    }
    // Texels from one array's copy to the next, and the elements of each a launch copies.
    let stride = rows_each as usize * TEXEL_ROW as usize;
    let per_launch = 4 * stride;
    (0..elements)
        .step_by(per_launch)
        .map(|first| {
            let part = first..(first + per_launch).min(elements);
            let copies = (0..arrays.len() as u64)
                .map(|j| flat(arrays[j as usize], (first, part.len()), j * rows_each))
                .collect();
            let launch = crate::backend::kernels::optim::textured(launch, part, stride, limits).ok()?;
            Some(PlanChunk { launch, bindings: bindings.to_vec(), copies, texture_rows })
        })
        .collect()
}

/// The launches of a plain product cut along k ([`matmul::depth_bands`]): each copies its
/// band of A and of B and adds its product to C (the first overwrites it and adds the bias,
/// the last applies a fused ReLU to the sum).
fn depth_chunks(
    launch: &Launch,
    dims: &MatmulDims,
    (a, b): (NodeId, NodeId),
    bindings: &[(NodeId, u64, u64)],
    (out, limits): (&Shape, &wgpu::Limits),
    budget: usize,
) -> Option<Vec<PlanChunk>> {
    let bands = matmul::depth_bands(dims, budget)?;
    if !matmul::textures_fit(dims) {
        return packed_depth_chunks(launch, dims, bindings, (out, limits), bands);
    }
    let last = bands.last()?.end;
    let stride = dims.k as u64 * 4;
    // The band of an operand stored along k: a run of the band's depth from each of `rows`
    // rows, `runs` to a texel row; of one stored across k: `depth` whole rows of `width`.
    let band =
        |node: NodeId, along_k: bool, width: usize, k: &std::ops::Range<usize>, runs: Option<usize>, row: u64| {
            if along_k {
                let per_row = runs? as u64;
                let layout = CopyLayout::Strided { rows: width as u64, texels: k.len() as u64 / 4, per_row, stride };
                Some(OperandCopy { node, offset: k.start as u64 * 4, layout, row })
            } else {
                Some(flat(node, (k.start * width, k.len() * width), row))
            }
        };
    let chunks = bands
        .into_iter()
        .map(|k| {
            // Only an operand stored along k needs its rows packed (and the kernel reads
            // `runs` only for such an operand).
            let runs = matmul::runs_per_row(k.len(), dims.k);
            let a_copy = band(a, !dims.trans_a, dims.m, &k, runs, 0)?;
            let b_copy = band(b, dims.trans_b, dims.n, &k, runs, a_copy.rows())?;
            let mut launch = launch.clone();
            let p = launch.params.matmul_mut()?;
            p.k = k.len() as u32;
            p.accumulate = (k.start > 0) as u32;
            p.activate = (dims.activation.is_some() && k.end == last) as u32;
            p.origin_b = 0u32.wrapping_sub((b_copy.row * TEXEL_ROW as u64) as u32);
            p.runs = runs.unwrap_or(0) as u32;
            let texture_rows = b_copy.row + b_copy.rows();
            Some(PlanChunk { launch, bindings: bindings.to_vec(), copies: vec![a_copy, b_copy], texture_rows })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(chunks)
}

/// [`depth_chunks`] for operands a copy cannot lay out: before each band's product, a launch
/// packs each operand's band ([`matmul::band_packing`]; A's, bound first, from the
/// texture's first row, B's after it), padded with zeros where the band is not 4-deep.
fn packed_depth_chunks(
    launch: &Launch,
    dims: &MatmulDims,
    bindings: &[(NodeId, u64, u64)],
    (out, limits): (&Shape, &wgpu::Limits),
    bands: Vec<std::ops::Range<usize>>,
) -> Option<Vec<PlanChunk>> {
    let last = bands.last()?.end;
    let mut chunks = Vec::new();
    for k in bands {
        let a_band = matmul::band_packing(!dims.trans_a, dims.m, k.len(), dims.k);
        let b_band = matmul::band_packing(dims.trans_b, dims.n, k.len(), dims.k);
        let b_row = (a_band.texels() as u64).div_ceil(TEXEL_ROW as u64);
        let texture_rows = b_row + (b_band.texels() as u64).div_ceil(TEXEL_ROW as u64);
        // A band's first element: column k.start of an operand stored along k, else row k.start.
        let start = |along_k: bool, width: usize| if along_k { k.start } else { k.start * width };
        let operands = [
            (a_band, start(!dims.trans_a, dims.m), 0, bindings[0]),
            (b_band, start(dims.trans_b, dims.n), b_row, bindings[1]),
        ];
        for (packing, first, row, binding) in operands {
            let pack = pack::launch(&packing, (first, 0, 1), row * TEXEL_ROW as u64, out, limits).ok()?;
            chunks.push(PlanChunk { launch: pack, bindings: vec![binding], copies: Vec::new(), texture_rows });
        }
        let mut launch = launch.clone();
        let p = launch.params.matmul_mut()?;
        p.k = k.len() as u32;
        p.accumulate = (k.start > 0) as u32;
        p.activate = (dims.activation.is_some() && k.end == last) as u32;
        p.origin_a = 0;
        p.origin_b = 0u32.wrapping_sub((b_row * TEXEL_ROW as u64) as u32);
        p.runs = 0;
        p.tex_stride_a = 0;
        p.tex_stride_b = 0;
        chunks.push(PlanChunk { launch, bindings: bindings.to_vec(), copies: Vec::new(), texture_rows });
    }
    Some(chunks)
}
