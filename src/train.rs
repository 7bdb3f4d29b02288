//! Training and evaluation of any [`Module`] (or several side by side): a training plan
//! (forward, loss, backward, optimizer: one submit per step) and evaluation plans that share
//! its weights.

use crate::backend::device::Device;
use crate::backend::executor::Plan;
use crate::checkpoint::Checkpoint;
use crate::data::batches::Batches;
use crate::error::{Error, Result};
use crate::ir::autodiff::gradients;
use crate::ir::graph::Op;
use crate::ir::graph::{Graph, NodeId};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::nn::{Mode, Module, ModuleExt, build, member_prefix, state_dict_of};
use crate::optimization::{Clip, ParamGroup, Schedule};
use crate::state_dict::{self, Selection, StateEntry, StateKind};
use std::sync::Arc;

/// Examples and their targets, in host memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    /// Inputs, example after example.
    pub x: Vec<f32>,
    /// The dims of one example (e.g. `[784]` or `[1, 28, 28]`).
    pub example: Vec<usize>,
    /// Targets: one class index per example (as f32) for classification, or `target_width`
    /// values per example.
    pub y: Vec<f32>,
    /// Values per target (1 for class indices).
    pub target_width: usize,
}

impl Data {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len() / self.target_width.max(1)
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn example_size(&self) -> usize {
        self.example.iter().product()
    }

    /// The statistics of `kind` of every input feature, to scale this and other data alike.
    pub fn fit_scaler(&self, kind: Scaling) -> Scaler {
        let width = self.example_size();
        let (a, b) = (0..width)
            .map(|k| {
                let col: Vec<f64> = self.x.iter().skip(k).step_by(width).map(|&v| v as f64).collect();
                let n = col.len() as f64;
                match kind {
                    Scaling::Standardize => {
                        let mean = col.iter().sum::<f64>() / n;
                        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
                        (mean as f32, var.sqrt() as f32)
                    }
                    Scaling::MinMax => {
                        let lo = col.iter().cloned().fold(f64::INFINITY, f64::min);
                        let hi = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        (lo as f32, hi as f32)
                    }
                    Scaling::None => (0.0, 1.0),
                }
            })
            .unzip();
        Scaler { kind, a, b }
    }

    /// Splits off a `fraction` of the examples, chosen by a shuffle from `seed`: (kept, held out).
    pub fn split(&self, fraction: f32, seed: u64) -> (Data, Data) {
        let n = self.len();
        let held = ((n as f64 * fraction as f64).round() as usize).min(n.saturating_sub(1));
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = crate::rng::Rng::new(seed ^ 0x5eed_5b11);
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let part = |indices: &[usize]| {
            let (x, y) = self.gather(indices);
            Data { x, example: self.example.clone(), y, target_width: self.target_width }
        };
        (part(&order[held..]), part(&order[..held]))
    }

    /// The inputs and targets of the examples `indices`, in that order.
    pub fn gather(&self, indices: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let (e, t) = (self.example_size(), self.target_width);
        let mut x = Vec::with_capacity(indices.len() * e);
        let mut y = Vec::with_capacity(indices.len() * t);
        for &i in indices {
            x.extend_from_slice(&self.x[i * e..(i + 1) * e]);
            y.extend_from_slice(&self.y[i * t..(i + 1) * t]);
        }
        (x, y)
    }
}

/// How input features are scaled before training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// As the data come.
    None,
    /// Mean 0 and unbiased standard deviation 1 per feature, as the course does in lab 07-1
    /// (`(x − x.mean(0)) / x.std(0)`).
    Standardize,
    /// `[0, 1]` per feature by its minimum and maximum.
    MinMax,
}

/// Per-feature statistics fitted on training data, applied to any data with the same features.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaler {
    /// Which scaling.
    pub kind: Scaling,
    /// Per feature: the mean (standardize) or minimum (min-max).
    pub a: Vec<f32>,
    /// Per feature: the standard deviation (standardize) or maximum (min-max).
    pub b: Vec<f32>,
}

impl Scaler {
    /// Scales `data`'s inputs in place. A constant feature is only centred (standardize) or
    /// becomes 0 (min-max).
    pub fn apply(&self, data: &mut Data) {
        let width = self.a.len().max(1);
        for (i, v) in data.x.iter_mut().enumerate() {
            let (a, b) = (self.a[i % width], self.b[i % width]);
            *v = match self.kind {
                Scaling::None => *v,
                Scaling::Standardize if b > 0.0 => (*v - a) / b,
                Scaling::Standardize => *v - a,
                Scaling::MinMax if b > a => (*v - a) / (b - a),
                Scaling::MinMax => 0.0,
            };
        }
    }
}

