//! Compiles a graph into a plan: every buffer, bind group and pipeline made once, and one run
//! recorded as one command encoder and one submit.
//!
//! The compiler fuses the user's nodes into its own graph of kernels (`fusion`,
//! `kernel_graph`), schedules them, assigns their buffers (`memory`), lowers each to a kernel
//! launch (`lower`; `texture_reads` for the inputs a storage kernel reads from the operand
//! texture), cuts launches whose bindings exceed the adapter's limit (`split`), and makes
//! every pipeline, bind group and parameter block; `run` records and submits a run and reads
//! values back. What depends on the adapter comes from the device's `Strategy`.

mod binding;
pub(crate) mod chunk;
mod compile;
mod fusion;
mod kernel_graph;
mod lower;
mod memory;
mod plan;
mod run;
mod split;
mod texture_reads;

pub use plan::{Counters, LaunchTime, Plan};
