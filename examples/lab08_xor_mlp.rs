//! Lab 08-2 with the layer API: XOR needs a hidden layer. Linear(2,2), Sigmoid, Linear(2,1),
//! Sigmoid with PyTorch's init after `torch.manual_seed(777)`, BCE, SGD with lr 1, 10,001
//! full-batch steps; prints the course's lines (the same costs as its PyTorch code).
//!
//! Run: `cargo run --release --example lab08_xor_mlp`

use shadergrad::Device;
use shadergrad::init::{Init, Mt19937};
use shadergrad::nn::{InitPlan, Layer, ModuleExt, Sequential};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::train::{Data, Settings, Task, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    let linear = |i, o| Layer::Linear { inputs: i, outputs: o, bias: true };
    let model = Sequential::new(vec![linear(2, 2), Layer::SIGMOID, linear(2, 1), Layer::SIGMOID]);
    let initial = model.initial_values(InitPlan::all(Init::TorchDefault), &mut Mt19937::new(777));
    let xor =
        Data { x: vec![0., 0., 0., 1., 1., 0., 1., 1.], example: vec![2], y: vec![0., 1., 1., 0.], target_width: 1 };

    let settings = Settings { batch_size: Some(4), ..Settings::new(LossKind::Bce, Optimizer::sgd(1.0)) };
    let mut trainer = Trainer::new(&device, model, settings, 4, &[2], 1, &initial)?;
    for step in 0..=10_000 {
        // Reading the cost costs a wait; the course prints every 100th.
        if let Some(cost) = trainer.step(&xor.x, &xor.y, step % 100 == 0)? {
            if step % 1000 == 0 {
                println!("{step} {cost:.6}");
            }
        }
    }
    let hypothesis = trainer.infer(&xor.x, 4)?;
    let predicted: Vec<f32> = hypothesis.iter().map(|&h| (h > 0.5) as u8 as f32).collect();
    let accuracy = trainer.evaluate(&xor, Task::Binary)?.accuracy.unwrap_or(0.0);
    println!("Hypothesis: {hypothesis:?}\nPredicted: {predicted:?}\nY: {:?}\nAccuracy: {accuracy}", xor.y);
    Ok(())
}
