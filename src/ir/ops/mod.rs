//! The vocabulary of ops and their settings, shared by the graph, the reference and the
//! backend.

pub mod elementwise;
pub mod loss;
pub mod optim;
pub mod recurrent;
pub mod reduce;
pub mod window;
