//! Choosing an adapter, opening a device, and the per-device caches that kernels share.

use crate::backend::kernels::matmul::MatmulVariant;
use crate::backend::kernels::{KernelKey, PipelineCache, error_scoped};
use crate::backend::shader_cache::DiskCache;
pub use crate::backend::strategy::KernelSet;
use crate::backend::strategy::Strategy;
use crate::error::{Error, Result};
use crate::ir::shape::Shape;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long any wait on the GPU may take before we report it as lost instead of hanging.
pub const GPU_WAIT_TIMEOUT: Duration = Duration::from_secs(120);

/// Which adapter [`Device::with_options`] should open.
#[derive(Clone, Debug, Default)]
pub struct DeviceOptions {
    /// Only adapters of these backends; `None` means every backend compiled in.
    pub backend: Option<wgpu::Backends>,
    /// Only adapters whose name contains this text (case-insensitive).
    pub adapter_name: Option<String>,
    /// Request at most this many workgroups per dispatch dimension (below the adapter's own),
    /// to test how kernels split their work.
    pub cap_workgroups_per_dimension: Option<u32>,
    /// Request at most this storage-binding size in bytes (below the adapter's own).
    pub cap_storage_binding_size: Option<u64>,
    /// Request 2-D textures at most this many texels high and wide (below the adapter's
    /// own), to test products whose operand texture would not fit.
    pub cap_texture_dimension_2d: Option<u32>,
    /// The matmul kernel to use; `None` picks by adapter (register-blocked from textures on
    /// software adapters, tiled on GPUs).
    pub matmul: Option<MatmulVariant>,
    /// The kernels and fusions to plan for; `None` picks by adapter. [`KernelSet::Gpu`] on a
    /// software adapter runs the plans a GPU would, so a machine without one can test them.
    pub kernels: Option<KernelSet>,
    /// Where compiled pipelines are kept between runs, on adapters with wgpu's pipeline cache
    /// (`None`: not kept). `from_env` fills it from `SHADERGRAD_CACHE_DIR` and the usual cache
    /// directories (see [`shader_cache::default_dir`](crate::backend::shader_cache::default_dir)).
    pub pipeline_cache_dir: Option<std::path::PathBuf>,
}

impl DeviceOptions {
    /// The error for when no adapter matches these options, naming the filters in force.
    pub fn no_adapter(&self) -> Error {
        let mut detail = String::new();
        if let Some(b) = self.backend {
            let names = [
                (wgpu::Backends::VULKAN, "vulkan"),
                (wgpu::Backends::METAL, "metal"),
                (wgpu::Backends::DX12, "dx12"),
                (wgpu::Backends::GL, "gl"),
            ];
            let named: Vec<&str> = names.iter().filter(|(f, _)| b.contains(*f)).map(|(_, n)| *n).collect();
            detail += &format!(" for backend {}", named.join("/"));
        }
        if let Some(n) = &self.adapter_name {
            detail += &format!(" whose name contains '{n}'");
        }
        Error::NoAdapter { detail }
    }

    /// Options from `SHADERGRAD_BACKEND` (vulkan, metal, dx12, gl), `SHADERGRAD_ADAPTER`,
    /// `SHADERGRAD_MATMUL` and `SHADERGRAD_KERNELS`; unset or blank variables choose nothing.
    pub fn from_env() -> Result<DeviceOptions> {
        let backend = env_value("SHADERGRAD_BACKEND").map(|v| parse_backend(&v)).transpose()?;
        let adapter_name = env_value("SHADERGRAD_ADAPTER");
        let matmul = parsed_env(
            "SHADERGRAD_MATMUL",
            "textured, textured-subgroups, blocked, blocked-large, tiled or tiled-large",
            MatmulVariant::parse,
        )?;
        let kernels = parsed_env("SHADERGRAD_KERNELS", "software or gpu", KernelSet::parse)?;
        Ok(DeviceOptions {
            backend,
            adapter_name,
            matmul,
            kernels,
            pipeline_cache_dir: crate::backend::shader_cache::default_dir(),
            ..DeviceOptions::default()
        })
    }
}

