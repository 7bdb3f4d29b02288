//! The built-in layers, with PyTorch's names, shapes, starting values and printed form.

use super::module::{Draw, Forward, InitPlan, Mode, Module};
use crate::error::{Error, Result};
use crate::init::{Init, Mt19937};
use crate::ir::graph::NodeId;
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
    /// 2-D convolution: W `[out, in, kh, kw]`, bias `[out]` (see [`Layer::conv2d`]).
    Conv2d {
        /// Input channels.
        inputs: usize,
        /// Output channels.
        outputs: usize,
        /// Kernel extent, [height, width].
        kernel: [usize; 2],
        /// Stride, [height, width].
        stride: [usize; 2],
        /// Zero padding, [height, width].
        padding: [usize; 2],
        /// Whether it has a bias.
        bias: bool,
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
    /// Average pooling to a given output size, over PyTorch's bins (from ⌊i·in/out⌋ to
    /// ⌈(i+1)·in/out⌉): any output size, larger than the input too (see
    /// [`Graph::adaptive_avg_pool2d`](crate::ir::graph::Graph::adaptive_avg_pool2d)).
    AdaptiveAvgPool2d {
        /// Output [height, width].
        output: [usize; 2],
    },
    /// Batch norm over the features of [N, C] or [N, C, L] (see [`Layer::batch_norm_1d`]).
    BatchNorm1d {
        /// Features (C).
        features: usize,
        /// Weight of the batch's statistics in the running ones.
        momentum: f32,
        /// Added to the variance.
        eps: f32,
    },
    /// Batch norm over the channels of [N, C, H, W] (see [`Layer::batch_norm_2d`]).
    BatchNorm2d {
        /// Channels (C).
        channels: usize,
        /// Weight of the batch's statistics in the running ones.
        momentum: f32,
        /// Added to the variance.
        eps: f32,
    },
    /// Its input, unchanged (a residual block's shortcut, a removed head).
    Identity,
    /// `nn.Embedding(count, dim)`: row `i` of a `[count, dim]` weight for each index `i` of
    /// the input (indices as f32), N(0, 1) at the start.
    Embedding {
        /// Rows (the vocabulary).
        count: usize,
        /// Features of a row.
        dim: usize,
    },
    /// Dropout with this drop probability in training; the identity in evaluation.
    Dropout(f32),
    /// An activation of the elementwise table (`Layer::RELU`, `Layer::GELU`, …).
    Activation(ElementwiseOp),
    /// max(x, 0) + slope · min(x, 0)
    LeakyRelu(f32),
    /// [N, …] → [N, product of the rest]
    Flatten,
    /// A sequence's last step, `x[:, -1]`: `[B, T, F]` → `[B, F]` (lab 11-4's `output[:, -1]`).
    LastStep,
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

        /// PyTorch's class name of an activation layer.
        fn activation_name(op: ElementwiseOp) -> String {
            match op {
                $(ElementwiseOp::$variant => $torch.to_string(),)*
                other => format!("{other:?}"),
            }
        }
    };
}
for_each_activation!(activation_layers);

impl Layer {
    /// PyTorch's `nn.Conv2d(inputs, outputs, kernel, stride, padding)`: square, with a bias.
    pub fn conv2d(inputs: usize, outputs: usize, kernel: usize, stride: usize, padding: usize) -> Layer {
        Layer::Conv2d { inputs, outputs, kernel: [kernel; 2], stride: [stride; 2], padding: [padding; 2], bias: true }
    }

    /// PyTorch's `nn.BatchNorm1d(features)`: momentum 0.1, eps 1e-5.
    pub fn batch_norm_1d(features: usize) -> Layer {
        Layer::BatchNorm1d { features, momentum: 0.1, eps: 1e-5 }
    }

    /// PyTorch's `nn.BatchNorm2d(channels)`: momentum 0.1, eps 1e-5.
    pub fn batch_norm_2d(channels: usize) -> Layer {
        Layer::BatchNorm2d { channels, momentum: 0.1, eps: 1e-5 }
    }