/// What the model's output means, which decides accuracy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Real-valued targets: no accuracy.
    Regression,
    /// One probability per example: correct when (p ≥ 0.5) equals the 0/1 target.
    Binary,
    /// One score per class: correct when the highest is the labelled class.
    Classes,
}

/// How a model trains.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The loss on the model's output.
    pub loss: LossKind,
    /// The optimizer, applied to every parameter.
    pub optimizer: Optimizer,
    /// Examples per step (`None`: the whole data set, one step per epoch).
    pub batch_size: Option<usize>,
    /// Shuffle the examples every epoch.
    pub shuffle: bool,
    /// Skip a final short batch.
    pub drop_last: bool,
    /// Seed of the shuffles.
    pub data_seed: u64,
    /// Seed of dropout masks.
    pub dropout_seed: u32,
    /// Adds `l2 · Σ‖p‖₂` over the parameters to the loss, as the course's lab 07-1 writes its
    /// regularization (the plain norm, not its square; 0: none).
    pub l2: f32,
    /// Parameters with their own learning rate or weight decay (the first group holding a
    /// parameter decides; the rest train with the optimizer's settings).
    pub groups: Vec<ParamGroup>,
    /// Gradient clipping before every update (`None`: none).
    pub clip: Option<Clip>,
    /// The learning rate's schedule over epochs, applied by [`Trainer::start_epoch`].
    pub schedule: Schedule,
    /// Read the first model's output back with each step's loss ([`Trainer::last_output`]),
    /// as labs that print every step's prediction need.
    pub keep_output: bool,
}

impl Settings {
    /// `loss` and `optimizer` with the usual rest: full batches, shuffled every epoch, a short
    /// last batch dropped, seeds 0, no L2 penalty, one learning rate and weight decay for all
    /// parameters, no clipping, a constant learning rate.
    pub fn new(loss: LossKind, optimizer: Optimizer) -> Settings {
        Settings {
            loss,
            optimizer,
            batch_size: None,
            shuffle: true,
            drop_last: true,
            data_seed: 0,
            dropout_seed: 0,
            l2: 0.0,
            groups: Vec::new(),
            clip: None,
            schedule: Schedule::Constant,
            keep_output: false,
        }
    }
}

/// How the outputs of a trainer's models make its prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// The mean of the models' outputs (for class scores, the same argmax as the course's sum
    /// of logits).
    Ensemble,
    /// The first model's output; the others train beside it on the same batches for
    /// comparison (lab 09-6's network without batch norm).
    SideBySide,
}

/// A compiled evaluation plan for one batch size.
struct EvalPlan {
    batch: usize,
    plan: Plan,
    x: NodeId,
    y: NodeId,
    /// The combined output, then each model's output and loss.
    out: NodeId,
    member_outs: Vec<NodeId>,
    member_losses: Vec<NodeId>,
}

/// One model, or several trained on the same batches, with their training plan.
pub struct Trainer {
    device: Device,
    models: Vec<Arc<dyn Module>>,
    combine: Combine,
    settings: Settings,
    train: Plan,
    x: NodeId,
    y: NodeId,
    /// Each model's loss on the batch.
    losses: Vec<NodeId>,
    /// The first model's output, where the settings keep it, and its value in the last step
    /// that read the loss.
    output: Option<NodeId>,
    last_output: Option<Vec<f32>>,
    last_losses: Vec<f32>,
    batch: usize,
    example: Vec<usize>,
    target_width: usize,
    params: Vec<(String, NodeId)>,
    evals: Vec<EvalPlan>,
    memory_floor: u64,
}

/// The outcome of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss over the examples (an ensemble's: the mean of its models' losses; models side
    /// by side: the first's).
    pub loss: f32,
    /// Fraction classified correctly by the combined prediction (`None` for regression).
    pub accuracy: Option<f32>,
    /// Each model's own loss and accuracy, for trainers of several models (empty for one).
    pub members: Vec<Evaluation>,
}

fn input_dims(batch: usize, example: &[usize]) -> Vec<usize> {
    let mut dims = vec![batch];
    dims.extend_from_slice(example);
    dims
}

