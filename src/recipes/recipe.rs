//! A recipe's fields, the overrides a command line gives it, and its data.

use crate::backend::device::Device;
use crate::data::transforms::{Augment, Normalization};
use crate::data::{cifar, csv, mnist};
use crate::error::{Error, Result};
use crate::init::{Init, UniformDraw};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::nn::{InitPlan, Sequential};
use crate::optimization::{Clip, Schedule};
use crate::train::{Data, Scaling, Task};

/// Where a recipe's examples come from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Numbers written in the lab itself: x (rows of `width`), y (rows of `target_width`).
    Inline {
        /// Inputs, row-major.
        x: &'static [f32],
        /// Values per input row.
        width: usize,
        /// Targets, row-major.
        y: &'static [f32],
        /// Values per target row.
        target_width: usize,
    },
    /// A shipped CSV: every column but the last is a feature, the last is the target.
    Csv(&'static str),
    /// MNIST, flattened to 784 values or as [1, 28, 28] images.
    Mnist {
        /// Keep the images 2-D (for convolutions).
        images: bool,
    },
    /// The user's copy of CIFAR-10 in its binary format (`--data DIR`): images `[3, 32, 32]` in
    /// [0, 1] and their classes.
    Cifar10,
    /// No data: the lab only prints its models ([`Recipe::shows`]).
    Nothing,
    /// A shipped CSV time series, newest row first, as lab 11-4 reads it: reversed, split at
    /// `train_fraction` of its rows, each part min-max scaled by itself, windows of `window`
    /// rows targeting the next row's last column ([`crate::data::series`]).
    Series {
        /// The shipped file.
        file: &'static str,
        /// Rows of a window.
        window: usize,
        /// The training part's share of the rows.
        train_fraction: f64,
    },
    /// Characters one-hot over `alphabet`, each step's target the next character: windows of
    /// `window` steps sliding by one, or the whole text but its last character as one
    /// sequence (`None`).
    Chars {
        /// The text.
        text: &'static str,
        /// The alphabet, in the lab's order (the recorded one where `list(set(…))` made it).
        alphabet: &'static str,
        /// Steps of a window.
        window: Option<usize>,
    },
    /// The user's folder of class sub-folders (`--data DIR`), images resized to this
    /// (width, height); the model's last layer gets one output per class.
    Folder {
        /// Width after resizing.
        width: u32,
        /// Height after resizing.
        height: u32,
    },
}

/// The models a recipe trains on the same batches.
#[derive(Clone, Copy, Debug)]
pub enum Members {
    /// The recipe's model alone.
    One,
    /// This many copies of the model, each drawn in turn and with its own optimizer state;
    /// they predict together by the mean of their outputs (lab 10-4's ensemble).
    Ensemble(usize),
    /// The recipe's model and this one beside it, reported side by side; the first predicts
    /// (lab 09-6 trains a network without batch norm next to the one with it).
    Beside(fn() -> Sequential),
}