    /// The init plan's scheme for this layer's weight.
    fn scheme(&self, plan: InitPlan) -> Init {
        match self {
            Layer::Conv2d { .. } => plan.conv,
            _ => plan.linear,
        }
    }
}

fn entry(name: &str, dims: Vec<usize>, kind: StateKind) -> StateEntry {
    StateEntry::new(name.to_string(), dims, kind)
}

impl Module for Layer {
    fn forward(&self, f: &mut Forward<'_>, h: NodeId) -> Result<NodeId> {
        Ok(match *self {
            Layer::Linear { inputs, outputs, bias } => {
                let w = f.param("weight", &[outputs, inputs])?;
                // Leading axes ([batch, steps, features]) are rows of one product, as
                // PyTorch's linear takes them: one product of every row with the shared
                // weight, not a product per batch entry of few rows each (whose tiles would
                // be mostly empty, and whose weight gradient would be summed over the batch).
                let dims = f.graph().shape(h).dims().to_vec();
                let rows = (dims.len() > 2).then(|| dims[..dims.len() - 1].iter().product::<usize>());
                let flat = match rows {
                    Some(rows) => f.graph().reshape(h, &[rows, dims[dims.len() - 1]])?,
                    None => h,
                };
                let mut y = f.graph().matmul_t(flat, w, false, true)?;
                if bias {
                    let b = f.param("bias", &[outputs])?;
                    y = f.graph().add(y, b)?;
                }
                match rows {
                    Some(_) => f.graph().reshape(y, &[&dims[..dims.len() - 1], &[outputs][..]].concat())?,
                    None => y,
                }
            }
            Layer::Conv2d { inputs, outputs, kernel, stride, padding, bias } => {
                let w = f.param("weight", &[outputs, inputs, kernel[0], kernel[1]])?;
                let y = f.graph().conv2d(h, w, stride, padding)?;
                if bias {
                    let b = f.param("bias", &[outputs])?;
                    let b = f.graph().reshape(b, &[1, outputs, 1, 1])?;
                    f.graph().add(y, b)?
                } else {
                    y
                }
            }
            Layer::MaxPool2d { kernel, stride, padding } => {
                f.graph().max_pool2d(h, [kernel, kernel], [stride, stride], [padding, padding])?
            }
            Layer::AvgPool2d { kernel, stride, padding } => {
                f.graph().avg_pool2d(h, [kernel, kernel], [stride, stride], [padding, padding])?
            }
            Layer::AdaptiveAvgPool2d { output } => f.graph().adaptive_avg_pool2d(h, output)?,
            Layer::BatchNorm1d { features: channels, momentum, eps }
            | Layer::BatchNorm2d { channels, momentum, eps } => {
                let ranks: &[usize] = if matches!(self, Layer::BatchNorm2d { .. }) { &[4] } else { &[2, 3] };
                let dims = f.graph().shape(h).dims().to_vec();
                if !ranks.contains(&dims.len()) {
                    let message = format!("{} takes inputs of rank {ranks:?}, not {dims:?}", self.type_name());
                    return Err(Error::InvalidArgument { op: "batch_norm", message });
                }
                let gamma = f.param("weight", &[channels])?;
                let beta = f.param("bias", &[channels])?;
                let state = f.batch_norm_state(channels)?;
                match f.mode() {
                    Mode::Train => f.graph().batch_norm_train(h, gamma, beta, state, momentum, eps)?,
                    Mode::Eval => f.graph().batch_norm_eval(h, gamma, beta, state, eps)?,
                }
            }
            Layer::Identity => h,
            Layer::Embedding { count, dim } => {
                let weight = f.param("weight", &[count, dim])?;
                f.graph().embedding(weight, h)?
            }
            Layer::Dropout(p) => match f.mode() {
                Mode::Train => {
                    let seed = f.dropout_seed();
                    f.graph().dropout(h, p, seed)?
                }
                Mode::Eval => h,
            },
            Layer::Activation(op) => f.graph().unary(op, 0.0, h)?,
            Layer::LeakyRelu(slope) => f.graph().leaky_relu(h, slope)?,
            Layer::Flatten => {
                let g = f.graph();
                let dims = g.shape(h).dims().to_vec();
                let rest = dims[1..].iter().product();
                g.reshape(h, &[dims[0], rest])?
            }
            Layer::LastStep => {
                let g = f.graph();
                let dims = g.shape(h).dims().to_vec();
                let [batch, steps, features] = dims[..] else {
                    let message = format!("takes a sequence [B, T, F], not {dims:?}");
                    return Err(Error::InvalidArgument { op: "last_step", message });
                };
                let last = g.narrow(h, 1, steps as isize - 1, 1)?;
                g.reshape(last, &[batch, features])?
            }
        })
    }

