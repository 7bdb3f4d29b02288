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
    /// Median milliseconds of the steady-state runs, by the host's clock.
    pub median_ms: f64,
    /// Median milliseconds the GPU spent on the kernels, by its own timestamps (where the
    /// adapter has them).
    pub gpu_ms: Option<f64>,
    /// Billions of floating-point operations per second at the median, where counted.
    pub gflops: Option<f64>,
    /// Billions of bytes moved per second at the median, for kernels bound by memory (each
    /// input read once, each output written once).
    pub gbps: Option<f64>,
    /// Bytes of GPU buffers the plan allocated.
    pub gpu_bytes: u64,
    /// For training steps: the bytes no step can do without (see
    /// [`Trainer::memory_floor`](crate::train::Trainer::memory_floor)).
    pub floor_bytes: Option<u64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall times of one first run and the median of `reps` more, and the median of the GPU
/// times `run` reports (it must wait for the GPU).
struct Timing {
    first_ms: f64,
    median_ms: f64,
    gpu_ms: Option<f64>,
}

fn time(mut run: impl FnMut() -> Result<Option<f64>>, reps: usize) -> Result<Timing> {
    let start = Instant::now();
    run()?;
    let first_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::with_capacity(reps);
    let mut gpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        gpu.extend(run()?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let gpu_ms = (gpu.len() == reps && reps > 0).then(|| median(gpu));
    Ok(Timing { first_ms, median_ms: median(times), gpu_ms })
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
    let Timing { first_ms, median_ms, gpu_ms } = time(|| plan.run_timed(&[c]).map(|r| r.1), reps)?;
    let flops = 2.0 * (n as f64).powi(3);
    Ok(Measurement {
        case: format!("matmul_{n}"),
        first_ms,
        median_ms,
        gpu_ms,
        gflops: Some(flops / median_ms / 1e6),
        gbps: None,
        gpu_bytes: plan.counters().bytes_allocated,
        floor_bytes: None,
    })
}

/// What one op case computes and counts.
struct OpCase<'a> {
    case: String,
    /// Dims of each input.
    dims: &'a [&'a [usize]],
    /// Time the gradient with respect to this input instead of the forward value.
    grad_of: Option<usize>,
    /// Floating-point operations (0: not counted).
    flops: f64,
    /// Bytes read and written (0: not counted).
    bytes: f64,
}

/// Times one op's kernel in isolation: a plan computing `build`'s node from random inputs
/// (forward), or that node's gradient with respect to one input.
fn op_case(
    device: &Device,
    spec: OpCase,
    reps: usize,
    build: impl Fn(&mut Graph, &[crate::graph::NodeId]) -> Result<crate::graph::NodeId>,
) -> Result<Measurement> {
    let OpCase { case, dims, grad_of, flops, bytes } = spec;
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
    let Timing { first_ms, median_ms, gpu_ms } = time(|| plan.run_timed(&[target]).map(|r| r.1), reps)?;
    Ok(Measurement {
        case,
        first_ms,
        median_ms,
        gpu_ms,
        gflops: (flops > 0.0).then(|| flops / median_ms / 1e6),
        gbps: (bytes > 0.0).then(|| bytes / median_ms / 1e6),
        gpu_bytes: plan.counters().bytes_allocated,
        floor_bytes: None,
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
            let m = op_case(device, OpCase { case, dims: &[x, w], grad_of, flops, bytes: 0.0 }, reps, conv)?;
            report(&m);
            out.push(m);
        }
        let pool = |g: &mut Graph, i: &[crate::graph::NodeId]| g.max_pool2d(i[0], [2, 2], [2, 2], [0, 0]);
        let y: &[usize] = &[100, k, hw, hw];
        let input = (100 * k * hw * hw * 4) as f64;
        // Forward: read x, write a quarter; backward: read x and the quarter-size gradient,
        // write x's gradient.
        for (what, grad_of, bytes) in [("forward", None, input * 1.25), ("backward", Some(0), input * 2.25)] {
            let spec = OpCase { case: format!("maxpool_{k}_{hw}_{what}"), dims: &[y], grad_of, flops: 0.0, bytes };
            let m = op_case(device, spec, reps, pool)?;
            report(&m);
            out.push(m);
        }
    }
    Ok(out)
}

