//! `shadergrad infer --model FILE --arch NAME --input IN.safetensors --out OUT.safetensors`

use crate::model_file::{ModelArgs, report_skipped};
use clap::Args;
use shadergrad::{Device, DeviceOptions, Result, recipes};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct InferArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Outputs of the model's last linear layer (a model trained on another number of classes).
    #[arg(long)]
    classes: Option<usize>,
    /// A safetensors file whose tensor `x` is the input batch (batch first).
    #[arg(long)]
    input: PathBuf,
    /// Where to write the output as tensor `y` (f32).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(options: &DeviceOptions, args: &InferArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    let inferred = recipes::infer(&device, &args.model.file(), args.classes, &args.input, &args.out)?;
    report_skipped(&inferred.skipped);
    let json = serde_json::json!({ "out": args.out.display().to_string(), "y": inferred.dims });
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
