//! The intermediate representation: shapes, the ops and their settings, the graph built from
//! them, its differentiation and the ops composed from others. Nothing here knows of wgpu or
//! of how a graph is run; the reference (`crate::reference`) and the backend build on it.

pub mod autodiff;
pub mod batch_norm;
pub mod composite;
pub mod graph;
pub mod layout;
pub mod ops;
pub mod recurrent;
pub mod shape;