fn target_dims(loss: LossKind, batch: usize, width: usize) -> Vec<usize> {
    match (loss.takes_labels(), width) {
        (true, 1) => vec![batch],
        _ => vec![batch, width],
    }
}

/// `loss` of a model's output against the targets. A sequence's class scores `[B, T, C]`
/// and its labels `[B, T]` are scored at every step, as the labs' `view(-1, C)` does.
fn model_loss(g: &mut Graph, loss: LossKind, out: NodeId, y: NodeId) -> Result<NodeId> {
    let dims = g.shape(out).dims().to_vec();
    if loss.takes_labels() && dims.len() == 3 {
        let positions = dims[0] * dims[1];
        let scores = g.reshape(out, &[positions, dims[2]])?;
        let labels = g.reshape(y, &[positions])?;
        return g.loss(loss, scores, labels);
    }
    g.loss(loss, out, y)
}

/// Dropout seed of model `k`: each model draws its own masks, as separate PyTorch models do.
fn member_seed(seed: u32, k: usize) -> u32 {
    seed.wrapping_add((k as u32) << 16)
}

impl Trainer {
    /// Compiles the training plan of `model` for batches of `batch` examples of dims
    /// `example` with `target_width` values per target, and writes `initial` parameter values.
    pub fn new(
        device: &Device,
        model: impl Module,
        settings: Settings,
        batch: usize,
        example: &[usize],
        target_width: usize,
        initial: &[(String, Vec<f32>)],
    ) -> Result<Trainer> {
        Trainer::with_models(
            device,
            vec![Arc::new(model)],
            Combine::Ensemble,
            settings,
            batch,
            example,
            target_width,
            initial,
        )
    }

    /// [`Trainer::new`] for several models trained on the same batches in one plan, each with
    /// its own loss and optimizer state (their summed loss has, for each parameter, exactly
    /// its own model's gradient), predicting together as `combine` says. Parameter names carry
    /// [`member_prefix`].
    #[allow(clippy::too_many_arguments)]
    pub fn with_models(
        device: &Device,
        models: Vec<Arc<dyn Module>>,
        combine: Combine,
        settings: Settings,
        batch: usize,
        example: &[usize],
        target_width: usize,
        initial: &[(String, Vec<f32>)],
    ) -> Result<Trainer> {
        if models.is_empty() {
            return Err(Error::InvalidArgument { op: "trainer", message: "no model to train".into() });
        }
        let mut g = Graph::new();
        let x = g.input("x", &input_dims(batch, example))?;
        let y = g.input("y", &target_dims(settings.loss, batch, target_width))?;
        let mut losses = Vec::new();
        let mut params = Vec::new();
        let mut output = None;
        for (k, model) in models.iter().enumerate() {
            let prefix = member_prefix(k, models.len());
            let out = build(model.as_ref(), &mut g, x, Mode::Train, member_seed(settings.dropout_seed, k), &prefix)?;
            output = output.or(settings.keep_output.then_some(out));
            losses.push(model_loss(&mut g, settings.loss, out, y)?);
            for (name, _) in model.parameters() {
                let name = format!("{prefix}{name}");
                let id =
                    g.find(&name).ok_or_else(|| Error::Graph(format!("parameter {name} is missing from the graph")))?;
                params.push((name, id));
            }
        }
        let mut total = losses[0];
        for &l in &losses[1..] {
            total = g.add(total, l)?;
        }
        if settings.l2 > 0.0 {
            for &(_, p) in &params {
                // ‖p‖ = s · s^(−1/2) with s = Σ p², through ops whose gradients are checked.
                let squares = g.mul(p, p)?;
                let s = g.sum(squares)?;
                let inv = g.rsqrt(s)?;
                let norm = g.mul(s, inv)?;
                let weighted = g.scale(norm, settings.l2)?;
                total = g.add(total, weighted)?;
            }
        }
        let ids: Vec<NodeId> = params.iter().map(|&(_, id)| id).collect();
        let forward_end = g.nodes().len();
        let grads = gradients(&mut g, total, None, &ids)?;
        let grads = match settings.clip {
            None => grads,
            // Each model's gradients by themselves, as a PyTorch model clips its own.
            Some(clip) => clip_each_model(&mut g, &params, &grads, models.len(), clip)?,
        };
        for ((name, p), &d) in params.iter().zip(&grads) {
            let dims = g.shape(*p).dims().to_vec();
            let opt = optimizer_for(&settings, unprefixed(name, models.len()), &dims);
            g.optimizer_update(*p, d, opt)?;
        }
        // With an L2 penalty the reported loss is the penalized cost, as the course prints it.
        let reported = if models.len() == 1 { vec![total] } else { losses };
        let memory_floor = memory_floor(&g, forward_end);
        let kept: Vec<NodeId> = reported.iter().copied().chain(output).collect();
        let mut train = Plan::compile(device, &g, &kept)?;
        for (name, values) in initial {
            train.write_named(name, values)?;
        }
        Ok(Trainer {
            device: device.clone(),
            models,
            combine,
            settings,
            train,
            x,
            y,
            last_losses: Vec::new(),
            losses: reported,
            output,
            last_output: None,
            batch,
            example: example.to_vec(),
            target_width,
            params,
            evals: Vec::new(),
            memory_floor,
        })
    }

