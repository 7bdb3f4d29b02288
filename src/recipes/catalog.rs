//! The course's labs, one recipe each, with the models and the inline data they use.

use super::recipe::{Architecture, Members, Recipe, Shows, Source};
use crate::error::{Error, Result};
use crate::init::{Init, UniformDraw};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::nn::vgg::{VGG11, VGG13, VGG16, VGG19};
use crate::nn::{Block, InitPlan, Layer, Sequential, resnet, resnet_cifar, vgg, vgg16_cifar};
use crate::optimization::Schedule;
use crate::train::{Scaling, Task};

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
    Layer::conv2d(inputs, outputs, 3, 1, 1)
}

fn pool(padding: usize) -> Layer {
    Layer::MaxPool2d { kernel: 2, stride: 2, padding }
}

fn mlp_sigmoid_784_30_10() -> Sequential {
    Sequential::new(vec![linear(784, 30), Layer::SIGMOID, linear(30, 10), Layer::SIGMOID])
}

/// The course's CNN block: a 3×3 same-size convolution, ReLU, and a 2×2 max pool.
fn conv_block(inputs: usize, outputs: usize, pool_padding: usize) -> Vec<Layer> {
    vec![conv(inputs, outputs), Layer::RELU, pool(pool_padding)]
}

/// Lab 10-2's CNN: three conv blocks, then 2048-625-10 with dropout 0.5.
fn deep_cnn() -> Sequential {
    let fully_connected = vec![Layer::Flatten, linear(2048, 625), Layer::RELU, Layer::Dropout(0.5), linear(625, 10)];
    Sequential::new([conv_block(1, 32, 0), conv_block(32, 64, 0), conv_block(64, 128, 1), fully_connected].concat())
}

/// A lab that prints what `shows` gives instead of training.
pub(super) fn shows(name: &'static str, lab: &'static str, about: &'static str, shows: Shows) -> Recipe {
    Recipe { shows: Some(shows), epochs: 0, ..full_batch(name, lab, about, Source::Nothing, Sequential::default) }
}

