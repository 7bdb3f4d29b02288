//! End to end: the course's linear regression trains on the GPU, step for step like an
//! independent f32 computation.

use shadergrad::recipes::{linear_regression, RunOptions};
use shadergrad::Device;

/// Lab 02 computed independently on the CPU in f32, the way PyTorch does it.
fn independent_linear_regression(steps: usize, lr: f32) -> (f32, f32, Vec<f32>) {
    let xs = [1.0f32, 2.0, 3.0];
    let (mut w, mut b) = (0.0f32, 0.0f32);
    let mut costs = Vec::new();
    for _ in 0..steps {
        let h: Vec<f32> = xs.iter().map(|x| x * w + b).collect();
        costs.push(h.iter().zip(&xs).map(|(h, y)| (h - y) * (h - y)).sum::<f32>() / 3.0);
        let gw = h.iter().zip(&xs).map(|(h, y)| 2.0 * (h - y) * y).sum::<f32>() / 3.0;
        let gb = h.iter().zip(&xs).map(|(h, y)| 2.0 * (h - y)).sum::<f32>() / 3.0;
        w -= lr * gw;
        b -= lr * gb;
    }
    (w, b, costs)
}

#[test]
fn linear_regression_converges_like_the_course() {
    let device = Device::new().expect("an adapter");
    let options = RunOptions { steps: 1001, lr: 0.01, log_every: 100 };
    let summary = linear_regression(&device, &options, |_, _| {}).unwrap();
    let (w, b, costs) = independent_linear_regression(1001, 0.01);
    let param = |name: &str| summary.params.iter().find(|(n, _)| n == name).unwrap().1[0];
    let close = |a: f32, e: f32| (a - e).abs() <= 1e-5 * e.abs().max(1e-3);
    assert!(close(param("W"), w), "W {} vs {w}", param("W"));
    assert!(close(param("b"), b), "b {} vs {b}", param("b"));
    for &(step, loss) in &summary.losses {
        assert!(close(loss, costs[step]), "cost at step {step}: {loss} vs {}", costs[step]);
    }
    // The course prints cost 4.666667 first and W 0.985, b 0.033 after 1001 steps.
    assert!((summary.losses[0].1 - 4.666_667).abs() < 1e-5);
    assert!((param("W") - 0.985).abs() < 5e-4 && (param("b") - 0.033).abs() < 5e-4);
    // One submit per step plus the two parameter reads; no allocation after the first step.
    assert_eq!(summary.counters.submits, 1001 + 2);
    assert_eq!(summary.allocations_after_first_run, summary.counters.allocations);
}

#[test]
fn a_diverging_run_names_the_step_and_suggests_a_lower_rate() {
    let device = Device::new().expect("an adapter");
    let options = RunOptions { steps: 200, lr: 1e5, log_every: 1 };
    let err = linear_regression(&device, &options, |_, _| {}).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, shadergrad::Error::Diverged { .. }), "{text}");
    assert!(text.contains("step") && text.contains("lower"), "{text}");
}
