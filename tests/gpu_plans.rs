//! The plans a GPU gets (tiled products, one partial sum for a few batch entries, every
//! convolution through im2col), run on whatever adapter there is: a machine without a GPU
//! checks them against the software plans, and both kinds against the memory target.

use shadergrad::backend::kernels::matmul::MatmulVariant;
use shadergrad::init::{Init, Mt19937};
use shadergrad::ir::ops::loss::LossKind;
use shadergrad::ir::ops::optim::Optimizer;
use shadergrad::nn::{InitPlan, ModuleExt, Sequential};
use shadergrad::recipes;
use shadergrad::train::{Settings, Trainer};
use shadergrad::{Device, DeviceOptions, KernelSet};

fn device(kernels: KernelSet) -> Device {
    let options = DeviceOptions { kernels: Some(kernels), matmul: None, ..DeviceOptions::from_env().unwrap() };
    Device::with_options(&options).expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// The recipe's model and the dims of one example.
fn model(name: &str) -> (Sequential, Vec<usize>) {
    let example = if name == "mnist-mlp" { vec![784] } else { vec![1, 28, 28] };
    ((recipes::find(name).unwrap().model)(), example)
}

/// A trainer of `name`'s model at `batch` with the same initial weights on every device.
/// `optimizer`: SGD to compare runs (a weight's change is then its gradient, where Adam's
/// first step is its sign, which a gradient of almost nothing flips in another summation
/// order), Adam as the benchmark runs it to count bytes.
fn trainer(device: &Device, name: &str, batch: usize, optimizer: Optimizer) -> Trainer {
    let (model, example) = model(name);
    let initial = model.initial_values(InitPlan::all(Init::TorchDefault), &mut Mt19937::new(3));
    let settings =
        Settings { batch_size: Some(batch), shuffle: false, ..Settings::new(LossKind::CrossEntropy, optimizer) };
    Trainer::new(device, model, settings, batch, &example, 1, &initial).unwrap()
}

/// What two training steps left: their losses, the parameters after them, the launches' ops.
struct Run {
    losses: Vec<f32>,
    params: Vec<(String, Vec<f32>)>,
    ops: Vec<String>,
}

/// Two steps on fixed batches.
fn two_steps(device: &Device, name: &str, batch: usize) -> Run {
    let mut t = trainer(device, name, batch, Optimizer::sgd(0.1));
    let size: usize = model(name).1.iter().product();
    let losses = (0..2)
        .map(|s| {
            let x: Vec<f32> = (0..batch * size).map(|i| ((i * 31 + s * 7) % 255) as f32 / 255.0).collect();
            let y: Vec<f32> = (0..batch).map(|i| ((i * 3 + s) % 10) as f32).collect();
            t.step(&x, &y, true).unwrap().unwrap()
        })
        .collect();
    let ops = t.plan().launch_ops().iter().map(|s| s.to_string()).collect();
    Run { losses, params: t.parameters().unwrap(), ops }
}

#[test]
fn training_steps_planned_for_a_gpu_equal_the_software_plans() {
    let (gpu, software) = (device(KernelSet::Gpu), device(KernelSet::Software));
    assert_eq!(gpu.kernel_set(), KernelSet::Gpu);
    assert_eq!(gpu.matmul_variant(), MatmulVariant::Tiled);
    // Batches large enough that the filter gradients are summed in partial sums of two
    // entries or more on both kinds of plan.
    for (name, batch) in [("mnist-mlp", 16), ("mnist-cnn", 32), ("mnist-deep-cnn", 20)] {
        let Run { losses: gpu_losses, params: gpu_params, ops: gpu_ops } = two_steps(&gpu, name, batch);
        let Run { losses, params, ops } = two_steps(&software, name, batch);
        if name != "mnist-mlp" {
            let has = |ops: &[String], op: &str| ops.iter().any(|o| o == op);
            assert!(has(&gpu_ops, "matmulbatchsum") && !has(&gpu_ops, "conv2dtaps"), "{name}: {gpu_ops:?}");
            assert!(has(&ops, "conv2dtaps"), "{name}: the software plan computes its first layer directly");
        }
        // The same arithmetic in other orders (tiles, partial sums): close, not equal.
        for (step, (g, w)) in gpu_losses.iter().zip(&losses).enumerate() {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{name}: loss of step {}: {g} vs {w}", step + 1);
        }
        for ((p, g), (_, w)) in gpu_params.iter().zip(&params) {
            let worst = g.iter().zip(w).enumerate().max_by(|a, b| {
                let err = |(_, (g, w)): &(usize, (&f32, &f32))| (*g - *w).abs();
                err(a).total_cmp(&err(b))
            });
            let (i, (g, w)) = worst.unwrap();
            assert!((g - w).abs() <= 1e-6 + 1e-6 * w.abs(), "{name}: {p}[{i}]: {g} vs {w}");
        }
    }
}

#[test]
fn course_training_plans_stay_within_a_quarter_over_their_memory_floor() {
    // The benchmark's steps: batch 100, Adam. Bytes are counted, not timed, so this holds
    // on every adapter.
    for kernels in [KernelSet::Gpu, KernelSet::Software] {
        let device = device(kernels);
        for name in ["mnist-mlp", "mnist-cnn", "mnist-deep-cnn"] {
            let t = trainer(&device, name, 100, Optimizer::adam(1e-3));
            let (bytes, floor) = (t.plan().counters().bytes_allocated, t.memory_floor());
            let ratio = bytes as f64 / floor as f64;
            assert!(ratio <= 1.25, "{kernels:?} plan of {name}: {bytes} bytes, {ratio:.3}× its floor of {floor}");
        }
    }
}
