//! A launch's bind group: its parameter block's slot of the plan's uniforms, the buffers it
//! reads and writes, and the operand texture where it reads one. What it binds is kept, so a
//! plan can bind its launches again to other buffers (an eager op's new inputs).

use crate::backend::device::Device;
use crate::backend::kernels::PARAMS_SLOT;
use crate::backend::operand_textures::OperandTextures;
use crate::error::{Error, Result};
use crate::ir::graph::NodeId;

/// What one launch binds after its parameters.
pub(super) struct Binds {
    /// Reads then writes: (node, byte offset, byte size).
    pub(super) buffers: Vec<(NodeId, u64, u64)>,
    /// Bytes of its parameter block.
    pub(super) params_bytes: u64,
    /// Whether it binds the plan's operand texture, after the buffers.
    pub(super) texture: bool,
}

/// The bind group of launch `k`, whose node values lie in the buffers `buffer_of` gives.
pub(super) fn bind_group<'a>(
    device: &Device,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    (uniforms, k): (&wgpu::Buffer, usize),
    binds: &Binds,
    buffer_of: impl Fn(NodeId) -> Option<&'a wgpu::Buffer>,
    textures: Option<&OperandTextures>,
) -> Result<wgpu::BindGroup> {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: uniforms,
            offset: k as u64 * PARAMS_SLOT,
            size: wgpu::BufferSize::new(binds.params_bytes),
        }),
    }];
    for (b, &(id, offset, size)) in binds.buffers.iter().enumerate() {
        let buffer = buffer_of(id).ok_or_else(|| no_buffer(id))?;
        entries.push(wgpu::BindGroupEntry {
            binding: b as u32 + 1,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset,
                size: wgpu::BufferSize::new(size),
            }),
        });
    }
    if binds.texture {
        let textures = textures.ok_or_else(|| Error::Graph("a textured product has no operand textures".into()))?;
        entries.push(wgpu::BindGroupEntry {
            binding: binds.buffers.len() as u32 + 1,
            resource: wgpu::BindingResource::TextureView(textures.view()),
        });
    }
    device.scoped(label, || {
        device.wgpu_device().create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout, entries: &entries })
    })
}

/// The error of a node the plan gave no buffer.
pub(super) fn no_buffer(node: NodeId) -> Error {
    Error::Graph(format!("node {} has no buffer", node.index()))
}