    /// Bytes no training step can do without: parameters, their gradients, optimizer and
    /// running state, and the forward values the backward pass reads (inputs included).
    /// `plan().counters().bytes_allocated` over this is the plan's memory overhead.
    pub fn memory_floor(&self) -> u64 {
        self.memory_floor
    }

    /// The training plan (for its counters and buffers).
    pub fn plan(&self) -> &Plan {
        &self.train
    }

    /// Examples per training step.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// How many models train together.
    pub fn model_count(&self) -> usize {
        self.models.len()
    }

    /// One training step on a batch; returns the loss (before the update) when `read_loss`:
    /// for an ensemble the mean of its models' losses, for models side by side the first's
    /// ([`Trainer::last_losses`] has each).
    pub fn step(&mut self, x: &[f32], y: &[f32], read_loss: bool) -> Result<Option<f32>> {
        self.train.write(self.x, x)?;
        self.train.write(self.y, y)?;
        if read_loss {
            // The kept output comes back in the same submit as the losses.
            let nodes: Vec<NodeId> = self.losses.iter().copied().chain(self.output).collect();
            let mut values = self.train.run_and_read(&nodes)?;
            if self.output.is_some() {
                self.last_output = values.pop();
            }
            self.last_losses = values.into_iter().map(|v| v[0]).collect();
            Ok(Some(self.headline(&self.last_losses)))
        } else {
            self.train.run()?;
            Ok(None)
        }
    }

    /// The first model's output in the last training step that read its loss (the forward
    /// pass, before that step's update), where [`Settings::keep_output`] kept it.
    pub fn last_output(&self) -> Result<&[f32]> {
        self.last_output.as_deref().ok_or_else(|| Error::InvalidArgument {
            op: "trainer",
            message: "no output kept: set Settings::keep_output and read a step's loss".into(),
        })
    }

    /// One training step that reads the loss, with the milliseconds the GPU spent on it by
    /// its own timestamps (`None` where the adapter has none).
    pub fn step_timed(&mut self, x: &[f32], y: &[f32]) -> Result<(f32, Option<f64>)> {
        self.train.write(self.x, x)?;
        self.train.write(self.y, y)?;
        let (values, ms) = self.train.run_timed(&self.losses)?;
        self.last_losses = values.into_iter().map(|v| v[0]).collect();
        Ok((self.headline(&self.last_losses), ms))
    }

    /// One training step with each launch timed by the GPU's clock ([`Plan::run_profiled`]);
    /// `None` where the adapter has no timestamps.
    pub fn step_profiled(&mut self, x: &[f32], y: &[f32]) -> Result<Option<Vec<crate::backend::executor::LaunchTime>>> {
        self.train.write(self.x, x)?;
        self.train.write(self.y, y)?;
        self.train.run_profiled()
    }

    /// The loss reported for the models' losses: the mean for an ensemble, the first model's
    /// for models side by side (the others are reported apart).
    fn headline(&self, losses: &[f32]) -> f32 {
        match self.combine {
            Combine::SideBySide => losses[0],
            Combine::Ensemble => losses.iter().sum::<f32>() / losses.len() as f32,
        }
    }

    /// Each model's loss at the last step that read it.
    pub fn last_losses(&self) -> &[f32] {
        &self.last_losses
    }

    /// A shuffler over `data` with this trainer's batch size and settings.
    pub fn batches(&self, data: &Data) -> Batches {
        let s = &self.settings;
        Batches::new(data.len(), self.batch, s.shuffle, s.drop_last, s.data_seed)
    }

