//! `shadergrad train RECIPE`

use clap::Args;
use shadergrad::recipes::{self, RunOptions, RECIPES};
use shadergrad::{Device, DeviceOptions, Error, Result};
use std::process::ExitCode;

#[derive(Args)]
pub struct TrainArgs {
    /// The recipe (see ../shared/COURSE.md); `list` prints them.
    recipe: String,
    /// Update steps (default: the course's).
    #[arg(long)]
    steps: Option<usize>,
    /// Learning rate (default: the course's).
    #[arg(long)]
    lr: Option<f32>,
    /// Print the loss every N steps.
    #[arg(long, default_value_t = 100)]
    log_every: usize,
}

pub fn run(options: &DeviceOptions, args: &TrainArgs) -> Result<ExitCode> {
    if args.recipe == "list" {
        for (name, about) in RECIPES {
            println!("{name:20} {about}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !RECIPES.iter().any(|(name, _)| *name == args.recipe) {
        let known: Vec<&str> = RECIPES.iter().map(|(n, _)| *n).collect();
        return Err(Error::InvalidArgument {
            op: "train",
            message: format!("unknown recipe '{}'; known recipes: {}", args.recipe, known.join(", ")),
        });
    }
    let device = Device::with_options(options)?;
    eprintln!("adapter: {}", device.describe());
    let run = RunOptions { steps: args.steps.unwrap_or(1001), lr: args.lr.unwrap_or(0.01), log_every: args.log_every };
    let summary = recipes::linear_regression(&device, &run, |step, loss| {
        println!("step {step:5}  cost {loss:.6}");
    })?;
    let value = |name: &str| summary.params.iter().find(|(n, _)| n == name).map(|(_, v)| v[0]).unwrap_or(f32::NAN);
    println!("W: {:.3}, b: {:.3}", value("W"), value("b"));
    let json = serde_json::json!({
        "recipe": args.recipe,
        "adapter": device.info().name,
        "backend": format!("{:?}", device.info().backend),
        "steps": summary.steps,
        "final_loss": summary.losses.last().map(|l| l.1),
        "seconds": summary.seconds,
        "steps_per_second": summary.steps as f64 / summary.seconds.max(1e-9),
        "submits": summary.counters.submits,
        "allocations": summary.counters.allocations,
        "params": summary.params.iter().map(|(n, v)| (n.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
