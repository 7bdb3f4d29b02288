//! Running a recipe: training with progress reports, checkpoints and resumption, and
//! evaluating or predicting with a saved model.

use super::recipe::{Members, ModelFile, Recipe, Source, load};
use crate::backend::device::Device;
use crate::checkpoint;
use crate::data::transforms::{Normalization, Normalize, augment_batch, batch_rng};
use crate::error::{Error, Result};
use crate::init::{Init, Mt19937};
use crate::nn::{InitPlan, Layer, Module, ModuleExt, Sequential, member_prefix};
use crate::optimization::{ParamFilter, ParamGroup, Schedule};
use crate::train::{Combine, Data, Settings, Trainer};
use std::sync::Arc;
use std::time::Instant;

/// The model with its last linear layer resized to `classes` outputs.
pub(super) fn with_classes(mut model: Sequential, classes: usize) -> Sequential {
    let last_linear = (0..model.modules().len()).rev().find(|&i| matches!(model.layer(i), Some(Layer::Linear { .. })));
    if let Some(i) = last_linear
        && let Some(&Layer::Linear { inputs, bias, .. }) = model.layer(i)
    {
        model.replace(i, Layer::Linear { inputs, outputs: classes, bias });
    }
    model
}

/// The models a recipe trains together and how they predict, the last linear layer of each
/// resized to `classes` outputs where given.
pub(super) fn models(recipe: &Recipe, classes: Option<usize>) -> (Vec<Arc<dyn Module>>, Combine) {
    let models = match recipe.members {
        Members::One => vec![(recipe.model)()],
        Members::Ensemble(n) => (0..n.max(1)).map(|_| (recipe.model)()).collect(),
        Members::Beside(other) => vec![(recipe.model)(), other()],
    };
    let models = match classes {
        Some(c) => models.into_iter().map(|m| with_classes(m, c)).collect(),
        None => models,
    };
    let models = models.into_iter().map(|m| Arc::new(m) as Arc<dyn Module>).collect();
    let combine = if matches!(recipe.members, Members::Beside(_)) { Combine::SideBySide } else { Combine::Ensemble };
    (models, combine)
}

/// A progress report during training.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The images were normalised per channel with these statistics.
    Normalized(Normalize),
    /// Starting weights were loaded (`Paths::init_from`).
    Loaded {
        /// The file.
        path: std::path::PathBuf,
        /// Tensors loaded.
        loaded: usize,
        /// Tensors that did not fit, skipped (loading not strictly).
        skipped: Vec<crate::state_dict::Mismatch>,
    },
    /// A full-batch step whose loss was read (the course prints these).
    Step {
        /// The step, from 0.
        step: usize,
        /// The loss before that step's update.
        loss: f32,
        /// The parameters after the update, for models with at most 64 values.
        params: Option<Vec<(String, Vec<f32>)>>,
        /// For character sequences: the predicted class (the output's argmax) at every step
        /// of every sequence, from the step's forward pass, as the RNN labs print it.
        predicted: Option<Vec<usize>>,
    },
    /// A mini-batch step.
    Batch {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 0.
        step: usize,
        /// Steps in the epoch.
        steps: usize,
        /// The batch's loss.
        loss: f32,
    },
    /// The end of a mini-batch epoch.
    Epoch {
        /// The epoch, from 1.
        epoch: usize,
        /// Mean loss of its batches.
        loss: f32,
        /// Test accuracy after it, where there is a test set.
        test_accuracy: Option<f32>,
        /// Examples of the test set (0 without one).
        tested: usize,
        /// Mean loss on the held-out validation examples, where some are held out.
        validation_loss: Option<f32>,
        /// Examples per second during the epoch.
        samples_per_second: f64,
        /// For several models: each one's mean loss over the epoch and test accuracy.
        members: Vec<(f32, Option<f32>)>,
    },
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The recipe as run.
    pub recipe: String,
    /// Update steps taken.
    pub steps: usize,
    /// Epochs run.
    pub epochs: usize,
    /// The last loss read.
    pub final_loss: f32,
    /// Accuracy on the training data (classification and binary tasks).
    pub train_accuracy: Option<f32>,
    /// Accuracy on the test data, where there is some.
    pub test_accuracy: Option<f32>,
    /// For several models: each one's own test accuracy.
    pub member_test_accuracies: Vec<Option<f32>>,
    /// The last validation loss, where examples were held out.
    pub validation_loss: Option<f32>,
    /// The epoch after which early stopping ended training, if it did.
    pub stopped_early: Option<usize>,
    /// Wall time of training.
    pub seconds: f64,
    /// Training examples per second.
    pub samples_per_second: f64,
    /// Every parameter, for models with at most 64 values.
    pub params: Option<Vec<(String, Vec<f32>)>>,
    /// Submits, dispatches and allocations of the training plan.
    pub counters: crate::backend::executor::Counters,
    /// GPU allocations the training plan had made before its first step (all of them, when
    /// nothing grows).
    pub allocations_before_training: u64,
}

