//! The residual blocks of the course's `resnet.py` (torchvision's), `BasicBlock` and
//! `Bottleneck`, and the ResNets built of them, with PyTorch's attribute names, so their state
//! dicts load by name.

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

/// Which of `resnet.py`'s blocks: PyTorch's class, and how it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// `BasicBlock` (expansion 1; ResNet-18, -34): conv3×3 (stride), BN, ReLU, conv3×3, BN.
    Basic,
    /// `Bottleneck` (expansion 4; ResNet-50, -101, -152): conv1×1, BN, ReLU, conv3×3 (stride),
    /// BN, ReLU, conv1×1 to 4·planes, BN.
    Bottleneck,
}

impl Block {
    /// Output channels per `planes`.
    pub fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }

    /// PyTorch's class name.
    fn class(self) -> &'static str {
        match self {
            Block::Basic => "BasicBlock",
            Block::Bottleneck => "Bottleneck",
        }
    }

    /// Where the class registers its `relu` among its convs and batch norms: after `bn1` in
    /// `BasicBlock`, after `bn3` in `Bottleneck`.
    fn relu_position(self) -> usize {
        match self {
            Block::Basic => 2,
            Block::Bottleneck => 6,
        }
    }
}

/// One of `resnet.py`'s residual blocks, with PyTorch's attribute names: (`convK`, `bnK`)
/// stages with a ReLU after each but the last, plus the shortcut (the input, or its
/// `downsample` projection), then ReLU.
#[derive(Clone, Debug)]
pub struct ResidualBlock {
    block: Block,
    stages: Vec<(Layer, Layer)>,
    relu: InPlaceRelu,
    downsample: Option<Sequential>,
    zero_init_residual: bool,
}

impl ResidualBlock {
    /// A `block` from `inputs` channels to `planes`·expansion, with `stride` on its first 3×3
    /// conv; the shortcut is projected where stride or width change.
    pub fn new(block: Block, inputs: usize, planes: usize, stride: usize) -> ResidualBlock {
        let outputs = planes * block.expansion();
        let bn = Layer::batch_norm_2d;
        let stages = match block {
            Block::Basic => {
                vec![(conv3x3(inputs, planes, stride), bn(planes)), (conv3x3(planes, planes, 1), bn(planes))]
            }
            Block::Bottleneck => vec![
                (conv1x1(inputs, planes, 1), bn(planes)),
                (conv3x3(planes, planes, stride), bn(planes)),
                (conv1x1(planes, outputs, 1), bn(outputs)),
            ],
        };
        let downsample = downsample(inputs, outputs, stride);
        ResidualBlock { block, stages, relu: InPlaceRelu, downsample, zero_init_residual: false }
    }

    /// The same block with its last batch norm's scale starting at 0, so that it starts as
    /// its shortcut alone (torchvision's `zero_init_residual=True`).
    pub fn zero_init_residual(mut self) -> ResidualBlock {
        self.zero_init_residual = true;
        self
    }
}

impl Module for ResidualBlock {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let mut h = x;
        for (k, (conv, bn)) in self.stages.iter().enumerate() {
            h = f.child(&format!("conv{}", k + 1), conv, h)?;
            h = f.child(&format!("bn{}", k + 1), bn, h)?;
            if k + 1 < self.stages.len() {
                h = f.child("relu", &self.relu, h)?;
            }
        }
        let shortcut = match &self.downsample {
            Some(d) => f.child("downsample", d, x)?,
            None => x,
        };
        let sum = f.add(h, shortcut)?;
        f.child("relu", &self.relu, sum)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = Vec::new();
        for (k, (conv, bn)) in self.stages.iter().enumerate() {
            out.push((format!("conv{}", k + 1), conv));
            out.push((format!("bn{}", k + 1), bn));
        }
        out.insert(self.block.relu_position(), ("relu".into(), &self.relu));
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

    fn type_name(&self) -> String {
        self.block.class().into()
    }

    fn zeroed_at_start(&self) -> Vec<String> {
        if self.zero_init_residual { vec![format!("bn{}.weight", self.stages.len())] } else { Vec::new() }
    }
}

/// `_make_layer`: `count` blocks of `planes`, the first with `stride` (and the shortcut's
/// projection where the shape changes); returns the layer and its output channels.
fn make_layer(
    block: Block,
    inputs: usize,
    planes: usize,
    count: usize,
    stride: usize,
    zero: bool,
) -> (Sequential, usize) {
    let mut layer = Sequential::default();
    let mut inputs = inputs;
    for i in 0..count.max(1) {
        let stride = if i == 0 { stride } else { 1 };
        let b = ResidualBlock::new(block, inputs, planes, stride);
        layer.push(if zero { b.zero_init_residual() } else { b });
        inputs = planes * block.expansion();
    }
    (layer, inputs)
}

/// The stages after the stem: `layer1` … `layer4` of `planes` and
/// `strides`, global average pooling, flatten and `fc` to `classes`.
fn stages(
    mut model: Sequential,
    block: Block,
    depths: [usize; 4],
    planes: [usize; 4],
    strides: [usize; 4],
    classes: usize,
    zero_init_residual: bool,
) -> Sequential {
    // Both stems are as wide as the first stage's planes.
    let mut width = planes[0];
    for (k, ((&count, &p), &s)) in depths.iter().zip(&planes).zip(&strides).enumerate() {
        let (layer, out) = make_layer(block, width, p, count, s, zero_init_residual);
        model.push_named(&format!("layer{}", k + 1), layer);
        width = out;
    }
    model.push_named("avgpool", Layer::AdaptiveAvgPool2d { output: [1, 1] });
    model.push_functional("flatten", Layer::Flatten);
    model.push_named("fc", Layer::Linear { inputs: width, outputs: classes, bias: true });
    model
}

/// torchvision's (and the course's `resnet.py`) ImageNet ResNet: a 7×7 stride-2 stem and
/// max-pool, stages of widths 64, 128, 256, 512 with strides 1, 2, 2, 2, then `fc`. PyTorch's
/// parameter names (`layer1.0.conv1.weight`, `fc.bias`) and printout. `zero_init_residual`: see
/// [`ResidualBlock::zero_init_residual`].
pub fn resnet(block: Block, depths: [usize; 4], classes: usize, zero_init_residual: bool) -> Sequential {
    let mut model = Sequential::default().with_class("ResNet");
    let stem = Layer::Conv2d { inputs: 3, outputs: 64, kernel: [7, 7], stride: [2, 2], padding: [3, 3], bias: false };
    model.push_named("conv1", stem);
    model.push_named("bn1", Layer::batch_norm_2d(64));
    model.push_named("relu", InPlaceRelu);
    model.push_named("maxpool", Layer::MaxPool2d { kernel: 3, stride: 2, padding: 1 });
    stages(model, block, depths, [64, 128, 256, 512], [1, 2, 2, 2], classes, zero_init_residual)
}

/// The course's CIFAR ResNet (lab 10-6-2): a 3×3 stem of 16 channels and no max-pool, stages
/// of widths 16, 32, 64, 128 with strides 1, 1, 2, 2, then `fc`.
pub fn resnet_cifar(block: Block, depths: [usize; 4], classes: usize, zero_init_residual: bool) -> Sequential {
    let mut model = Sequential::default().with_class("ResNet");
    model.push_named("conv1", conv3x3(3, 16, 1));
    model.push_named("bn1", Layer::batch_norm_2d(16));
    model.push_named("relu", InPlaceRelu);
    stages(model, block, depths, [16, 32, 64, 128], [1, 1, 2, 2], classes, zero_init_residual)
}
