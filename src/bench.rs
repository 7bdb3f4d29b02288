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

/// Times one op's kernel in isolation: a plan computing `build`'s node from random inputs
/// of `dims` (forward), or that node's gradient with respect to input `grad_of`.
fn op_case(
    device: &Device,
    case: &str,
    dims: &[&[usize]],
    grad_of: Option<usize>,
    flops: f64,
    reps: usize,
    build: impl Fn(&mut Graph, &[crate::graph::NodeId]) -> Result<crate::graph::NodeId>,
) -> Result<Measurement> {
    let mut g = Graph::new();
    let inputs = dims.iter().enumerate().map(|(k, d)| g.input(&format!("x{k}"), d)).collect::<Result<Vec<_>>>()?;
    let y = build(&mut g, &inputs)?;
    let target = match grad_of {
        Some(k) => {
            let dims = g.shape(y).dims().to_vec();
            let seed = g.input("seed", &dims)?;
            crate::autodiff::gradients(&mut g, y, Some(seed), &[inputs[k]])?[0]
        }
        None => y,
    };
    let mut plan = Plan::compile(device, &g, &[target])?;
    for node in g.nodes().iter().enumerate().filter(|(_, n)| n.op == crate::graph::Op::Input) {
        let n = node.1.shape.numel();
        plan.write(
            crate::graph::NodeId(node.0),
            &(0..n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<_>>(),
        )?;
    }
    let (first_ms, median_ms) = time(|| plan.run_and_read(&[target]).map(|_| ()), reps)?;
    Ok(Measurement {
        case: case.into(),
        first_ms,
        median_ms,
        gflops: (flops > 0.0).then(|| flops / median_ms / 1e6),
        gpu_bytes: plan.counters().bytes_allocated,
    })
}

/// conv2d forward and both gradients, and max pooling, at the course's CNN shapes (batch 100).
pub fn conv_cases(device: &Device, reps: usize, mut report: impl FnMut(&Measurement)) -> Result<Vec<Measurement>> {
    let mut out = Vec::new();
    for (c, k, hw) in [(1usize, 32usize, 28usize), (32, 64, 14), (64, 128, 7)] {
        let flops = 2.0 * (100 * k * hw * hw * c * 9) as f64;
        let x: &[usize] = &[100, c, hw, hw];
        let w: &[usize] = &[k, c, 3, 3];
        let conv = |g: &mut Graph, i: &[crate::graph::NodeId]| g.conv2d(i[0], i[1], [1, 1], [1, 1]);
        for (what, grad_of) in [("forward", None), ("grad_input", Some(0)), ("grad_weight", Some(1))] {
            if c == 1 && grad_of == Some(0) {
                continue; // the first layer's input needs no gradient
            }
            let case = format!("conv2d_{c}x{k}_{hw}_{what}");
            let m = op_case(device, &case, &[x, w], grad_of, flops, reps, conv)?;
            report(&m);
            out.push(m);
        }
        let pool = |g: &mut Graph, i: &[crate::graph::NodeId]| g.max_pool2d(i[0], [2, 2], [2, 2], [0, 0]);
        let y: &[usize] = &[100, k, hw, hw];
        for (what, grad_of) in [("forward", None), ("backward", Some(0))] {
            let m = op_case(device, &format!("maxpool_{k}_{hw}_{what}"), &[y], grad_of, 0.0, reps, pool)?;
            report(&m);
            out.push(m);
        }
    }
    Ok(out)
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
        batch_size: Some(batch),
        shuffle: false,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-3))
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
    out.extend(conv_cases(device, reps.min(5), &mut report)?);
    let m = training_step(device, "mnist_mlp_step", mlp(), &[784], reps)?;
    report(&m);
    out.push(m);
    let cnn = (recipes::find("mnist-cnn")?.model)();
    let m = training_step(device, "mnist_cnn_step", cnn, &[1, 28, 28], reps.min(5))?;
    report(&m);
    out.push(m);
    Ok(out)
}