pub(super) fn full_batch(
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
        arch: None,
        init: InitPlan::all(Init::Zeros),
        seed: 1,
        skip_draws: 0,
        uniform: UniformDraw::Plain,
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
        schedule: Schedule::Constant,
        clip: None,
        normalize: None,
        augment: Vec::new(),
        batch_log: None,
        shows: None,
        preamble: None,
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

pub(super) fn mnist_recipe(
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
    let mut recipes = parts_1_to_3();
    recipes.extend(super::advanced_cnn::recipes());
    recipes.extend(super::recurrent::recipes());
    recipes
}

/// The recipes of Parts 1–3 up to lab 10-4.
fn parts_1_to_3() -> Vec<Recipe> {
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
                || Sequential::new(vec![linear(2, 1), Layer::SIGMOID]),
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
                || Sequential::new(vec![linear(8, 1), Layer::SIGMOID]),
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
            Sequential::new(vec![linear(2, 1), Layer::SIGMOID])
        }),
        xor_recipe("xor-mlp", "08-2", "a hidden layer of 2 sigmoids learns XOR", || {
            Sequential::new(vec![linear(2, 2), Layer::SIGMOID, linear(2, 1), Layer::SIGMOID])
        }),
        xor_recipe("xor-deep", "08-3", "2-10-10-10-1 sigmoids learn XOR", || {
            let mut m = mlp(&[2, 10, 10, 10, 1], Layer::SIGMOID, None);
            m.push(Layer::SIGMOID);
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
            || mlp(&[784, 256, 256, 10], Layer::RELU, None),
            InitPlan::all(Init::Normal(1.0)),
        ),
        mnist_recipe(
            "mnist-xavier",
            "09-3",
            "784-256-256-10 ReLU, Xavier init",
            || mlp(&[784, 256, 256, 10], Layer::RELU, None),
            xavier,
        ),
        mnist_recipe(
            "mnist-deep",
            "09-4",
            "784-512×4-10 ReLU, Xavier init",
            || mlp(&[784, 512, 512, 512, 512, 10], Layer::RELU, None),
            xavier,
        ),
        mnist_recipe(
            "mnist-dropout",
            "09-5",
            "09-4 with Dropout(0.3) after each hidden ReLU",
            || mlp(&[784, 512, 512, 512, 512, 10], Layer::RELU, Some(0.3)),
            xavier,
        ),
        Recipe {
            optimizer: Optimizer::adam(1e-2),
            batch_size: Some(32),
            epochs: 10,
            seed: 1,
            members: Members::Beside(|| mlp(&[784, 32, 32, 10], Layer::RELU, None)),
            ..mnist_recipe(
                "mnist-batchnorm",
                "09-6",
                "784-32-32-10 with batch norm, Adam 1e-2, batch 32; the same without it beside (m1)",
                || {
                    Sequential::new(vec![
                        linear(784, 32),
                        Layer::batch_norm_1d(32),
                        Layer::RELU,
                        linear(32, 32),
                        Layer::batch_norm_1d(32),
                        Layer::RELU,
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
            || mlp(&[784, 512, 512, 512, 512, 10], Layer::SELU, None),
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
                InitPlan::new(Init::XavierUniform, Init::TorchDefault),
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
                        Layer::conv2d(3, 6, 5, 1, 0),
                        Layer::RELU,
                        pool(0),
                        Layer::conv2d(6, 16, 5, 1, 0),
                        Layer::RELU,
                        pool(0),
                        Layer::Flatten,
                        linear(16 * 13 * 29, 120),
                        Layer::RELU,
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
                InitPlan::new(Init::XavierUniform, Init::TorchDefault),
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
                InitPlan::new(Init::XavierUniform, Init::TorchDefault),
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

/// The architectures known by name beside the recipes' models, with PyTorch's parameter
/// names: torchvision's ResNets and VGGs (1000 classes; `--classes` resizes the last linear
/// layer), the course's CIFAR ResNet-50 (lab 10-6-2) and CIFAR VGG-16 (lab 10-5-2).
pub fn named_architectures() -> Vec<Architecture> {
    let arch = |name, build| Architecture { name, build };
    vec![
        arch("resnet18", || resnet(Block::Basic, [2, 2, 2, 2], 1000, false)),
        arch("resnet34", || resnet(Block::Basic, [3, 4, 6, 3], 1000, false)),
        arch("resnet50", || resnet(Block::Bottleneck, [3, 4, 6, 3], 1000, false)),
        arch("resnet101", || resnet(Block::Bottleneck, [3, 4, 23, 3], 1000, false)),
        arch("resnet152", || resnet(Block::Bottleneck, [3, 8, 36, 3], 1000, false)),
        arch("resnet50-cifar10", || resnet_cifar(Block::Bottleneck, [3, 4, 6, 3], 10, true)),
        arch("vgg11", || vgg(VGG11, false, 1000)),
        arch("vgg11_bn", || vgg(VGG11, true, 1000)),
        arch("vgg13", || vgg(VGG13, false, 1000)),
        arch("vgg13_bn", || vgg(VGG13, true, 1000)),
        arch("vgg16", || vgg(VGG16, false, 1000)),
        arch("vgg16_bn", || vgg(VGG16, true, 1000)),
        arch("vgg19", || vgg(VGG19, false, 1000)),
        arch("vgg19_bn", || vgg(VGG19, true, 1000)),
        arch("vgg16-cifar10", || vgg16_cifar(10)),
    ]
}

/// The architecture called `name`: a named architecture, or a recipe's model by its recipe's
/// name.
pub fn architecture(name: &str) -> Result<Architecture> {
    if let Some(arch) = named_architectures().into_iter().find(|a| a.name == name) {
        return Ok(arch);
    }
    let recipe = find(name).map_err(|_| Error::InvalidArgument {
        op: "--arch",
        message: format!(
            "unknown architecture '{name}'; known architectures: {}, and each recipe's model: {}",
            named_architectures().iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
            all().iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
        ),
    })?;
    Ok(Architecture { name: recipe.name, build: recipe.model })
}