    /// Trains one epoch over `data`, reading every step's loss and passing it to `on_step`
    /// with the step's index in the epoch and the epoch's step count; returns the mean batch
    /// loss, or [`Error::Diverged`] naming the step whose loss was not finite. `first_step`
    /// numbers the steps across epochs.
    pub fn epoch(
        &mut self,
        data: &Data,
        batches: &mut Batches,
        first_step: usize,
        mut on_step: impl FnMut(usize, usize, f32),
    ) -> Result<(f32, usize)> {
        let per_epoch = batches.per_epoch();
        let mut sum = 0.0f64;
        let mut steps = 0;
        for indices in batches.epoch() {
            if indices.len() != self.batch {
                continue; // The plan's shapes are fixed: a short final batch is dropped.
            }
            let (x, y) = data.gather(&indices);
            let loss = self.step(&x, &y, true)?.unwrap_or(f32::NAN);
            if !loss.is_finite() {
                return Err(Error::Diverged { step: first_step + steps, value: loss, lr: self.learning_rate() });
            }
            sum += loss as f64;
            on_step(steps, per_epoch, loss);
            steps += 1;
        }
        Ok(((sum / steps.max(1) as f64) as f32, steps))
    }

    /// Mean loss and accuracy over `data`, in evaluation mode (dropout off, running
    /// statistics), with plans that share the training plan's weights.
    pub fn evaluate(&mut self, data: &Data, task: Task) -> Result<Evaluation> {
        let n = data.len();
        // Batches of the training batch's size: a shape the adapter's limits are known to take.
        let full = n.min(self.batch);
        let members = self.models.len();
        let mut loss_sums = vec![0.0f64; members];
        let mut correct = 0usize;
        let mut member_correct = vec![0usize; members];
        let mut start = 0;
        while start < n {
            let size = if n - start >= full { full } else { n - start };
            let indices: Vec<usize> = (start..start + size).collect();
            let (x, y) = data.gather(&indices);
            let k = self.eval_plan(size)?;
            let e = &mut self.evals[k];
            e.plan.write(e.x, &x)?;
            e.plan.write(e.y, &y)?;
            let nodes: Vec<NodeId> = std::iter::once(e.out)
                .chain(e.member_outs.iter().copied())
                .chain(e.member_losses.iter().copied())
                .collect();
            let got = e.plan.run_and_read(&nodes)?;
            // A sequence's labels are scored at every step.
            let rows = if self.settings.loss.takes_labels() { y.len() } else { size };
            correct += count_correct(task, &got[0], &y, rows);
            for k in 0..members {
                member_correct[k] += count_correct(task, &got[1 + k], &y, rows);
                loss_sums[k] += got[1 + members + k][0] as f64 * size as f64;
            }
            start += size;
        }
        let scored = if self.settings.loss.takes_labels() { n * self.target_width } else { n };
        let evaluation = |loss_sum: f64, correct: usize| Evaluation {
            loss: (loss_sum / n as f64) as f32,
            accuracy: (task != Task::Regression).then(|| correct as f32 / scored as f32),
            members: Vec::new(),
        };
        let loss_sum = match self.combine {
            Combine::SideBySide => loss_sums[0],
            Combine::Ensemble => loss_sums.iter().sum::<f64>() / members as f64,
        };
        let mut whole = evaluation(loss_sum, correct);
        if members > 1 {
            whole.members = loss_sums.iter().zip(&member_correct).map(|(&l, &c)| evaluation(l, c)).collect();
        }
        Ok(whole)
    }

    /// The combined outputs (evaluation mode; see [`Combine`]) for `n` examples `x`, row after
    /// row.
    pub fn infer(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let size: usize = self.example.iter().product();
        let mut out = Vec::new();
        let mut start = 0;
        while start < n {
            let count = (n - start).min(self.batch);
            let k = self.eval_plan(count)?;
            let e = &mut self.evals[k];
            e.plan.write(e.x, &x[start * size..(start + count) * size])?;
            // The loss needs targets; class 0 (or zeros) serve, and its value is ignored.
            let targets = e.plan.graph().shape(e.y).numel();
            e.plan.write(e.y, &vec![0.0; targets])?;
            out.extend(e.plan.run_and_read(&[e.out])?.remove(0));
            start += count;
        }
        Ok(out)
    }

