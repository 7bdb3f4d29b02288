//! Criterion benchmarks of the same cases `shadergrad bench` times: matmuls, a convolution at
//! the course's shapes, and the MLP and CNN training steps. Each iteration reads one result
//! back, so it measures finished GPU work. Run: `cargo bench --bench kernels`.

use criterion::{Criterion, criterion_group, criterion_main};
use shadergrad::bench::mlp;
use shadergrad::init::{Init, Mt19937};
use shadergrad::kernels::{loss::LossKind, optim::Optimizer};
use shadergrad::nn::{InitPlan, Sequential};
use shadergrad::train::{Settings, Trainer};
use shadergrad::{Device, Graph, Plan, recipes};
use std::time::Duration;

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i % 97) as f32 - 48.0) / 97.0).collect()
}

fn matmuls(c: &mut Criterion, device: &Device) {
    for n in [256usize, 512, 1024] {
        let mut g = Graph::new();
        let a = g.input("a", &[n, n]).unwrap();
        let b = g.input("b", &[n, n]).unwrap();
        let y = g.matmul(a, b).unwrap();
        let mut plan = Plan::compile(device, &g, &[y]).unwrap();
        plan.write(a, &values(n * n)).unwrap();
        plan.write(b, &values(n * n)).unwrap();
        c.bench_function(&format!("matmul_{n}"), |bench| bench.iter(|| plan.run_and_read(&[y]).unwrap()));
    }
}

fn convolution(c: &mut Criterion, device: &Device) {
    let mut g = Graph::new();
    let x = g.input("x", &[100, 32, 14, 14]).unwrap();
    let w = g.input("w", &[64, 32, 3, 3]).unwrap();
    let y = g.conv2d(x, w, [1, 1], [1, 1]).unwrap();
    let mut plan = Plan::compile(device, &g, &[y]).unwrap();
    plan.write(x, &values(100 * 32 * 14 * 14)).unwrap();
    plan.write(w, &values(64 * 32 * 9)).unwrap();
    c.bench_function("conv2d_32x64_14_forward", |bench| bench.iter(|| plan.run_and_read(&[y]).unwrap()));
}

fn training_step(c: &mut Criterion, device: &Device, name: &str, model: Sequential, example: &[usize]) {
    let initial =
        model.initial_values(InitPlan { linear: Init::XavierUniform, conv: Init::TorchDefault }, &mut Mt19937::new(1));
    let settings = Settings {
        batch_size: Some(100),
        shuffle: false,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-3))
    };
    let mut trainer = Trainer::new(device, model, settings, 100, example, 1, &initial).unwrap();
    let x = values(100 * example.iter().product::<usize>());
    let y: Vec<f32> = (0..100).map(|i| (i % 10) as f32).collect();
    c.bench_function(name, |bench| bench.iter(|| trainer.step(&x, &y, true).unwrap()));
}

fn benches(c: &mut Criterion) {
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", device.describe());
    matmuls(c, &device);
    convolution(c, &device);
    training_step(c, &device, "mnist_mlp_step", mlp(), &[784]);
    let cnn = (recipes::find("mnist-cnn").unwrap().model)();
    training_step(c, &device, "mnist_cnn_step", cnn, &[1, 28, 28]);
}

criterion_group! {
    name = kernels;
    // Software adapters are slow: few samples, a short measurement.
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(kernels);