/// A full-batch loss this many times its first value counts as diverged.
const EXPLODED: f32 = 1000.0;

/// Most parameter values for which a run reports every one.
pub const SMALL_MODEL: usize = 64;

/// Where a run reads and writes files.
#[derive(Clone, Debug, Default)]
pub struct Paths {
    /// A directory holding full MNIST files, instead of the shipped subset.
    pub data: Option<std::path::PathBuf>,
    /// A directory to save `model.safetensors` in, at each epoch's end and at the end.
    pub out: Option<std::path::PathBuf>,
    /// A checkpoint of this recipe to continue from (mini-batch recipes resume at the batch
    /// it saved, bit for bit as if never interrupted).
    pub resume: Option<std::path::PathBuf>,
    /// Also save every this many steps inside epochs (mini-batch recipes).
    pub checkpoint_every: Option<usize>,
    /// Weights to start from (fine-tuning), with fresh optimizer state: a checkpoint or a
    /// PyTorch state dict of the recipe's model.
    pub init_from: Option<ModelFile>,
}

/// The checkpoint file inside an output directory.
pub fn checkpoint_path(out: &std::path::Path) -> std::path::PathBuf {
    out.join("model.safetensors")
}

/// A recipe's data, and a trainer for it with its initial weights.
pub(super) struct Prepared {
    pub(super) trainer: Trainer,
    pub(super) train: Data,
    pub(super) test: Option<Data>,
    /// The per-channel normalisation applied, if any.
    normalized: Option<Normalize>,
    batch: usize,
    full_batch: bool,
    small: bool,
}

