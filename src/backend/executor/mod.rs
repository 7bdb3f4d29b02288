//! Compiles a graph into a plan: every buffer, bind group and pipeline made once, and one run
//! recorded as one command encoder and one submit.
//!
//! The compiler fuses nodes (`fusion`), schedules them, assigns their buffers (`memory`),
//! lowers each to a kernel launch (`lower`), cuts launches whose bindings exceed the
//! adapter's limit (`split`), and makes every pipeline, bind group and parameter block;
//! `run` records and submits a run and reads values back.

mod binding;
pub(crate) mod chunk;
mod compile;
mod fusion;
mod lower;
mod memory;
mod plan;
mod run;
mod split;

pub use plan::{Counters, LaunchTime, Plan, op_name};
