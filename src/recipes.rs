//! The course's labs (../shared/COURSE.md) as named recipes: data, model, init, loss,
//! optimizer and schedule, with the course's settings as defaults.

use crate::checkpoint;
use crate::data::{csv, mnist};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::init::{Init, Mt19937};
use crate::kernels::loss::LossKind;
use crate::kernels::optim::Optimizer;
use crate::nn::{InitPlan, Layer, Sequential};
use crate::train::{Combine, Data, Evaluation, Scaling, Settings, Task, Trainer, member_prefix};
use std::time::Instant;

/// Where a recipe's examples come from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Numbers written in the lab itself: x (rows of `width`), y (rows of `target_width`).
    Inline {
        /// Inputs, row-major.
        x: &'static [f32],
        /// Values per input row.
        width: usize,
        /// Targets, row-major.
        y: &'static [f32],
        /// Values per target row.
        target_width: usize,
    },
    /// A shipped CSV: every column but the last is a feature, the last is the target.
    Csv(&'static str),
    /// MNIST, flattened to 784 values or as [1, 28, 28] images.
    Mnist {
        /// Keep the images 2-D (for convolutions).
        images: bool,
    },
    /// The user's folder of class sub-folders (`--data DIR`), images resized to this
    /// (width, height); the model's last layer gets one output per class.
    Folder {
        /// Width after resizing.
        width: u32,
        /// Height after resizing.
        height: u32,
    },
}

/// The models a recipe trains on the same batches.
#[derive(Clone, Copy, Debug)]
pub enum Members {
    /// The recipe's model alone.
    One,
    /// This many copies of the model, each drawn in turn and with its own optimizer state;
    /// they predict together by the mean of their outputs (lab 10-4's ensemble).
    Ensemble(usize),
    /// The recipe's model and this one beside it, reported side by side; the first predicts
    /// (lab 09-6 trains a network without batch norm next to the one with it).
    Beside(fn() -> Sequential),
}

/// One lab of the course.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Its name on the command line.
    pub name: &'static str,
    /// The course's lab number.
    pub lab: &'static str,
    /// One line on what it trains.
    pub about: &'static str,
    /// Its examples.
    pub source: Source,
    /// Held-out examples, for labs that have them inline (07-1's test set).
    pub test: Option<Source>,
    /// The model.
    pub model: fn() -> Sequential,
    /// Other models trained with it on the same batches.
    pub members: Members,
    /// The lab's `nn.Module` form, used with `--init torch` where it differs from the
    /// low-level model (06-1 and 06-2: `nn.Linear` has a per-class bias; the low-level model's
    /// shared scalar bias never moves, so it has none).
    pub torch_model: Option<fn() -> Sequential>,
    /// How its weights start.
    pub init: InitPlan,
    /// `torch.manual_seed` of the lab.
    pub seed: u32,
    /// Random words the lab draws before building its model.
    pub skip_draws: usize,
    /// What the output means.
    pub task: Task,
    /// The loss.
    pub loss: LossKind,
    /// The optimizer and its learning rate.
    pub optimizer: Optimizer,
    /// Examples per step (`None`: full batch).
    pub batch_size: Option<usize>,
    /// Epochs (for full-batch labs, the course's `nb_epochs + 1` update steps).
    pub epochs: usize,
    /// Steps between printed losses, as the course prints them (full-batch labs).
    pub log_every: usize,
    /// Fraction of the training examples held out for validation (0: none).
    pub validation: f32,
    /// How the input features are scaled before training.
    pub scaling: Scaling,
    /// Weight of the course's L2 penalty, `l2 · Σ‖p‖₂` added to the cost (0: none).
    pub l2: f32,
    /// Multiplies the learning rate of biases (lab 08-4 averages their gradients over the
    /// batch while it sums the weights').
    pub bias_lr_factor: f32,
    /// Biases drawn from the weights' scheme too (lab 08-4 draws every tensor from N(0, 1)).
    pub init_biases: bool,
    /// Targets as one-hot rows (for a squared-error loss over classes).
    pub one_hot: bool,
    /// Epochs without a lower validation loss before training stops (`None`: never).
    pub patience: Option<usize>,
}

const TOY_X: [f32; 3] = [1.0, 2.0, 3.0];
const SCORES_X: [f32; 15] = [73., 80., 75., 93., 88., 93., 89., 91., 90., 96., 98., 100., 73., 66., 70.];
const SCORES_Y: [f32; 5] = [152., 185., 180., 196., 142.];
const LOGISTIC_X: [f32; 12] = [1., 2., 2., 3., 3., 1., 4., 3., 5., 3., 6., 2.];
const LOGISTIC_Y: [f32; 6] = [0., 0., 0., 1., 1., 1.];
const SOFTMAX_X: [f32; 32] = [
    1., 2., 1., 1., 2., 1., 3., 2., 3., 1., 3., 4., 4., 1., 5., 5., 1., 7., 5., 5., 1., 2., 5., 6., 1., 6., 6., 6., 1.,
    7., 7., 7.,
];
const SOFTMAX_Y: [f32; 8] = [2., 2., 2., 1., 1., 1., 0., 0.];
const TIPS_X: [f32; 24] =
    [1., 2., 1., 1., 3., 2., 1., 3., 4., 1., 5., 5., 1., 7., 5., 1., 2., 5., 1., 6., 6., 1., 7., 7.];
