//! `shadergrad predict --model FILE IMAGE...`

use clap::Args;
use shadergrad::{Device, DeviceOptions, Result, recipes};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PredictArgs {
    /// An MNIST model saved by `shadergrad train --out DIR` (DIR/model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// PNG or JPEG images of single digits (any size; light or dark background).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn run(options: &DeviceOptions, args: &PredictArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    for p in recipes::predict(&device, &args.model, &args.images)? {
        let probabilities: Vec<String> = p.probabilities.iter().map(|v| format!("{v:.3}")).collect();
        println!("{}: {} (probabilities {})", p.path, p.class, probabilities.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}