pub(super) fn prepare(device: &Device, recipe: &Recipe, data_dir: Option<&std::path::Path>) -> Result<Prepared> {
    let (mut train, test) = load(recipe.source, data_dir)?;
    let mut test = match recipe.test {
        Some(source) => Some(load(source, None)?.0),
        None => test,
    };
    if recipe.one_hot {
        let classes =
            train.y.iter().chain(test.iter().flat_map(|t| t.y.iter())).fold(0.0f32, |m, &v| m.max(v)) as usize + 1;
        for d in std::iter::once(&mut train).chain(test.as_mut()) {
            d.y =
                d.y.iter().flat_map(|&l| (0..classes).map(move |c| if c == l as usize { 1.0 } else { 0.0 })).collect();
            d.target_width = classes;
        }
    }
    // Statistics of the training examples, applied to the test examples alike.
    let scaler = train.fit_scaler(recipe.scaling);
    scaler.apply(&mut train);
    if let Some(t) = test.as_mut() {
        scaler.apply(t);
    }
    let normalized = match &recipe.normalize {
        None => None,
        Some(Normalization::Given(n)) => Some(n.clone()),
        Some(Normalization::FromTraining) => Some(Normalize::fit(&train)),
    };
    if let Some(n) = &normalized {
        for d in std::iter::once(&mut train).chain(test.as_mut()) {
            n.apply(d)?;
        }
    }
    let classes = matches!(recipe.source, Source::Folder { .. })
        .then(|| train.y.iter().fold(0.0f32, |m, &v| m.max(v)) as usize + 1);
    let (models, combine) = models(recipe, classes);
    let mut rng = Mt19937::new(recipe.seed).with_uniform(recipe.uniform);
    rng.skip(recipe.skip_draws);
    // The models are built one after another, as the labs construct them.
    let mut initial = Vec::new();
    for (k, model) in models.iter().enumerate() {
        let values: Vec<(String, Vec<f32>)> = if recipe.init_biases {
            // Every tensor drawn in turn from the scheme, as a lab that builds its own tensors
            // does (08-4: normal_ on w1, b1, w2, b2); the scheme must not need fans.
            let params = model.parameters();
            params
                .into_iter()
                .map(|(name, dims)| (name, recipe.init.linear.weight(&mut rng, dims.iter().product(), 1, 1)))
                .collect()
        } else {
            model.initial_values(recipe.init, &mut rng)
        };
        let prefix = member_prefix(k, models.len());
        initial.extend(values.into_iter().map(|(name, v)| (format!("{prefix}{name}"), v)));
    }
    // Tiny models print their parameters each step; the character labs print predictions.
    let small = initial.iter().map(|(_, v)| v.len()).sum::<usize>() <= SMALL_MODEL
        && !matches!(recipe.source, Source::Chars { .. });
    let batch = recipe.batch_size.unwrap_or(train.len()).min(train.len());
    let full_batch = recipe.batch_size.is_none();
    let settings = Settings {
        loss: recipe.loss,
        optimizer: recipe.optimizer,
        batch_size: Some(batch),
        shuffle: !full_batch,
        drop_last: true,
        data_seed: recipe.seed as u64,
        dropout_seed: recipe.seed,
        l2: recipe.l2,
        groups: if recipe.bias_lr_factor == 1.0 {
            Vec::new()
        } else {
            vec![ParamGroup::new(ParamFilter::Suffix(".bias".into())).lr_factor(recipe.bias_lr_factor)]
        },
        clip: recipe.clip,
        schedule: recipe.schedule.clone(),
        keep_output: matches!(recipe.source, Source::Chars { .. }),
    };
    let trainer =
        Trainer::with_models(device, models, combine, settings, batch, &train.example, train.target_width, &initial)?;
    Ok(Prepared { trainer, train, test, normalized, batch, full_batch, small })
}

/// Saves the trainer at `(epochs done, batches done in the next epoch, the sum of their
/// losses)`, with what a resumed run needs to continue exactly.
fn save(trainer: &mut Trainer, recipe: &Recipe, at: (usize, usize, f64), out: Option<&std::path::Path>) -> Result<()> {
    if let Some(dir) = out {
        let (epochs_done, batches_done, loss_sum) = at;
        let mut metadata = std::collections::HashMap::new();
        metadata.insert("recipe".to_string(), recipe.name.to_string());
        metadata.insert("seed".to_string(), recipe.seed.to_string());
        metadata.insert("epoch".to_string(), epochs_done.to_string());
        metadata.insert("batch".to_string(), batches_done.to_string());
        // Bits of the f64, so the resumed epoch's mean loss is the uninterrupted one's.
        metadata.insert("epoch_loss_sum".to_string(), loss_sum.to_bits().to_string());
        if uses_torch_model(recipe) {
            metadata.insert("model".to_string(), "torch".to_string());
        }
        if let Some(arch) = recipe.arch {
            metadata.insert("arch".to_string(), arch.to_string());
        }
        checkpoint::save(&checkpoint_path(dir), &trainer.checkpoint(metadata)?)?;
    }
    Ok(())
}