const TIPS_TEST_X: [f32; 9] = [2., 1., 1., 3., 1., 2., 3., 3., 4.];
const TIPS_TEST_Y: [f32; 3] = [2., 2., 2.];
const XOR_X: [f32; 8] = [0., 0., 0., 1., 1., 0., 1., 1.];
const XOR_Y: [f32; 4] = [0., 1., 1., 0.];

fn linear(inputs: usize, outputs: usize) -> Layer {
    Layer::Linear { inputs, outputs, bias: true }
}

fn mlp(widths: &[usize], activation: Layer, dropout: Option<f32>) -> Sequential {
    let mut layers = Vec::new();
    for (k, pair) in widths.windows(2).enumerate() {
        layers.push(linear(pair[0], pair[1]));
        if k + 2 < widths.len() {
            layers.push(activation.clone());
            if let Some(p) = dropout {
                layers.push(Layer::Dropout(p));
            }
        }
    }
    Sequential::new(layers)
}

fn conv(inputs: usize, outputs: usize) -> Layer {
    Layer::Conv2d { inputs, outputs, kernel: 3, stride: 1, padding: 1 }
}

fn pool(padding: usize) -> Layer {
    Layer::MaxPool2d { kernel: 2, stride: 2, padding }
}

fn mlp_sigmoid_784_30_10() -> Sequential {
    Sequential::new(vec![linear(784, 30), Layer::Sigmoid, linear(30, 10), Layer::Sigmoid])
}

/// The course's CNN block: a 3×3 same-size convolution, ReLU, and a 2×2 max pool.
fn conv_block(inputs: usize, outputs: usize, pool_padding: usize) -> Vec<Layer> {
    vec![conv(inputs, outputs), Layer::Relu, pool(pool_padding)]
}

/// Lab 10-2's CNN: three conv blocks, then 2048-625-10 with dropout 0.5.
fn deep_cnn() -> Sequential {
    let fully_connected = vec![Layer::Flatten, linear(2048, 625), Layer::Relu, Layer::Dropout(0.5), linear(625, 10)];
    Sequential::new([conv_block(1, 32, 0), conv_block(32, 64, 0), conv_block(64, 128, 1), fully_connected].concat())
}

fn full_batch(
    name: &'static str,
    lab: &'static str,
    about: &'static str,
    source: Source,
    model: fn() -> Sequential,
) -> Recipe {
    Recipe {
        name,
        lab,
        about,
        source,
        test: None,
        model,
        members: Members::One,
        torch_model: None,
        init: InitPlan::all(Init::Zeros),
        seed: 1,
        skip_draws: 0,
        task: Task::Regression,
        loss: LossKind::Mse,
        optimizer: Optimizer::sgd(0.01),
        batch_size: None,
        epochs: 1001,
        log_every: 100,
        validation: 0.0,
        scaling: Scaling::None,
        l2: 0.0,
        bias_lr_factor: 1.0,
        init_biases: false,
        one_hot: false,
        patience: None,
    }
}

/// Labs 08-1 to 08-3: XOR by BCE and SGD 1 for 10,001 steps, PyTorch's init after seed 777.
fn xor_recipe(name: &'static str, lab: &'static str, about: &'static str, model: fn() -> Sequential) -> Recipe {
    let xor = Source::Inline { x: &XOR_X, width: 2, y: &XOR_Y, target_width: 1 };
    Recipe {
        task: Task::Binary,
        loss: LossKind::Bce,
        optimizer: Optimizer::sgd(1.0),
        init: InitPlan::all(Init::TorchDefault),
        seed: 777,
        epochs: 10001,
        log_every: 1000,
        ..full_batch(name, lab, about, xor, model)
    }
}

fn mnist_recipe(
    name: &'static str,
    lab: &'static str,
    about: &'static str,
    model: fn() -> Sequential,
    init: InitPlan,
) -> Recipe {
    Recipe {
        init,
        seed: 777,
        task: Task::Classes,
        loss: LossKind::CrossEntropy,
        optimizer: Optimizer::adam(1e-3),
        batch_size: Some(100),
        epochs: 15,
        log_every: 1,
        ..full_batch(name, lab, about, Source::Mnist { images: false }, model)
    }
}

