//! The wgpu backend: the device and its limits, the kernels (each WGSL family's bindings,
//! parameters and workgroups, and the pipelines made from them), the software adapters'
//! operand textures, and the executor that compiles a graph into a plan and runs it in one
//! submit.

pub mod device;
pub mod executor;
mod gpu_timer;
pub mod kernels;
mod operand_textures;
pub mod shader_cache;
pub mod strategy;
