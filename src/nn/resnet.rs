//! The residual blocks of the course's `resnet.py` (torchvision's): [`BasicBlock`] and
//! [`Bottleneck`], with PyTorch's attribute names, so their state dicts load by name.

use super::layer::{InPlaceRelu, Layer};
use super::module::{Forward, Module};
use super::sequential::Sequential;
use crate::error::Result;
use crate::ir::graph::NodeId;

/// `conv3x3(i, o, s)`: 3×3, padding 1, no bias.
fn conv3x3(inputs: usize, outputs: usize, stride: usize) -> Layer {
    Layer::Conv2d { inputs, outputs, kernel: [3, 3], stride: [stride; 2], padding: [1, 1], bias: false }
}

/// `conv1x1(i, o, s)`: 1×1, no padding, no bias.
fn conv1x1(inputs: usize, outputs: usize, stride: usize) -> Layer {
    Layer::Conv2d { inputs, outputs, kernel: [1, 1], stride: [stride; 2], padding: [0, 0], bias: false }
}

/// The shortcut's projection where the block changes shape: 1×1 conv with the block's stride,
/// then batch norm (`downsample.0`, `downsample.1`).
fn downsample(inputs: usize, outputs: usize, stride: usize) -> Option<Sequential> {
    (stride != 1 || inputs != outputs)
        .then(|| Sequential::new(vec![conv1x1(inputs, outputs, stride), Layer::batch_norm_2d(outputs)]))
}

/// The shortcut of `x`: its projection, or `x` itself.
fn shortcut(f: &mut Forward<'_>, downsample: &Option<Sequential>, x: NodeId) -> Result<NodeId> {
    match downsample {
        Some(d) => f.child("downsample", d, x),
        None => Ok(x),
    }
}

/// `resnet.py`'s `BasicBlock` (expansion 1): conv3×3 (stride), BN, ReLU, conv3×3, BN, plus the
/// shortcut, ReLU.
#[derive(Clone, Debug)]
pub struct BasicBlock {
    conv1: Layer,
    bn1: Layer,
    relu: InPlaceRelu,
    conv2: Layer,
    bn2: Layer,
    downsample: Option<Sequential>,
}

impl BasicBlock {
    /// Output channels per `planes`.
    pub const EXPANSION: usize = 1;

    /// A block from `inputs` channels to `planes`, with `stride` on its first conv; the
    /// shortcut is projected where stride or width change.
    pub fn new(inputs: usize, planes: usize, stride: usize) -> BasicBlock {
        BasicBlock {
            conv1: conv3x3(inputs, planes, stride),
            bn1: Layer::batch_norm_2d(planes),
            relu: InPlaceRelu,
            conv2: conv3x3(planes, planes, 1),
            bn2: Layer::batch_norm_2d(planes),
            downsample: downsample(inputs, planes, stride),
        }
    }
}

impl Module for BasicBlock {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let h = f.child("conv1", &self.conv1, x)?;
        let h = f.child("bn1", &self.bn1, h)?;
        let h = f.child("relu", &self.relu, h)?;
        let h = f.child("conv2", &self.conv2, h)?;
        let h = f.child("bn2", &self.bn2, h)?;
        let s = shortcut(f, &self.downsample, x)?;
        let sum = f.add(h, s)?;
        f.child("relu", &self.relu, sum)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = vec![
            ("conv1".into(), &self.conv1),
            ("bn1".into(), &self.bn1),
            ("relu".into(), &self.relu),
            ("conv2".into(), &self.conv2),
            ("bn2".into(), &self.bn2),
        ];
        if let Some(d) = &self.downsample {
            out.push(("downsample".into(), d));
        }
        out
    }

    fn construction_order(&self) -> Vec<(String, &dyn Module)> {
        let mut out = self.children();
        out.rotate_right(usize::from(self.downsample.is_some()));
        out
    }
}

/// `resnet.py`'s `Bottleneck` (expansion 4): conv1×1, BN, ReLU, conv3×3 (stride), BN, ReLU,
/// conv1×1 to 4·planes, BN, plus the shortcut, ReLU.
#[derive(Clone, Debug)]
pub struct Bottleneck {
    conv1: Layer,
    bn1: Layer,
    conv2: Layer,
    bn2: Layer,
    conv3: Layer,
    bn3: Layer,
    relu: InPlaceRelu,
    downsample: Option<Sequential>,
}

impl Bottleneck {
    /// Output channels per `planes`.
    pub const EXPANSION: usize = 4;

    /// A block from `inputs` channels to 4·`planes`, with `stride` on its 3×3 conv.
    pub fn new(inputs: usize, planes: usize, stride: usize) -> Bottleneck {
        let outputs = planes * Self::EXPANSION;
        Bottleneck {
            conv1: conv1x1(inputs, planes, 1),
            bn1: Layer::batch_norm_2d(planes),
            conv2: conv3x3(planes, planes, stride),
            bn2: Layer::batch_norm_2d(planes),
            conv3: conv1x1(planes, outputs, 1),
            bn3: Layer::batch_norm_2d(outputs),
            relu: InPlaceRelu,
            downsample: downsample(inputs, outputs, stride),
        }
    }
}

