//! The course's labs as ready-made training runs.

use crate::autodiff::gradients;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::executor::{Counters, Plan};
use crate::graph::Graph;
use std::time::Instant;

/// Settings of a full-batch training run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Update steps (the course's `nb_epochs + 1`).
    pub steps: usize,
    /// SGD learning rate.
    pub lr: f32,
    /// Read the loss back every this many steps (and at the last step), for the log and the
    /// divergence check; reading it costs a wait for the GPU.
    pub log_every: usize,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// Update steps taken.
    pub steps: usize,
    /// The loss read at each logged step: (step, loss before that step's update).
    pub losses: Vec<(usize, f32)>,
    /// Each parameter by name with its final values.
    pub params: Vec<(String, Vec<f32>)>,
    /// Wall time of the training loop.
    pub seconds: f64,
    /// The plan's counters at the end.
    pub counters: Counters,
    /// Allocations the plan had made after its first run (should equal `counters.allocations`).
    pub allocations_after_first_run: u64,
}

/// The recipes this build knows, with one line each.
pub const RECIPES: &[(&str, &str)] = &[("linear-regression", "lab 02: x·W + b fitted to y = x by MSE and SGD")];

/// Lab 02: `x = y = [[1], [2], [3]]`, `hypothesis = x·W + b` with W = b = 0, MSE, SGD.
pub fn linear_regression(device: &Device, options: &RunOptions, mut log: impl FnMut(usize, f32)) -> Result<RunSummary> {
    let mut g = Graph::new();
    let x = g.input("x", &[3, 1])?;
    let y = g.input("y", &[3, 1])?;
    let w = g.param("W", &[1, 1])?;
    let b = g.param("b", &[1])?;
    let xw = g.matmul(x, w)?;
    let hypothesis = g.add(xw, b)?;
    let cost = g.mse(hypothesis, y)?;
    let grads = gradients(&mut g, cost, None, &[w, b])?;
    g.sgd_update(w, grads[0], options.lr)?;
    g.sgd_update(b, grads[1], options.lr)?;
    let mut plan = Plan::compile(device, &g, &[cost, w, b])?;
    plan.write(x, &[1.0, 2.0, 3.0])?;
    plan.write(y, &[1.0, 2.0, 3.0])?;
    let mut summary = train_full_batch(&mut plan, cost, options, &mut log)?;
    summary.params = vec![("W".to_string(), plan.read(w)?), ("b".to_string(), plan.read(b)?)];
    summary.counters = plan.counters();
    Ok(summary)
}

/// Runs `options.steps` steps of a compiled full-batch plan (parameters are left for the
/// caller to read into the summary), reading `loss` every
/// `log_every` steps and at the last; stops with [`Error::Diverged`] on a non-finite loss.
fn train_full_batch(
    plan: &mut Plan,
    loss: crate::graph::NodeId,
    options: &RunOptions,
    log: &mut impl FnMut(usize, f32),
) -> Result<RunSummary> {
    let start = Instant::now();
    let mut losses = Vec::new();
    let mut allocations_after_first_run = 0;
    let every = options.log_every.max(1);
    for step in 0..options.steps {
        if step % every == 0 || step + 1 == options.steps {
            let value = plan.run_and_read(&[loss])?[0][0];
            if !value.is_finite() {
                return Err(Error::Diverged { step, value, lr: options.lr });
            }
            log(step, value);
            losses.push((step, value));
        } else {
            plan.run()?;
        }
        if step == 0 {
            allocations_after_first_run = plan.counters().allocations;
        }
    }
    Ok(RunSummary {
        steps: options.steps,
        losses,
        params: Vec::new(),
        seconds: start.elapsed().as_secs_f64(),
        counters: plan.counters(),
        allocations_after_first_run,
    })
}
