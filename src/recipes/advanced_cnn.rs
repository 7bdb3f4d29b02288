//! Part 3 of the course on torchvision's architectures: the models labs 10-5-1 and 10-6-1
//! print, the CIFAR-10 VGG and ResNet of labs 10-5-2 and 10-6-2, and `mnist-resnet`, a small
//! residual network on the shipped MNIST subset.

use super::catalog::{full_batch, mnist_recipe, shows};
use super::recipe::{Recipe, Source};
use crate::backend::device::Device;
use crate::data::transforms::{Augment, Normalization, Normalize};
use crate::error::Result;
use crate::ir::graph::Graph;
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::nn::vgg::VGG_CUSTOM;
use crate::nn::{Block, InitPlan, Layer, Mode, ModuleExt, ResidualBlock, Sequential, build, resnet, vgg};
use crate::optimization::Schedule;
use crate::train::Task;

/// Lab 10-5-1: the `custom` VGG with 10 classes as the lab prints it, and what its forward
/// pass on a 3×224×224 image says (the classifier expects 512·7·7 inputs; the features end
/// with 256 channels).
fn vgg_models(_: &Recipe, _: &Device, out: &mut dyn FnMut(&str)) -> Result<()> {
    let model = vgg(VGG_CUSTOM, false, 10);
    let mut g = Graph::new();
    let forward = g.input("x", &[1, 3, 224, 224]).and_then(|x| build(&model, &mut g, x, Mode::Eval, 0, ""));
    let outcome = match forward {
        Ok(_) => "its forward pass on 1×3×224×224 runs".to_string(),
        Err(e) => format!("its forward pass on 1×3×224×224 fails, as the lab's does: {e}"),
    };
    out(&format!("{}\n{outcome}", model.summary()));
    Ok(())
}

/// Lab 10-6-1: torchvision's `resnet50()` as the lab prints it (1000 classes; that
/// torchvision pools with `AvgPool2d(7, stride=1)`, so only 224×224 inputs fit).
fn resnet_models(_: &Recipe, _: &Device, out: &mut dyn FnMut(&str)) -> Result<()> {
    out(&resnet50_as_printed().summary());
    Ok(())
}

fn resnet50_as_printed() -> Sequential {
    let mut model = resnet(Block::Bottleneck, [3, 4, 6, 3], 1000, false);
    if let Some(i) = model.position("avgpool") {
        model.replace(i, Layer::AvgPool2d { kernel: 7, stride: 1, padding: 0 });
    }
    model
}

/// The showcase of residual training on the shipped MNIST subset: a 3×3 stem of 16
/// channels at 28×28, three basic blocks (32 channels at 14×14, then 64 at 7×7 twice),
/// global average pooling and a linear classifier. Each block halves the image before it
/// widens, so most of its batch norms work on small images: on a software adapter their
/// elementwise passes are most of the step.
fn mnist_resnet() -> Sequential {
    let mut model = Sequential::default().with_class("ResNet");
    model.push_named(
        "conv1",
        Layer::Conv2d { inputs: 1, outputs: 16, kernel: [3, 3], stride: [1, 1], padding: [1, 1], bias: false },
    );
    model.push_named("bn1", Layer::batch_norm_2d(16));
    model.push_named("relu", Layer::RELU);
    for (k, (inputs, planes, stride)) in [(16, 32, 2), (32, 64, 2), (64, 64, 1)].into_iter().enumerate() {
        let mut layer = Sequential::default();
        layer.push(ResidualBlock::new(Block::Basic, inputs, planes, stride));
        model.push_named(&format!("layer{}", k + 1), layer);
    }
    model.push_named("avgpool", Layer::AdaptiveAvgPool2d { output: [1, 1] });
    model.push_functional("flatten", Layer::Flatten);
    model.push_named("fc", Layer::Linear { inputs: 64, outputs: 10, bias: true });
    model
}

/// The CIFAR-10 labs' common settings: cross entropy, seed 777, the loss printed every 30
/// batches.
fn cifar(name: &'static str, lab: &'static str, about: &'static str, model: fn() -> Sequential) -> Recipe {
    Recipe {
        source: Source::Cifar10,
        task: Task::Classes,
        loss: LossKind::CrossEntropy,
        seed: 777,
        log_every: 1,
        batch_log: Some(30),
        ..full_batch(name, lab, about, Source::Cifar10, model)
    }
}

/// The recipes of Part 3 beyond lab 10-4, in the course's order.
pub(super) fn recipes() -> Vec<Recipe> {
    vec![
        shows("vgg-models", "10-5-1", "prints the lab's VGG (the `custom` configuration, 10 classes)", vgg_models),
        Recipe {
            init: InitPlan::vgg(),
            optimizer: Optimizer::Sgd { lr: 0.005, momentum: 0.9, nesterov: false, weight_decay: 0.0 },
            schedule: Schedule::Step { every: 5, gamma: 0.9 },
            batch_size: Some(512),
            epochs: 50,
            normalize: Some(Normalization::Given(Normalize { mean: vec![0.5; 3], std: vec![0.5; 3] })),
            ..cifar(
                "vgg16-cifar10",
                "10-5-2",
                "the lab's 13-conv VGG on your CIFAR-10 (--data DIR), SGD 0.005 with StepLR(5, 0.9)",
                || crate::nn::vgg16_cifar(10),
            )
        },
        shows("resnet-models", "10-6-1", "prints torchvision's resnet50, as the lab does", resnet_models),
        Recipe {
            init: InitPlan::resnet(),
            optimizer: Optimizer::Sgd { lr: 0.1, momentum: 0.9, nesterov: false, weight_decay: 5e-4 },
            schedule: Schedule::Step { every: 10, gamma: 0.5 },
            batch_size: Some(256),
            epochs: 150,
            normalize: Some(Normalization::FromTraining),
            augment: vec![Augment::RandomCrop { padding: 4 }],
            ..cifar(
                "resnet50-cifar10",
                "10-6-2",
                "the lab's CIFAR ResNet-50 (zero-init residuals) on your CIFAR-10 (--data DIR), random crops, SGD 0.1",
                || crate::nn::resnet_cifar(Block::Bottleneck, [3, 4, 6, 3], 10, true),
            )
        },
        Recipe {
            source: Source::Mnist { images: true },
            // Beside mnist-deep-cnn's settings (15 epochs, batch 100, Adam 1e-3): the rate
            // annealed to 0 over the 15 epochs, and crops of the image padded by 2, against
            // the overfitting of the 8,000 images that a constant rate showed.
            schedule: Schedule::Cosine { period: 15, eta_min: 0.0 },
            augment: vec![Augment::RandomCrop { padding: 2 }],
            ..mnist_recipe(
                "mnist-resnet",
                "10-6",
                "a small residual network (stem and 3 basic blocks) on the MNIST subset, cosine rate, random crops: beats mnist-deep-cnn",
                mnist_resnet,
                InitPlan::resnet(),
            )
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mnist_resnet_is_as_described() {
        let count: usize = mnist_resnet().parameters().iter().map(|(_, d)| d.iter().product::<usize>()).sum();
        // The count of its PyTorch twin in benches/pytorch_baseline.py.
        assert_eq!(count, 147_066);
    }
}
