//! Optimizer updates against the reference over several steps: parameters and every state.

use super::report::{CaseReport, compare};
use crate::backend::device::Device;
use crate::backend::executor::Plan;
use crate::error::Result;
use crate::ir::graph::Graph;
use crate::ir::ops::optim::Optimizer;
use crate::reference::optim::step;
use crate::rng::Rng;

/// Steps taken per check: enough for Adam's bias correction and momentum to matter.
const STEPS: u64 = 5;

/// The parameter shapes each configuration is checked on: odd sizes, one element, one in
/// fours (Adam's vector kernel) over several workgroups, and one larger than a launch of
/// the texture-reading update copies on software adapters.
pub const SHAPES: &[&[usize]] = &[&[257, 7], &[33], &[1], &[64, 36], &[241, 256]];

/// The optimizer configurations checked.
pub fn configurations() -> Vec<(String, Optimizer)> {
    vec![
        ("sgd".into(), Optimizer::sgd(0.1)),
        ("sgd_weight_decay".into(), Optimizer::Sgd { lr: 0.1, momentum: 0.0, nesterov: false, weight_decay: 0.01 }),
        ("sgd_momentum".into(), Optimizer::Sgd { lr: 0.05, momentum: 0.9, nesterov: false, weight_decay: 0.0 }),
        ("sgd_nesterov".into(), Optimizer::Sgd { lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 1e-3 }),
        ("adam".into(), Optimizer::adam(1e-3)),
        (
            "adam_weight_decay".into(),
            Optimizer::Adam { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.1 },
        ),
        ("adagrad".into(), Optimizer::adagrad(0.1)),
    ]
}

/// Runs `opt` for a few steps on random parameters and gradients of shape `dims`, comparing
/// the parameter and its states after every step.
pub fn run_optimizer_case(
    device: &Device,
    name: &str,
    opt: Optimizer,
    dims: &[usize],
    seed: u64,
) -> Result<CaseReport> {
    let mut rng = Rng::new(seed);
    let n: usize = dims.iter().product();
    let mut g = Graph::new();
    let param = g.param("p", dims)?;
    let grad = g.input("grad", dims)?;
    g.optimizer_update(param, grad, opt)?;
    let states: Vec<_> =
        opt.states().iter().map(|s| g.find(&format!("p.{s}"))).collect::<Option<_>>().unwrap_or_default();
    let mut reads = vec![param];
    reads.extend(&states);
    let mut plan = Plan::compile(device, &g, &reads)?;

    let draw = |rng: &mut Rng| (0..n).map(|_| rng.nonzero() as f32 as f64).collect::<Vec<f64>>();
    let mut p_ref = draw(&mut rng);
    let mut s_ref = vec![vec![0.0; n]; states.len()];
    plan.write(param, &p_ref.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
    let mut all = Vec::new();
    let mut worst = 0.0f64;
    for t in 1..=STEPS {
        let grads = draw(&mut rng);
        plan.write(grad, &grads.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
        let got = plan.run_and_read(&reads)?;
        step(&opt, &mut p_ref, &grads, &mut s_ref, t);
        let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        worst = worst.max(compare(&format!("param after step {t}"), &as_f64(&got[0]), &p_ref, &mut all));
        for (k, s) in s_ref.iter().enumerate() {
            let what = format!("{} after step {t}", opt.states()[k]);
            worst = worst.max(compare(&what, &as_f64(&got[k + 1]), s, &mut all));
        }
    }
    let mut report = CaseReport {
        op: name.to_string(),
        shapes: format!("{dims:?} x {STEPS} steps"),
        forward_error: worst,
        backward_error: 0.0,
        has_backward: false,
        fd_error: 0.0,
        worst: Vec::new(),
    };
    report.keep_worst(all);
    Ok(report)
}