/// Every recipe, in the course's order.
pub fn all() -> Vec<Recipe> {
    let inline = |x, width, y, target_width| Source::Inline { x, width, y, target_width };
    let toy = inline(&TOY_X, 1, &TOY_X, 1);
    let scores = inline(&SCORES_X, 3, &SCORES_Y, 1);
    let xavier = InitPlan::all(Init::XavierUniform);
    vec![
        full_batch("linear-regression", "02", "x·W + b fitted to y = x by MSE and SGD", toy, || {
            Sequential::new(vec![linear(1, 1)])
        }),
        Recipe {
            epochs: 11,
            log_every: 1,
            optimizer: Optimizer::sgd(0.15),
            ..full_batch("gradient-descent", "03", "x·W without bias, plain gradient descent", toy, || {
                Sequential::new(vec![Layer::Linear { inputs: 1, outputs: 1, bias: false }])
            })
        },
        Recipe {
            epochs: 21,
            log_every: 1,
            optimizer: Optimizer::sgd(1e-5),
            ..full_batch("multivariable", "04-1", "three quiz scores predict the final", scores, || {
                Sequential::new(vec![linear(3, 1)])
            })
        },
        Recipe {
            epochs: 21,
            log_every: 1,
            optimizer: Optimizer::sgd(1e-5),
            ..full_batch(
                "test-scores",
                "04-2",
                "the same on data-01-test-score.csv",
                Source::Csv("data-01-test-score.csv"),
                || Sequential::new(vec![linear(3, 1)]),
            )
        },
        Recipe {
            epochs: 21,
            log_every: 1,
            optimizer: Optimizer::sgd(0.1),
            init: InitPlan::all(Init::TorchDefault),
            scaling: Scaling::Standardize,
            ..full_batch(
                "standardized",
                "07-1",
                "04-1's scores standardized first, so SGD 0.1 converges",
                scores,
                || Sequential::new(vec![linear(3, 1)]),
            )
        },
        Recipe {
            task: Task::Binary,
            loss: LossKind::Bce,
            optimizer: Optimizer::sgd(1.0),
            ..full_batch(
                "logistic-toy",
                "05",
                "sigmoid(XW + b) by binary cross-entropy",
                inline(&LOGISTIC_X, 2, &LOGISTIC_Y, 1),
                || Sequential::new(vec![linear(2, 1), Layer::Sigmoid]),
            )
        },
        Recipe {
            task: Task::Binary,
            loss: LossKind::Bce,
            optimizer: Optimizer::sgd(1.0),
            epochs: 101,
            log_every: 10,
            ..full_batch(
                "logistic-diabetes",
                "05",
                "logistic regression on data-03-diabetes.csv",
                Source::Csv("data-03-diabetes.csv"),
                || Sequential::new(vec![linear(8, 1), Layer::Sigmoid]),
            )
        },
        // 06-1 and 06-2 share one scalar bias that stays 0 (its gradient is zero): no bias.
        Recipe {
            task: Task::Classes,
            loss: LossKind::CrossEntropy,
            optimizer: Optimizer::sgd(0.1),
            skip_draws: 18,
            torch_model: Some(|| Sequential::new(vec![linear(4, 3)])),
            ..full_batch(
                "softmax-toy",
                "06-1",
                "softmax regression, 4 features to 3 classes",
                inline(&SOFTMAX_X, 4, &SOFTMAX_Y, 1),
                || Sequential::new(vec![Layer::Linear { inputs: 4, outputs: 3, bias: false }]),
            )
        },
        Recipe {
            task: Task::Classes,
            loss: LossKind::CrossEntropy,
            optimizer: Optimizer::sgd(0.1),
            skip_draws: 18,
            torch_model: Some(|| Sequential::new(vec![linear(16, 7)])),
            ..full_batch(
                "softmax-zoo",
                "06-2",
                "softmax regression on data-04-zoo.csv (7 classes)",
                Source::Csv("data-04-zoo.csv"),
                || Sequential::new(vec![Layer::Linear { inputs: 16, outputs: 7, bias: false }]),
            )
        },
        Recipe {
            task: Task::Classes,
            loss: LossKind::CrossEntropy,
            optimizer: Optimizer::sgd(0.1),
            init: InitPlan::all(Init::TorchDefault),
            epochs: 20,
            log_every: 1,
            test: Some(inline(&TIPS_TEST_X, 3, &TIPS_TEST_Y, 1)),
            ..full_batch(
                "tips",
                "07-1",
                "train/test split; try --lr 1e5 (diverges) and 1e-10 (stuck)",
                inline(&TIPS_X, 3, &SOFTMAX_Y, 1),
                || Sequential::new(vec![linear(3, 3)]),
            )
        },
        xor_recipe("xor-perceptron", "08-1", "one sigmoid unit cannot learn XOR", || {
            Sequential::new(vec![linear(2, 1), Layer::Sigmoid])
        }),
        xor_recipe("xor-mlp", "08-2", "a hidden layer of 2 sigmoids learns XOR", || {
            Sequential::new(vec![linear(2, 2), Layer::Sigmoid, linear(2, 1), Layer::Sigmoid])
        }),
        xor_recipe("xor-deep", "08-3", "2-10-10-10-1 sigmoids learn XOR", || {
            let mut m = mlp(&[2, 10, 10, 10, 1], Layer::Sigmoid, None);
            m.layers.push(Layer::Sigmoid);
            m
        }),
        // Lab 08-4 updates by hand with the gradient of ½Σ(ŷ − y)² over batch and classes:
        // weights by its sum over the batch, biases by its mean. MSE averages over batch × 10,
        // so the same steps take lr 0.5 · 100 / 2 = 25 for weights and a tenth of it for biases.
        Recipe {
            loss: LossKind::Mse,
            optimizer: Optimizer::sgd(25.0),
            bias_lr_factor: 0.1,
            init_biases: true,
            one_hot: true,
            batch_size: Some(10),
            epochs: 13,
            ..mnist_recipe(
                "mnist-backprop",
                "08-4",
                "784-30-10 sigmoids by hand-written backprop's squared-error steps, batch 10",
                mlp_sigmoid_784_30_10,
                InitPlan::all(Init::Normal(1.0)),
            )
        },
        Recipe {
            optimizer: Optimizer::sgd(0.1),
            ..mnist_recipe(
                "mnist-softmax",
                "07-2",
                "softmax regression on MNIST",
                || Sequential::new(vec![linear(784, 10)]),
                InitPlan::all(Init::TorchDefault),
            )
        },
        mnist_recipe(
            "mnist-softmax-adam",
            "09-1",
            "the same with N(0,1) weights and Adam",
            || Sequential::new(vec![linear(784, 10)]),
            InitPlan::all(Init::Normal(1.0)),
        ),
        mnist_recipe(
            "mnist-mlp",
            "09-2",
            "784-256-256-10 ReLU, N(0,1) weights, Adam",
            || mlp(&[784, 256, 256, 10], Layer::Relu, None),
            InitPlan::all(Init::Normal(1.0)),
        ),
        mnist_recipe(
            "mnist-xavier",
            "09-3",
            "784-256-256-10 ReLU, Xavier init",
            || mlp(&[784, 256, 256, 10], Layer::Relu, None),
            xavier,
        ),
        mnist_recipe(
            "mnist-deep",
            "09-4",
            "784-512×4-10 ReLU, Xavier init",
            || mlp(&[784, 512, 512, 512, 512, 10], Layer::Relu, None),
            xavier,
        ),
        mnist_recipe(
            "mnist-dropout",
            "09-5",
            "09-4 with Dropout(0.3) after each hidden ReLU",
            || mlp(&[784, 512, 512, 512, 512, 10], Layer::Relu, Some(0.3)),
            xavier,
        ),
        Recipe {
            optimizer: Optimizer::adam(1e-2),
            batch_size: Some(32),
            epochs: 10,
            seed: 1,
            members: Members::Beside(|| mlp(&[784, 32, 32, 10], Layer::Relu, None)),
            ..mnist_recipe(
                "mnist-batchnorm",
                "09-6",
                "784-32-32-10 with batch norm, Adam 1e-2, batch 32; the same without it beside (m1)",
                || {
                    Sequential::new(vec![
                        linear(784, 32),
                        Layer::BatchNorm { channels: 32 },
                        Layer::Relu,
                        linear(32, 32),
                        Layer::BatchNorm { channels: 32 },
                        Layer::Relu,
                        linear(32, 10),
                    ])
                },
                InitPlan::all(Init::TorchDefault),
            )
        },
        mnist_recipe(
            "mnist-selu",
            "09-7",
            "784-512×4-10 SELU, Xavier init",
            || mlp(&[784, 512, 512, 512, 512, 10], Layer::Selu, None),
            xavier,
        ),
        Recipe {
            source: Source::Mnist { images: true },
            ..mnist_recipe(
                "mnist-cnn",
                "10-1",
                "two conv/ReLU/max-pool blocks and a linear layer",
                || {
                    Sequential::new(
                        [conv_block(1, 32, 0), conv_block(32, 64, 0), vec![Layer::Flatten, linear(3136, 10)]].concat(),
                    )
                },
                InitPlan { linear: Init::XavierUniform, conv: Init::TorchDefault },
            )
        },
        Recipe {
            source: Source::Folder { width: 128, height: 64 },
            optimizer: Optimizer::adam(5e-5),
            batch_size: Some(8),
            epochs: 10,
            seed: 777,
            ..mnist_recipe(
                "custom-images",
                "10-4",
                "a LeNet-like CNN on your own photos: --data DIR with one sub-folder per class",
                || {
                    Sequential::new(vec![
                        Layer::Conv2d { inputs: 3, outputs: 6, kernel: 5, stride: 1, padding: 0 },
                        Layer::Relu,
                        pool(0),
                        Layer::Conv2d { inputs: 6, outputs: 16, kernel: 5, stride: 1, padding: 0 },
                        Layer::Relu,
                        pool(0),
                        Layer::Flatten,
                        linear(16 * 13 * 29, 120),
                        Layer::Relu,
                        linear(120, 2),
                    ])
                },
                InitPlan::all(Init::TorchDefault),
            )
        },
        Recipe {
            source: Source::Mnist { images: true },
            ..mnist_recipe(
                "mnist-deep-cnn",
                "10-2",
                "three conv blocks, 2048-625-10 with dropout 0.5",
                deep_cnn,
                InitPlan { linear: Init::XavierUniform, conv: Init::TorchDefault },
            )
        },
        Recipe {
            source: Source::Mnist { images: true },
            members: Members::Ensemble(2),
            ..mnist_recipe(
                "mnist-ensemble",
                "10-4",
                "two mnist-deep-cnn models on the same batches, each with its own Adam; they predict together",
                deep_cnn,
                InitPlan { linear: Init::XavierUniform, conv: Init::TorchDefault },
            )
        },
    ]
}

