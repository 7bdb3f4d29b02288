//! Using saved weights: evaluating them on a recipe's data, predicting digits, and running a
//! model on given inputs. The file is a checkpoint of `train --out` (its metadata names the
//! recipe) or a bare PyTorch `state_dict` (`--arch` names the model); evaluation never needs
//! optimizer state.

use super::catalog::{architecture, find, named_architectures};
use super::recipe::{ModelFile, Overrides, Recipe, Source};
use super::run::{models, prepare, with_classes};
use crate::backend::device::Device;
use crate::checkpoint::{self, Checkpoint};
use crate::error::{Error, Result};
use crate::inference::Inference;
use crate::init::Init;
use crate::nn::Module;
use crate::state_dict::Mismatch;
use crate::train::Combine;
use crate::train::Evaluation;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The recipe whose model `saved` holds: the recipe its metadata names (or `--arch`'s, for a
/// file without metadata), building `--arch`'s model, else the one it was trained with.
fn saved_recipe(saved: &Checkpoint, file: &ModelFile) -> Result<Recipe> {
    let named = saved.metadata.get("recipe").or(file.arch.as_ref()).ok_or_else(|| Error::Format {
        path: file.name(),
        offset: 8,
        message: "the file names no recipe (metadata 'recipe'), as a bare PyTorch state dict does: name its model with --arch NAME".into(),
    })?;
    let mut recipe = find(named)?;
    if saved.metadata.get("model").map(String::as_str) == Some("torch") {
        recipe = recipe.with(&Overrides { init: Some(Init::TorchDefault), ..Overrides::default() });
    }
    let arch = file.arch.as_ref().or(saved.metadata.get("arch"));
    if let Some(name) = arch.filter(|&a| a != recipe.name) {
        recipe = recipe.with(&Overrides { arch: Some(architecture(name)?), ..Overrides::default() });
    }
    Ok(recipe)
}

/// The models `saved` holds and how they combine: a named architecture's (`--arch resnet18`,
/// for a file without a recipe), or its recipe's; the last linear layer resized to `classes`
/// outputs where given.
fn saved_models(
    saved: &Checkpoint,
    file: &ModelFile,
    classes: Option<usize>,
) -> Result<(Vec<Arc<dyn Module>>, Combine)> {
    let named = file.arch.as_deref().and_then(|a| named_architectures().into_iter().find(|n| n.name == a));
    if let Some(arch) = named.filter(|_| !saved.metadata.contains_key("recipe")) {
        let model = (arch.build)();
        let model = match classes {
            Some(c) => with_classes(model, c),
            None => model,
        };
        return Ok((vec![Arc::new(model)], Combine::Ensemble));
    }
    Ok(models(&saved_recipe(saved, file)?, classes))
}

/// A saved model evaluated on its recipe's data.
#[derive(Clone, Debug)]
pub struct Evaluated {
    /// The recipe.
    pub recipe: String,
    /// On the training data.
    pub train: Evaluation,
    /// On the test data, where the recipe has some.
    pub test: Option<Evaluation>,
    /// Tensors that did not fit and were skipped (loading not strictly).
    pub skipped: Vec<Mismatch>,
}

/// Evaluates saved weights: the recipe's model with them, on that recipe's training and test
/// data.
pub fn evaluate_checkpoint(device: &Device, file: &ModelFile, data_dir: Option<&Path>) -> Result<Evaluated> {
    let saved = checkpoint::load(&file.path)?;
    let recipe = saved_recipe(&saved, file)?;
    let mut p = prepare(device, &recipe, data_dir)?;
    let skipped = p.trainer.load_weights(&saved, &file.name(), file.strict)?.skipped;
    let train = p.trainer.evaluate(&p.train, recipe.task)?;
    let test = match &p.test {
        Some(t) => Some(p.trainer.evaluate(t, recipe.task)?),
        None => None,
    };
    Ok(Evaluated { recipe: recipe.name.to_string(), train, test, skipped })
}

/// The model `file` holds, compiled for inputs of `input_dims`, with its weights loaded.
fn inference(
    device: &Device,
    saved: &Checkpoint,
    file: &ModelFile,
    (models, combine): (Vec<Arc<dyn Module>>, Combine),
    input_dims: &[usize],
) -> Result<(Inference, Vec<Mismatch>)> {
    let mut inference = Inference::with_models(device, &models, combine, input_dims)?;
    let skipped = inference.load_weights(saved, &file.name(), file.strict)?.skipped;
    Ok((inference, skipped))
}

/// One image's prediction.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The image file.
    pub path: String,
    /// The most probable class, and the probability of each class; `None` for an image
    /// with no digit in it (blank, or no stroke left after thresholding).
    pub classes: Option<(usize, Vec<f32>)>,
}

