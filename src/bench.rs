//! Benchmarks: the same cases on any adapter, as comparable JSON. Times are wall-clock around
//! complete submits (each iteration waits for the GPU), after a warm-up that pays for shader
//! compilation, which is reported apart.

use crate::device::Device;
use crate::error::Result;
use crate::executor::Plan;
use crate::graph::Graph;
use crate::init::{Init, Mt19937};
use crate::kernels::loss::LossKind;
use crate::kernels::optim::Optimizer;
use crate::nn::{InitPlan, Layer, Sequential};
use crate::recipes;
use crate::train::{Settings, Trainer};
use std::time::Instant;

/// One measured case.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The case, e.g. `matmul_1024`.
    pub case: String,
    /// Milliseconds of the first run (includes pipeline creation and shader compilation).
    pub first_ms: f64,
    /// Median milliseconds of the steady-state runs.
    pub median_ms: f64,
    /// Billions of floating-point operations per second at the median, where counted.
    pub gflops: Option<f64>,
    /// Bytes of GPU buffers the plan allocated.
    pub gpu_bytes: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `run` (which must wait for the GPU) `reps` times after one first run.
fn time(mut run: impl FnMut() -> Result<()>, reps: usize) -> Result<(f64, f64)> {
    let start = Instant::now();
    run()?;
    let first = start.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok((first, median(times)))
}

/// C = A·B for square matrices of side `n`.
pub fn matmul(device: &Device, n: usize, reps: usize) -> Result<Measurement> {
    let mut g = Graph::new();
    let a = g.input("a", &[n, n])?;
    let b = g.input("b", &[n, n])?;
    let c = g.matmul(a, b)?;
    let mut plan = Plan::compile(device, &g, &[c])?;
    let values: Vec<f32> = (0..n * n).map(|i| ((i % 97) as f32 - 48.0) / 97.0).collect();
    plan.write(a, &values)?;
    plan.write(b, &values)?;
    // Reading one value back waits for the whole product.
    let (first_ms, median_ms) = time(|| plan.run_and_read(&[c]).map(|_| ()), reps)?;
    let flops = 2.0 * (n as f64).powi(3);
    Ok(Measurement {
        case: format!("matmul_{n}"),
        first_ms,
        median_ms,
        gflops: Some(flops / median_ms / 1e6),
        gpu_bytes: plan.counters().bytes_allocated,
    })
}

/// One training step (forward, cross-entropy, backward, Adam) of `model` at batch 100.
pub fn training_step(
    device: &Device,
    case: &str,
    model: Sequential,
    example: &[usize],
    reps: usize,
) -> Result<Measurement> {
    let batch = 100;
    let mut rng = Mt19937::new(1);
    let initial = model.initial_values(InitPlan { linear: Init::XavierUniform, conv: Init::TorchDefault }, &mut rng);
    let settings = Settings {
        loss: LossKind::CrossEntropy,
        optimizer: Optimizer::adam(1e-3),
        batch_size: Some(batch),
        shuffle: false,
        drop_last: true,
        data_seed: 0,
        dropout_seed: 0,
    };
    let mut trainer = Trainer::new(device, model, settings, batch, example, 1, &initial)?;
    let size: usize = example.iter().product();
    let x: Vec<f32> = (0..batch * size).map(|i| ((i * 31) % 255) as f32 / 255.0).collect();
    let y: Vec<f32> = (0..batch).map(|i| (i % 10) as f32).collect();
    // Reading the loss waits for the step, as a training loop that logs it would.
    let (first_ms, median_ms) = time(|| trainer.step(&x, &y, true).map(|_| ()), reps)?;
    Ok(Measurement {
        case: case.into(),
        first_ms,
        median_ms,
        gflops: None,
        gpu_bytes: trainer.plan().counters().bytes_allocated,
    })
}

/// The course's MLP (784-256-256-10, ReLU).
pub fn mlp() -> Sequential {
    let linear = |i, o| Layer::Linear { inputs: i, outputs: o, bias: true };
    Sequential::new(vec![linear(784, 256), Layer::Relu, linear(256, 256), Layer::Relu, linear(256, 10)])
}

/// Every case: matmuls, then the MLP and CNN training steps. `quick` uses fewer and smaller.
pub fn run_all(device: &Device, quick: bool, mut report: impl FnMut(&Measurement)) -> Result<Vec<Measurement>> {
    let reps = if quick { 3 } else { 10 };
    let sizes: &[usize] = if quick { &[256, 512] } else { &[256, 512, 1024, 2048] };
    let mut out = Vec::new();
    for &n in sizes {
        let m = matmul(device, n, reps)?;
        report(&m);
        out.push(m);
    }
    let m = training_step(device, "mnist_mlp_step", mlp(), &[784], reps)?;
    report(&m);
    out.push(m);
    let cnn = (recipes::find("mnist-cnn")?.model)();
    let m = training_step(device, "mnist_cnn_step", cnn, &[1, 28, 28], reps.min(5))?;
    report(&m);
    out.push(m);
    Ok(out)
}
