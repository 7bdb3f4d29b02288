//! Every optimizer matches the reference step by step, parameters and states alike.

use shadergrad::Device;
use shadergrad::check::{OPTIMIZER_SHAPES, describe_failure, optimizer_configurations, run_optimizer_case};

#[test]
fn optimizers_match_the_reference_over_several_steps() {
    let device = Device::new().expect("an adapter");
    let mut failures = Vec::new();
    for (k, (name, opt)) in optimizer_configurations().into_iter().enumerate() {
        for dims in OPTIMIZER_SHAPES {
            let report = run_optimizer_case(&device, &name, opt, dims, 1000 + k as u64).unwrap();
            if !report.passed() {
                failures.push(describe_failure(&report));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn adam_bias_correction_follows_pytorch() {
    // PyTorch computes lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ) in Python floats (f64).
    let (step, bias2) = shadergrad::ir::ops::optim::adam_corrections(1e-3, 0.9, 0.999, 1);
    assert_eq!(step, (1e-3f32 as f64 / (1.0 - 0.9f32 as f64)) as f32);
    assert_eq!(bias2, (1.0 - 0.999f32 as f64).sqrt() as f32);
}
