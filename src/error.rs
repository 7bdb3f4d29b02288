//! Every way shadergrad can fail, as values a caller can act on.

use crate::ir::shape::{Shape, ShapeError};

/// Result type of every fallible shadergrad call.
pub type Result<T> = std::result::Result<T, Error>;

/// An error, saying what went wrong and, where it can, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter matched: no GPU, no software driver, or a filter that excluded all of them.
    #[error(
        "no usable GPU adapter found{detail}. On a machine without a GPU, install Mesa's software \
         Vulkan driver (lavapipe): apt-get install mesa-vulkan-drivers libvulkan1"
    )]
    NoAdapter {
        /// What was searched, e.g. the backend and name filters in force.
        detail: String,
    },
    /// The adapter refused to open a device.
    #[error("could not open a device on adapter '{adapter}': {message}")]
    DeviceRequest {
        /// The adapter's name.
        adapter: String,
        /// wgpu's message.
        message: String,
    },
    /// An environment variable or option had a value we do not understand.
    #[error("{name} = '{value}' is not valid: expected {expected}")]
    BadSetting {
        /// The variable or option.
        name: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// Two shapes that an op combines do not fit together.
    #[error("{op}: shapes {lhs} and {rhs} do not fit: {reason}")]
    ShapeMismatch {
        /// The op.
        op: &'static str,
        /// The first operand's shape.
        lhs: Shape,
        /// The second operand's shape.
        rhs: Shape,
        /// Which rule they break.
        reason: String,
    },
    /// A single shape, axis or argument is not valid for an op.
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The op.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Host data does not have the length its tensor's shape needs.
    #[error("{what}: shape {shape} holds {expected} values but {got} were given")]
    DataLength {
        /// The tensor or input.
        what: String,
        /// Its shape.
        shape: Shape,
        /// Elements the shape holds.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// The work exceeds a limit of the adapter.
    #[error("{op} on shape {shape}: needs {needed} but the adapter's {limit} is {available}")]
    AdapterLimit {
        /// The op.
        op: String,
        /// The shape that needs too much.
        shape: Shape,
        /// The wgpu limit's name.
        limit: &'static str,
        /// What the op needs.
        needed: u64,
        /// What the adapter allows.
        available: u64,
    },
    /// wgpu reported a validation or out-of-memory error.
    #[error("GPU error in {op}: {message}")]
    Gpu {
        /// The operation in progress.
        op: String,
        /// wgpu's message.
        message: String,
    },
    /// Mapping a buffer for reading failed.
    #[error("reading {what} back from the GPU failed: {message}")]
    Readback {
        /// What was being read.
        what: String,
        /// wgpu's message.
        message: String,
    },
    /// The GPU did not finish in time; it may be lost or hung.
    #[error("the GPU did not finish {during} within {seconds} s; the device may be lost")]
    Timeout {
        /// What we were waiting for.
        during: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The device stopped working (a driver reset, or it was destroyed); nothing more can run
    /// on it: open a new one.
    #[error("the device on adapter '{adapter}' was lost ({reason}); open a new device to continue")]
    DeviceLost {
        /// The adapter's name.
        adapter: String,
        /// What wgpu said.
        reason: String,
    },
    /// A graph node was used with a graph or plan it does not belong to, or in a role it cannot take.
    #[error("{0}")]
    Graph(String),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        message: String,
    },
    /// A data file is corrupt, truncated or not in the expected format.
    #[error("{path}: {message} (at byte {offset})")]
    Format {
        /// The file (or the name of embedded data).
        path: String,
        /// Byte offset where the problem was found (in the decompressed data for .gz files).
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A file's tensors do not fit a model's state dict, loading strictly.
    #[error(
        "{path}: the tensors do not fit the model: {}; {note}",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    StateDict {
        /// The file.
        path: String,
        /// Each tensor that does not fit.
        problems: Vec<Mismatch>,
        /// What to do about it.
        note: &'static str,
    },
    /// Training produced a loss that is NaN, infinite, or exploded far above its start.
    #[error(
        "training diverged: the loss became {value} at step {step}; the learning rate ({lr}) is probably too high, try a lower one"
    )]
    Diverged {
        /// The step (0-based) whose loss was not finite.
        step: usize,
        /// The loss value.
        value: f32,
        /// The learning rate in use.
        lr: f32,
    },
}

/// A tensor that did not load, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The model has it; the file does not.
    Missing {
        /// Its name.
        name: String,
        /// The model's dims.
        model: Vec<usize>,
    },
    /// The file has it; the model does not.
    Unexpected {
        /// Its name.
        name: String,
        /// The file's dims.
        file: Vec<usize>,
    },
    /// Both have it, with other dims.
    Shape {
        /// Its name.
        name: String,
        /// The file's dims.
        file: Vec<usize>,
        /// The model's dims.
        model: Vec<usize>,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Missing { name, model } => write!(f, "'{name}' {model:?} is missing from the file"),
            Mismatch::Unexpected { name, file } => write!(f, "'{name}' {file:?} is not in the model"),
            Mismatch::Shape { name, file, model } => {
                write!(f, "'{name}' is {file:?} in the file but {model:?} in the model")
            }
        }
    }
}

impl From<ShapeError> for Error {
    fn from(e: ShapeError) -> Error {
        match e {
            ShapeError::Invalid { op, message } => Error::InvalidArgument { op, message },
            ShapeError::Mismatch { op, lhs, rhs, reason } => Error::ShapeMismatch { op, lhs, rhs, reason },
        }
    }
}
