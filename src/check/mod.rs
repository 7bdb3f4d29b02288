//! The conformance suite: every op checked three ways on random shapes and values.
//!
//! 1. the reference backward against central finite differences of the reference forward, in f64;
//! 2. the GPU forward against the reference forward;
//! 3. the GPU backward (autodiff through the executor) against the reference backward.
//!
//! `cargo test` and `shadergrad check` run the same cases.

mod cases;
mod optim;
mod report;

pub use cases::{Case, all_cases, named_rng, named_seed, run_seeds};
pub use optim::{SHAPES as OPTIMIZER_SHAPES, configurations as optimizer_configurations, run_optimizer_case};
pub use report::{CaseReport, FD_TOLERANCE, GPU_TOLERANCE, Mismatch};

use report::compare;

use crate::backend::device::Device;
use crate::backend::executor::Plan;
use crate::error::{Error, Result};
use crate::ir::autodiff::gradients;
use crate::ir::graph::Graph;
use crate::reference::Array;
use crate::rng::Rng;

/// Elements per input probed by finite differences (all of them in small inputs).
const FD_PROBES: usize = 24;
/// Step of the central differences.
const FD_STEP: f64 = 1e-5;

/// Runs one case on `device`.
pub fn run_case(device: &Device, case: &Case, seed: u64) -> Result<CaseReport> {
    let mut rng = Rng::new(seed);
    let inputs = &case.inputs;
    let out = (case.forward)(inputs);
    let upstream = Array::new(&out.dims, (0..out.data.len()).map(|_| rng.nonzero() as f32 as f64).collect());
    let reference_grads = (case.backward)(inputs, &upstream);
    let mut all = Vec::new();

    // 1. Reference backward against finite differences of Σ forward(x) · upstream.
    let loss = |xs: &[Array]| -> f64 { (case.forward)(xs).data.iter().zip(&upstream.data).map(|(y, g)| y * g).sum() };
    let mut fd_error = 0.0f64;
    for (slot, &k) in case.wrt.iter().enumerate() {
        let x = &inputs[k];
        let probes: Vec<usize> = if x.data.len() <= FD_PROBES {
            (0..x.data.len()).collect()
        } else {
            (0..FD_PROBES).map(|_| rng.range(0, x.data.len() - 1)).collect()
        };
        let mut numeric = Vec::new();
        let mut analytic = Vec::new();
        for &j in &probes {
            let mut xs = inputs.clone();
            xs[k].data[j] = x.data[j] + FD_STEP;
            let up = loss(&xs);
            xs[k].data[j] = x.data[j] - FD_STEP;
            let down = loss(&xs);
            numeric.push((up - down) / (2.0 * FD_STEP));
            analytic.push(reference_grads[slot].data[j]);
        }
        let mut found = Vec::new();
        fd_error = fd_error.max(compare(&format!("fd x{k}"), &analytic, &numeric, &mut found));
        for (m, &j) in found.iter_mut().zip(&probes) {
            m.index = j;
        }
        all.extend(found);
    }

    // 2 and 3. The GPU forward and its gradients, seeded with the same upstream gradient.
    let mut graph = Graph::new();
    let ids =
        inputs.iter().enumerate().map(|(k, x)| graph.input(&format!("x{k}"), &x.dims)).collect::<Result<Vec<_>>>()?;
    let y = (case.build)(&mut graph, &ids)?;
    let seed_node = graph.input("upstream", &out.dims)?;
    let wrt: Vec<_> = case.wrt.iter().map(|&k| ids[k]).collect();
    let grads = gradients(&mut graph, y, Some(seed_node), &wrt)?;
    let mut outputs = vec![y];
    outputs.extend(&grads);
    let mut plan = Plan::compile(device, &graph, &outputs)?;
    plan.poison_computed();
    for (id, x) in ids.iter().zip(inputs) {
        plan.write(*id, &x.to_f32())?;
    }
    plan.write(seed_node, &upstream.to_f32())?;
    let results = plan.run_and_read(&outputs)?;
    let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let forward_error = compare("forward", &as_f64(&results[0]), &out.data, &mut all);
    let mut backward_error = 0.0f64;
    for ((gpu, reference), k) in results[1..].iter().zip(&reference_grads).zip(&case.wrt) {
        backward_error = backward_error.max(compare(&format!("grad x{k}"), &as_f64(gpu), &reference.data, &mut all));
    }

    let mut report = CaseReport {
        op: case.op.clone(),
        shapes: inputs.iter().map(|x| format!("{:?}", x.dims)).collect::<Vec<_>>().join(" x "),
        forward_error,
        backward_error,
        has_backward: !case.wrt.is_empty(),
        fd_error,
        worst: Vec::new(),
    };
    report.keep_worst(all);
    Ok(report)
}

/// Runs every case (ops, then optimizers) whose name contains `filter` (all when `None`).
pub fn run_suite(device: &Device, seed: u64, filter: Option<&str>) -> Result<Vec<CaseReport>> {
    let wanted = |name: &str| filter.is_none_or(|f| name.contains(f));
    let mut reports = Vec::new();
    let cases = all_cases(seed);
    for (case, run_seed) in cases.iter().zip(run_seeds(seed, &cases)) {
        if wanted(&case.op) {
            reports.push(run_case(device, case, run_seed)?);
        }
    }
    for (k, (name, opt)) in optimizer_configurations().into_iter().enumerate() {
        if wanted(&name) {
            for dims in OPTIMIZER_SHAPES {
                reports.push(run_optimizer_case(device, &name, opt, dims, seed.wrapping_add(k as u64))?);
            }
        }
    }
    if reports.is_empty() {
        let names = all_cases(seed).into_iter().map(|c| c.op.to_string());
        let mut ops: Vec<String> = Vec::new();
        for name in names.chain(optimizer_configurations().into_iter().map(|(name, _)| name)) {
            if !ops.contains(&name) {
                ops.push(name);
            }
        }
        return Err(Error::InvalidArgument {
            op: "check",
            message: format!("no op's name contains '{}'; the ops: {}", filter.unwrap_or_default(), ops.join(", ")),
        });
    }
    Ok(reports)
}

/// A readable explanation of a failed case: the op, shapes and worst mismatches.
pub fn describe_failure(r: &CaseReport) -> String {
    let mut s = format!(
        "{} on {}: forward error {:.2e}, backward error {:.2e}, finite-difference error {:.2e}\n",
        r.op, r.shapes, r.forward_error, r.backward_error, r.fd_error
    );
    for m in &r.worst {
        s += &format!(
            "  {} [{}]: got {:.9e}, expected {:.9e} (relative error {:.2e})\n",
            m.what, m.index, m.got, m.expected, m.error
        );
    }
    s
}
