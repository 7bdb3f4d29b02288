//! The Rust side of each WGSL kernel family: which shader, which bindings, what parameters,
//! how many workgroups. Pipelines are created once per device and cached by [`KernelKey`].
//!
//! Every kernel binds the same way: binding 0 is a uniform block of parameters, bindings
//! `1..=inputs` are read-only storage buffers, and the read-write outputs follow (one for
//! every kernel but the optimizers, which also update their state), then the plan's operand
//! texture where a kernel uses it (a matmul's operands in texels on software adapters, and
//! the pack kernel that writes them).

pub mod batch_norm;
pub mod conv2d;
pub mod conv2d_taps;
pub mod elementwise;
pub mod launch;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod pack;
pub mod params;
pub mod pipelines;
pub mod pool2d;
pub mod recurrent;
pub mod reduce;
pub mod scan;
pub mod softmax;

pub use launch::{Family, KernelKey, Launch, PARAMS_SLOT, TextureBinding, grid};
pub use pipelines::{Pipeline, SHARED_FILES};
pub(crate) use pipelines::{PipelineCache, error_scoped};