/// One lab of the course.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Its name on the command line.
    pub name: &'static str,
    /// The course's lab number.
    pub lab: &'static str,
    /// One line on what it trains.
    pub about: &'static str,
    /// Its examples.
    pub source: Source,
    /// Held-out examples, for labs that have them inline (07-1's test set).
    pub test: Option<Source>,
    /// The model.
    pub model: fn() -> Sequential,
    /// Other models trained with it on the same batches.
    pub members: Members,
    /// The lab's `nn.Module` form, used with `--init torch` where it differs from the
    /// low-level model (06-1 and 06-2: `nn.Linear` has a per-class bias; the low-level model's
    /// shared scalar bias never moves, so it has none).
    pub torch_model: Option<fn() -> Sequential>,
    /// The architecture trained in place of the lab's model (`train --arch`), by name.
    pub arch: Option<&'static str>,
    /// How its weights start.
    pub init: InitPlan,
    /// `torch.manual_seed` of the lab.
    pub seed: u32,
    /// Random words the lab draws before building its model.
    pub skip_draws: usize,
    /// How `--init torch` draws uniforms (PyTorch's CPU paths differ in the last bit).
    pub uniform: UniformDraw,
    /// What the output means.
    pub task: Task,
    /// The loss.
    pub loss: LossKind,
    /// The optimizer and its learning rate.
    pub optimizer: Optimizer,
    /// Examples per step (`None`: full batch).
    pub batch_size: Option<usize>,
    /// Epochs (for full-batch labs, the course's `nb_epochs + 1` update steps).
    pub epochs: usize,
    /// Steps between printed losses, as the course prints them (full-batch labs).
    pub log_every: usize,
    /// Fraction of the training examples held out for validation (0: none).
    pub validation: f32,
    /// How the input features are scaled before training.
    pub scaling: Scaling,
    /// Weight of the course's L2 penalty, `l2 · Σ‖p‖₂` added to the cost (0: none).
    pub l2: f32,
    /// Multiplies the learning rate of biases (lab 08-4 averages their gradients over the
    /// batch while it sums the weights').
    pub bias_lr_factor: f32,
    /// The learning rate's schedule over epochs.
    pub schedule: Schedule,
    /// Gradient clipping before every update.
    pub clip: Option<Clip>,
    /// Per-channel normalisation of image examples (train and test alike).
    pub normalize: Option<Normalization>,
    /// Random changes to every training batch's images, in order.
    pub augment: Vec<Augment>,
    /// Print the mean loss of every this many batches, reset each epoch, as labs 10-5-2 and
    /// 10-6-2 print `[epoch, batch] loss: x.xxx`.
    pub batch_log: Option<usize>,
    /// What the lab runs in place of the trainer, printing as it goes: labs 10-5-1 and 10-6-1
    /// print their models, 11-1 and 11-6 a forward pass, 11-5 trains its encoder and decoder
    /// its own way. It is given the recipe (its seed, draws, steps) and a device to run on.
    pub shows: Option<Shows>,
    /// What the lab prints about its data before it trains (11-2-1 its character
    /// dictionary, 11-3 its window pairs); see [`crate::recipes::preamble`].
    pub preamble: Option<fn(&Recipe) -> Vec<String>>,
    /// Biases drawn from the weights' scheme too (lab 08-4 draws every tensor from N(0, 1)).
    pub init_biases: bool,
    /// Targets as one-hot rows (for a squared-error loss over classes).
    pub one_hot: bool,
    /// Epochs without a lower validation loss before training stops (`None`: never).
    pub patience: Option<usize>,
}

/// What a lab of its own runs, given its recipe, a device, and where each printed line goes.
pub type Shows = fn(&Recipe, &Device, &mut dyn FnMut(&str)) -> Result<()>;

/// What a lab of its own ([`Recipe::shows`]) prints, its lines joined.
pub fn printout(recipe: &Recipe, device: &Device) -> Result<String> {
    let shows = recipe.shows.ok_or_else(|| Error::InvalidArgument {
        op: "recipe",
        message: format!("'{}' trains with the trainer; it prints no lab of its own", recipe.name),
    })?;
    let mut lines = Vec::new();
    shows(recipe, device, &mut |line: &str| lines.push(line.to_string()))?;
    Ok(lines.join("\n"))
}

/// Changes to a recipe's defaults, from the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Epochs (full-batch labs: update steps).
    pub epochs: Option<usize>,
    /// Learning rate.
    pub lr: Option<f32>,
    /// Examples per step.
    pub batch_size: Option<usize>,
    /// `torch.manual_seed` (also seeds shuffles and dropout).
    pub seed: Option<u32>,
    /// Weight init for every layer.
    pub init: Option<Init>,
    /// Steps between printed losses (full-batch labs).
    pub log_every: Option<usize>,
    /// Fraction of the training examples held out for validation (mini-batch recipes).
    pub validation: Option<f32>,
    /// Stop after this many epochs without a lower validation loss.
    pub patience: Option<usize>,
    /// Weight of the course's L2 penalty (the plain norm of every parameter added to the cost).
    pub l2: Option<f32>,
    /// A model to train in place of the lab's.
    pub arch: Option<Architecture>,
    /// The learning rate's schedule.
    pub schedule: Option<Schedule>,
    /// Gradient clipping.
    pub clip: Option<Clip>,
    /// Augmentations of the training batches, in place of the recipe's.
    pub augment: Option<Vec<Augment>>,
    /// How uniforms are drawn.
    pub uniform: Option<UniformDraw>,
}

/// A model by name, for `--arch`: what a file without metadata holds, or what a recipe trains
/// in place of its own model.
#[derive(Clone, Copy, Debug)]
pub struct Architecture {
    /// Its name on the command line.
    pub name: &'static str,
    /// Builds it.
    pub build: fn() -> Sequential,
}

/// A weights file and how to read it.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The file: safetensors, from `train --out` or PyTorch's `save_file(model.state_dict())`.
    pub path: std::path::PathBuf,
    /// The architecture (a recipe's name) when the file's metadata names none, or to use
    /// in place of the one it names.
    pub arch: Option<String>,
    /// Every tensor of the model must be in the file with its dims, and nothing else (but
    /// optimizer state); otherwise the tensors that fit load and the rest are skipped.
    pub strict: bool,
}

