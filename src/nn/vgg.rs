//! The VGGs of the course's `vgg.py` (torchvision's) and lab 10-5-2's CIFAR VGG, with
//! PyTorch's parameter names (`features.0.weight`, `classifier.6.bias`).

use super::layer::{InPlaceRelu, Layer};
use super::sequential::Sequential;

/// VGG11's feature configuration ('A'): channels of each 3×3 conv, `M` for a 2×2 max-pool.
pub const VGG11: &str = "64 M 128 M 256 256 M 512 512 M 512 512 M";
/// VGG13's ('B').
pub const VGG13: &str = "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M";
/// VGG16's ('D').
pub const VGG16: &str = "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M";
/// VGG19's ('E').
pub const VGG19: &str = "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M";
/// Lab 10-5-1's `custom` configuration, which ends with 256 channels.
pub const VGG_CUSTOM: &str = "64 64 64 M 128 128 128 M 256 256 256 M";
/// Lab 10-5-2's CIFAR configuration (32×32 → 4×4 with 512 channels).
pub const VGG16_CIFAR: &str = "32 32 M 64 64 128 128 128 M 256 256 256 512 512 512 M";

/// `make_layers(cfg, batch_norm)`: each number a 3×3 conv with padding 1 (then batch norm,
/// with `batch_norm`) and ReLU; each `M` a 2×2 max-pool of stride 2. Returns the features and
/// their output channels. A configuration word that is neither is skipped.
fn make_layers(config: &str, batch_norm: bool) -> (Sequential, usize) {
    let mut features = Sequential::default();
    let mut channels = 3;
    for word in config.split_whitespace() {
        if word == "M" {
            features.push(Layer::MaxPool2d { kernel: 2, stride: 2, padding: 0 });
        } else if let Ok(width) = word.parse::<usize>() {
            features.push(Layer::conv2d(channels, width, 3, 1, 1));
            if batch_norm {
                features.push(Layer::batch_norm_2d(width));
            }
            features.push(InPlaceRelu);
            channels = width;
        }
    }
    (features, channels)
}

/// The classifier: Linear(inputs, 4096), ReLU, Dropout(0.5), Linear(4096, 4096), ReLU,
/// Dropout(0.5), Linear(4096, classes).
fn classifier(inputs: usize, classes: usize) -> Sequential {
    let mut c = Sequential::new(vec![Layer::Linear { inputs, outputs: 4096, bias: true }]);
    c.push(InPlaceRelu);
    c.push(Layer::Dropout(0.5));
    c.push(Layer::Linear { inputs: 4096, outputs: 4096, bias: true });
    c.push(InPlaceRelu);
    c.push(Layer::Dropout(0.5));
    c.push(Layer::Linear { inputs: 4096, outputs: classes, bias: true });
    c
}

/// torchvision's VGG of `config` (3×224×224 inputs, or any multiple of 32 that leaves the
/// features a multiple of 7): features, AdaptiveAvgPool2d((7, 7)), flatten, classifier. As
/// the course's `VGG` class, the classifier takes 512·7·7 inputs whatever the features end
/// with, so a configuration that does not end with 512 channels (lab 10-5-1's `custom`)
/// prints as the lab's but fails its forward pass, naming both modules.
pub fn vgg(config: &str, batch_norm: bool, classes: usize) -> Sequential {
    let (features, _) = make_layers(config, batch_norm);
    let mut model = Sequential::default().with_class("VGG");
    model.push_named("features", features);
    model.push_named("avgpool", Layer::AdaptiveAvgPool2d { output: [7, 7] });
    model.push_functional("flatten", Layer::Flatten);
    model.push_named("classifier", classifier(512 * 7 * 7, classes));
    model
}

/// Lab 10-5-2's VGG on 3×32×32 CIFAR images: [`VGG16_CIFAR`]'s features without batch
/// norm, flattened to 512·4·4 = 8192 without pooling, then the classifier.
pub fn vgg16_cifar(classes: usize) -> Sequential {
    let (features, channels) = make_layers(VGG16_CIFAR, false);
    let mut model = Sequential::default().with_class("VGG");
    model.push_named("features", features);
    model.push_functional("flatten", Layer::Flatten);
    model.push_named("classifier", classifier(channels * 4 * 4, classes));
    model
}