    fn eval_plan(&mut self, batch: usize) -> Result<usize> {
        if let Some(k) = self.evals.iter().position(|e| e.batch == batch) {
            return Ok(k);
        }
        let mut g = Graph::new();
        let x = g.input("x", &input_dims(batch, &self.example))?;
        let y = g.input("y", &target_dims(self.settings.loss, batch, self.target_width))?;
        let mut member_outs = Vec::new();
        let mut member_losses = Vec::new();
        for (k, model) in self.models.iter().enumerate() {
            let out = build(model.as_ref(), &mut g, x, Mode::Eval, 0, &member_prefix(k, self.models.len()))?;
            member_outs.push(out);
            member_losses.push(model_loss(&mut g, self.settings.loss, out, y)?);
        }
        let out = match self.combine {
            Combine::Ensemble if member_outs.len() > 1 => {
                let mut sum = member_outs[0];
                for &o in &member_outs[1..] {
                    sum = g.add(sum, o)?;
                }
                g.scale(sum, 1.0 / member_outs.len() as f32)?
            }
            _ => member_outs[0],
        };
        let outputs: Vec<NodeId> =
            std::iter::once(out).chain(member_outs.iter().copied()).chain(member_losses.iter().copied()).collect();
        let plan = Plan::compile_sharing(&self.device, &g, &outputs, Some(&self.train))?;
        self.evals.push(EvalPlan { batch, plan, x, y, out, member_outs, member_losses });
        Ok(self.evals.len() - 1)
    }

    /// Every parameter by name with its current values (one readback each).
    pub fn parameters(&mut self) -> Result<Vec<(String, Vec<f32>)>> {
        let ids: Vec<NodeId> = self.params.iter().map(|&(_, id)| id).collect();
        let values = self.train.read_many(&ids)?;
        Ok(self.params.iter().map(|(name, _)| name.clone()).zip(values).collect())
    }

    /// Every parameter and state (optimizer moments, running statistics) with the step count
    /// and `metadata`, for saving.
    pub fn checkpoint(&mut self, mut metadata: std::collections::HashMap<String, String>) -> Result<Checkpoint> {
        let persistent = self.train.persistent_values();
        let ids: Vec<NodeId> = persistent.iter().map(|&(_, id)| id).collect();
        let values = self.train.read_many(&ids)?;
        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = persistent
            .into_iter()
            .zip(values)
            .map(|((name, id), v)| (name, self.train.graph().shape(id).dims().to_vec(), v))
            .collect();
        // Batch norm's `num_batches_tracked`, so PyTorch loads the file strictly: every
        // training step is one batch in training mode.
        let steps = self.train.steps_taken();
        tensors.extend(batch_counts(&self.models).map(|e| (e.name, e.dims, vec![steps as f32])));
        metadata.insert("steps".into(), steps.to_string());
        Ok(Checkpoint { tensors, metadata })
    }

    /// Restores every parameter and state (optimizer moments, running statistics) from
    /// `checkpoint`, to resume training; a tensor missing, extra or of other dims (a
    /// checkpoint of another model) is an error naming each. `path` names the file in errors.
    pub fn restore(&mut self, checkpoint: &Checkpoint, path: &str) -> Result<()> {
        let entries: Vec<StateEntry> = self
            .train
            .persistent_values()
            .into_iter()
            .map(|(name, id)| {
                let kind =
                    if self.train.graph().node(id).op == Op::Param { StateKind::Parameter } else { StateKind::Buffer };
                StateEntry::new(name, self.train.graph().shape(id).dims().to_vec(), kind)
            })
            .chain(batch_counts(&self.models))
            .collect();
        let selection = state_dict::select(&entries, checkpoint, path, true).map_err(|e| match e {
            Error::StateDict { path, problems, .. } => Error::StateDict {
                path,
                problems,
                note: "a run resumes only from a checkpoint of its own recipe and model",
            },
            e => e,
        })?;
        for (name, values) in &selection.tensors {
            self.train.write_named(name, values)?;
        }
        if let Some(steps) = checkpoint.metadata.get("steps").and_then(|s| s.parse().ok()) {
            self.train.set_steps_taken(steps);
        }
        Ok(())
    }

    /// Loads the models' parameters and batch norm statistics by PyTorch's names from `file`
    /// (a shadergrad checkpoint or a bare PyTorch `state_dict`), leaving optimizer state and
    /// the step count as they are: evaluation needs none, and fine-tuning starts them afresh.
    /// See [`state_dict::select`] for `strict`; `path` names the file in errors.
    pub fn load_weights(&mut self, file: &Checkpoint, path: &str, strict: bool) -> Result<Selection> {
        let selection = state_dict::select(&state_dict_of(&self.models), file, path, strict)?;
        for (name, values) in &selection.tensors {
            self.train.write_named(name, values)?;
        }
        Ok(selection)
    }