/// The fused softmax cross-entropy of `[rows, classes]` logits against labels: the loss and
/// its gradient with respect to the logits, in one plan (read logits and labels, write the
/// gradient).
pub fn cross_entropy(device: &Device, rows: usize, classes: usize, reps: usize) -> Result<Measurement> {
    let mut g = Graph::new();
    let logits = g.input("logits", &[rows, classes])?;
    let labels = g.input("labels", &[rows])?;
    let loss = g.cross_entropy(logits, labels)?;
    let grad = crate::autodiff::gradients(&mut g, loss, None, &[logits])?[0];
    let mut plan = Plan::compile(device, &g, &[loss, grad])?;
    plan.write(logits, &(0..rows * classes).map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0).collect::<Vec<_>>())?;
    plan.write(labels, &(0..rows).map(|i| (i % classes) as f32).collect::<Vec<_>>())?;
    // Reading the loss waits for both kernels; the gradient stays on the GPU.
    let Timing { first_ms, median_ms, gpu_ms } = time(|| plan.run_timed(&[loss]).map(|r| r.1), reps)?;
    let bytes = (2 * rows * classes + rows) as f64 * 4.0;
    Ok(Measurement {
        case: format!("cross_entropy_{rows}x{classes}"),
        first_ms,
        median_ms,
        gpu_ms,
        gflops: None,
        gbps: Some(bytes / median_ms / 1e6),
        gpu_bytes: plan.counters().bytes_allocated,
        floor_bytes: None,
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
        batch_size: Some(batch),
        shuffle: false,
        ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(1e-3))
    };
    let mut trainer = Trainer::new(device, model, settings, batch, example, 1, &initial)?;
    let size: usize = example.iter().product();
    let x: Vec<f32> = (0..batch * size).map(|i| ((i * 31) % 255) as f32 / 255.0).collect();
    let y: Vec<f32> = (0..batch).map(|i| (i % 10) as f32).collect();
    // Reading the loss waits for the step, as a training loop that logs it would.
    let Timing { first_ms, median_ms, gpu_ms } = time(|| trainer.step_timed(&x, &y).map(|r| r.1), reps)?;
    Ok(Measurement {
        case: case.into(),
        first_ms,
        median_ms,
        gpu_ms,
        gflops: None,
        gbps: None,
        gpu_bytes: trainer.plan().counters().bytes_allocated,
        floor_bytes: Some(trainer.memory_floor()),
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
    // 4096² takes seconds on a software adapter; on a GPU it is the size that shows its peak.
    let gpu = device.info().device_type != wgpu::DeviceType::Cpu;
    let sizes: &[usize] = match (quick, gpu) {
        (true, _) => &[256, 512],
        (false, false) => &[256, 512, 1024, 2048],
        (false, true) => &[256, 512, 1024, 2048, 4096],
    };
    let mut out = Vec::new();
    for &n in sizes {
        let m = matmul(device, n, reps)?;
        report(&m);
        out.push(m);
    }
    out.extend(conv_cases(device, reps.min(5), &mut report)?);
    let m = cross_entropy(device, 4096, 1000, reps)?;
    report(&m);
    out.push(m);
    let m = training_step(device, "mnist_mlp_step", mlp(), &[784], reps)?;
    report(&m);
    out.push(m);
    let cnn = (recipes::find("mnist-cnn")?.model)();
    let m = training_step(device, "mnist_cnn_step", cnn, &[1, 28, 28], reps.min(5))?;
    report(&m);
    out.push(m);
    Ok(out)
}