    fn own_state(&self) -> Vec<StateEntry> {
        match *self {
            Layer::Linear { inputs, outputs, bias } => {
                let mut out = vec![entry("weight", vec![outputs, inputs], StateKind::Parameter)];
                if bias {
                    out.push(entry("bias", vec![outputs], StateKind::Parameter));
                }
                out
            }
            Layer::Conv2d { inputs, outputs, kernel, bias, .. } => {
                let mut out = vec![entry("weight", vec![outputs, inputs, kernel[0], kernel[1]], StateKind::Parameter)];
                if bias {
                    out.push(entry("bias", vec![outputs], StateKind::Parameter));
                }
                out
            }
            Layer::Embedding { count, dim } => vec![entry("weight", vec![count, dim], StateKind::Parameter)],
            Layer::BatchNorm1d { features: channels, .. } | Layer::BatchNorm2d { channels, .. } => vec![
                entry("weight", vec![channels], StateKind::Parameter),
                entry("bias", vec![channels], StateKind::Parameter),
                entry("running_mean", vec![channels], StateKind::Buffer),
                entry("running_var", vec![channels], StateKind::Buffer),
                entry("num_batches_tracked", vec![], StateKind::BatchCount),
            ],
            _ => Vec::new(),
        }
    }

    /// Construction draws the weight, then the bias, both U(±1/√fan_in) (PyTorch's default);
    /// a lab's other init redraws the weight later and the bias keeps its default.
    /// `Init::Zeros` (the course's hand-written models) starts both at zero without drawing.
    /// Batch norm starts at scale 1, shift 0; an embedding's weight is drawn N(0, 1) by
    /// `normal_`.
    fn own_init(&self, plan: InitPlan, rng: &mut Mt19937) -> Vec<Draw> {
        let (weight, bias, fan_in, fan_out) = match *self {
            Layer::Linear { inputs, outputs, bias } => (inputs * outputs, bias.then_some(outputs), inputs, outputs),
            Layer::Conv2d { inputs, outputs, kernel, bias, .. } => {
                let taps = kernel[0] * kernel[1];
                (outputs * inputs * taps, bias.then_some(outputs), inputs * taps, outputs * taps)
            }
            Layer::BatchNorm1d { features: channels, .. } | Layer::BatchNorm2d { channels, .. } => {
                return vec![Draw::kept("weight", vec![1.0; channels]), Draw::kept("bias", vec![0.0; channels])];
            }
            Layer::Embedding { count, dim } => return vec![Draw::kept("weight", rng.normal(count * dim, 0.0, 1.0))],
            _ => return Vec::new(),
        };
        let init = self.scheme(plan);
        if init == Init::Zeros {
            let mut out = vec![Draw::kept("weight", vec![0.0; weight])];
            out.extend(bias.map(|b| Draw::kept("bias", vec![0.0; b])));
            return out;
        }
        let redraw = (init != Init::TorchDefault).then_some((init, fan_in, fan_out));
        let mut out = vec![Draw {
            name: "weight".into(),
            values: Init::TorchDefault.weight(rng, weight, fan_in, fan_out),
            redraw,
        }];
        out.extend(bias.map(|b| {
            let values = Init::TorchDefault.bias(rng, b, fan_in);
            let zeroed = (plan.zero_biases && redraw.is_some()).then_some((Init::Zeros, fan_in, fan_out));
            Draw { name: "bias".into(), values, redraw: zeroed }
        }));
        out
    }

