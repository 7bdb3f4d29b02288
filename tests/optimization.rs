//! Gradient clipping, parameter groups and learning-rate schedules: the clipping ops against
//! their reference, and two short trainings against PyTorch's own (`tests/torch/optimization.py`
//! wrote the fixture): every step's loss and the weights after four epochs.

mod common;

use common::assert_close;
use shadergrad::checkpoint;
use shadergrad::nn::{Layer, Sequential};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::optimization::{Clip, ParamFilter, ParamGroup, Schedule};
use shadergrad::reference::optim::clip_grad_norm;
use shadergrad::train::{Settings, Trainer};
use shadergrad::{Device, Graph, Plan};
use std::path::Path;

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// Gradients of several shapes (one spanning several workgroups), values of about ±`scale`.
fn gradients(scale: f32) -> Vec<(Vec<usize>, Vec<f32>)> {
    [vec![300, 7], vec![13], vec![2, 3, 5, 5]]
        .into_iter()
        .enumerate()
        .map(|(k, dims)| {
            let n: usize = dims.iter().product();
            let values = (0..n).map(|i| scale * ((i * 7 + k * 13) as f32 * 0.37).sin()).collect();
            (dims, values)
        })
        .collect()
}

fn clipped_on_the_gpu(grads: &[(Vec<usize>, Vec<f32>)], clip: Clip) -> Vec<Vec<f32>> {
    let mut g = Graph::new();
    let inputs: Vec<_> =
        grads.iter().enumerate().map(|(k, (dims, _))| g.input(&format!("g{k}"), dims).unwrap()).collect();
    let out = match clip {
        Clip::Norm(max) => g.clip_grad_norm(&inputs, max).unwrap(),
        Clip::Value(limit) => g.clip_grad_value(&inputs, limit).unwrap(),
    };
    let mut plan = Plan::compile(&device(), &g, &out).unwrap();
    for (&id, (_, values)) in inputs.iter().zip(grads) {
        plan.write(id, values).unwrap();
    }
    plan.run_and_read(&out).unwrap()
}

#[test]
fn clipping_by_norm_matches_the_reference_above_and_below_the_limit() {
    for (scale, max_norm) in [(1.0f32, 2.0f32), (0.01, 2.0)] {
        let grads = gradients(scale);
        let got = clipped_on_the_gpu(&grads, Clip::Norm(max_norm));
        let mut want: Vec<Vec<f64>> = grads.iter().map(|(_, v)| v.iter().map(|&x| x as f64).collect()).collect();
        clip_grad_norm(&mut want, max_norm as f64);
        for (k, (got, want)) in got.iter().zip(&want).enumerate() {
            let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
            assert_close(&format!("clip_grad_norm gradient {k} (scale {scale})"), got, &want, 1e-6);
        }
    }
}

#[test]
fn clipping_by_value_clamps_every_element() {
    let grads = gradients(1.0);
    let got = clipped_on_the_gpu(&grads, Clip::Value(0.25));
    for ((_, values), got) in grads.iter().zip(&got) {
        let want: Vec<f32> = values.iter().map(|v| v.clamp(-0.25, 0.25)).collect();
        assert_eq!(got, &want);
    }
}

#[test]
fn bad_clipping_limits_are_named_errors() {
    let mut g = Graph::new();
    let x = g.input("g", &[3]).unwrap();
    let message = g.clip_grad_norm(&[x], 0.0).unwrap_err().to_string();
    assert!(message.contains("clip_grad_norm") && message.contains('0'), "{message}");
    let message = g.clip_grad_value(&[x], f32::NAN).unwrap_err().to_string();
    assert!(message.contains("clip_grad_value"), "{message}");
}

/// Trains `tests/torch/optimization.py`'s network 4 epochs of 2 batches as run `name` did.
fn train_as_pytorch(name: &str, settings: Settings) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/optimization.safetensors");
    let fixture = checkpoint::load(&path).unwrap();
    let tensor = |key: &str| fixture.get(key).unwrap_or_else(|| panic!("no {key} in the fixture")).1.to_vec();
    let model = Sequential::new(vec![
        Layer::Linear { inputs: 6, outputs: 8, bias: true },
        Layer::RELU,
        Layer::Linear { inputs: 8, outputs: 3, bias: true },
    ]);
    let names = ["0.weight", "0.bias", "2.weight", "2.bias"];
    let initial: Vec<(String, Vec<f32>)> =
        names.iter().map(|n| (n.to_string(), tensor(&format!("init.{n}")))).collect();
    let mut trainer = Trainer::new(&device(), model, settings, 4, &[6], 1, &initial).unwrap();
    let (x, labels) = (tensor("x"), tensor("labels"));
    let mut losses = Vec::new();
    for epoch in 0..4 {
        trainer.start_epoch(epoch);
        for b in 0..2 {
            let loss = trainer.step(&x[24 * b..24 * (b + 1)], &labels[4 * b..4 * (b + 1)], true).unwrap();
            losses.push(loss.unwrap());
        }
    }
    assert_close(&format!("{name}: every step's loss"), &losses, &tensor(&format!("{name}.losses")), 2e-6);
    for (param, values) in trainer.parameters().unwrap() {
        assert_close(&format!("{name}: {param} after training"), &values, &tensor(&format!("{name}.{param}")), 2e-6);
    }
}

#[test]
fn sgd_with_groups_norm_clipping_and_a_step_schedule_trains_as_pytorch_does() {
    let sgd = Optimizer::Sgd { lr: 0.1, momentum: 0.9, nesterov: false, weight_decay: 5e-3 };
    train_as_pytorch(
        "sgd",
        Settings {
            batch_size: Some(4),
            shuffle: false,
            groups: vec![ParamGroup::new(ParamFilter::Suffix(".bias".into())).weight_decay(0.0)],
            clip: Some(Clip::Norm(0.5)),
            schedule: Schedule::Step { every: 2, gamma: 0.5 },
            ..Settings::new(LossKind::CrossEntropy, sgd)
        },
    );
}

#[test]
fn adam_with_value_clipping_and_a_cosine_schedule_trains_as_pytorch_does() {
    train_as_pytorch(
        "adam",
        Settings {
            batch_size: Some(4),
            shuffle: false,
            clip: Some(Clip::Value(0.02)),
            schedule: Schedule::Cosine { period: 3, eta_min: 0.0 },
            ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(0.05))
        },
    );
}