/// True when a run of `recipe` builds the lab's `nn.Module` form (`--init torch` on 06-1/06-2).
pub(super) fn uses_torch_model(recipe: &Recipe) -> bool {
    recipe.torch_model.is_some() && recipe.init == InitPlan::all(Init::TorchDefault)
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument { op: "train", message }
}

/// Rejects settings no run can use, before any data is loaded or weights drawn.
fn check_settings(recipe: &Recipe) -> Result<()> {
    let lr = recipe.optimizer.lr();
    if !(lr.is_finite() && lr > 0.0) {
        return Err(invalid(format!("--lr {lr} must be a positive number")));
    }
    if recipe.batch_size == Some(0) {
        return Err(invalid("--batch-size must be at least 1".into()));
    }
    if !(0.0..1.0).contains(&recipe.validation) {
        return Err(invalid(format!("--validation {} must be a fraction in [0, 1)", recipe.validation)));
    }
    if recipe.patience == Some(0) {
        return Err(invalid("--patience must be at least 1 epoch".into()));
    }
    if !(recipe.l2.is_finite() && recipe.l2 >= 0.0) {
        return Err(invalid(format!("--l2 {} must be a weight of at least 0", recipe.l2)));
    }
    if recipe.batch_size.is_none() && (recipe.validation > 0.0 || recipe.patience.is_some()) {
        return Err(invalid(format!(
            "'{}' is a full-batch lab: validation splits and early stopping need a mini-batch recipe",
            recipe.name
        )));
    }
    Ok(())
}

/// The index of the largest value (the first of equals).
fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold(0, |best, (j, &v)| if v > row[best] { j } else { best })
}

