//! Where each node's value lives: a storage buffer of its own, its input's (reshapes and
//! in-place updates), or one that a value no longer read has freed.

use super::kernel_graph::{KernelNode, is_view};
use super::plan::{Counters, Plan, Slot};
use crate::backend::device::Device;
use crate::error::Result;
use crate::ir::graph::NodeId;
use crate::ir::shape::Shape;
use std::collections::HashMap;
use std::sync::Arc;

/// The buffers of a plan and which node uses which.
pub(super) struct Storage {
    pub slots: Vec<Slot>,
    /// Each node's slot; reshapes and in-place updates share their input's.
    pub slot_of: Vec<Option<usize>>,
    /// Nodes whose values outlive a run: inputs, parameters, fills, states and outputs.
    pub readable: Vec<bool>,
    /// Leaves that use a buffer given by the caller or by another plan: they keep its values.
    pub shared: Vec<bool>,
}

/// Assigns every node of `nodes`, run in `order`, its storage: leaves and `outputs` a buffer
/// each for the whole plan (`bound`'s or `source`'s where those have one), intermediates a
/// buffer freed by a value no later launch reads, where one is large enough.
pub(super) fn assign(
    device: &Device,
    nodes: &[KernelNode],
    order: &[usize],
    outputs: &[NodeId],
    source: Option<&Plan>,
    bound: &HashMap<usize, Arc<wgpu::Buffer>>,
    counters: &mut Counters,
) -> Result<Storage> {
    let mut root: Vec<usize> = (0..nodes.len()).collect();
    for (i, n) in nodes.iter().enumerate() {
        if n.kernel.is_update() || is_view(nodes, i) {
            root[i] = root[n.inputs[0].index()];
        }
    }
    let mut persistent = vec![false; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        if n.kernel.is_leaf() {
            persistent[root[i]] = true;
        }
    }
    for o in outputs {
        persistent[root[o.index()]] = true;
    }
    // The last step that reads each root's value.
    let mut last_use = vec![0usize; nodes.len()];
    for (step, &i) in order.iter().enumerate() {
        last_use[root[i]] = last_use[root[i]].max(step);
        for x in &nodes[i].inputs {
            let r = root[x.index()];
            last_use[r] = last_use[r].max(step);
        }
    }

    let mut slots: Vec<Slot> = Vec::new();
    let mut slot_of: Vec<Option<usize>> = vec![None; nodes.len()];
    let alloc = |label: &str, shape: &Shape, counters: &mut Counters, slots: &mut Vec<Slot>| -> Result<usize> {
        let buffer = device.create_storage(label, shape)?;
        counters.allocations += 1;
        counters.bytes_allocated += buffer.size();
        slots.push(Slot { buffer: Arc::new(buffer) });
        Ok(slots.len() - 1)
    };
    // Leaves first: they are alive for the whole plan.
    let mut shared = vec![false; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        if root[i] == i && n.kernel.is_leaf() {
            if let Some(buffer) = bound.get(&i).cloned().or_else(|| source.and_then(|p| p.shared_buffer(n))) {
                slots.push(Slot { buffer });
                slot_of[i] = Some(slots.len() - 1);
                shared[i] = true;
                continue;
            }
            let label = n.name.clone().unwrap_or_else(|| format!("node{i}"));
            slot_of[i] = Some(alloc(&label, &n.shape, counters, &mut slots)?);
        }
    }
    // Intermediates: linear scan, reusing a freed buffer when one is large enough.
    let mut free: Vec<(u64, usize)> = Vec::new();
    for (step, &i) in order.iter().enumerate() {
        if root[i] == i && slot_of[i].is_none() {
            let bytes = nodes[i].shape.numel() as u64 * 4;
            let reuse = if persistent[i] {
                None
            } else {
                free.iter()
                    .enumerate()
                    .filter(|(_, (cap, _))| *cap >= bytes)
                    .min_by_key(|(_, (cap, _))| *cap)
                    .map(|(k, _)| k)
            };
            slot_of[i] = Some(match reuse {
                Some(k) => free.swap_remove(k).1,
                None => {
                    alloc(&format!("{} (node {i})", nodes[i].kernel.name()), &nodes[i].shape, counters, &mut slots)?
                }
            });
        }
        // Free after allocating, so no kernel ever writes a buffer it reads.
        let mut dying: Vec<usize> = nodes[i].inputs.iter().map(|x| root[x.index()]).collect();
        dying.push(root[i]);
        dying.sort_unstable();
        dying.dedup();
        for r in dying {
            if !persistent[r] && last_use[r] == step {
                if let Some(s) = slot_of[r] {
                    free.push((slots[s].buffer.size(), s));
                }
            }
        }
    }
    for i in 0..nodes.len() {
        if slot_of[i].is_none() {
            slot_of[i] = slot_of[root[i]];
        }
    }
    let readable = (0..nodes.len()).map(|i| persistent[root[i]]).collect();
    Ok(Storage { slots, slot_of, readable, shared })
}
