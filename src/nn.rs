//! Layers with PyTorch's names and shapes, stacked in a [`Sequential`] that builds itself into
//! a graph in training or evaluation mode.

use crate::composite::BatchNormState;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
use crate::init::{Init, Mt19937};

/// One layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// y = x Wᵀ + b with W [out, in] (PyTorch's layout).
    Linear {
        /// Input features.
        inputs: usize,
        /// Output features.
        outputs: usize,
        /// Whether it has a bias.
        bias: bool,
    },
    /// 2-D convolution with bias: W [out, in, k, k].
    Conv2d {
        /// Input channels.
        inputs: usize,
        /// Output channels.
        outputs: usize,
        /// Square kernel extent.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding.
        padding: usize,
    },
    /// Max pooling over square windows.
    MaxPool2d {
        /// Window extent.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding (never wins).
        padding: usize,
    },
    /// Average pooling over square windows.
    AvgPool2d {
        /// Window extent.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding (counts as zeros).
        padding: usize,
    },
    /// Batch norm over [N, C] (1d) or [N, C, H, W] (2d), momentum 0.1, eps 1e-5.
    BatchNorm {
        /// Channels (features).
        channels: usize,
    },
    /// Dropout with this drop probability in training; the identity in evaluation.
    Dropout(f32),
    /// max(x, 0)
    Relu,
    /// max(x, 0) + slope · min(x, 0)
    LeakyRelu(f32),
    /// 1 / (1 + e^−x)
    Sigmoid,
    /// tanh x
    Tanh,
    /// SELU
    Selu,
    /// [N, …] → [N, product of the rest]
    Flatten,
}

/// Training or evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dropout active, batch norm on batch statistics (updating its running ones).
    Train,
    /// Dropout off, batch norm on its running statistics.
    Eval,
}

/// How the weights of each kind of layer start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitPlan {
    /// Linear layers.
    pub linear: Init,
    /// Convolutions.
    pub conv: Init,
}

impl InitPlan {
    /// The same scheme for every layer.
    pub fn all(init: Init) -> InitPlan {
        InitPlan { linear: init, conv: init }
    }
}

/// Layers applied in order, named as PyTorch's `nn.Sequential` names them (`0.weight`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sequential {
    /// The layers.
    pub layers: Vec<Layer>,
}

impl Sequential {
    /// A model of these layers.
    pub fn new(layers: Vec<Layer>) -> Sequential {
        Sequential { layers }
    }

