//! Launches cut into chunks, so that no binding exceeds the adapter's storage-binding size.

use super::chunk::{Part, PlanChunk};
use super::kernel_graph::{Kernel, KernelNode};
use super::lower::{Lowered, lower};
use crate::backend::device::Device;
use crate::backend::kernels::TextureBinding;
use crate::backend::operand_textures::textured_chunks;
use crate::error::{Error, Result};
use crate::ir::graph::{NodeId, Op};
use crate::ir::ops::reduce::ReduceOp;
use crate::ir::shape::Shape;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The nodes of launch `i` whose leading axis can be cut into independent chunks (each
/// chunk's outputs need only the same rows of these inputs, and all of the others), and
/// whether the chunks add into one output (a product split along its contracted axis).
fn splittable(nodes: &[KernelNode], i: usize) -> Option<(Vec<NodeId>, bool)> {
    let n = &nodes[i];
    let out = &n.shape;
    let lead = |id: NodeId| nodes[id.index()].shape.dims().first().copied();
    let same_rows = |ids: &[NodeId]| {
        ids.iter()
            .filter(|&&x| nodes[x.index()].shape.rank() == out.rank() && lead(x) == lead(NodeId(i)))
            .copied()
            .collect::<Vec<_>>()
    };
    let with_out = |mut v: Vec<NodeId>| {
        v.push(NodeId(i));
        Some((v, false))
    };
    if let Kernel::Conv2dTaps { .. } = n.kernel {
        return with_out(vec![n.inputs[0]]);
    }
    // The other fused kernels are made only where their bindings fit.
    let op = n.kernel.op()?;
    match *op {
        Op::Elementwise { .. } | Op::Expand { .. } | Op::Dropout { .. } => with_out(same_rows(&n.inputs)),
        // Softmax works on whole rows of the last axis: the leading axis must be another one.
        Op::Softmax { .. } | Op::SoftmaxBackward { .. } if out.rank() < 2 => None,
        Op::Softmax { .. } | Op::SoftmaxBackward { .. } | Op::Pool2d { .. } | Op::Pool2dBackward { .. } => {
            with_out(same_rows(&n.inputs))
        }
        Op::Reduce { op, .. } => {
            let x = n.inputs[0];
            if lead(x) == lead(NodeId(i)) {
                with_out(vec![x])
            } else if op != ReduceOp::Argmax {
                // The leading axis is reduced: each chunk folds its rows into the output.
                Some((vec![x], true))
            } else {
                None
            }
        }
        // A batch norm's passes are element by element; its sums reduce over the batch.
        Op::BatchNorm { .. } => with_out(vec![n.inputs[0]]),
        Op::BatchNormBackward => with_out(n.inputs[..2].to_vec()),
        // Every item's loss is independent: chunks add their part of the mean.
        Op::Loss(_) => Some((n.inputs.clone(), true)),
        Op::LossBackward(_) => with_out(n.inputs[1..].to_vec()),
        Op::Im2col(_) | Op::Col2im(_) | Op::Conv2d(_) | Op::Conv2dBackwardInput(_) => with_out(vec![n.inputs[0]]),
        Op::Matmul { trans_a, trans_b } => {
            let (a, b) = (n.inputs[0], n.inputs[1]);
            let rank = |x: NodeId| nodes[x.index()].shape.rank();
            if out.rank() == 3 {
                with_out([a, b].into_iter().filter(|&x| rank(x) == 3).collect())
            } else if !trans_a {
                with_out(vec![a])
            } else if !trans_b {
                // Aᵀ·B with A [k, m] and B [k, n]: chunks of k, each adding its product to C.
                Some((vec![a, b], true))
            } else {
                None
            }
        }
        // In-place updates: the parameter, its gradient and its states, element for element.
        Op::Update(_) | Op::RunningAverage { .. } => Some((n.inputs.clone(), false)),
        _ => None,
    }
}

/// `lowered` split into chunks that each bind at most `max_storage_buffer_binding_size`
/// bytes of every tensor, or an error naming the op, the shape and the limit where the op
/// cannot be split that way.
pub(super) fn split(
    nodes: &[KernelNode],
    i: usize,
    device: &Device,
    limits: &wgpu::Limits,
    lowered: Lowered,
    budget: usize,
) -> Result<Vec<PlanChunk>> {
    let limit = limits.max_storage_buffer_binding_size;
    let bytes = |id: NodeId| nodes[id.index()].shape.numel() as u64 * 4;
    let bound: Vec<NodeId> = lowered.reads.iter().chain(&lowered.writes).copied().collect();
    if bound.iter().all(|&id| bytes(id) <= limit) {
        let bindings: Vec<_> = bound.iter().map(|&id| (id, 0, bytes(id))).collect();
        if let (Some(dims), TextureBinding::Read) = (lowered.matmul, lowered.launch.key.texture) {
            let operands = (lowered.reads[0], lowered.reads[1]);
            let out = (&nodes[i].shape, limits);
            if let Some(chunks) = textured_chunks(&lowered.launch, &dims, operands, &bindings, out, budget) {
                return Ok(chunks);
            }
            let part = Part { storage_only: true, ..Part::default() };
            if let Some(l) = lower(nodes, i, device, limits, &part)? {
                return Ok(vec![PlanChunk { launch: l.launch, bindings, copies: Vec::new(), texture_rows: 0 }]);
            }
        }
        if let Some(chunks) = lowered.texture_read.and_then(|t| t.chunks(&lowered.launch, &bindings, limits, budget)) {
            return Ok(chunks);
        }
        return Ok(vec![PlanChunk { launch: lowered.launch, bindings, copies: Vec::new(), texture_rows: 0 }]);
    }
    let largest = *bound.iter().max_by_key(|&&id| bytes(id)).unwrap_or(&NodeId(i));
    let too_big = |needed: u64| Error::AdapterLimit {
        op: format!("{} (node {i})", nodes[i].kernel.name()),
        shape: nodes[largest.index()].shape.clone(),
        limit: "max_storage_buffer_binding_size",
        needed,
        available: limit,
    };
    let Some((cut, accumulate)) = splittable(nodes, i) else {
        return Err(too_big(bytes(largest)));
    };
    if let Some(&whole) = bound.iter().find(|id| !cut.contains(id) && bytes(**id) > limit) {
        return Err(too_big(bytes(whole)));
    }
    let rows = nodes[cut[0].index()].shape.dims()[0] as u64;
    let row_bytes = |id: NodeId| bytes(id) / rows;
    // Every chunk's offsets must be multiples of the adapter's offset alignment.
    let align = limits.min_storage_buffer_offset_alignment as u64;
    let step = cut.iter().fold(1u64, |l, &id| {
        let need = align / gcd(row_bytes(id), align);
        l / gcd(l, need) * need
    });
    let widest = cut.iter().map(|&id| row_bytes(id)).max().unwrap_or(4);
    let per_chunk = (limit / widest) / step * step;
    if per_chunk == 0 {
        return Err(too_big(widest * step));
    }
    let mut chunks = Vec::new();
    let mut r0 = 0;
    while r0 < rows {
        let r = per_chunk.min(rows - r0);
        let mut part =
            Part { accumulate: accumulate && r0 > 0, first_row: r0 as usize, storage_only: true, ..Part::default() };
        for &id in &cut {
            let mut dims = nodes[id.index()].shape.dims().to_vec();
            dims[0] = r as usize;
            part.shapes.insert(id.index(), Shape::new(&dims)?);
        }
        let Some(l) = lower(nodes, i, device, limits, &part)? else { break };
        let bindings = l
            .reads
            .iter()
            .chain(&l.writes)
            .map(|&id| if cut.contains(&id) { (id, r0 * row_bytes(id), r * row_bytes(id)) } else { (id, 0, bytes(id)) })
            .collect();
        chunks.push(PlanChunk { launch: l.launch, bindings, copies: Vec::new(), texture_rows: 0 });
        r0 += r;
    }
    Ok(chunks)
}