/// The value of environment variable `name`, unless it is unset or blank.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Environment variable `name` read by `parse`; a value it refuses is an error saying what
/// `expected` values there are.
fn parsed_env<T>(name: &'static str, expected: &'static str, parse: fn(&str) -> Option<T>) -> Result<Option<T>> {
    env_value(name).map(|value| parse(&value).ok_or(Error::BadSetting { name, value, expected })).transpose()
}

/// Parses a backend name as `SHADERGRAD_BACKEND` and `--backend` accept it.
pub fn parse_backend(value: &str) -> Result<wgpu::Backends> {
    match value.trim().to_ascii_lowercase().as_str() {
        "vulkan" | "vk" => Ok(wgpu::Backends::VULKAN),
        "metal" => Ok(wgpu::Backends::METAL),
        "dx12" | "d3d12" => Ok(wgpu::Backends::DX12),
        "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
        _ => Err(Error::BadSetting {
            name: "SHADERGRAD_BACKEND",
            value: value.to_string(),
            expected: "one of vulkan, metal, dx12, gl",
        }),
    }
}

/// What `shadergrad devices` shows of one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// wgpu's description of the adapter.
    pub info: wgpu::AdapterInfo,
    /// The adapter's own limits (what shadergrad requests).
    pub limits: wgpu::Limits,
    /// The optional features shadergrad uses that the adapter has (see [`OPTIONAL_FEATURES`]).
    pub features: wgpu::Features,
}

/// Features shadergrad turns on where an adapter has them: GPU timestamps (for `bench`), the
/// pipeline cache (Vulkan: compiled shaders kept between runs) and subgroups (lavapipe's
/// products share their loads: [`MatmulVariant::TexturedSubgroups`]).
pub const OPTIONAL_FEATURES: wgpu::Features =
    wgpu::Features::TIMESTAMP_QUERY.union(wgpu::Features::PIPELINE_CACHE).union(wgpu::Features::SUBGROUP);

/// Every adapter the chosen backends expose, best first.
pub fn list_adapters(options: &DeviceOptions) -> Vec<AdapterSummary> {
    ranked_adapters(options)
        .into_iter()
        .map(|a| AdapterSummary { info: a.get_info(), limits: a.limits(), features: a.features() & OPTIONAL_FEATURES })
        .collect()
}

fn instance(options: &DeviceOptions) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    if let Some(backends) = options.backend {
        desc.backends = backends;
    }
    wgpu::Instance::new(desc)
}

fn ranked_adapters(options: &DeviceOptions) -> Vec<wgpu::Adapter> {
    let instance = instance(options);
    let backends = options.backend.unwrap_or(wgpu::Backends::all());
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    if let Some(name) = &options.adapter_name {
        let wanted = name.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&wanted));
    }
    adapters.sort_by_key(|a| {
        let info = a.get_info();
        adapter_rank(info.device_type, info.backend)
    });
    adapters
}

/// Lower is better: real GPUs before software ones, native APIs before GL.
fn adapter_rank(device_type: wgpu::DeviceType, backend: wgpu::Backend) -> (u8, u8) {
    let device = match device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let backend = match backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (device, backend)
}

struct DeviceInner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pipelines: PipelineCache,
    /// wgpu's pipeline cache and its file, where the adapter has one and a directory is set.
    disk_cache: Option<DiskCache>,
    strategy: Strategy,
    /// Why the device was lost, once it is (set by wgpu's device-lost callback).
    lost: Arc<std::sync::Mutex<Option<String>>>,
    /// Plans of eager tensor ops by their one-op graph. Type-erased, as the device sits below
    /// the executor; the tensor layer keeps its plans here so that each is compiled once per
    /// device. (A cached plan holds its device, so a device that ran eager ops lives until
    /// the process ends; the cache is cleared past [`EAGER_PLANS`] plans.)
    eager_plans: std::sync::Mutex<HashMap<String, Box<dyn Any + Send>>>,
    /// Plans compiled on this device.
    plans_compiled: AtomicUsize,
}

