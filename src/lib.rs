//! shadergrad: a neural-network engine whose every kernel is a WGSL compute shader run
//! through wgpu, on Vulkan, Metal, DX12, GL, and Mesa's software adapters.
//!
//! Build a [`Graph`], differentiate it with [`autodiff::gradients`], compile it into a
//! [`Plan`] and run it: one command buffer and one submit per run, nothing read back
//! unless asked.
//!
//! ```no_run
//! use shadergrad::{autodiff, Device, Graph, Plan};
//! # fn main() -> shadergrad::Result<()> {
//! let device = Device::new()?;
//! let mut g = Graph::new();
//! let x = g.input("x", &[3, 1])?;
//! let y = g.input("y", &[3, 1])?;
//! let w = g.param("w", &[1, 1])?;
//! let pred = g.matmul(x, w)?;
//! let loss = g.mse(pred, y)?;
//! let grads = autodiff::gradients(&mut g, loss, None, &[w])?;
//! g.sgd_update(w, grads[0], 0.1)?;
//! let mut plan = Plan::compile(&device, &g, &[loss])?;
//! plan.write(x, &[1.0, 2.0, 3.0])?;
//! plan.write(y, &[2.0, 4.0, 6.0])?;
//! for _ in 0..100 {
//!     plan.run()?;
//! }
//! println!("w = {:?}", plan.read(w)?);
//! # Ok(())
//! # }
//! ```

mod atomic_file;
pub mod backend;
pub mod bench;
pub mod check;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod inference;
pub mod init;
pub mod ir;
pub mod live;
pub mod nn;
pub mod optimization;
pub mod plot;
pub mod recipes;
pub mod reference;
pub mod rng;
pub mod state_dict;
pub mod tensor;
pub mod train;

pub use backend::device::{Device, DeviceOptions};
pub use backend::executor::{Counters, LaunchTime, Plan};
pub use backend::strategy::{KernelSet, Strategy};
pub use error::{Error, Result};
pub use inference::Inference;
pub use ir::graph::{Graph, NodeId};
pub use ir::shape::Shape;
pub use ir::{autodiff, ops};
pub use tensor::Tensor;