    /// Every parameter's name and dims, in PyTorch's order.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match *layer {
                Layer::Linear { inputs, outputs, bias } => {
                    out.push((format!("{i}.weight"), vec![outputs, inputs]));
                    if bias {
                        out.push((format!("{i}.bias"), vec![outputs]));
                    }
                }
                Layer::Conv2d { inputs, outputs, kernel, .. } => {
                    out.push((format!("{i}.weight"), vec![outputs, inputs, kernel, kernel]));
                    out.push((format!("{i}.bias"), vec![outputs]));
                }
                Layer::BatchNorm { channels } => {
                    out.push((format!("{i}.weight"), vec![channels]));
                    out.push((format!("{i}.bias"), vec![channels]));
                }
                _ => {}
            }
        }
        out
    }

    /// Initial values of every parameter, drawn from `rng` in PyTorch's order (each layer's
    /// weight, then its bias, layer by layer). Batch norm starts at scale 1, shift 0.
    pub fn initial_values(&self, plan: InitPlan, rng: &mut Mt19937) -> Vec<(String, Vec<f32>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match *layer {
                Layer::Linear { inputs, outputs, bias } => {
                    out.push((format!("{i}.weight"), plan.linear.weight(rng, inputs * outputs, inputs, outputs)));
                    if bias {
                        out.push((format!("{i}.bias"), plan.linear.bias(rng, outputs, inputs)));
                    }
                }
                Layer::Conv2d { inputs, outputs, kernel, .. } => {
                    let taps = kernel * kernel;
                    let w = plan.conv.weight(rng, outputs * inputs * taps, inputs * taps, outputs * taps);
                    out.push((format!("{i}.weight"), w));
                    out.push((format!("{i}.bias"), plan.conv.bias(rng, outputs, inputs * taps)));
                }
                Layer::BatchNorm { channels } => {
                    out.push((format!("{i}.weight"), vec![1.0; channels]));
                    out.push((format!("{i}.bias"), vec![0.0; channels]));
                }
                _ => {}
            }
        }
        out
    }

    /// Builds the model on input `x` into `g`, creating its parameters (and batch norm's
    /// running statistics) as named graph nodes. `seed` seeds dropout's masks.
    pub fn forward(&self, g: &mut Graph, x: NodeId, mode: Mode, seed: u32) -> Result<NodeId> {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = self.layer(g, i, layer, h, mode, seed).map_err(|e| match e {
                Error::ShapeMismatch { op, lhs, rhs, reason } => {
                    Error::ShapeMismatch { op, lhs, rhs, reason: format!("{reason} (in layer {i}, {layer:?})") }
                }
                Error::InvalidArgument { op, message } => {
                    Error::InvalidArgument { op, message: format!("{message} (in layer {i}, {layer:?})") }
                }
                other => other,
            })?;
        }
        Ok(h)
    }

    fn layer(&self, g: &mut Graph, i: usize, layer: &Layer, h: NodeId, mode: Mode, seed: u32) -> Result<NodeId> {
        let param = |g: &mut Graph, name: &str, dims: &[usize]| g.param(&format!("{i}.{name}"), dims);
        Ok(match *layer {
            Layer::Linear { inputs, outputs, bias } => {
                let w = param(g, "weight", &[outputs, inputs])?;
                let y = g.matmul_t(h, w, false, true)?;
                if bias {
                    let b = param(g, "bias", &[outputs])?;
                    g.add(y, b)?
                } else {
                    y
                }
            }
            Layer::Conv2d { inputs, outputs, kernel, stride, padding } => {
                let w = param(g, "weight", &[outputs, inputs, kernel, kernel])?;
                let b = param(g, "bias", &[outputs])?;
                let y = g.conv2d(h, w, [stride, stride], [padding, padding])?;
                let b = g.reshape(b, &[1, outputs, 1, 1])?;
                g.add(y, b)?
            }
            Layer::MaxPool2d { kernel, stride, padding } => {
                g.max_pool2d(h, [kernel, kernel], [stride, stride], [padding, padding])?
            }
            Layer::AvgPool2d { kernel, stride, padding } => {
                g.avg_pool2d(h, [kernel, kernel], [stride, stride], [padding, padding])?
            }
            Layer::BatchNorm { channels } => {
                let gamma = param(g, "weight", &[channels])?;
                let beta = param(g, "bias", &[channels])?;
                let state: BatchNormState = g.batch_norm_state(&i.to_string(), channels)?;
                match mode {
                    Mode::Train => g.batch_norm_train(h, gamma, beta, state, 0.1, 1e-5)?,
                    Mode::Eval => g.batch_norm_eval(h, gamma, beta, state, 1e-5)?,
                }
            }
            Layer::Dropout(p) => match mode {
                Mode::Train => g.dropout(h, p, seed.wrapping_add(i as u32))?,
                Mode::Eval => h,
            },
            Layer::Relu => g.relu(h)?,
            Layer::LeakyRelu(slope) => g.leaky_relu(h, slope)?,
            Layer::Sigmoid => g.sigmoid(h)?,
            Layer::Tanh => g.tanh(h)?,
            Layer::Selu => g.selu(h)?,
            Layer::Flatten => {
                let dims = g.shape(h).dims().to_vec();
                let rest = dims[1..].iter().product();
                g.reshape(h, &[dims[0], rest])?
            }
        })
    }
}