impl Module for Bottleneck {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let mut h = x;
        for (name, conv, bn) in [("1", &self.conv1, &self.bn1), ("2", &self.conv2, &self.bn2)] {
            h = f.child(&format!("conv{name}"), conv, h)?;
            h = f.child(&format!("bn{name}"), bn, h)?;
            h = f.child("relu", &self.relu, h)?;
        }
        let h = f.child("conv3", &self.conv3, h)?;
        let h = f.child("bn3", &self.bn3, h)?;
        let s = shortcut(f, &self.downsample, x)?;
        let sum = f.add(h, s)?;
        f.child("relu", &self.relu, sum)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = vec![
            ("conv1".into(), &self.conv1),
            ("bn1".into(), &self.bn1),
            ("conv2".into(), &self.conv2),
            ("bn2".into(), &self.bn2),
            ("conv3".into(), &self.conv3),
            ("bn3".into(), &self.bn3),
            ("relu".into(), &self.relu),
        ];
        if let Some(d) = &self.downsample {
            out.push(("downsample".into(), d));
        }
        out
    }

    fn construction_order(&self) -> Vec<(String, &dyn Module)> {
        let mut out = self.children();
        out.rotate_right(usize::from(self.downsample.is_some()));
        out
    }
}

/// Which block a ResNet stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// [`BasicBlock`] (ResNet-18, -34).
    Basic,
    /// [`Bottleneck`] (ResNet-50, -101, -152).
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => BasicBlock::EXPANSION,
            Block::Bottleneck => Bottleneck::EXPANSION,
        }
    }
}

/// `_make_layer`: `count` blocks of `planes`, the first with `stride` (and the shortcut's
/// projection where the shape changes); returns the layer and its output channels.
fn make_layer(block: Block, inputs: usize, planes: usize, count: usize, stride: usize) -> (Sequential, usize) {
    let mut layer = Sequential::default();
    let mut inputs = inputs;
    for i in 0..count.max(1) {
        let stride = if i == 0 { stride } else { 1 };
        match block {
            Block::Basic => layer.push(BasicBlock::new(inputs, planes, stride)),
            Block::Bottleneck => layer.push(Bottleneck::new(inputs, planes, stride)),
        }
        inputs = planes * block.expansion();
    }
    (layer, inputs)
}

/// The stages after a stem of `stem_width` channels: `layer1` … `layer4` of `planes` and
/// `strides`, global average pooling, flatten and `fc` to `classes`.
fn stages(
    mut model: Sequential,
    block: Block,
    depths: [usize; 4],
    planes: [usize; 4],
    strides: [usize; 4],
    stem_width: usize,
    classes: usize,
) -> Sequential {
    let mut width = stem_width;
    for (k, ((&count, &p), &s)) in depths.iter().zip(&planes).zip(&strides).enumerate() {
        let (layer, out) = make_layer(block, width, p, count, s);
        model.push_named(&format!("layer{}", k + 1), layer);
        width = out;
    }
    model.push_named("avgpool", Layer::AdaptiveAvgPool2d { output: [1, 1] });
    model.push_named("flatten", Layer::Flatten);
    model.push_named("fc", Layer::Linear { inputs: width, outputs: classes, bias: true });
    model
}

/// torchvision's (and the course's `resnet.py`) ImageNet ResNet: a 7×7 stride-2 stem and
/// max-pool, stages of widths 64, 128, 256, 512 with strides 1, 2, 2, 2, then `fc`. PyTorch's
/// parameter names (`layer1.0.conv1.weight`, `fc.bias`); `flatten` is a child here where
/// torchvision calls `torch.flatten` (it holds no state).
pub fn resnet(block: Block, depths: [usize; 4], classes: usize) -> Sequential {
    let mut model = Sequential::default();
    let stem = Layer::Conv2d { inputs: 3, outputs: 64, kernel: [7, 7], stride: [2, 2], padding: [3, 3], bias: false };
    model.push_named("conv1", stem);
    model.push_named("bn1", Layer::batch_norm_2d(64));
    model.push_named("relu", InPlaceRelu);
    model.push_named("maxpool", Layer::MaxPool2d { kernel: 3, stride: 2, padding: 1 });
    stages(model, block, depths, [64, 128, 256, 512], [1, 2, 2, 2], 64, classes)
}

/// The course's CIFAR ResNet (lab 10-6-2): a 3×3 stem of 16 channels and no max-pool, stages
/// of widths 16, 32, 64, 128 with strides 1, 1, 2, 2, then `fc`.
pub fn resnet_cifar(block: Block, depths: [usize; 4], classes: usize) -> Sequential {
    let mut model = Sequential::default();
    model.push_named("conv1", conv3x3(3, 16, 1));
    model.push_named("bn1", Layer::batch_norm_2d(16));
    model.push_named("relu", InPlaceRelu);
    stages(model, block, depths, [16, 32, 64, 128], [1, 1, 2, 2], 16, classes)
}
