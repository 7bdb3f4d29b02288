//! Lab 10-4's ensemble with the library API: two CNNs (10-1's, to keep it quick; `shadergrad
//! train mnist-ensemble` uses 10-2's deeper one) trained in one plan on the same batches, each
//! with its own Adam state, predicting by the mean of their logits. One epoch here.
//!
//! Run: `cargo run --release --example lab10_ensemble`

use shadergrad::Device;
use shadergrad::data::mnist;
use shadergrad::init::{Init, Mt19937};
use shadergrad::nn::{InitPlan, Module, ModuleExt, member_prefix};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::recipes;
use shadergrad::train::{Combine, Settings, Task, Trainer};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::new()?;
    // Lab 10-1's CNN, as `shadergrad train mnist-cnn` builds it.
    let cnn = recipes::find("mnist-cnn")?.model;
    let models: Vec<Arc<dyn Module>> = vec![Arc::new(cnn()), Arc::new(cnn())];
    // The models are built one after the other from one generator, as the lab's loop does.
    let mut rng = Mt19937::new(777);
    let mut initial = Vec::new();
    for (k, model) in models.iter().enumerate() {
        let plan = InitPlan::new(Init::XavierUniform, Init::TorchDefault);
        let prefix = member_prefix(k, models.len());
        initial.extend(model.initial_values(plan, &mut rng).into_iter().map(|(n, v)| (format!("{prefix}{n}"), v)));
    }

    let m = mnist::load_shipped()?;
    let example = [1, 28, 28];
    let (train, test) = (m.train.into_data(&example), m.test.into_data(&example));
    let settings = Settings {
        batch_size: Some(100),
        data_seed: 777,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-3))
    };
    let mut trainer = Trainer::with_models(&device, models, Combine::Ensemble, settings, 100, &example, 1, &initial)?;
    let mut batches = trainer.batches(&train);
    let (cost, _) = trainer.epoch(&train, &mut batches, 0, |_, _, _| {})?;
    let result = trainer.evaluate(&test, Task::Classes)?;
    println!("Epoch 1 mean cost = {cost:.6}");
    for (k, member) in result.members.iter().enumerate() {
        println!("model {k} test accuracy {:.4}", member.accuracy.unwrap_or(0.0));
    }
    println!("ensemble test accuracy {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
