//! `shadergrad predict --model FILE [--arch NAME] IMAGE...`

use crate::model_file::{ModelArgs, report_skipped};
use clap::Args;
use shadergrad::{Device, DeviceOptions, Result, recipes};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// PNG or JPEG images of single digits (any size; light or dark background).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn run(options: &DeviceOptions, args: &PredictArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    let result = recipes::predict(&device, &args.model.file(), &args.images)?;
    report_skipped(&result.skipped);
    for p in result.predictions {
        match p.classes {
            Some((class, probabilities)) => {
                let probabilities: Vec<String> = probabilities.iter().map(|v| format!("{v:.3}")).collect();
                println!("{}: {class} (probabilities {})", p.path, probabilities.join(" "));
            }
            None => println!("{}: no digit", p.path),
        }
    }
    Ok(ExitCode::SUCCESS)
}
