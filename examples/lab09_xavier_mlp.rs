//! Lab 09-3 with the layer API: a 784-256-256-10 ReLU network with Xavier-uniform weights,
//! trained with Adam on the shipped MNIST subset (3 epochs here; `shadergrad train
//! mnist-xavier` runs the course's 15).
//!
//! Run: `cargo run --release --example lab09_xavier_mlp`

use shadergrad::Device;
use shadergrad::data::mnist;
use shadergrad::init::{Init, Mt19937};
use shadergrad::nn::{InitPlan, Layer, ModuleExt, Sequential};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::train::{Settings, Task, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    let linear = |i, o| Layer::Linear { inputs: i, outputs: o, bias: true };
    let model = Sequential::new(vec![linear(784, 256), Layer::RELU, linear(256, 256), Layer::RELU, linear(256, 10)]);
    // torch.manual_seed(777), then xavier_uniform_ on each weight, as the lab does.
    let initial = model.initial_values(InitPlan::all(Init::XavierUniform), &mut Mt19937::new(777));

    let m = mnist::load_shipped()?;
    let example = [784];
    let (train, test) = (m.train.into_data(&example), m.test.into_data(&example));

    let settings = Settings {
        batch_size: Some(100),
        data_seed: 777,
        dropout_seed: 777,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-3))
    };
    let mut trainer = Trainer::new(&device, model, settings, 100, &[784], 1, &initial)?;
    let mut batches = trainer.batches(&train);
    for epoch in 1..=3 {
        let (cost, _) = trainer.epoch(&train, &mut batches, 0, |_, _, _| {})?;
        let accuracy = trainer.evaluate(&test, Task::Classes)?.accuracy.unwrap_or(0.0);
        println!("Epoch {epoch:2} cost = {cost:.9}  test accuracy {accuracy:.4}");
    }
    Ok(())
}