impl ModelFile {
    /// `path`, read strictly, its metadata naming the model.
    pub fn new(path: impl Into<std::path::PathBuf>) -> ModelFile {
        ModelFile { path: path.into(), arch: None, strict: true }
    }

    pub(super) fn name(&self) -> String {
        self.path.display().to_string()
    }
}

impl Recipe {
    /// The recipe with `o` applied.
    pub fn with(mut self, o: &Overrides) -> Recipe {
        if let Some(e) = o.epochs {
            self.epochs = e;
        }
        if let Some(lr) = o.lr {
            self.optimizer = self.optimizer.with_lr(lr);
        }
        if let Some(b) = o.batch_size {
            self.batch_size = Some(b);
        }
        if let Some(s) = o.seed {
            self.seed = s;
        }
        if let Some(i) = o.init {
            self.init = InitPlan::all(i);
            if let (Init::TorchDefault, Some(model)) = (i, self.torch_model) {
                self.model = model;
            }
        }
        if let Some(l) = o.log_every {
            self.log_every = l.max(1);
        }
        if let Some(v) = o.validation {
            self.validation = v;
        }
        if o.patience.is_some() {
            self.patience = o.patience;
        }
        if let Some(l2) = o.l2 {
            self.l2 = l2;
        }
        if let Some(schedule) = &o.schedule {
            self.schedule = schedule.clone();
        }
        if o.clip.is_some() {
            self.clip = o.clip;
        }
        if let Some(augment) = &o.augment {
            self.augment = augment.clone();
        }
        if let Some(uniform) = o.uniform {
            self.uniform = uniform;
        }
        if let Some(arch) = o.arch {
            self.model = arch.build;
            self.torch_model = None;
            self.arch = Some(arch.name);
        }
        self
    }
}

/// Loads a source's examples: (train, test).
pub fn load(source: Source, data_dir: Option<&std::path::Path>) -> Result<(Data, Option<Data>)> {
    Ok(match source {
        Source::Inline { x, width, y, target_width } => {
            (Data { x: x.to_vec(), example: vec![width], y: y.to_vec(), target_width }, None)
        }
        Source::Csv(name) => {
            let table = csv::shipped(name)
                .ok_or_else(|| Error::Io { path: name.into(), message: "not a shipped file".into() })??;
            let features = table.cols - 1;
            (
                Data {
                    x: table.columns(0..features),
                    example: vec![features],
                    y: table.columns(features..table.cols),
                    target_width: 1,
                },
                None,
            )
        }
        Source::Mnist { images } => {
            let m = match data_dir {
                Some(dir) => mnist::load_dir(dir)?,
                None => mnist::load_shipped()?,
            };
            let example = if images { vec![1, m.train.rows, m.train.cols] } else { vec![m.train.pixels()] };
            (m.train.into_data(&example), Some(m.test.into_data(&example)))
        }
        Source::Cifar10 => {
            let dir = data_dir.ok_or_else(|| Error::InvalidArgument {
                op: "train",
                message: format!(
                    "this recipe trains on CIFAR-10, which cannot ship: give --data DIR, the folder holding {} and {} \
                     (cifar-10-batches-bin from the binary archive)",
                    cifar::TRAIN_FILES.join(", "),
                    cifar::TEST_FILE
                ),
            })?;
            let c = cifar::load_dir(dir)?;
            (c.train.into_data(), Some(c.test.into_data()))
        }
        Source::Series { file, window, train_fraction } => {
            let table = csv::shipped(file)
                .ok_or_else(|| Error::Io { path: file.into(), message: "not a shipped file".into() })??;
            let (train, test) = crate::data::series::train_and_test(&table, window, train_fraction)?;
            (train, Some(test))
        }
        Source::Chars { text, alphabet, window } => {
            (crate::data::text::windows(text, &alphabet.chars().collect::<Vec<_>>(), window)?, None)
        }
        Source::Nothing => {
            return Err(Error::InvalidArgument {
                op: "train",
                message: "this lab only prints its models: it has no data to train on".into(),
            });
        }
        Source::Folder { width, height } => {
            let dir = data_dir.ok_or_else(|| Error::InvalidArgument {
                op: "train",
                message: "this recipe trains on your images: give --data DIR, with one sub-folder of PNG or JPEG images per class".into(),
            })?;
            (crate::data::folder::load_folder(dir, Some((width, height)))?.data, None)
        }
    })
}