/// Predictions, with what loading skipped.
#[derive(Clone, Debug)]
pub struct Predictions {
    /// One per image, in order.
    pub predictions: Vec<Prediction>,
    /// Tensors that did not fit and were skipped (loading not strictly).
    pub skipped: Vec<Mismatch>,
}

/// An MNIST model's weights from `file`, compiled for `batch` digits of 28×28 pixels in
/// [0, 1] (as [`crate::data::images::load_digit`] makes them), shaped as the model takes them:
/// for [`predict`], and for applications that feed digits from their own GPU buffers.
pub fn digit_model(device: &Device, file: &ModelFile, batch: usize) -> Result<(Inference, Vec<Mismatch>)> {
    let saved = checkpoint::load(&file.path)?;
    let recipe = saved_recipe(&saved, file)?;
    let Source::Mnist { images } = recipe.source else {
        return Err(Error::InvalidArgument {
            op: "predict",
            message: format!("the model is of recipe '{}', which does not take 28×28 digit images", recipe.name),
        });
    };
    let dims = if images { vec![batch, 1, 28, 28] } else { vec![batch, 28 * 28] };
    inference(device, &saved, file, models(&recipe, None), &dims)
}

/// Predicts the digit in each image with an MNIST model.
pub fn predict(device: &Device, file: &ModelFile, images: &[PathBuf]) -> Result<Predictions> {
    let pixels = images.iter().map(|p| crate::data::images::load_digit(p)).collect::<Result<Vec<_>>>()?;
    let digits: Vec<f32> = pixels.iter().flatten().flatten().copied().collect();
    let count = pixels.iter().flatten().count();
    // Checked even when no image holds a digit: a wrong model is an error either way.
    let (mut model, skipped) = digit_model(device, file, count.max(1))?;
    let logits = if count > 0 { model.run(&digits)? } else { Vec::new() };
    let mut rows = logits.chunks(model.output_dims().last().copied().unwrap_or(1).max(1));
    let predictions = images
        .iter()
        .zip(&pixels)
        .map(|(path, digit)| Prediction {
            path: path.display().to_string(),
            classes: digit.as_ref().and_then(|_| rows.next()).map(softmax_argmax),
        })
        .collect();
    Ok(Predictions { predictions, skipped })
}

/// The most probable class of a row of logits, and every class's probability.
fn softmax_argmax(row: &[f32]) -> (usize, Vec<f32>) {
    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
    let sum: f32 = e.iter().sum();
    let probabilities: Vec<f32> = e.iter().map(|v| v / sum).collect();
    let class = probabilities.iter().enumerate().fold(0, |b, (j, v)| if *v > probabilities[b] { j } else { b });
    (class, probabilities)
}

/// What [`infer`] wrote.
#[derive(Clone, Debug)]
pub struct Inferred {
    /// The output's dims.
    pub dims: Vec<usize>,
    /// Tensors that did not fit and were skipped (loading not strictly).
    pub skipped: Vec<Mismatch>,
}

/// Runs the model in `file` (its last linear layer resized to `classes` outputs, where
/// given) in evaluation mode on tensor `x` of the safetensors file `input`, and writes its
/// output as tensor `y` of `out` (f32, atomically).
pub fn infer(device: &Device, file: &ModelFile, classes: Option<usize>, input: &Path, out: &Path) -> Result<Inferred> {
    let saved = checkpoint::load(&file.path)?;
    let given = checkpoint::load(input)?;
    let (dims, x) = given.get("x").ok_or_else(|| Error::Format {
        path: input.display().to_string(),
        offset: 8,
        message: format!(
            "no tensor 'x' (the input); it has {}",
            given.tensors.iter().map(|(n, d, _)| format!("'{n}' {d:?}")).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let (mut inference, skipped) = inference(device, &saved, file, saved_models(&saved, file, classes)?, dims)?;
    let y = inference.run(x)?;
    let dims = inference.output_dims().to_vec();
    let mut written = Checkpoint::default();
    written.tensors.push(("y".to_string(), dims.clone(), y));
    checkpoint::save(out, &written)?;
    Ok(Inferred { dims, skipped })
}
