//! The conformance suite under `cargo test`: every op, three checks each, under both kernel
//! sets (software adapters' and GPUs'), on lavapipe (or whatever adapter
//! `SHADERGRAD_BACKEND` / `SHADERGRAD_ADAPTER` pick).

use shadergrad::check::{all_cases, describe_failure, run_case, run_seeds};
use shadergrad::{Device, DeviceOptions, KernelSet};

/// Runs the cases whose names start with one of `prefixes`, once with the kernels and fusions
/// planned for software adapters and once with those planned for GPUs, on the same adapter.
fn check_ops(prefixes: &[&str]) {
    let seed = 20261127;
    let cases = all_cases(seed);
    let mut failures = Vec::new();
    let mut ran = 0;
    for kernels in [KernelSet::Software, KernelSet::Gpu] {
        let options = DeviceOptions { kernels: Some(kernels), ..DeviceOptions::from_env().expect("valid settings") };
        let device = Device::with_options(&options).expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
        assert_eq!(device.kernel_set(), kernels);
        for (case, run_seed) in cases.iter().zip(run_seeds(seed, &cases)) {
            if !prefixes.iter().any(|p| case.op.starts_with(p)) {
                continue;
            }
            ran += 1;
            let report = run_case(&device, case, run_seed).unwrap_or_else(|e| panic!("{}: {e}", case.op));
            if !report.passed() {
                failures.push(format!("{kernels:?} kernels: {}", describe_failure(&report)));
            }
        }
    }
    assert!(ran > 0, "no case matched {prefixes:?}");
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn matmul_all_transposes() {
    check_ops(&["matmul"]);
}

#[test]
fn add_sub_mul_div_with_broadcasting() {
    check_ops(&["add", "sub", "mul", "div"]);
}

#[test]
fn scalar_ops_and_activations() {
    check_ops(&[
        "scale",
        "add_scalar",
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "selu",
        "gelu",
        "rsqrt",
        "sqrt",
        "clip",
    ]);
}

#[test]
fn sum_and_mean_over_axes() {
    check_ops(&["sum", "mean"]);
}

#[test]
fn losses() {
    check_ops(&["mse", "bce", "nll", "cross_entropy"]);
}

#[test]
fn a_wrong_result_fails_and_names_the_worst_elements() {
    use shadergrad::check::Case;
    use shadergrad::ir::ops::elementwise::ElementwiseOp;
    use shadergrad::reference::{Array, elementwise};
    let device = Device::new().expect("an adapter");
    let x = Array::new(&[7, 33], (0..231).map(|i| 0.25 + i as f64 / 256.0).collect());
    // The reference claims relu(x) is 2x: forward and backward both disagree with the GPU.
    let case = Case {
        op: "relu_sabotaged".into(),
        inputs: vec![x],
        wrt: vec![0],
        build: Box::new(|g, x| g.relu(x[0])),
        forward: Box::new(|x| elementwise::unary(ElementwiseOp::Scale, 2.0, &x[0])),
        backward: Box::new(|_, g| vec![elementwise::unary(ElementwiseOp::Scale, 2.0, g)]),
    };
    let report = run_case(&device, &case, 7).expect("the case runs");
    assert!(!report.passed());
    assert!(report.forward_error > 0.1 && report.backward_error > 0.1, "{report:?}");
    let text = describe_failure(&report);
    assert!(text.contains("relu_sabotaged") && text.contains("[7, 33]") && text.contains("got"), "{text}");
    assert!(!report.worst.is_empty() && report.worst.len() <= 5);
}

#[test]
fn softmax_and_log_softmax() {
    check_ops(&["softmax", "log_softmax"]);
}

#[test]
fn max_and_argmax_forward() {
    check_ops(&["max_", "argmax_"]);
}

#[test]
fn conv2d_forward_and_both_gradients() {
    check_ops(&["conv2d"]);
}

#[test]
fn max_and_average_pooling() {
    check_ops(&["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]);
}

#[test]
fn dropout_masks_match_the_reference_and_backward_reuses_them() {
    check_ops(&["dropout"]);
}

#[test]
fn dropout_drops_the_right_fraction_and_changes_mask_every_run() {
    use shadergrad::{Graph, Plan};
    let device = Device::new().expect("an adapter");
    let mut g = Graph::new();
    let x = g.input("x", &[100_000]).unwrap();
    let y = g.dropout(x, 0.3, 42).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y]).unwrap();
    plan.write(x, &vec![1.0; 100_000]).unwrap();
    let first = plan.run_and_read(&[y]).unwrap().remove(0);
    let second = plan.run_and_read(&[y]).unwrap().remove(0);
    let dropped = first.iter().filter(|&&v| v == 0.0).count() as f64 / 1e5;
    assert!((dropped - 0.3).abs() < 0.01, "dropped fraction {dropped}");
    assert!(first.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6), "kept values are scaled by 1/(1-p)");
    let changed = first.iter().zip(&second).filter(|(a, b)| a != b).count();
    assert!(changed > 30_000, "the mask must change between runs ({changed} elements changed)");
    // A fresh plan with the same seed repeats the same masks: runs are reproducible.
    let mut again = Plan::compile(&device, &g, &[y]).unwrap();
    again.write(x, &vec![1.0; 100_000]).unwrap();
    assert_eq!(again.run_and_read(&[y]).unwrap().remove(0), first);
}

#[test]
fn batch_norm_in_training_and_evaluation_forward_and_backward() {
    check_ops(&["batch_norm"]);
}

#[test]
fn recurrent_layers_forward_and_through_time() {
    check_ops(&["rnn_tanh", "rnn_relu", "lstm", "gru"]);
}

#[test]
fn layout_ops_forward_and_backward() {
    check_ops(&["narrow", "pad", "permute", "cat", "one_hot", "embedding", "index_order"]);
}

#[test]
fn the_fused_convolution_block() {
    check_ops(&["conv_block"]);
}

#[test]
fn every_case_of_the_suite_is_checked_here() {
    let prefixes = [
        "matmul",
        "add",
        "sub",
        "mul",
        "div",
        "scale",
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "selu",
        "gelu",
        "rsqrt",
        "sqrt",
        "clip",
        "sum",
        "mean",
        "mse",
        "bce",
        "nll",
        "cross_entropy",
        "softmax",
        "log_softmax",
        "max_",
        "argmax_",
        "conv2d",
        "max_pool2d",
        "avg_pool2d",
        "adaptive_avg_pool2d",
        "dropout",
        "batch_norm",
        "narrow",
        "pad",
        "permute",
        "cat",
        "one_hot",
        "embedding",
        "index_order",
        "conv_block",
        "rnn_tanh",
        "rnn_relu",
        "lstm",
        "gru",
    ];
    let missed: Vec<String> =
        all_cases(1).into_iter().map(|c| c.op).filter(|op| !prefixes.iter().any(|p| op.starts_with(p))).collect();
    assert!(missed.is_empty(), "cases no test of tests/ops.rs runs: {missed:?}");
}
