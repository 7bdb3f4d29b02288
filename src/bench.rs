//! Benchmarks: the same cases on any adapter, as comparable JSON. Each case is prepared once
//! (its plan compiled and its inputs written) and then run whole: every run waits for the GPU,
//! so a time is finished work. `shadergrad bench` times the runs itself; `benches/kernels.rs`
//! hands the same cases to criterion.

use crate::backend::device::Device;
use crate::backend::executor::{LaunchTime, Plan};
use crate::error::{Error, Result};
use crate::init::{Init, Mt19937};
use crate::ir::graph::{Graph, NodeId};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::nn::{InitPlan, Layer, ModuleExt, Recurrent, Sequential};
use crate::recipes;
use crate::train::{Settings, Trainer};
use std::time::Instant;

/// One measured case.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The case, e.g. `matmul_1024`.
    pub case: String,
    /// Milliseconds to compile the case's plan and run it once: pipeline creation and shader
    /// compilation, apart from the steady state.
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

/// A prepared case: its plan compiled and its inputs written, ready to run.
pub struct Case {
    /// The case's name, e.g. `conv2d_32x64_14_forward`.
    pub name: String,
    /// Steady-state runs to time.
    pub reps: usize,
    flops: f64,
    bytes: f64,
    compile_ms: f64,
    gpu_bytes: u64,
    floor_bytes: Option<u64>,
    runner: Runner,
}

/// What a case runs.
enum Runner {
    /// A plan, reading this node back after each run (which waits for the whole run).
    Plan(Box<Plan>, NodeId),
    /// A training step on this batch (x, then y), reading the loss.
    Step(Box<Trainer>, Vec<f32>, Vec<f32>),
}

impl Case {
    /// Runs once and waits for the GPU; returns the GPU's own milliseconds where it has
    /// timestamps.
    pub fn run(&mut self) -> Result<Option<f64>> {
        match &mut self.runner {
            Runner::Plan(plan, read) => plan.run_timed(&[*read]).map(|r| r.1),
            Runner::Step(trainer, x, y) => trainer.step_timed(x, y).map(|r| r.1),
        }
    }

    /// Runs once with each launch timed by the GPU's clock: where a run's time goes. `None`
    /// where the adapter has no timestamps.
    pub fn profile(&mut self) -> Result<Option<Vec<LaunchTime>>> {
        match &mut self.runner {
            Runner::Plan(plan, _) => plan.run_profiled(),
            Runner::Step(trainer, x, y) => trainer.step_profiled(x, y),
        }
    }

