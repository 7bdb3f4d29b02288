//! A residual network written as a user writes one: a block of their own (a `Module` with a
//! shortcut), stacked in a `Sequential` with built-in layers and `resnet.py`'s `BasicBlock`,
//! trained with the `Trainer` for one epoch on the shipped MNIST subset.
//!
//! Run: `cargo run --release --example residual`

use shadergrad::data::mnist;
use shadergrad::init::Mt19937;
use shadergrad::nn::{Block, Forward, InitPlan, Layer, Module, ModuleExt, ResidualBlock, Sequential};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::train::{Settings, Task, Trainer};
use shadergrad::{Device, NodeId};

/// relu(x + body(x)): the shortcut around two convolutions that keep the shape.
#[derive(Debug)]
struct Residual {
    body: Sequential,
}

impl Residual {
    fn new(channels: usize) -> Residual {
        let conv = || Layer::conv2d(channels, channels, 3, 1, 1);
        Residual { body: Sequential::new(vec![conv(), Layer::RELU, conv()]) }
    }
}

impl Module for Residual {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> shadergrad::Result<NodeId> {
        let h = f.child("body", &self.body, x)?;
        let sum = f.add(h, x)?;
        f.graph().relu(sum)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("body".into(), &self.body)]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    println!("adapter: {}", device.describe());
    let mut model = Sequential::new(vec![Layer::conv2d(1, 8, 3, 1, 1), Layer::RELU]);
    model.push(Residual::new(8));
    model.push(Layer::MaxPool2d { kernel: 2, stride: 2, padding: 0 });
    model.push(ResidualBlock::new(Block::Basic, 8, 16, 2));
    model.push(Layer::AvgPool2d { kernel: 7, stride: 7, padding: 0 });
    model.push(Layer::Flatten);
    model.push(Layer::Linear { inputs: 16, outputs: 10, bias: true });
    println!("{}", model.summary());
    let plan = InitPlan::resnet();
    let initial = model.initial_values(plan, &mut Mt19937::new(1));

    let m = mnist::load_shipped()?;
    let example = [1, 28, 28];
    let (train, test) = (m.train.into_data(&example), m.test.into_data(&example));
    let settings = Settings {
        batch_size: Some(100),
        data_seed: 1,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-2))
    };
    let mut trainer = Trainer::new(&device, model, settings, 100, &example, 1, &initial)?;
    let mut batches = trainer.batches(&train);
    let (loss, steps) = trainer.epoch(&train, &mut batches, 0, |step, _, loss| {
        if step % 20 == 0 {
            println!("step {step:3}  loss {loss:.4}");
        }
    })?;
    let eval = trainer.evaluate(&test, Task::Classes)?;
    println!("1 epoch, {steps} steps: mean loss {loss:.4}, test accuracy {:.4}", eval.accuracy.unwrap_or(0.0));
    Ok(())
}
