//! The operand texture of a plan: made once, as tall as its tallest launch needs.

use super::copy::{CopyLayout, OperandCopy, ROW_BYTES};
use crate::backend::device::Device;
use crate::backend::kernels::matmul::TEXEL_ROW;
use crate::error::Result;

/// The operand texture of a plan.
pub(crate) struct OperandTextures {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
}

impl OperandTextures {
    /// A texture of `rows` texel rows (the most any launch fills), or `None` for 0 (a few
    /// dozen rows for the copy budget, never past the adapter's `max_texture_dimension_2d`:
    /// [`textured_chunks`] sends products that would need more to storage).
    pub(crate) fn new(device: &Device, rows: u64) -> Result<Option<OperandTextures>> {
        if rows == 0 {
            return Ok(None);
        }
        let label = "shadergrad matmul operands";
        let texture = device.scoped(label, || {
            device.wgpu_device().create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d { width: TEXEL_ROW, height: rows as u32, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba32Float,
                usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        })?;
        let view = texture.create_view(&Default::default());
        Ok(Some(OperandTextures { texture, view }))
    }

    /// Bytes the texture takes.
    pub(crate) fn bytes(&self) -> u64 {
        self.texture.height() as u64 * ROW_BYTES
    }

    /// The texture's view, for bind groups.
    pub(crate) fn view(&self) -> &wgpu::TextureView {
        &self.view
    }

    /// Records `copy` of `buffer`'s bytes into the texture: a flat copy's whole texel rows,
    /// then what is left into the start of the next row; a strided copy's runs as one
    /// copy per position in a texel row, each taking every `TEXEL_ROW / texels`-th run.
    pub(crate) fn record(&self, encoder: &mut wgpu::CommandEncoder, buffer: &wgpu::Buffer, copy: &OperandCopy) {
        let mut part = |offset: u64, bytes_per_row: u64, [x, y]: [u64; 2], [width, height]: [u64; 2]| {
            encoder.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(bytes_per_row as u32),
                        rows_per_image: None,
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: &self.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: x as u32, y: y as u32, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d { width: width as u32, height: height as u32, depth_or_array_layers: 1 },
            );
        };
        match copy.layout {
            CopyLayout::Flat { bytes } => {
                let full = bytes / ROW_BYTES;
                let rest = (bytes % ROW_BYTES) / 16;
                if full > 0 {
                    part(copy.offset, ROW_BYTES, [0, copy.row], [TEXEL_ROW as u64, full]);
                }
                if rest > 0 {
                    part(copy.offset + full * ROW_BYTES, ROW_BYTES, [0, copy.row + full], [rest, 1]);
                }
            }
            CopyLayout::Strided { rows, texels, per_row, stride } => {
                for j in 0..per_row.min(rows) {
                    let height = (rows - j).div_ceil(per_row);
                    part(copy.offset + j * stride, per_row * stride, [j * texels, copy.row], [texels, height]);
                }
            }
        }
    }
}
