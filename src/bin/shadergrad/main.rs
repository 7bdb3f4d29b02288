//! The `shadergrad` command: devices, train, eval, predict, infer, check, bench.

mod bench;
mod check;
mod devices;
mod eval;
mod infer;
mod model_file;
mod predict;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "shadergrad", version, about = "Neural networks on WGSL compute shaders, on any GPU or none")]
struct Cli {
    /// Use only adapters of this backend: vulkan, metal, dx12 or gl (default: SHADERGRAD_BACKEND, else all).
    #[arg(long, global = true)]
    backend: Option<String>,
    /// Use only adapters whose name contains this text (default: SHADERGRAD_ADAPTER).
    #[arg(long, global = true)]
    adapter: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter with its backend, type, driver and compute limits.
    Devices,
    /// Train one of the course's recipes on the GPU.
    Train(Box<train::TrainArgs>),
    /// Evaluate saved weights (ours, or a PyTorch state dict with --arch) on the recipe's data.
    Eval(eval::EvalArgs),
    /// Predict the digits in images with an MNIST model's weights.
    Predict(predict::PredictArgs),
    /// Run a model in evaluation mode on tensor `x` of a safetensors file; write tensor `y`.
    Infer(infer::InferArgs),
    /// Run the op conformance suite on the chosen adapter.
    Check(check::CheckArgs),
    /// Time matmuls and training steps on the chosen adapter.
    Bench(bench::BenchArgs),
}

fn device_options(cli: &Cli) -> shadergrad::Result<shadergrad::DeviceOptions> {
    let mut options = shadergrad::DeviceOptions::from_env()?;
    if let Some(b) = &cli.backend {
        options.backend = Some(shadergrad::backend::device::parse_backend(b)?);
    }
    if let Some(a) = &cli.adapter {
        options.adapter_name = Some(a.clone());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = device_options(&cli).and_then(|options| match &cli.command {
        Command::Devices => devices::run(&options),
        Command::Train(args) => train::run(&options, args),
        Command::Eval(args) => eval::run(&options, args),
        Command::Predict(args) => predict::run(&options, args),
        Command::Infer(args) => infer::run(&options, args),
        Command::Check(args) => check::run(&options, args),
        Command::Bench(args) => bench::run(&options, args),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
