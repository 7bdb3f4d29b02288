//! The options that name a weights file, shared by `eval`, `predict` and `infer`.

use clap::{ArgAction, Args};
use shadergrad::recipes::ModelFile;
use shadergrad::state_dict::Mismatch;
use std::path::PathBuf;

#[derive(Args)]
pub struct ModelArgs {
    /// Weights: a model saved by `shadergrad train --out DIR` (DIR/model.safetensors), or a
    /// PyTorch state dict saved with `safetensors.torch.save_file` (f32, f16 or bf16).
    #[arg(long)]
    model: PathBuf,
    /// The model's architecture, by recipe name, for a file that names none (a PyTorch state dict).
    #[arg(long)]
    arch: Option<String>,
    /// With `false`, load the tensors that fit the model and list the rest as skipped.
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    strict: bool,
}

impl ModelArgs {
    pub fn file(&self) -> ModelFile {
        ModelFile { path: self.model.clone(), arch: self.arch.clone(), strict: self.strict }
    }
}

/// Says on stderr which tensors a lenient load skipped.
pub fn report_skipped(skipped: &[Mismatch]) {
    for m in skipped {
        eprintln!("skipped: {m}");
    }
}