/// The recipe called `name`, or an error listing the known ones.
pub fn find(name: &str) -> Result<Recipe> {
    let recipes = all();
    let known: Vec<&str> = recipes.iter().map(|r| r.name).collect();
    recipes.iter().find(|r| r.name == name).cloned().ok_or_else(|| Error::InvalidArgument {
        op: "train",
        message: format!("unknown recipe '{name}'; known recipes: {}", known.join(", ")),
    })
}

/// Changes to a recipe's defaults, from the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Epochs (full-batch labs: update steps).
    pub epochs: Option<usize>,
    /// Learning rate.
    pub lr: Option<f32>,
    /// Examples per step.
    pub batch_size: Option<usize>,
    /// `torch.manual_seed` (also seeds shuffles and dropout).
    pub seed: Option<u32>,
    /// Weight init for every layer.
    pub init: Option<Init>,
    /// Steps between printed losses (full-batch labs).
    pub log_every: Option<usize>,
    /// Fraction of the training examples held out for validation (mini-batch recipes).
    pub validation: Option<f32>,
    /// Stop after this many epochs without a lower validation loss.
    pub patience: Option<usize>,
    /// Weight of the course's L2 penalty (the plain norm of every parameter added to the cost).
    pub l2: Option<f32>,
}

impl Recipe {
    /// The recipe with `o` applied.
    pub fn with(mut self, o: &Overrides) -> Recipe {
        if let Some(e) = o.epochs {
            self.epochs = e;
        }
        if let Some(lr) = o.lr {
            self.optimizer = self.optimizer.with_lr(lr);
        }
        if let Some(b) = o.batch_size {
            self.batch_size = Some(b);
        }
        if let Some(s) = o.seed {
            self.seed = s;
        }
        if let Some(i) = o.init {
            self.init = InitPlan::all(i);
            if let (Init::TorchDefault, Some(model)) = (i, self.torch_model) {
                self.model = model;
            }
        }
        if let Some(l) = o.log_every {
            self.log_every = l.max(1);
        }
        if let Some(v) = o.validation {
            self.validation = v;
        }
        if o.patience.is_some() {
            self.patience = o.patience;
        }
        if let Some(l2) = o.l2 {
            self.l2 = l2;
        }
        self
    }
}

