//! `shadergrad eval --model FILE [--arch NAME]`

use crate::model_file::{ModelArgs, report_skipped};
use clap::Args;
use shadergrad::{Device, DeviceOptions, Result, recipes};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// A directory holding full MNIST files, instead of the shipped subset.
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(options: &DeviceOptions, args: &EvalArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    let file = args.model.file();
    let e = recipes::evaluate_checkpoint(&device, &file, args.data.as_deref())?;
    report_skipped(&e.skipped);
    let mut json = serde_json::json!({
        "recipe": e.recipe,
        "model": file.path.display().to_string(),
        "adapter": device.info().name,
        "train_loss": e.train.loss,
        "train_accuracy": e.train.accuracy,
        "test_loss": e.test.as_ref().map(|t| t.loss),
        "test_accuracy": e.test.as_ref().and_then(|t| t.accuracy),
    });
    if let Some(t) = e.test.filter(|t| !t.members.is_empty()) {
        json["member_test_accuracies"] = t.members.iter().map(|m| m.accuracy).collect::<Vec<_>>().into();
    }
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