    fn type_name(&self) -> String {
        match *self {
            Layer::Linear { .. } => "Linear".into(),
            Layer::Conv2d { .. } => "Conv2d".into(),
            Layer::MaxPool2d { .. } => "MaxPool2d".into(),
            Layer::AvgPool2d { .. } => "AvgPool2d".into(),
            Layer::AdaptiveAvgPool2d { .. } => "AdaptiveAvgPool2d".into(),
            Layer::BatchNorm1d { .. } => "BatchNorm1d".into(),
            Layer::BatchNorm2d { .. } => "BatchNorm2d".into(),
            Layer::Identity => "Identity".into(),
            Layer::Embedding { .. } => "Embedding".into(),
            Layer::Dropout(_) => "Dropout".into(),
            Layer::Activation(op) => activation_name(op),
            Layer::LeakyRelu(_) => "LeakyReLU".into(),
            Layer::Flatten => "Flatten".into(),
            Layer::LastStep => "LastStep".into(),
        }
    }

    fn extra_repr(&self) -> String {
        let pair = |[h, w]: [usize; 2]| format!("({h}, {w})");
        match *self {
            Layer::Linear { inputs, outputs, bias } => {
                format!("in_features={inputs}, out_features={outputs}, bias={}", if bias { "True" } else { "False" })
            }
            Layer::Conv2d { inputs, outputs, kernel, stride, padding, bias } => {
                let mut s = format!("{inputs}, {outputs}, kernel_size={}, stride={}", pair(kernel), pair(stride));
                if padding != [0, 0] {
                    s.push_str(&format!(", padding={}", pair(padding)));
                }
                if !bias {
                    s.push_str(", bias=False");
                }
                s
            }
            Layer::MaxPool2d { kernel, stride, padding } => {
                format!("kernel_size={kernel}, stride={stride}, padding={padding}, dilation=1, ceil_mode=False")
            }
            Layer::AvgPool2d { kernel, stride, padding } => {
                format!("kernel_size={kernel}, stride={stride}, padding={padding}")
            }
            Layer::AdaptiveAvgPool2d { output } => format!("output_size={}", pair(output)),
            Layer::BatchNorm1d { features: channels, momentum, eps }
            | Layer::BatchNorm2d { channels, momentum, eps } => {
                format!(
                    "{channels}, eps={}, momentum={momentum}, affine=True, bias=True, track_running_stats=True",
                    python_float(eps)
                )
            }
            Layer::Dropout(p) => format!("p={p}, inplace=False"),
            Layer::LeakyRelu(slope) => format!("negative_slope={slope}"),
            Layer::Flatten => "start_dim=1, end_dim=-1".into(),
            Layer::Embedding { count, dim } => format!("{count}, {dim}"),
            Layer::Activation(_) | Layer::Identity | Layer::LastStep => String::new(),
        }
    }
}

/// `v` as Python's `repr` of a float writes it (`1e-05`, `0.001`, `0.1`).
fn python_float(v: f32) -> String {
    if v == 0.0 || v.abs() >= 1e-4 {
        return format!("{v}");
    }
    // Rust writes 1e-5; Python pads the exponent to two digits.
    let e = format!("{v:e}");
    match e.split_once("e-") {
        Some((m, x)) if x.len() == 1 => format!("{m}e-0{x}"),
        _ => e,
    }
}

/// `nn.ReLU(inplace=True)`, as torchvision's models hold it: a ReLU that prints as PyTorch's
/// in-place one.
#[derive(Clone, Debug)]
pub(super) struct InPlaceRelu;

impl Module for InPlaceRelu {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        Layer::RELU.forward(f, x)
    }

    fn type_name(&self) -> String {
        "ReLU".into()
    }

    fn extra_repr(&self) -> String {
        "inplace=True".into()
    }
}
