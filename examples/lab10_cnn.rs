//! Lab 10-1 written with the library API: a CNN on the shipped MNIST subset, trained with Adam
//! for one epoch (the `mnist-cnn` recipe runs the course's 15).
//!
//! Run: `cargo run --release --example lab10_cnn`

use shadergrad::Device;
use shadergrad::data::mnist;
use shadergrad::init::{Init, Mt19937};
use shadergrad::nn::{InitPlan, Layer, ModuleExt, Sequential};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::train::{Settings, Task, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    println!("adapter: {}", device.describe());
    let conv = |i, o| Layer::conv2d(i, o, 3, 1, 1);
    let pool = Layer::MaxPool2d { kernel: 2, stride: 2, padding: 0 };
    let model = Sequential::new(vec![
        conv(1, 32),
        Layer::RELU,
        pool.clone(),
        conv(32, 64),
        Layer::RELU,
        pool,
        Layer::Flatten,
        Layer::Linear { inputs: 3136, outputs: 10, bias: true },
    ]);
    let initial = model.initial_values(InitPlan::new(Init::XavierUniform, Init::TorchDefault), &mut Mt19937::new(777));

    let m = mnist::load_shipped()?;
    let example = [1, 28, 28];
    let (train, test) = (m.train.into_data(&example), m.test.into_data(&example));

    let settings = Settings {
        batch_size: Some(100),
        data_seed: 777,
        dropout_seed: 777,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-3))
    };
    let mut trainer = Trainer::new(&device, model, settings, 100, &[1, 28, 28], 1, &initial)?;
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
