//! The Rust side of each WGSL kernel family: which shader, which bindings, what parameters,
//! how many workgroups. Pipelines are created once per device and cached by [`KernelKey`].
//!
//! Every kernel binds the same way: binding 0 is a uniform block of parameters, bindings
//! `1..=inputs` are read-only storage buffers, and the read-write outputs follow (one for
//! every kernel but the optimizers, which also update their state), then the plan's operand
//! texture where a kernel uses it (a matmul's operands in texels on software adapters, and
//! the pack kernel that writes them).

pub mod conv2d;
pub mod conv2d_taps;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod pack;
pub mod pool2d;
pub mod reduce;
pub mod softmax;

use crate::device::error_scoped;
use crate::error::{Error, Result};
use crate::ir::shape::Shape;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bytes reserved for each launch's parameters in the plan's uniform buffer; a multiple of
/// every adapter's `min_uniform_buffer_offset_alignment` (at most 256 by the WebGPU spec).
pub const PARAMS_SLOT: u64 = 256;

/// One WGSL file in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `shaders/matmul.wgsl`
    Matmul,
    /// `shaders/matmul.wgsl` with its subgroup entry point (a module only devices with the
    /// `SUBGROUP` feature create).
    MatmulSubgroups,
    /// `shaders/elementwise.wgsl`
    Elementwise,
    /// `shaders/reduce.wgsl`
    Reduce,
    /// `shaders/loss.wgsl`
    Loss,
    /// `shaders/softmax.wgsl`
    Softmax,
    /// `shaders/optim.wgsl`
    Optim,
    /// `shaders/conv2d.wgsl`
    Conv2d,
    /// `shaders/conv2d_taps.wgsl` with its entry point written out for one filter shape.
    Conv2dTaps(conv2d_taps::TapsKernel),
    /// `shaders/pool2d.wgsl`
    Pool2d,
    /// `shaders/layout.wgsl`
    Layout,
    /// `shaders/pack.wgsl`
    Pack,
}

impl Family {
    /// Every family, for validation and listing.
    pub const ALL: [Family; 12] = [
        Family::Matmul,
        Family::MatmulSubgroups,
        Family::Elementwise,
        Family::Reduce,
        Family::Loss,
        Family::Softmax,
        Family::Optim,
        Family::Conv2d,
        Family::Conv2dTaps(conv2d_taps::TapsKernel::EXAMPLE),
        Family::Pool2d,
        Family::Layout,
        Family::Pack,
    ];

    /// The file's name in `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Family::Matmul | Family::MatmulSubgroups => "matmul.wgsl",
            Family::Elementwise => "elementwise.wgsl",
            Family::Reduce => "reduce.wgsl",
            Family::Loss => "loss.wgsl",
            Family::Softmax => "softmax.wgsl",
            Family::Optim => "optim.wgsl",
            Family::Conv2d => "conv2d.wgsl",
            Family::Conv2dTaps(_) => "conv2d_taps.wgsl",
            Family::Pool2d => "pool2d.wgsl",
            Family::Layout => "layout.wgsl",
            Family::Pack => "pack.wgsl",
        }
    }

    /// The WGSL source, compiled into the binary (a generated entry point appended to it
    /// for [`Family::Conv2dTaps`]).
    pub fn source(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Family::Conv2dTaps(kernel) => return Cow::Owned(conv2d_taps::source(&kernel)),
            Family::Matmul => matmul::source(),
            Family::MatmulSubgroups => matmul::subgroup_source(),
            Family::Elementwise => elementwise::source(),
            Family::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Family::Loss => include_str!("../../shaders/loss.wgsl"),
            Family::Softmax => include_str!("../../shaders/softmax.wgsl"),
            Family::Optim => include_str!("../../shaders/optim.wgsl"),
            Family::Conv2d => include_str!("../../shaders/conv2d.wgsl"),
            Family::Pool2d => include_str!("../../shaders/pool2d.wgsl"),
            Family::Layout => include_str!("../../shaders/layout.wgsl"),
            Family::Pack => include_str!("../../shaders/pack.wgsl"),
        })
    }
}

/// A pipeline's identity: its shader, entry point, binding count and override constants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelKey {
    /// The shader file.
    pub family: Family,
    /// The entry point in it.
    pub entry: &'static str,
    /// Read-only storage inputs bound after the parameters.
    pub inputs: u32,
    /// Read-write storage outputs bound after the inputs.
    pub outputs: u32,
    /// Whether the plan's operand texture is bound after the outputs, and how.
    pub texture: TextureBinding,
    /// WGSL `override` constants, by name.
    pub constants: Vec<(&'static str, u32)>,
}

/// How a kernel binds the plan's operand texture (`rgba32float`, 2D, as a storage texture).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextureBinding {
    /// Not at all.
    None,
    /// Read-only: a matmul reading its operands in texels.
    Read,
    /// Write-only: the pack kernel putting an operand there.
    Write,
}