/// The most eager-op plans a device keeps.
pub const EAGER_PLANS: usize = 256;

/// An open GPU device with its queue and kernel caches. Cheap to clone (shared).
#[derive(Clone)]
pub struct Device {
    inner: Arc<DeviceInner>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({} on {:?})", self.inner.info.name, self.inner.info.backend)
    }
}

impl Device {
    /// Opens the best adapter, honouring `SHADERGRAD_BACKEND` and `SHADERGRAD_ADAPTER`.
    pub fn new() -> Result<Device> {
        Device::with_options(&DeviceOptions::from_env()?)
    }

    /// Opens the best adapter that `options` allow, with the adapter's own limits.
    pub fn with_options(options: &DeviceOptions) -> Result<Device> {
        let adapters = ranked_adapters(options);
        let Some(adapter) = adapters.into_iter().next() else {
            return Err(options.no_adapter());
        };
        let info = adapter.get_info();
        let mut limits = adapter.limits();
        if let Some(cap) = options.cap_workgroups_per_dimension {
            limits.max_compute_workgroups_per_dimension = limits.max_compute_workgroups_per_dimension.min(cap);
        }
        if let Some(cap) = options.cap_storage_binding_size {
            limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.min(cap);
        }
        if let Some(cap) = options.cap_texture_dimension_2d {
            limits.max_texture_dimension_2d = limits.max_texture_dimension_2d.min(cap);
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("shadergrad"),
            required_features: adapter.features() & OPTIONAL_FEATURES,
            required_limits: limits,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::DeviceRequest { adapter: info.name.clone(), message: e.to_string() })?;
        let disk_cache = match &options.pipeline_cache_dir {
            Some(dir) if device.features().contains(wgpu::Features::PIPELINE_CACHE) => {
                DiskCache::open(&device, &info, dir)
            }
            _ => None,
        };
        if let Some(variant) = options.matmul.filter(|v| !v.runs_on(device.features(), &info)) {
            return Err(Error::BadSetting {
                name: "matmul (SHADERGRAD_MATMUL)",
                value: format!("{variant:?} on {}", info.name),
                expected: "a variant the adapter runs: textured-subgroups needs the SUBGROUP feature and \
                           subgroups of exactly 8 lanes (lavapipe on 256-bit vectors)",
            });
        }
        let opened = Device::assemble(device, queue, info, options, disk_cache);
        // Only for devices we open: an application's own device keeps its own callback.
        let lost = opened.inner.lost.clone();
        opened.inner.device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = lost.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });
        Ok(opened)
    }

    /// Wraps a device an application already has (for example the one it renders with), so
    /// shadergrad's buffers live beside the application's and need no copy between devices.
    pub fn from_wgpu(device: wgpu::Device, queue: wgpu::Queue) -> Device {
        let info = device.adapter_info();
        Device::assemble(device, queue, info, &DeviceOptions::default(), None)
    }

    fn assemble(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        options: &DeviceOptions,
        disk_cache: Option<DiskCache>,
    ) -> Device {
        let kernels = options.kernels.unwrap_or(KernelSet::for_adapter(info.device_type));
        let subgroups = MatmulVariant::TexturedSubgroups.runs_on(device.features(), &info);
        let strategy = Strategy::new(kernels, options.matmul, subgroups);
        let lost = Arc::new(std::sync::Mutex::new(None));
        Device {
            inner: Arc::new(DeviceInner {
                device,
                queue,
                info,
                pipelines: PipelineCache::default(),
                disk_cache,
                strategy,
                lost,
                eager_plans: Default::default(),
                plans_compiled: AtomicUsize::new(0),
            }),
        }
    }

    /// An error if the device has been lost (driver reset, `destroy`), so no work is recorded
    /// on a device that cannot run it.
    pub fn check_lost(&self) -> Result<()> {
        match self.inner.lost.lock().ok().and_then(|l| l.clone()) {
            Some(reason) => Err(Error::DeviceLost { adapter: self.inner.info.name.clone(), reason }),
            None => Ok(()),
        }
    }

    /// How this device's plans are made: every choice that depends on the adapter.
    pub fn strategy(&self) -> Strategy {
        self.inner.strategy
    }

    /// The matmul kernel this device runs.
    pub fn matmul_variant(&self) -> MatmulVariant {
        self.inner.strategy.matmul
    }

    /// The wgpu device, for applications that record their own work beside ours.
    pub fn wgpu_device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The wgpu queue every shadergrad submit goes to.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The adapter's name, backend, type and driver.
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }

    /// The limits the device was opened with.
    pub fn limits(&self) -> wgpu::Limits {
        self.inner.device.limits()
    }

    /// The class of adapter this device's plans are made for (by default, its own).
    pub fn kernel_set(&self) -> KernelSet {
        self.inner.strategy.kernels
    }

    /// True for software adapters (lavapipe, llvmpipe, WARP), which prefer other kernel variants.
    pub fn is_software(&self) -> bool {
        self.inner.info.device_type == wgpu::DeviceType::Cpu
    }

    /// True when `other` is this same open device (clones share it).
    pub fn same_device(&self, other: &Device) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// One line naming the adapter, e.g. for logs and JSON.
    pub fn describe(&self) -> String {
        let i = &self.inner.info;
        format!("{} ({:?}, {:?}, {} {})", i.name, i.backend, i.device_type, i.driver, i.driver_info)
    }

    /// The compute pipeline for `key`, created on first use and cached for the device's life.
    pub(crate) fn pipeline(&self, key: &KernelKey) -> Result<Arc<crate::backend::kernels::Pipeline>> {
        let disk = self.inner.disk_cache.as_ref().map(DiskCache::cache);
        self.inner.pipelines.get_or_create(&self.inner.device, key, disk)
    }

    /// Keeps newly compiled pipelines in the pipeline cache's file, where there is one.
    pub(crate) fn save_pipeline_cache(&self) {
        if let Some(disk) = &self.inner.disk_cache {
            disk.save_if_grown(self.pipelines_compiled());
        }
    }

    /// True when compiled pipelines are kept on disk between runs.
    pub fn has_pipeline_cache(&self) -> bool {
        self.inner.disk_cache.is_some()
    }

    /// How many distinct pipelines this device has compiled.
    pub fn pipelines_compiled(&self) -> usize {
        self.inner.pipelines.len()
    }

    /// How many plans have been compiled on this device (eager tensor ops compile one per
    /// distinct op, shapes and parameters, then reuse it).
    pub fn plans_compiled(&self) -> usize {
        self.inner.plans_compiled.load(Ordering::Relaxed)
    }

    pub(crate) fn count_plan_compile(&self) {
        self.inner.plans_compiled.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs `f` on the value cached under `key`, made by `make` the first time (the eager
    /// tensor ops' plans). Calls for one device run one at a time.
    pub(crate) fn with_eager_plan<P: Any + Send, R>(
        &self,
        key: String,
        make: impl FnOnce() -> Result<P>,
        f: impl FnOnce(&mut P) -> Result<R>,
    ) -> Result<R> {
        let mut plans = self
            .inner
            .eager_plans
            .lock()
            .map_err(|_| Error::Graph("the eager plan cache was poisoned by a panic in another thread".into()))?;
        if !plans.contains_key(&key) {
            if plans.len() >= EAGER_PLANS {
                plans.clear();
            }
            plans.insert(key.clone(), Box::new(make()?));
        }
        let plan = plans
            .get_mut(&key)
            .and_then(|p| p.downcast_mut::<P>())
            .ok_or_else(|| Error::Graph(format!("the eager plan cache holds another kind of value under {key}")))?;
        f(plan)
    }

    /// Creates a storage buffer for an f32 tensor of `shape`, inside an error scope; `label`
    /// names the op in errors. A buffer may pass the binding limit: plans bind it in parts.
    pub(crate) fn create_storage(&self, label: &str, shape: &Shape) -> Result<wgpu::Buffer> {
        let limit = self.limits().max_buffer_size;
        let size = shape.numel() as u64 * 4;
        if size > limit {
            return Err(Error::AdapterLimit {
                op: label.to_string(),
                shape: shape.clone(),
                limit: "max_buffer_size",
                needed: size,
                available: limit,
            });
        }
        self.scoped(label, || {
            self.inner.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        })
    }

    /// Runs `f` inside validation and out-of-memory error scopes, turning what they catch into
    /// an [`Error::Gpu`] that names `op`.
    pub(crate) fn scoped<T>(&self, op: &str, f: impl FnOnce() -> T) -> Result<T> {
        error_scoped(&self.inner.device, op, f)
    }

    /// Blocks until submitted work is done, or fails after [`GPU_WAIT_TIMEOUT`].
    pub(crate) fn wait(&self, during: &str) -> Result<()> {
        let poll =
            self.inner.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: Some(GPU_WAIT_TIMEOUT) });
        match poll {
            Ok(_) => Ok(()),
            Err(wgpu::PollError::Timeout) => {
                Err(Error::Timeout { during: during.to_string(), seconds: GPU_WAIT_TIMEOUT.as_secs() })
            }
            Err(e) => {
                self.check_lost()?;
                Err(Error::Gpu { op: during.to_string(), message: e.to_string() })
            }
        }
    }

    /// Maps `staging` (a MAP_READ buffer whose copies were already submitted) and reads
    /// `len` f32 values from its start.
    pub(crate) fn read_staging(&self, staging: &wgpu::Buffer, len: usize, what: &str) -> Result<Vec<f32>> {
        let bytes = (len * 4) as u64;
        let slice = staging.slice(..bytes);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver only goes away if we already returned with an error.
            let _ = sender.send(result);
        });
        self.wait(&format!("reading {what}"))?;
        let mapped = pollster::block_on(receiver.receive()).ok_or_else(|| Error::Readback {
            what: what.to_string(),
            message: "the map callback never ran".to_string(),
        })?;
        if let Err(e) = mapped {
            // A lost device fails every map: say so rather than blame the buffer.
            self.check_lost()?;
            return Err(Error::Readback { what: what.to_string(), message: e.to_string() });
        }
        let values = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Readback { what: what.to_string(), message: e.to_string() })?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        Ok(values)
    }

    /// A buffer the host can map for reading, `bytes` long.
    pub(crate) fn create_staging(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.scoped(label, || {
            self.inner.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(4).div_ceil(4) * 4,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(parse_backend("Vulkan").unwrap(), wgpu::Backends::VULKAN);
        assert_eq!(parse_backend("gl").unwrap(), wgpu::Backends::GL);
        let err = parse_backend("cuda").unwrap_err().to_string();
        assert!(err.contains("cuda") && err.contains("vulkan, metal, dx12, gl"), "{err}");
    }

    #[test]
    fn real_gpus_rank_before_software_and_native_before_gl() {
        use wgpu::{Backend, DeviceType};
        let gpu_gl = adapter_rank(DeviceType::DiscreteGpu, Backend::Gl);
        let lavapipe = adapter_rank(DeviceType::Cpu, Backend::Vulkan);
        let llvmpipe = adapter_rank(DeviceType::Cpu, Backend::Gl);
        assert!(gpu_gl < lavapipe && lavapipe < llvmpipe);
    }
}