/// Loads a source's examples: (train, test).
pub fn load(source: Source, data_dir: Option<&std::path::Path>) -> Result<(Data, Option<Data>)> {
    Ok(match source {
        Source::Inline { x, width, y, target_width } => {
            (Data { x: x.to_vec(), example: vec![width], y: y.to_vec(), target_width }, None)
        }
        Source::Csv(name) => {
            let table = csv::shipped(name)
                .ok_or_else(|| Error::Io { path: name.into(), message: "not a shipped file".into() })??;
            let features = table.cols - 1;
            (
                Data {
                    x: table.columns(0..features),
                    example: vec![features],
                    y: table.columns(features..table.cols),
                    target_width: 1,
                },
                None,
            )
        }
        Source::Mnist { images } => {
            let m = match data_dir {
                Some(dir) => mnist::load_dir(dir)?,
                None => mnist::load_shipped()?,
            };
            let example = if images { vec![1, m.train.rows, m.train.cols] } else { vec![m.train.pixels()] };
            (m.train.into_data(&example), Some(m.test.into_data(&example)))
        }
        Source::Folder { width, height } => {
            let dir = data_dir.ok_or_else(|| Error::InvalidArgument {
                op: "train",
                message: "this recipe trains on your images: give --data DIR, with one sub-folder of PNG or JPEG images per class".into(),
            })?;
            (crate::data::folder::load_folder(dir, Some((width, height)))?.data, None)
        }
    })
}

/// The model with its last linear layer resized to `classes` outputs.
fn with_classes(mut model: Sequential, classes: usize) -> Sequential {
    if let Some(Layer::Linear { outputs, .. }) =
        model.layers.iter_mut().rev().find(|l| matches!(l, Layer::Linear { .. }))
    {
        *outputs = classes;
    }
    model
}

/// A progress report during training.
#[derive(Clone, Debug)]
pub enum Progress {
    /// A full-batch step whose loss was read (the course prints these).
    Step {
        /// The step, from 0.
        step: usize,
        /// The loss before that step's update.
        loss: f32,
        /// The parameters after the update, for models with at most 64 values.
        params: Option<Vec<(String, Vec<f32>)>>,
    },
    /// A mini-batch step.
    Batch {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 0.
        step: usize,
        /// Steps in the epoch.
        steps: usize,
        /// The batch's loss.
        loss: f32,
    },
    /// The end of a mini-batch epoch.
    Epoch {
        /// The epoch, from 1.
        epoch: usize,
        /// Mean loss of its batches.
        loss: f32,
        /// Test accuracy after it, where there is a test set.
        test_accuracy: Option<f32>,
        /// Mean loss on the held-out validation examples, where some are held out.
        validation_loss: Option<f32>,
        /// Examples per second during the epoch.
        samples_per_second: f64,
        /// For several models: each one's mean loss over the epoch and test accuracy.
        members: Vec<(f32, Option<f32>)>,
    },
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The recipe as run.
    pub recipe: String,
    /// Update steps taken.
    pub steps: usize,
    /// Epochs run.
    pub epochs: usize,
    /// The last loss read.
    pub final_loss: f32,
    /// Accuracy on the training data (classification and binary tasks).
    pub train_accuracy: Option<f32>,
    /// Accuracy on the test data, where there is some.
    pub test_accuracy: Option<f32>,
    /// For several models: each one's own test accuracy.
    pub member_test_accuracies: Vec<Option<f32>>,
    /// The last validation loss, where examples were held out.
    pub validation_loss: Option<f32>,
    /// The epoch after which early stopping ended training, if it did.
    pub stopped_early: Option<usize>,
    /// Wall time of training.
    pub seconds: f64,
    /// Training examples per second.
    pub samples_per_second: f64,
    /// Every parameter, for models with at most 64 values.
    pub params: Option<Vec<(String, Vec<f32>)>>,
    /// Submits, dispatches and allocations of the training plan.
    pub counters: crate::executor::Counters,
    /// GPU allocations the training plan had made before its first step (all of them, when
    /// nothing grows).
    pub allocations_before_training: u64,
}

/// A full-batch loss this many times its first value counts as diverged.
const EXPLODED: f32 = 1000.0;

/// Most parameter values for which a run reports every one.
pub const SMALL_MODEL: usize = 64;

