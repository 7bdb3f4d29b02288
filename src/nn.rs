//! Layers with PyTorch's names and shapes, stacked in a [`Sequential`] that builds itself into
//! a graph in training or evaluation mode.

use crate::error::{Error, Result};
use crate::init::{Init, Mt19937};
use crate::ir::composite::BatchNormState;
use crate::ir::graph::{Graph, NodeId};
use crate::ir::ops::elementwise::{ElementwiseOp, for_each_activation};
use crate::state_dict::{StateEntry, StateKind};

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
    /// An activation of the elementwise table (`Layer::RELU`, `Layer::GELU`, …).
    Activation(ElementwiseOp),
    /// max(x, 0) + slope · min(x, 0)
    LeakyRelu(f32),
    /// [N, …] → [N, product of the rest]
    Flatten,
}

/// `Layer::RELU`, `Layer::GELU`, …: a layer per activation of the elementwise table.
macro_rules! activation_layers {
    ($(($method:ident, $in_place:ident, $variant:ident, $constant:ident, $torch:literal),)*) => {
        impl Layer {
            $(
                #[doc = concat!("PyTorch's `nn.", $torch, "`.")]
                pub const $constant: Layer = Layer::Activation(ElementwiseOp::$variant);
            )*
        }
    };
}
for_each_activation!(activation_layers);

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
        let state = self.state_dict().into_iter();
        state.filter(|e| e.kind == StateKind::Parameter).map(|e| (e.name, e.dims)).collect()
    }

    /// Every tensor of the model's state dict (parameters, batch norm's running statistics
    /// and batch count) as PyTorch's `state_dict()` names and orders them.
    pub fn state_dict(&self) -> Vec<StateEntry> {
        let mut out = Vec::new();
        let mut push =
            |i: usize, what: &str, dims: Vec<usize>, kind| out.push(StateEntry::new(format!("{i}.{what}"), dims, kind));
        for (i, layer) in self.layers.iter().enumerate() {
            match *layer {
                Layer::Linear { inputs, outputs, bias } => {
                    push(i, "weight", vec![outputs, inputs], StateKind::Parameter);
                    if bias {
                        push(i, "bias", vec![outputs], StateKind::Parameter);
                    }
                }
                Layer::Conv2d { inputs, outputs, kernel, .. } => {
                    push(i, "weight", vec![outputs, inputs, kernel, kernel], StateKind::Parameter);
                    push(i, "bias", vec![outputs], StateKind::Parameter);
                }
                Layer::BatchNorm { channels } => {
                    push(i, "weight", vec![channels], StateKind::Parameter);
                    push(i, "bias", vec![channels], StateKind::Parameter);
                    push(i, "running_mean", vec![channels], StateKind::Buffer);
                    push(i, "running_var", vec![channels], StateKind::Buffer);
                    push(i, "num_batches_tracked", vec![], StateKind::BatchCount);
                }
                _ => {}
            }
        }
        out
    }

    /// Initial values of every parameter, drawn from `rng` in PyTorch's order. Constructing
    /// the layers draws each one's default weight and bias, layer by layer; a lab that then
    /// applies another init (`xavier_uniform_(weight)`, `normal_(weight)`) redraws only the
    /// weights, in a second pass; biases keep their defaults. `Init::Zeros` (the course's
    /// hand-written models) starts everything at zero without drawing. Batch norm starts at
    /// scale 1, shift 0.
    pub fn initial_values(&self, plan: InitPlan, rng: &mut Mt19937) -> Vec<(String, Vec<f32>)> {
        let scheme = |layer: &Layer| match layer {
            Layer::Conv2d { .. } => plan.conv,
            _ => plan.linear,
        };
        // (name, elements, fan_in, fan_out) of each weight and bias, in construction order.
        let mut out: Vec<(String, Vec<f32>)> = Vec::new();
        let mut redraw: Vec<(usize, Init, usize, usize)> = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let (weight, bias, fan_in, fan_out) = match *layer {
                Layer::Linear { inputs, outputs, bias } => (inputs * outputs, bias.then_some(outputs), inputs, outputs),
                Layer::Conv2d { inputs, outputs, kernel, .. } => {
                    let taps = kernel * kernel;
                    (outputs * inputs * taps, Some(outputs), inputs * taps, outputs * taps)
                }
                Layer::BatchNorm { channels } => {
                    out.push((format!("{i}.weight"), vec![1.0; channels]));
                    out.push((format!("{i}.bias"), vec![0.0; channels]));
                    continue;
                }
                _ => continue,
            };
            let init = scheme(layer);
            if init == Init::Zeros {
                out.push((format!("{i}.weight"), vec![0.0; weight]));
                if let Some(b) = bias {
                    out.push((format!("{i}.bias"), vec![0.0; b]));
                }
                continue;
            }
            out.push((format!("{i}.weight"), Init::TorchDefault.weight(rng, weight, fan_in, fan_out)));
            if init != Init::TorchDefault {
                redraw.push((out.len() - 1, init, fan_in, fan_out));
            }
            if let Some(b) = bias {
                out.push((format!("{i}.bias"), Init::TorchDefault.bias(rng, b, fan_in)));
            }
        }
        for (k, init, fan_in, fan_out) in redraw {
            let n = out[k].1.len();
            out[k].1 = init.weight(rng, n, fan_in, fan_out);
        }
        out
    }

    /// Builds the model on input `x` into `g`, creating its parameters (and batch norm's
    /// running statistics) as named graph nodes. `seed` seeds dropout's masks.
    pub fn forward(&self, g: &mut Graph, x: NodeId, mode: Mode, seed: u32) -> Result<NodeId> {
        self.forward_prefixed(g, x, mode, seed, "")
    }

    /// [`Sequential::forward`] with every parameter and state name prefixed by `prefix`, so
    /// that several models can live in one graph (`m0.0.weight`, `m1.0.weight`, …).
    pub fn forward_prefixed(&self, g: &mut Graph, x: NodeId, mode: Mode, seed: u32, prefix: &str) -> Result<NodeId> {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = build_layer(g, &format!("{prefix}{i}"), i, layer, h, mode, seed).map_err(|e| match e {
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
}

/// The prefix of model `k`'s parameter names among `count` models: none for a single model,
/// whose names stay PyTorch's (`0.weight`); `m0.`, `m1.`, … otherwise.
pub fn member_prefix(k: usize, count: usize) -> String {
    if count == 1 { String::new() } else { format!("m{k}.") }
}

/// The state dict of `models` living in one graph, each named with its [`member_prefix`].
pub fn state_dict_of(models: &[Sequential]) -> Vec<StateEntry> {
    let mut entries = Vec::new();
    for (k, model) in models.iter().enumerate() {
        let prefix = member_prefix(k, models.len());
        entries.extend(model.state_dict().into_iter().map(|e| StateEntry { name: format!("{prefix}{}", e.name), ..e }));
    }
    entries
}

/// Layer `i` of a model, named `name` (its prefix and index), on `h`.
fn build_layer(g: &mut Graph, name: &str, i: usize, layer: &Layer, h: NodeId, mode: Mode, seed: u32) -> Result<NodeId> {
    let param = |g: &mut Graph, what: &str, dims: &[usize]| g.param(&format!("{name}.{what}"), dims);
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
            let state: BatchNormState = g.batch_norm_state(name, channels)?;
            match mode {
                Mode::Train => g.batch_norm_train(h, gamma, beta, state, 0.1, 1e-5)?,
                Mode::Eval => g.batch_norm_eval(h, gamma, beta, state, 1e-5)?,
            }
        }
        Layer::Dropout(p) => match mode {
            Mode::Train => g.dropout(h, p, seed.wrapping_add(i as u32))?,
            Mode::Eval => h,
        },
        Layer::Activation(op) => g.unary(op, 0.0, h)?,
        Layer::LeakyRelu(slope) => g.leaky_relu(h, slope)?,
        Layer::Flatten => {
            let dims = g.shape(h).dims().to_vec();
            let rest = dims[1..].iter().product();
            g.reshape(h, &[dims[0], rest])?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xavier_redraws_weights_after_every_default_draw_as_pytorch_does() {
        let model = Sequential::new(vec![
            Layer::Linear { inputs: 3, outputs: 2, bias: true },
            Layer::RELU,
            Layer::Linear { inputs: 2, outputs: 1, bias: true },
        ]);
        let got = model.initial_values(InitPlan::all(Init::XavierUniform), &mut Mt19937::new(7));
        // By hand: construction draws w0 (6), b0 (2), w1 (2), b1 (1); then xavier redraws w0, w1.
        let mut rng = Mt19937::new(7);
        let _w0 = Init::TorchDefault.weight(&mut rng, 6, 3, 2);
        let b0 = Init::TorchDefault.bias(&mut rng, 2, 3);
        let _w1 = Init::TorchDefault.weight(&mut rng, 2, 2, 1);
        let b1 = Init::TorchDefault.bias(&mut rng, 1, 2);
        let w0 = Init::XavierUniform.weight(&mut rng, 6, 3, 2);
        let w1 = Init::XavierUniform.weight(&mut rng, 2, 2, 1);
        let want = [("0.weight", w0), ("0.bias", b0), ("2.weight", w1), ("2.bias", b1)];
        for ((name, values), (want_name, want_values)) in got.iter().zip(want) {
            assert_eq!((name.as_str(), values), (want_name, &want_values));
        }
    }
}