    /// Sets the learning rates for `epoch` (from 0) by the settings' schedule, from the next
    /// step on; call it before each epoch's first step, as the course's labs call
    /// `scheduler.step()`.
    pub fn start_epoch(&mut self, epoch: usize) {
        let factor = self.settings.schedule.factor(self.settings.optimizer.lr(), epoch);
        self.train.set_lr_factor(factor);
    }

    /// The optimizer's learning rate now (parameter groups have their multiples of it).
    pub fn learning_rate(&self) -> f32 {
        self.settings.optimizer.lr() * self.train.lr_factor()
    }
}

/// The models' batch-norm batch counters (`num_batches_tracked`).
fn batch_counts(models: &[Arc<dyn Module>]) -> impl Iterator<Item = StateEntry> {
    state_dict_of(models).into_iter().filter(|e| e.kind == StateKind::BatchCount)
}

/// The optimizer of parameter `name` of `dims` (as its model names it): the settings' with the
/// first group that holds it applied.
fn optimizer_for(settings: &Settings, name: &str, dims: &[usize]) -> Optimizer {
    let opt = settings.optimizer;
    match settings.groups.iter().find(|group| group.members.holds(name, dims)) {
        None => opt,
        Some(group) => {
            let opt = opt.with_lr(opt.lr() * group.lr_factor);
            group.weight_decay.map_or(opt, |decay| opt.with_weight_decay(decay))
        }
    }
}

/// A parameter's name without the member prefix of a trainer of `models` models.
fn unprefixed(name: &str, models: usize) -> &str {
    if models > 1 { name.split_once('.').map_or(name, |(_, rest)| rest) } else { name }
}

/// `grads` (of `params`, model after model) clipped model by model.
fn clip_each_model(
    g: &mut Graph,
    params: &[(String, NodeId)],
    grads: &[NodeId],
    models: usize,
    clip: Clip,
) -> Result<Vec<NodeId>> {
    let mut clipped = Vec::with_capacity(grads.len());
    for k in 0..models {
        let prefix = member_prefix(k, models);
        let own: Vec<NodeId> =
            params.iter().zip(grads).filter(|((name, _), _)| name.starts_with(&prefix)).map(|(_, &d)| d).collect();
        clipped.extend(match clip {
            Clip::Norm(max) => g.clip_grad_norm(&own, max)?,
            Clip::Value(limit) => g.clip_grad_value(&own, limit)?,
        });
    }
    Ok(clipped)
}

/// See [`Trainer::memory_floor`]: nodes before `forward_end` are the forward pass.
fn memory_floor(g: &Graph, forward_end: usize) -> u64 {
    let nodes = g.nodes();
    let mut needed = vec![false; forward_end];
    for node in &nodes[forward_end..] {
        for x in node.inputs.iter().filter(|x| x.index() < forward_end) {
            needed[x.index()] = true;
        }
    }
    let mut floats = 0;
    for (i, node) in nodes.iter().enumerate() {
        let numel = node.shape.numel();
        floats += match node.op {
            // The value and its gradient.
            crate::ir::graph::Op::Param => 2 * numel,
            crate::ir::graph::Op::State(_) => numel,
            _ if i < forward_end && needed[i] => numel,
            _ => 0,
        };
    }
    floats as u64 * 4
}

fn count_correct(task: Task, out: &[f32], y: &[f32], size: usize) -> usize {
    match task {
        Task::Regression => 0,
        Task::Binary => out.iter().zip(y).filter(|(p, t)| ((**p >= 0.5) as u8 as f32) == **t).count(),
        Task::Classes => {
            let k = out.len() / size;
            let argmax = |row: &[f32]| row.iter().enumerate().fold(0, |b, (j, v)| if *v > row[b] { j } else { b });
            // Targets are class indices, or one-hot rows (for a squared-error loss).
            let width = y.len() / size;
            (0..size)
                .filter(|&r| {
                    let label = if width == 1 { y[r] as usize } else { argmax(&y[r * width..(r + 1) * width]) };
                    argmax(&out[r * k..(r + 1) * k]) == label
                })
                .count()
        }
    }
}