/// Where a run reads and writes files.
#[derive(Clone, Debug, Default)]
pub struct Paths {
    /// A directory holding full MNIST files, instead of the shipped subset.
    pub data: Option<std::path::PathBuf>,
    /// A directory to save `model.safetensors` in, at each epoch's end and at the end.
    pub out: Option<std::path::PathBuf>,
    /// A checkpoint of this recipe to continue from (mini-batch recipes resume at the batch
    /// it saved, bit for bit as if never interrupted).
    pub resume: Option<std::path::PathBuf>,
    /// Also save every this many steps inside epochs (mini-batch recipes).
    pub checkpoint_every: Option<usize>,
}

/// The checkpoint file inside an output directory.
pub fn checkpoint_path(out: &std::path::Path) -> std::path::PathBuf {
    out.join("model.safetensors")
}

/// A recipe's data, and a trainer for it with its initial weights.
struct Prepared {
    trainer: Trainer,
    train: Data,
    test: Option<Data>,
    batch: usize,
    full_batch: bool,
    small: bool,
}

fn prepare(device: &Device, recipe: &Recipe, data_dir: Option<&std::path::Path>) -> Result<Prepared> {
    let (mut train, test) = load(recipe.source, data_dir)?;
    let mut test = match recipe.test {
        Some(source) => Some(load(source, None)?.0),
        None => test,
    };
    if recipe.one_hot {
        let classes =
            train.y.iter().chain(test.iter().flat_map(|t| t.y.iter())).fold(0.0f32, |m, &v| m.max(v)) as usize + 1;
        for d in std::iter::once(&mut train).chain(test.as_mut()) {
            d.y =
                d.y.iter().flat_map(|&l| (0..classes).map(move |c| if c == l as usize { 1.0 } else { 0.0 })).collect();
            d.target_width = classes;
        }
    }
    // Statistics of the training examples, applied to the test examples alike.
    let scaler = train.fit_scaler(recipe.scaling);
    scaler.apply(&mut train);
    if let Some(t) = test.as_mut() {
        scaler.apply(t);
    }
    let mut models = match recipe.members {
        Members::One => vec![(recipe.model)()],
        Members::Ensemble(n) => (0..n.max(1)).map(|_| (recipe.model)()).collect(),
        Members::Beside(other) => vec![(recipe.model)(), other()],
    };
    if matches!(recipe.source, Source::Folder { .. }) {
        let classes = train.y.iter().fold(0.0f32, |m, &v| m.max(v)) as usize + 1;
        models = models.into_iter().map(|m| with_classes(m, classes)).collect();
    }
    let mut rng = Mt19937::new(recipe.seed);
    rng.skip(recipe.skip_draws);
    // The models are built one after another, as the labs construct them.
    let mut initial = Vec::new();
    for (k, model) in models.iter().enumerate() {
        let values: Vec<(String, Vec<f32>)> = if recipe.init_biases {
            // Every tensor drawn in turn from the scheme, as a lab that builds its own tensors
            // does (08-4: normal_ on w1, b1, w2, b2); the scheme must not need fans.
            let params = model.parameters();
            params
                .into_iter()
                .map(|(name, dims)| (name, recipe.init.linear.weight(&mut rng, dims.iter().product(), 1, 1)))
                .collect()
        } else {
            model.initial_values(recipe.init, &mut rng)
        };
        let prefix = member_prefix(k, models.len());
        initial.extend(values.into_iter().map(|(name, v)| (format!("{prefix}{name}"), v)));
    }
    let small = initial.iter().map(|(_, v)| v.len()).sum::<usize>() <= SMALL_MODEL;
    let batch = recipe.batch_size.unwrap_or(train.len()).min(train.len());
    let full_batch = recipe.batch_size.is_none();
    let settings = Settings {
        loss: recipe.loss,
        optimizer: recipe.optimizer,
        batch_size: Some(batch),
        shuffle: !full_batch,
        drop_last: true,
        data_seed: recipe.seed as u64,
        dropout_seed: recipe.seed,
        l2: recipe.l2,
        bias_lr_factor: recipe.bias_lr_factor,
    };
    let combine = if matches!(recipe.members, Members::Beside(_)) { Combine::SideBySide } else { Combine::Ensemble };
    let trainer =
        Trainer::with_models(device, models, combine, settings, batch, &train.example, train.target_width, &initial)?;
    Ok(Prepared { trainer, train, test, batch, full_batch, small })
}

/// Saves the trainer at `(epochs done, batches done in the next epoch, the sum of their
/// losses)`, with what a resumed run needs to continue exactly.
fn save(trainer: &mut Trainer, recipe: &Recipe, at: (usize, usize, f64), out: Option<&std::path::Path>) -> Result<()> {
    if let Some(dir) = out {
        let (epochs_done, batches_done, loss_sum) = at;
        let mut metadata = std::collections::HashMap::new();
        metadata.insert("recipe".to_string(), recipe.name.to_string());
        metadata.insert("seed".to_string(), recipe.seed.to_string());
        metadata.insert("epoch".to_string(), epochs_done.to_string());
        metadata.insert("batch".to_string(), batches_done.to_string());
        // Bits of the f64, so the resumed epoch's mean loss is the uninterrupted one's.
        metadata.insert("epoch_loss_sum".to_string(), loss_sum.to_bits().to_string());
        if uses_torch_model(recipe) {
            metadata.insert("model".to_string(), "torch".to_string());
        }
        checkpoint::save(&checkpoint_path(dir), &trainer.checkpoint(metadata)?)?;
    }
    Ok(())
}