/// Trains `recipe` on `device`, reporting progress to `progress`.
pub fn run(device: &Device, recipe: &Recipe, paths: &Paths, mut progress: impl FnMut(&Progress)) -> Result<Summary> {
    if recipe.shows.is_some() {
        return Err(invalid(format!("'{}' only prints its models (`train {}` prints them)", recipe.name, recipe.name)));
    }
    check_settings(recipe)?;
    if let Some(out) = &paths.out {
        crate::atomic_file::check_writable_dir(out)
            .map_err(|e| Error::Io { path: out.display().to_string(), message: format!("cannot save there: {e}") })?;
    }
    let Prepared { mut trainer, train, test, normalized, batch, full_batch, small } =
        prepare(device, recipe, paths.data.as_deref())?;
    if !recipe.augment.is_empty() && train.example.len() != 3 {
        return Err(invalid(format!(
            "augmentations change images [C, H, W]; recipe '{}' trains on examples of dims {:?}",
            recipe.name, train.example
        )));
    }
    // A padded pixel is a raw 0, normalised as every other.
    let fill = normalized.as_ref().map(Normalize::zero).unwrap_or_default();
    if let Some(n) = normalized {
        progress(&Progress::Normalized(n));
    }
    let (train, validation) = if recipe.validation > 0.0 {
        let (kept, held) = train.split(recipe.validation, recipe.seed as u64);
        let fraction = recipe.validation;
        if held.is_empty() {
            return Err(invalid(format!("--validation {fraction} holds out none of the {} examples", train.len())));
        }
        if kept.len() < batch {
            return Err(invalid(format!(
                "--validation {fraction} leaves {} of the {} examples for training, fewer than one batch of {batch}",
                kept.len(),
                train.len()
            )));
        }
        (kept, Some(held))
    } else {
        (train, None)
    };
    if let Some(file) = &paths.init_from {
        let saved = checkpoint::load(&file.path)?;
        let selection = trainer.load_weights(&saved, &file.path.display().to_string(), file.strict)?;
        progress(&Progress::Loaded {
            path: file.path.clone(),
            loaded: selection.tensors.len(),
            skipped: selection.skipped,
        });
    }
    let out = paths.out.as_deref();
    let (mut epochs_done, mut batches_done, mut resumed_sum) = (0, 0, 0.0f64);
    if let Some(path) = &paths.resume {
        let saved = checkpoint::load(path)?;
        let bad = |message: String| Error::Format { path: path.display().to_string(), offset: 8, message };
        if saved.metadata.get("recipe").map(String::as_str) != Some(recipe.name) {
            return Err(bad(format!("it is not a checkpoint of recipe '{}'", recipe.name)));
        }
        if full_batch {
            return Err(bad("full-batch recipes are not resumable: rerun them (they take seconds)".into()));
        }
        epochs_done = saved
            .metadata
            .get("epoch")
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| bad("it records no epoch".into()))?;
        batches_done = saved.metadata.get("batch").and_then(|b| b.parse().ok()).unwrap_or(0);
        let sum_bits = saved.metadata.get("epoch_loss_sum").and_then(|b| b.parse().ok());
        resumed_sum = sum_bits.map(f64::from_bits).unwrap_or(0.0);
        trainer.restore(&saved, &path.display().to_string())?;
    }
    let allocations_before_training = trainer.plan().counters().allocations;
    let start = Instant::now();
    let mut validation_loss = None;
    let mut stopped_early = None;
    let mut steps = 0;
    let mut final_loss = f32::NAN;
    if full_batch {
        let (x, y) = train.gather(&(0..train.len()).collect::<Vec<_>>());
        let mut first_loss = None;
        for step in 0..recipe.epochs {
            // A full-batch lab's epoch is one step.
            if recipe.schedule != Schedule::Constant {
                trainer.start_epoch(step);
            }
            let logged = step % recipe.log_every == 0 || step + 1 == recipe.epochs;
            if let Some(loss) = trainer.step(&x, &y, logged)? {
                let first = *first_loss.get_or_insert(loss);
                // A loss a thousand times its first value has left the basin for good (the
                // course's lr 1e5 run): stop and say so rather than print nonsense.
                if !loss.is_finite() || (step > 0 && loss > EXPLODED * first.max(1e-3)) {
                    return Err(Error::Diverged { step, value: loss, lr: trainer.learning_rate() });
                }
                final_loss = loss;
                let params = if small { Some(trainer.parameters()?) } else { None };
                let predicted = match recipe.source {
                    Source::Chars { alphabet, .. } => {
                        let scores = trainer.last_output()?;
                        Some(scores.chunks(alphabet.chars().count()).map(argmax).collect())
                    }
                    _ => None,
                };
                progress(&Progress::Step { step, loss, params, predicted });
            }
            steps += 1;
        }
    } else {
        let mut batches = trainer.batches(&train);
        // The shuffles of the epochs already done, drawn again so the next one is the same.
        for _ in 0..epochs_done {
            steps += batches.epoch().iter().filter(|b| b.len() == batch).count();
        }
        let mut best = f32::INFINITY;
        let mut since_best = 0;
        for epoch in epochs_done + 1..=recipe.epochs {
            trainer.start_epoch(epoch - 1);
            let epoch_start = Instant::now();
            let order: Vec<Vec<usize>> = batches.epoch().into_iter().filter(|b| b.len() == batch).collect();
            // A run resumed inside this epoch skips the batches it had already taken.
            let skip = if epoch == epochs_done + 1 { batches_done.min(order.len()) } else { 0 };
            let mut sum = if skip > 0 { resumed_sum } else { 0.0 };
            // Each model's losses (a resumed epoch's models count from the resumed batch).
            let mut member_sums = vec![0.0f64; trainer.model_count()];
            steps += skip;
            for (k, indices) in order.iter().enumerate().skip(skip) {
                let (mut x, y) = train.gather(indices);
                if !recipe.augment.is_empty() {
                    let mut rng = batch_rng(recipe.seed as u64, epoch, k);
                    augment_batch(&mut x, &train.example, &recipe.augment, &fill, &mut rng);
                }
                let loss = trainer.step(&x, &y, true)?.unwrap_or(f32::NAN);
                if !loss.is_finite() {
                    return Err(Error::Diverged { step: steps, value: loss, lr: trainer.learning_rate() });
                }
                sum += loss as f64;
                for (m, &l) in member_sums.iter_mut().zip(trainer.last_losses()) {
                    *m += l as f64;
                }
                steps += 1;
                progress(&Progress::Batch { epoch, step: k, steps: order.len(), loss });
                if paths.checkpoint_every.is_some_and(|n| n > 0 && steps % n == 0) && k + 1 < order.len() {
                    save(&mut trainer, recipe, (epoch - 1, k + 1, sum), out)?;
                }
            }
            let n = order.len();
            let loss = (sum / n.max(1) as f64) as f32;
            final_loss = loss;
            let samples_per_second = ((n - skip) * batch) as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            let tested = match &test {
                Some(t) => Some(trainer.evaluate(t, recipe.task)?),
                None => None,
            };
            let test_accuracy = tested.as_ref().and_then(|t| t.accuracy);
            let members = if trainer.model_count() > 1 {
                let accuracies: Vec<Option<f32>> =
                    tested.map(|t| t.members.iter().map(|m| m.accuracy).collect()).unwrap_or_default();
                member_sums
                    .iter()
                    .map(|s| (*s / (n - skip).max(1) as f64) as f32)
                    .zip(accuracies.into_iter().chain(std::iter::repeat(None)))
                    .collect()
            } else {
                Vec::new()
            };
            validation_loss = match &validation {
                Some(v) => Some(trainer.evaluate(v, recipe.task)?.loss),
                None => None,
            };
            let tested = test.as_ref().map_or(0, |t| t.len());
            progress(&Progress::Epoch {
                epoch,
                loss,
                test_accuracy,
                tested,
                validation_loss,
                samples_per_second,
                members,
            });
            save(&mut trainer, recipe, (epoch, 0, 0.0), out)?;
            if let (Some(v), Some(patience)) = (validation_loss, recipe.patience) {
                if v < best {
                    (best, since_best) = (v, 0);
                } else {
                    since_best += 1;
                    if since_best >= patience {
                        stopped_early = Some(epoch);
                        break;
                    }
                }
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let counters = trainer.plan().counters();
    if full_batch {
        save(&mut trainer, recipe, (recipe.epochs, 0, 0.0), out)?;
    }
    let train_accuracy = trainer.evaluate(&train, recipe.task)?.accuracy;
    let tested = match &test {
        Some(t) => Some(trainer.evaluate(t, recipe.task)?),
        None => None,
    };
    if let (Source::Series { .. }, Some(dir), Some(t)) = (recipe.source, out, &test) {
        // Lab 11-4 plots the test set's truth against the model's prediction.
        let predicted: Vec<f64> = trainer.infer(&t.x, t.len())?.iter().map(|&v| v as f64).collect();
        let truth: Vec<f64> = t.y.iter().map(|&v| v as f64).collect();
        let title = format!("{} (lab {}): the test set", recipe.name, recipe.lab);
        let lines = [("original", truth.as_slice()), ("prediction", predicted.as_slice())];
        crate::plot::save_series(&dir.join("prediction.png"), &title, "close, min-max scaled", &lines)?;
    }
    let test_accuracy = tested.as_ref().and_then(|t| t.accuracy);
    let member_test_accuracies = tested.map(|t| t.members.iter().map(|m| m.accuracy).collect()).unwrap_or_default();
    Ok(Summary {
        recipe: recipe.name.to_string(),
        steps,
        epochs: if full_batch { steps } else { stopped_early.unwrap_or(recipe.epochs) },
        final_loss,
        train_accuracy,
        test_accuracy,
        member_test_accuracies,
        validation_loss,
        stopped_early,
        seconds,
        samples_per_second: (steps * batch) as f64 / seconds.max(1e-9),
        params: if small { Some(trainer.parameters()?) } else { None },
        counters,
        allocations_before_training,
    })
}
