//! Pipelines and shader modules, created once per device and cached by [`KernelKey`], and
//! each family's WGSL source.

use super::launch::{Family, KernelKey, TextureBinding};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

impl Family {
    /// The WGSL source, compiled into the binary (a generated entry point appended to it
    /// for [`Family::Conv2dTaps`]), followed by [`prelude`].
    pub fn source(self) -> String {
        let body: Cow<'static, str> = match self {
            Family::Conv2dTaps(kernel) => Cow::Owned(super::conv2d_taps::source(&kernel)),
            Family::Matmul => Cow::Borrowed(super::matmul::source()),
            Family::MatmulSubgroups => Cow::Borrowed(super::matmul::subgroup_source()),
            Family::Elementwise => Cow::Borrowed(super::elementwise::source()),
            Family::Reduce => Cow::Borrowed(include_str!("../../../shaders/reduce.wgsl")),
            Family::Loss => Cow::Borrowed(include_str!("../../../shaders/loss.wgsl")),
            Family::Softmax => Cow::Borrowed(include_str!("../../../shaders/softmax.wgsl")),
            Family::Optim => Cow::Borrowed(include_str!("../../../shaders/optim.wgsl")),
            Family::Conv2d => Cow::Borrowed(include_str!("../../../shaders/conv2d.wgsl")),
            Family::Pool2d => Cow::Borrowed(include_str!("../../../shaders/pool2d.wgsl")),
            Family::Layout => Cow::Borrowed(include_str!("../../../shaders/layout.wgsl")),
            Family::Pack => Cow::Borrowed(include_str!("../../../shaders/pack.wgsl")),
            Family::BatchNorm => Cow::Borrowed(include_str!("../../../shaders/batch_norm.wgsl")),
            Family::Recurrent => Cow::Borrowed(super::recurrent::source()),
            Family::Scan => Cow::Borrowed(super::scan::source()),
        };
        format!("{body}\n{}", prelude())
    }
}

/// The files of `shaders/` that are parts of other modules rather than a family's own: the
/// prelude every module ends with, and the activations' math.
pub const SHARED_FILES: [&str; 2] = ["prelude.wgsl", "activations.wgsl"];

/// What every module shares: `shaders/prelude.wgsl` (an invocation's place in its launch,
/// the workgroup tree sum) and `TEXEL_ROW`, the operand texture's width in texels, from the
/// constant the host lays operands out by. It follows each module's own text, which WGSL
/// allows at module scope, so naga's errors keep the line numbers of the family's file.
pub fn prelude() -> String {
    format!(
        "{}\nconst TEXEL_ROW: u32 = {}u;\n",
        include_str!("../../../shaders/prelude.wgsl"),
        super::matmul::TEXEL_ROW
    )
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
                            source: wgpu::ShaderSource::Wgsl(key.family.source().into()),
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

/// Runs `f` inside validation and out-of-memory error scopes of `device`, turning what they
/// catch into an [`Error::Gpu`] that names `op`.
pub(crate) fn error_scoped<T>(device: &wgpu::Device, op: &str, f: impl FnOnce() -> T) -> Result<T> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    let validation = pollster::block_on(validation.pop());
    let oom = pollster::block_on(oom.pop());
    match validation.or(oom) {
        Some(e) => Err(Error::Gpu { op: op.to_string(), message: e.to_string() }),
        None => Ok(value),
    }
}