/// True when a run of `recipe` builds the lab's `nn.Module` form (`--init torch` on 06-1/06-2).
fn uses_torch_model(recipe: &Recipe) -> bool {
    recipe.torch_model.is_some() && recipe.init == InitPlan::all(Init::TorchDefault)
}

/// The recipe a checkpoint names, with the model it was saved from.
fn saved_recipe(saved: &checkpoint::Checkpoint, path: &std::path::Path) -> Result<Recipe> {
    let name = saved.metadata.get("recipe").ok_or_else(|| Error::Format {
        path: path.display().to_string(),
        offset: 8,
        message: "the checkpoint names no recipe (metadata 'recipe')".into(),
    })?;
    let recipe = find(name)?;
    Ok(if saved.metadata.get("model").map(String::as_str) == Some("torch") {
        recipe.with(&Overrides { init: Some(Init::TorchDefault), ..Overrides::default() })
    } else {
        recipe
    })
}

/// Evaluates a checkpoint saved by a run: the recipe it names, rebuilt with its weights, on
/// that recipe's training and test data.
pub fn evaluate_checkpoint(
    device: &Device,
    path: &std::path::Path,
    data_dir: Option<&std::path::Path>,
) -> Result<(String, Evaluation, Option<Evaluation>)> {
    let saved = checkpoint::load(path)?;
    let recipe = saved_recipe(&saved, path)?;
    let mut p = prepare(device, &recipe, data_dir)?;
    p.trainer.restore(&saved)?;
    let train = p.trainer.evaluate(&p.train, recipe.task)?;
    let test = match &p.test {
        Some(t) => Some(p.trainer.evaluate(t, recipe.task)?),
        None => None,
    };
    Ok((recipe.name.to_string(), train, test))
}

/// One image's prediction.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The image file.
    pub path: String,
    /// The most probable class.
    pub class: usize,
    /// The probability of each class.
    pub probabilities: Vec<f32>,
}

/// Predicts the digit in each image with an MNIST model saved by a run.
pub fn predict(device: &Device, model: &std::path::Path, images: &[std::path::PathBuf]) -> Result<Vec<Prediction>> {
    let saved = checkpoint::load(model)?;
    let recipe = saved_recipe(&saved, model)?;
    if !matches!(recipe.source, Source::Mnist { .. }) {
        return Err(Error::InvalidArgument {
            op: "predict",
            message: format!("the model is of recipe '{}', which does not take 28×28 digit images", recipe.name),
        });
    }
    let pixels = images.iter().map(|p| crate::data::images::load_digit(p)).collect::<Result<Vec<_>>>()?;
    let mut p = prepare(device, &recipe, None)?;
    p.trainer.restore(&saved)?;
    let logits = p.trainer.infer(&pixels.concat(), images.len())?;
    let classes = logits.len() / images.len().max(1);
    Ok(images
        .iter()
        .zip(logits.chunks(classes))
        .map(|(path, row)| {
            let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
            let sum: f32 = e.iter().sum();
            let probabilities: Vec<f32> = e.iter().map(|v| v / sum).collect();
            let class = probabilities.iter().enumerate().fold(0, |b, (j, v)| if *v > probabilities[b] { j } else { b });
            Prediction { path: path.display().to_string(), class, probabilities }
        })
        .collect())
}

