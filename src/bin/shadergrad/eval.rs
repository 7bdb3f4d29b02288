//! `shadergrad eval --model FILE`

use clap::Args;
use shadergrad::{Device, DeviceOptions, Result, recipes};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalArgs {
    /// A model saved by `shadergrad train --out DIR` (DIR/model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// A directory holding full MNIST files, instead of the shipped subset.
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(options: &DeviceOptions, args: &EvalArgs) -> Result<ExitCode> {
    let device = Device::with_options(options)?;
    let (recipe, train, test) = recipes::evaluate_checkpoint(&device, &args.model, args.data.as_deref())?;
    let mut json = serde_json::json!({
        "recipe": recipe,
        "model": args.model.display().to_string(),
        "adapter": device.info().name,
        "train_loss": train.loss,
        "train_accuracy": train.accuracy,
        "test_loss": test.as_ref().map(|t| t.loss),
        "test_accuracy": test.as_ref().and_then(|t| t.accuracy),
    });
    if let Some(t) = test.filter(|t| !t.members.is_empty()) {
        json["member_test_accuracies"] = t.members.iter().map(|m| m.accuracy).collect::<Vec<_>>().into();
    }
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