/// One kernel launch as the executor records it.
#[derive(Clone, Debug)]
pub struct Launch {
    /// Which pipeline.
    pub key: KernelKey,
    /// The uniform parameter block, as 32-bit words (f32 stored by its bits).
    pub params: Vec<u32>,
    /// Workgroups in x, y, z.
    pub groups: [u32; 3],
}

/// A compiled pipeline and its bind-group layout.
#[derive(Debug)]
pub struct Pipeline {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// The layout every bind group for it uses.
    pub layout: wgpu::BindGroupLayout,
}

/// Pipelines and shader modules of one device.
#[derive(Default)]
pub(crate) struct PipelineCache {
    pipelines: Mutex<HashMap<KernelKey, Arc<Pipeline>>>,
    modules: Mutex<HashMap<Family, wgpu::ShaderModule>>,
}

impl PipelineCache {
    pub(crate) fn len(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }

    pub(crate) fn get_or_create(
        &self,
        device: &wgpu::Device,
        key: &KernelKey,
        disk: Option<&wgpu::PipelineCache>,
    ) -> Result<Arc<Pipeline>> {
        if let Some(p) = self.pipelines.lock().map_err(poisoned)?.get(key) {
            return Ok(p.clone());
        }
        let module = {
            let mut modules = self.modules.lock().map_err(poisoned)?;
            match modules.get(&key.family) {
                Some(m) => m.clone(),
                None => {
                    let m = error_scoped(device, key.family.file(), || {
                        device.create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(key.family.file()),
                            source: wgpu::ShaderSource::Wgsl(key.family.source()),
                        })
                    })?;
                    modules.insert(key.family, m.clone());
                    m
                }
            }
        };
        let pipeline = Arc::new(create_pipeline(device, &module, key, disk)?);
        self.pipelines.lock().map_err(poisoned)?.insert(key.clone(), pipeline.clone());
        Ok(pipeline)
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Graph("the pipeline cache was poisoned by a panic in another thread".into())
}

fn create_pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    key: &KernelKey,
    disk: Option<&wgpu::PipelineCache>,
) -> Result<Pipeline> {
    let label = format!("{}::{}", key.family.file(), key.entry);
    let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }];
    entries.extend((1..=key.inputs).map(|b| storage(b, true)));
    entries.extend((key.inputs + 1..=key.inputs + key.outputs).map(|b| storage(b, false)));
    let access = match key.texture {
        TextureBinding::None => None,
        TextureBinding::Read => Some(wgpu::StorageTextureAccess::ReadOnly),
        TextureBinding::Write => Some(wgpu::StorageTextureAccess::WriteOnly),
    };
    entries.extend(access.map(|access| wgpu::BindGroupLayoutEntry {
        binding: key.inputs + key.outputs + 1,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::StorageTexture {
            access,
            format: wgpu::TextureFormat::Rgba32Float,
            view_dimension: wgpu::TextureViewDimension::D2,
        },
        count: None,
    }));
    let constants: Vec<(&str, f64)> = key.constants.iter().map(|&(n, v)| (n, v as f64)).collect();
    error_scoped(device, &label, || {
        let layout = device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(&label), entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some(key.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                // Every kernel writes its workgroup memory before reading it.
                zero_initialize_workgroup_memory: false,
            },
            cache: disk,
        });
        Pipeline { pipeline, layout }
    })
}

/// Workgroups for `groups` linear workgroups, folded into y and then z wherever a dimension
/// would pass the adapter's per-dimension limit. Shaders rebuild the linear id as
/// `(wid.z * num_workgroups.y + wid.y) * num_workgroups.x + wid.x` and skip ids past the end.
pub fn grid(op: &str, shape: &Shape, groups: u64, limits: &wgpu::Limits) -> Result<[u32; 3]> {
    let max = limits.max_compute_workgroups_per_dimension as u64;
    let x = groups.clamp(1, max);
    let y = groups.div_ceil(x).min(max);
    let z = groups.div_ceil(x * y);
    if z > max {
        return Err(Error::AdapterLimit {
            op: op.to_string(),
            shape: shape.clone(),
            limit: "max_compute_workgroups_per_dimension",
            needed: z,
            available: max,
        });
    }
    Ok([x as u32, y as u32, z as u32])
}

/// Packs four extents into u32 words, for a `vec4<u32>` parameter.
pub(crate) fn words4(values: [usize; 4]) -> [u32; 4] {
    values.map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_folds_into_y_and_z_past_the_dimension_limit() {
        let limits = wgpu::Limits { max_compute_workgroups_per_dimension: 100, ..wgpu::Limits::default() };
        let shape = Shape::new(&[1]).unwrap();
        assert_eq!(grid("t", &shape, 5, &limits).unwrap(), [5, 1, 1]);
        assert_eq!(grid("t", &shape, 250, &limits).unwrap(), [100, 3, 1]);
        assert_eq!(grid("t", &shape, 100 * 100 * 3 + 1, &limits).unwrap(), [100, 100, 4]);
        let err = grid("t", &shape, 100 * 100 * 100 + 1, &limits).unwrap_err().to_string();
        assert!(err.contains("max_compute_workgroups_per_dimension"), "{err}");
    }
}