/// Trains `recipe` on `device`, reporting progress to `progress`.
pub fn run(device: &Device, recipe: &Recipe, paths: &Paths, mut progress: impl FnMut(&Progress)) -> Result<Summary> {
    let Prepared { mut trainer, train, test, batch, full_batch, small } =
        prepare(device, recipe, paths.data.as_deref())?;
    if full_batch && (recipe.validation > 0.0 || recipe.patience.is_some()) {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!(
                "'{}' is a full-batch lab: validation splits and early stopping need a mini-batch recipe",
                recipe.name
            ),
        });
    }
    if !(0.0..1.0).contains(&recipe.validation) {
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!("--validation {} must be a fraction in [0, 1)", recipe.validation),
        });
    }
    let (train, validation) = if recipe.validation > 0.0 {
        let (kept, held) = train.split(recipe.validation, recipe.seed as u64);
        (kept, Some(held))
    } else {
        (train, None)
    };
    let out = paths.out.as_deref();
    let (mut epochs_done, mut batches_done, mut resumed_sum) = (0, 0, 0.0f64);
    if let Some(path) = &paths.resume {
        let saved = checkpoint::load(path)?;
        let bad = |message: String| Error::Format { path: path.display().to_string(), offset: 8, message };
        if saved.metadata.get("recipe").map(String::as_str) != Some(recipe.name) {
            return Err(bad(format!("it is not a checkpoint of recipe '{}'", recipe.name)));
        }
        if full_batch {
            return Err(bad("full-batch recipes are not resumable: rerun them (they take seconds)".into()));
        }
        epochs_done = saved
            .metadata
            .get("epoch")
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| bad("it records no epoch".into()))?;
        batches_done = saved.metadata.get("batch").and_then(|b| b.parse().ok()).unwrap_or(0);
        let sum_bits = saved.metadata.get("epoch_loss_sum").and_then(|b| b.parse().ok());
        resumed_sum = sum_bits.map(f64::from_bits).unwrap_or(0.0);
        trainer.restore(&saved)?;
    }
    let allocations_before_training = trainer.plan().counters().allocations;
    let start = Instant::now();
    let mut validation_loss = None;
    let mut stopped_early = None;
    let mut steps = 0;
    let mut final_loss = f32::NAN;
    if full_batch {
        let (x, y) = train.gather(&(0..train.len()).collect::<Vec<_>>());
        let mut first_loss = None;
        for step in 0..recipe.epochs {
            let logged = step % recipe.log_every == 0 || step + 1 == recipe.epochs;
            if let Some(loss) = trainer.step(&x, &y, logged)? {
                let first = *first_loss.get_or_insert(loss);
                // A loss a thousand times its first value has left the basin for good (the
                // course's lr 1e5 run): stop and say so rather than print nonsense.
                if !loss.is_finite() || (step > 0 && loss > EXPLODED * first.max(1e-3)) {
                    return Err(Error::Diverged { step, value: loss, lr: recipe.optimizer.lr() });
                }
                final_loss = loss;
                let params = if small { Some(trainer.parameters()?) } else { None };
                progress(&Progress::Step { step, loss, params });
            }
            steps += 1;
        }
    } else {
        let mut batches = trainer.batches(&train);
        // The shuffles of the epochs already done, drawn again so the next one is the same.
        for _ in 0..epochs_done {
            steps += batches.epoch().iter().filter(|b| b.len() == batch).count();
        }
        let mut best = f32::INFINITY;
        let mut since_best = 0;
        for epoch in epochs_done + 1..=recipe.epochs {
            let epoch_start = Instant::now();
            let order: Vec<Vec<usize>> = batches.epoch().into_iter().filter(|b| b.len() == batch).collect();
            // A run resumed inside this epoch skips the batches it had already taken.
            let skip = if epoch == epochs_done + 1 { batches_done.min(order.len()) } else { 0 };
            let mut sum = if skip > 0 { resumed_sum } else { 0.0 };
            // Each model's losses (a resumed epoch's models count from the resumed batch).
            let mut member_sums = vec![0.0f64; trainer.model_count()];
            steps += skip;
            for (k, indices) in order.iter().enumerate().skip(skip) {
                let (x, y) = train.gather(indices);
                let loss = trainer.step(&x, &y, true)?.unwrap_or(f32::NAN);
                if !loss.is_finite() {
                    return Err(Error::Diverged { step: steps, value: loss, lr: recipe.optimizer.lr() });
                }
                sum += loss as f64;
                for (m, &l) in member_sums.iter_mut().zip(trainer.last_losses()) {
                    *m += l as f64;
                }
                steps += 1;
                progress(&Progress::Batch { epoch, step: k, steps: order.len(), loss });
                if paths.checkpoint_every.is_some_and(|n| n > 0 && steps % n == 0) && k + 1 < order.len() {
                    save(&mut trainer, recipe, (epoch - 1, k + 1, sum), out)?;
                }
            }
            let n = order.len();
            let loss = (sum / n.max(1) as f64) as f32;
            final_loss = loss;
            let samples_per_second = ((n - skip) * batch) as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            let tested = match &test {
                Some(t) => Some(trainer.evaluate(t, recipe.task)?),
                None => None,
            };
            let test_accuracy = tested.as_ref().and_then(|t| t.accuracy);
            let members = if trainer.model_count() > 1 {
                let accuracies: Vec<Option<f32>> =
                    tested.map(|t| t.members.iter().map(|m| m.accuracy).collect()).unwrap_or_default();
                member_sums
                    .iter()
                    .map(|s| (*s / (n - skip).max(1) as f64) as f32)
                    .zip(accuracies.into_iter().chain(std::iter::repeat(None)))
                    .collect()
            } else {
                Vec::new()
            };
            validation_loss = match &validation {
                Some(v) => Some(trainer.evaluate(v, recipe.task)?.loss),
                None => None,
            };
            progress(&Progress::Epoch { epoch, loss, test_accuracy, validation_loss, samples_per_second, members });
            save(&mut trainer, recipe, (epoch, 0, 0.0), out)?;
            if let (Some(v), Some(patience)) = (validation_loss, recipe.patience) {
                if v < best {
                    (best, since_best) = (v, 0);
                } else {
                    since_best += 1;
                    if since_best >= patience {
                        stopped_early = Some(epoch);
                        break;
                    }
                }
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let counters = trainer.plan().counters();
    if full_batch {
        save(&mut trainer, recipe, (recipe.epochs, 0, 0.0), out)?;
    }
    let train_accuracy = trainer.evaluate(&train, recipe.task)?.accuracy;
    let tested = match &test {
        Some(t) => Some(trainer.evaluate(t, recipe.task)?),
        None => None,
    };
    let test_accuracy = tested.as_ref().and_then(|t| t.accuracy);
    let member_test_accuracies = tested.map(|t| t.members.iter().map(|m| m.accuracy).collect()).unwrap_or_default();
    Ok(Summary {
        recipe: recipe.name.to_string(),
        steps,
        epochs: if full_batch { steps } else { stopped_early.unwrap_or(recipe.epochs) },
        final_loss,
        train_accuracy,
        test_accuracy,
        member_test_accuracies,
        validation_loss,
        stopped_early,
        seconds,
        samples_per_second: (steps * batch) as f64 / seconds.max(1e-9),
        params: if small { Some(trainer.parameters()?) } else { None },
        counters,
        allocations_before_training,
    })
}