    /// One first run, then the median of [`Case::reps`] more.
    pub fn measure(&mut self) -> Result<Measurement> {
        let start = Instant::now();
        self.run()?;
        let first_ms = self.compile_ms + start.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::with_capacity(self.reps);
        let mut gpu = Vec::with_capacity(self.reps);
        for _ in 0..self.reps {
            let t = Instant::now();
            gpu.extend(self.run()?);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let median_ms = median(times);
        let per_ms = |amount: f64| (amount > 0.0).then(|| amount / median_ms / 1e6);
        Ok(Measurement {
            case: self.name.clone(),
            first_ms,
            median_ms,
            gpu_ms: (gpu.len() == self.reps && self.reps > 0).then(|| median(gpu)),
            gflops: per_ms(self.flops),
            gbps: per_ms(self.bytes),
            gpu_bytes: self.gpu_bytes,
            floor_bytes: self.floor_bytes,
        })
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Deterministic inputs in [−0.5, 0.5).
fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect()
}

/// A case that runs `graph` for `outputs` and reads the first back (which waits for the whole
/// run), with every input written with [`values`], except those in `inputs`.
fn plan_case(
    device: &Device,
    name: String,
    graph: &Graph,
    outputs: &[NodeId],
    inputs: &[(NodeId, Vec<f32>)],
    [flops, bytes]: [f64; 2],
    reps: usize,
) -> Result<Case> {
    let start = Instant::now();
    let mut plan = Plan::compile(device, graph, outputs)?;
    let read = outputs[0];
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    for (i, node) in graph.nodes().iter().enumerate().filter(|(_, n)| n.op == crate::ir::graph::Op::Input) {
        let given = inputs.iter().find(|(id, _)| id.index() == i);
        match given {
            Some((id, v)) => plan.write(*id, v)?,
            None => plan.write(NodeId(i), &values(node.shape.numel()))?,
        }
    }
    let gpu_bytes = plan.counters().bytes_allocated;
    Ok(Case {
        name,
        reps,
        flops,
        bytes,
        compile_ms,
        gpu_bytes,
        floor_bytes: None,
        runner: Runner::Plan(Box::new(plan), read),
    })
}

/// C = A·B for square matrices of side `n`.
pub fn matmul(device: &Device, n: usize, reps: usize) -> Result<Case> {
    let mut g = Graph::new();
    let a = g.input("a", &[n, n])?;
    let b = g.input("b", &[n, n])?;
    let c = g.matmul(a, b)?;
    plan_case(device, format!("matmul_{n}"), &g, &[c], &[], [2.0 * (n as f64).powi(3), 0.0], reps)
}

/// One op in isolation on inputs of `dims`: its forward value, or its gradient with respect
/// to input `grad_of` (seeded with an upstream gradient input).
fn op_case(
    device: &Device,
    name: String,
    dims: &[&[usize]],
    grad_of: Option<usize>,
    amounts: [f64; 2],
    reps: usize,
    build: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>,
) -> Result<Case> {
    let mut g = Graph::new();
    let inputs = dims.iter().enumerate().map(|(k, d)| g.input(&format!("x{k}"), d)).collect::<Result<Vec<_>>>()?;
    let y = build(&mut g, &inputs)?;
    let target = match grad_of {
        Some(k) => {
            let dims = g.shape(y).dims().to_vec();
            let seed = g.input("seed", &dims)?;
            crate::ir::autodiff::gradients(&mut g, y, Some(seed), &[inputs[k]])?[0]
        }
        None => y,
    };
    plan_case(device, name, &g, &[target], &[], amounts, reps)
}

/// conv2d forward and both gradients, and max pooling forward and backward, at the course's
/// CNN shapes (batch 100), for `each` in turn.
fn conv_cases(
    device: &Device,
    reps: usize,
    wanted: &dyn Fn(&str) -> bool,
    each: &mut dyn FnMut(Case) -> Result<()>,
) -> Result<()> {
    for (c, k, hw) in [(1usize, 32usize, 28usize), (32, 64, 14), (64, 128, 7)] {
        let flops = 2.0 * (100 * k * hw * hw * c * 9) as f64;
        let (x, w): (&[usize], &[usize]) = (&[100, c, hw, hw], &[k, c, 3, 3]);
        let conv = |g: &mut Graph, i: &[NodeId]| g.conv2d(i[0], i[1], [1, 1], [1, 1]);
        for (what, grad_of) in [("forward", None), ("grad_input", Some(0)), ("grad_weight", Some(1))] {
            if c == 1 && grad_of == Some(0) {
                continue; // the first layer's input needs no gradient
            }
            let name = format!("conv2d_{c}x{k}_{hw}_{what}");
            if !wanted(&name) {
                continue;
            }
            each(op_case(device, name, &[x, w], grad_of, [flops, 0.0], reps, conv)?)?;
        }
        let pool = |g: &mut Graph, i: &[NodeId]| g.max_pool2d(i[0], [2, 2], [2, 2], [0, 0]);
        let y: &[usize] = &[100, k, hw, hw];
        let input = (100 * k * hw * hw * 4) as f64;
        // Forward: read x, write a quarter; backward: read x and the quarter-size gradient,
        // write x's gradient.
        for (what, grad_of, bytes) in [("forward", None, input * 1.25), ("backward", Some(0), input * 2.25)] {
            let name = format!("maxpool_{k}_{hw}_{what}");
            if !wanted(&name) {
                continue;
            }
            each(op_case(device, name, &[y], grad_of, [0.0, bytes], reps, pool)?)?;
        }
    }
    Ok(())
}

/// The fused softmax cross-entropy of `[rows, classes]` logits against labels: the loss and
/// its gradient with respect to the logits, in one plan (read logits and labels, write the
/// gradient; reading the loss waits for both kernels).
pub fn cross_entropy(device: &Device, rows: usize, classes: usize, reps: usize) -> Result<Case> {
    let mut g = Graph::new();
    let logits = g.input("logits", &[rows, classes])?;
    let labels = g.input("labels", &[rows])?;
    let loss = g.cross_entropy(logits, labels)?;
    let grad = crate::ir::autodiff::gradients(&mut g, loss, None, &[logits])?[0];
    let inputs = [
        (logits, (0..rows * classes).map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0).collect()),
        (labels, (0..rows).map(|i| (i % classes) as f32).collect()),
    ];
    let bytes = (2 * rows * classes + rows) as f64 * 4.0;
    let name = format!("cross_entropy_{rows}x{classes}");
    // The gradient is an output, so the plan keeps it; it stays on the GPU.
    plan_case(device, name, &g, &[loss, grad], &inputs, [0.0, bytes], reps)
}

/// How a training-step case trains: examples per step and the optimizer.
#[derive(Clone, Copy, Debug)]
pub struct StepSettings {
    /// Examples per step.
    pub batch: usize,
    /// The optimizer.
    pub optimizer: Optimizer,
}

impl StepSettings {
    /// The MNIST labs': batch 100, Adam 1e-3.
    pub const MNIST: StepSettings = StepSettings { batch: 100, optimizer: Optimizer::adam(1e-3) };
    /// The CIFAR cases': batch 32, SGD 0.1 with momentum 0.9 and weight decay 5e-4 (lab 10-6-2's).
    pub const CIFAR: StepSettings = StepSettings {
        batch: 32,
        optimizer: Optimizer::Sgd { lr: 0.1, momentum: 0.9, nesterov: false, weight_decay: 5e-4 },
    };
}

/// One training step (forward, cross-entropy, backward, update) of `model` as `step` says,
/// reading the loss as a training loop that logs it would.
pub fn training_step(
    device: &Device,
    name: &str,
    model: Sequential,
    example: &[usize],
    step: StepSettings,
    reps: usize,
) -> Result<Case> {
    let batch = step.batch;
    let mut rng = Mt19937::new(1);
    let initial = model.initial_values(InitPlan::new(Init::XavierUniform, Init::TorchDefault), &mut rng);
    let settings =
        Settings { batch_size: Some(batch), shuffle: false, ..Settings::new(LossKind::CrossEntropy, step.optimizer) };
    let start = Instant::now();
    let trainer = Trainer::new(device, model, settings, batch, example, 1, &initial)?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let size: usize = example.iter().product();
    let x: Vec<f32> = (0..batch * size).map(|i| ((i * 31) % 255) as f32 / 255.0).collect();
    let y: Vec<f32> = (0..batch).map(|i| (i % 10) as f32).collect();
    Ok(step_case(name, reps, compile_ms, trainer, x, y))
}

/// A training step's case: `trainer` stepping on `x` and `y`, with its memory and floor.
fn step_case(name: &str, reps: usize, compile_ms: f64, trainer: Trainer, x: Vec<f32>, y: Vec<f32>) -> Case {
    Case {
        name: name.into(),
        reps,
        flops: 0.0,
        bytes: 0.0,
        compile_ms,
        gpu_bytes: trainer.plan().counters().bytes_allocated,
        floor_bytes: Some(trainer.memory_floor()),
        runner: Runner::Step(Box::new(trainer), x, y),
    }
}

/// A recurrent model's training step: full-batch `batch` examples of `example`, a target of
/// `targets` values each (class indices at every step for cross entropy; values for MSE),
/// as Part 4's labs train them.
pub struct SequenceStep {
    /// The case's name.
    pub name: &'static str,
    /// The model.
    pub model: Sequential,
    /// The dims of one example.
    pub example: Vec<usize>,
    /// Examples per step.
    pub batch: usize,
    /// Targets per example.
    pub targets: usize,
    /// Classes of each target (0: a regression).
    pub classes: usize,
    /// Inputs are indices below this (an embedding's), else values in [0, 1).
    pub vocabulary: usize,
    /// The loss.
    pub loss: LossKind,
    /// The optimizer.
    pub optimizer: Optimizer,
}

/// One training step of `s`, reading the loss as the labs' loops do.
pub fn sequence_step(device: &Device, s: SequenceStep, reps: usize) -> Result<Case> {
    let mut rng = Mt19937::new(1);
    let initial = s.model.initial_values(InitPlan::all(Init::TorchDefault), &mut rng);
    let settings = Settings { batch_size: Some(s.batch), shuffle: false, ..Settings::new(s.loss, s.optimizer) };
    let start = Instant::now();
    let trainer = Trainer::new(device, s.model, settings, s.batch, &s.example, s.targets, &initial)?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let size: usize = s.example.iter().product();
    let x: Vec<f32> = (0..s.batch * size)
        .map(|i| if s.vocabulary > 0 { ((i * 31) % s.vocabulary) as f32 } else { ((i * 31) % 255) as f32 / 255.0 })
        .collect();
    let y: Vec<f32> = (0..s.batch * s.targets)
        .map(|i| if s.classes > 0 { ((i * 7) % s.classes) as f32 } else { (i % 13) as f32 / 13.0 })
        .collect();
    Ok(step_case(s.name, reps, compile_ms, trainer, x, y))
}

/// Part 4's steps: the char-seq, long-seq and LSTM-stock labs', and a word-level language
/// model's (an embedding of 10,000 words, a 2-layer LSTM of 256, 35 steps, batch 20).
fn sequence_steps() -> Result<Vec<SequenceStep>> {
    let recipe = |name: &str| recipes::find(name).map(|r| (r.model)());
    let ce = LossKind::CrossEntropy;
    let mut language_model = Sequential::default();
    language_model.push_named("encoder", Layer::Embedding { count: 10_000, dim: 256 });
    language_model.push_named("rnn", Recurrent::lstm(256, 256).layers(2).batch_first());
    language_model.push_named("decoder", Layer::Linear { inputs: 256, outputs: 10_000, bias: true });
    let step = |name, model, example: &[usize], batch, targets, classes, vocabulary, loss, optimizer| SequenceStep {
        name,
        model,
        example: example.to_vec(),
        batch,
        targets,
        classes,
        vocabulary,
        loss,
        optimizer,
    };
    Ok(vec![
        step("rnn_charseq_step", recipe("rnn-charseq")?, &[15, 10], 1, 15, 10, 0, ce, Optimizer::adam(0.1)),
        step("rnn_longseq_step", recipe("rnn-longseq")?, &[10, 25], 170, 10, 25, 0, ce, Optimizer::adam(0.1)),
        step("lstm_stock_step", recipe("lstm-stock")?, &[7, 5], 505, 1, 0, 0, LossKind::Mse, Optimizer::adam(0.01)),
        step("lstm_language_model_step", language_model, &[35], 20, 35, 10_000, 10_000, ce, Optimizer::sgd(1.0)),
    ])
}

/// The course's MLP (784-256-256-10, ReLU).
pub fn mlp() -> Sequential {
    let linear = |i, o| Layer::Linear { inputs: i, outputs: o, bias: true };
    Sequential::new(vec![linear(784, 256), Layer::RELU, linear(256, 256), Layer::RELU, linear(256, 10)])
}

/// Prepares every case in turn (one plan alive at a time) and hands it to `each`: matmuls,
/// convolutions and pooling, cross-entropy, then the MLP, CNN and deep-CNN training steps.
/// `quick` uses fewer repetitions and smaller matmuls; cases whose names `wanted` refuses
/// are not prepared.
pub fn each_case(
    device: &Device,
    quick: bool,
    wanted: &dyn Fn(&str) -> bool,
    mut each: impl FnMut(Case) -> Result<()>,
) -> Result<()> {
    let reps = if quick { 3 } else { 10 };
    // 4096² takes seconds on a software adapter; on a GPU it is the size that shows its peak.
    let gpu = device.info().device_type != wgpu::DeviceType::Cpu;
    let sizes: &[usize] = match (quick, gpu) {
        (true, _) => &[256, 512],
        (false, false) => &[256, 512, 1024, 2048],
        (false, true) => &[256, 512, 1024, 2048, 4096],
    };
    for &n in sizes.iter().filter(|n| wanted(&format!("matmul_{n}"))) {
        each(matmul(device, n, reps)?)?;
    }
    conv_cases(device, reps.min(5), wanted, &mut each)?;
    if wanted("cross_entropy_4096x1000") {
        each(cross_entropy(device, 4096, 1000, reps)?)?;
    }
    if wanted("mnist_mlp_step") {
        each(training_step(device, "mnist_mlp_step", mlp(), &[784], StepSettings::MNIST, reps)?)?;
    }
    if wanted("mnist_cnn_step") {
        let cnn = (recipes::find("mnist-cnn")?.model)();
        each(training_step(device, "mnist_cnn_step", cnn, &[1, 28, 28], StepSettings::MNIST, reps.min(5))?)?;
    }
    // The course's deeper CNN (lab 10-2, and each model of its ensemble): a third convolution
    // at 7×7, whose products do not come in fours.
    if wanted("mnist_deep_cnn_step") {
        let deep = (recipes::find("mnist-deep-cnn")?.model)();
        each(training_step(device, "mnist_deep_cnn_step", deep, &[1, 28, 28], StepSettings::MNIST, reps.min(5))?)?;
    }
    // Part 3's residual and VGG training steps (labs 10-6 and 10-5-2).
    for (case, recipe, example, step) in [
        ("mnist_resnet_step", "mnist-resnet", [1, 28, 28], StepSettings::MNIST),
        ("resnet50_cifar_step", "resnet50-cifar10", [3, 32, 32], StepSettings::CIFAR),
        ("vgg16_cifar_step", "vgg16-cifar10", [3, 32, 32], StepSettings::CIFAR),
    ] {
        if wanted(case) {
            let model = (recipes::find(recipe)?.model)();
            each(training_step(device, case, model, &example, step, reps.min(3))?)?;
        }
    }
    for s in sequence_steps()? {
        if wanted(s.name) {
            each(sequence_step(device, s, reps.min(5))?)?;
        }
    }
    Ok(())
}

/// Measures every case `wanted` accepts, reporting each as it finishes with its profile
/// (GPU time per launch) when `profile` is set and the adapter has timestamps.
pub fn run_all(
    device: &Device,
    quick: bool,
    profile: bool,
    wanted: &dyn Fn(&str) -> bool,
    mut report: impl FnMut(&Measurement, Option<&[LaunchTime]>),
) -> Result<Vec<Measurement>> {
    // A first pass that builds nothing collects the cases' names.
    let names = std::cell::RefCell::new(Vec::new());
    let named = |name: &str| {
        names.borrow_mut().push(name.to_string());
        false
    };
    each_case(device, quick, &named, |_| Ok(()))?;
    let names = names.into_inner();
    if !names.iter().any(|name| wanted(name)) {
        return Err(Error::InvalidArgument {
            op: "bench",
            message: format!("no case is picked; the cases: {}", names.join(", ")),
        });
    }
    let mut out = Vec::new();
    each_case(device, quick, wanted, |mut case| {
        let m = case.measure()?;
        let launches = if profile { case.profile()? } else { None };
        report(&m, launches.as_deref());
        out.push(m);
        Ok(())
    })?;
    Ok(out)
}

/// Launch times summed per op: (op, launches, milliseconds), the costliest first.
pub fn profile_by_op(launches: &[LaunchTime]) -> Vec<(String, usize, f64)> {
    let mut by_op: Vec<(String, usize, f64)> = Vec::new();
    for l in launches {
        match by_op.iter_mut().find(|(op, _, _)| *op == l.op) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += l.ms;
            }
            None => by_op.push((l.op.clone(), 1, l.ms)),
        }
    }
    by_op.sort_by(|a, b| b.2.total_cmp(&a.2));
    by_op
}
