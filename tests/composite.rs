//! Batch norm's running statistics and evaluation mode.

use shadergrad::reference::{Array, batch_norm::statistics};
use shadergrad::{Device, Graph, Plan};

#[test]
fn batch_norm_updates_running_statistics_and_evaluates_with_them() {
    let device = Device::new().expect("an adapter");
    let dims = [6, 3, 4, 5];
    let n: usize = dims.iter().product();
    let values: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * (1.0 + (i % 3) as f32)).collect();

    let mut g = Graph::new();
    let x = g.input("x", &dims).unwrap();
    let gamma = g.param("gamma", &[3]).unwrap();
    let beta = g.param("beta", &[3]).unwrap();
    let state = g.batch_norm_state("bn", 3).unwrap();
    let y = g.batch_norm_train(x, gamma, beta, state, 0.1, 1e-5).unwrap();
    let mut plan = Plan::compile(&device, &g, &[y, state.running_mean, state.running_var]).unwrap();
    plan.write(x, &values).unwrap();
    plan.write(gamma, &[1.0, 2.0, 0.5]).unwrap();
    plan.write(beta, &[0.0, -1.0, 3.0]).unwrap();
    plan.run().unwrap();
    let running_mean = plan.read(state.running_mean).unwrap();
    let running_var = plan.read(state.running_var).unwrap();

    let (mean, var) = statistics(&Array::from_f32(&dims, &values));
    let count = (n / 3) as f64;
    for c in 0..3 {
        let want_mean = 0.1 * mean[c];
        let want_var = 0.9 + 0.1 * var[c] * count / (count - 1.0);
        assert!(
            (running_mean[c] as f64 - want_mean).abs() < 1e-6,
            "running mean {c}: {} vs {want_mean}",
            running_mean[c]
        );
        assert!((running_var[c] as f64 - want_var).abs() < 1e-5, "running var {c}: {} vs {want_var}", running_var[c]);
    }

    // Evaluation mode reads the running statistics, written into a plan of its own.
    let mut e = Graph::new();
    let x = e.input("x", &dims).unwrap();
    let gamma = e.param("gamma", &[3]).unwrap();
    let beta = e.param("beta", &[3]).unwrap();
    let state = e.batch_norm_state("bn", 3).unwrap();
    let y = e.batch_norm_eval(x, gamma, beta, state, 1e-5).unwrap();
    let mut eval = Plan::compile(&device, &e, &[y]).unwrap();
    eval.write(x, &values).unwrap();
    eval.write(gamma, &[1.0, 2.0, 0.5]).unwrap();
    eval.write(beta, &[0.0, -1.0, 3.0]).unwrap();
    eval.write(state.running_mean, &running_mean).unwrap();
    eval.write(state.running_var, &running_var).unwrap();
    let out = eval.run_and_read(&[y]).unwrap().remove(0);
    let (gs, bs) = ([1.0, 2.0, 0.5], [0.0, -1.0, 3.0]);
    for (i, &v) in out.iter().enumerate() {
        let c = (i / 20) % 3;
        let want = (values[i] as f64 - running_mean[c] as f64) / (running_var[c] as f64 + 1e-5).sqrt() * gs[c] + bs[c];
        assert!((v as f64 - want).abs() < 1e-4 * want.abs().max(1.0), "element {i}: {v} vs {want}");
    }
}
