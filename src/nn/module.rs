//! The module trait, in the shape of PyTorch's `nn.Module`: a piece of a model that builds its
//! forward pass into a graph, names its tensors as `state_dict()` names them, and holds child
//! modules. Everything a model is asked for (state dict, initial values, the printed summary)
//! is derived here from those few methods, so a user's module gets all of it by writing them.

use crate::error::{Error, Result};
use crate::init::{Init, Mt19937};
use crate::ir::batch_norm::BatchNormState;
use crate::ir::graph::{Graph, NodeId};
use crate::state_dict::{StateEntry, StateKind};
use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;

/// Training or evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dropout active, batch norm on batch statistics (updating its running ones).
    Train,
    /// Dropout off, batch norm on its running statistics.
    Eval,
}

/// How the weights of each kind of layer start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitPlan {
    /// Linear layers.
    pub linear: Init,
    /// Convolutions.
    pub conv: Init,
    /// The biases of layers whose weights are redrawn start at 0 instead of their drawn
    /// defaults, as torchvision's VGG sets them (`constant_(m.bias, 0)`).
    pub zero_biases: bool,
}

impl InitPlan {
    /// The same scheme for every layer.
    pub fn all(init: Init) -> InitPlan {
        InitPlan::new(init, init)
    }

    /// `linear` for linear layers and `conv` for convolutions, biases as drawn.
    pub fn new(linear: Init, conv: Init) -> InitPlan {
        InitPlan { linear, conv, zero_biases: false }
    }

    /// The torchvision VGG's: convolutions `kaiming_normal_(fan_out)`, linear weights
    /// N(0, 0.01), every bias 0 (batch norm 1 and 0, as always).
    pub fn vgg() -> InitPlan {
        InitPlan { linear: Init::Normal(0.01), conv: Init::HeNormalFanOut, zero_biases: true }
    }

    /// The torchvision ResNet's: convolutions `kaiming_normal_(fan_out)`, the classifier as
    /// PyTorch draws it.
    pub fn resnet() -> InitPlan {
        InitPlan::new(Init::TorchDefault, Init::HeNormalFanOut)
    }
}

/// A part of a model: layers, blocks of layers, whole networks.
///
/// A module names its own tensors relative to itself (`weight`) and its children by the
/// attribute names PyTorch would give them (`conv1`, `downsample`, `0`); the full names
/// (`layer1.0.conv1.weight`) follow, as PyTorch's `state_dict()` makes them.
pub trait Module: Debug + Send + Sync + Any {
    /// Builds this module's forward pass on `x`. Parameters come from [`Forward::param`];
    /// children run through [`Forward::child`], which names their tensors under them.
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId>;

    /// The child modules with their names, in the order PyTorch registers them.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// The children in the order their constructors ran, which is the order they draw their
    /// starting values (PyTorch's `_make_layer` builds a block's `downsample` before the
    /// block). The default is [`Module::children`]' order.
    fn construction_order(&self) -> Vec<(String, &dyn Module)> {
        self.children()
    }

    /// This module's own tensors (not its children's), named relative to it.
    fn own_state(&self) -> Vec<StateEntry> {
        Vec::new()
    }

    /// Starting values of this module's own parameters, drawn from `rng` as PyTorch's
    /// construction draws them. The default starts every own parameter at zero and draws
    /// nothing.
    fn own_init(&self, plan: InitPlan, rng: &mut Mt19937) -> Vec<Draw> {
        let _ = (plan, rng);
        let own = self.own_state().into_iter().filter(|e| e.kind == StateKind::Parameter);
        own.map(|e| Draw::kept(&e.name, vec![0.0; e.dims.iter().product()])).collect()
    }

    /// Parameters (named relative to this module, children's included) set to 0 after every
    /// other init, as torchvision's `zero_init_residual` sets each block's last batch-norm
    /// scale: constants, so no draw changes. The default is none.
    fn zeroed_at_start(&self) -> Vec<String> {
        Vec::new()
    }

    /// PyTorch's class name, as `print(model)` shows it (`Linear`, `BasicBlock`). The default
    /// is the Rust type's name.
    fn type_name(&self) -> String {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full).to_string()
    }

    /// What `print(model)` shows inside the parentheses (PyTorch's `extra_repr`).
    fn extra_repr(&self) -> String {
        String::new()
    }
}

/// The starting value of one parameter, and the init that redraws it after every module is
/// constructed (the course's `xavier_uniform_(weight)` loops), if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    /// Its name relative to its module (`weight`).
    pub name: String,
    /// Its values as construction drew them.
    pub values: Vec<f32>,
    /// The init that redraws it in the second pass, with its fan in and fan out.
    pub redraw: Option<(Init, usize, usize)>,
}

impl Draw {
    /// A value no later init touches.
    pub fn kept(name: &str, values: Vec<f32>) -> Draw {
        Draw { name: name.to_string(), values, redraw: None }
    }
}

/// Where a module's forward pass is being built: the graph, the mode, and the module's path.
pub struct Forward<'g> {
    graph: &'g mut Graph,
    mode: Mode,
    seed: u32,
    /// The path of the module being built, `layer1.0.conv1`, after `root`.
    path: String,
    /// The prefix of every name (a member's `m0.`), which no seed depends on.
    root: usize,
    /// The module that produced each value, for errors that name both operands' modules.
    origins: HashMap<NodeId, String>,
    /// Whether an error on its way out already names the module it arose in.
    located: bool,
}

impl<'g> Forward<'g> {
    /// Building in `graph` in `mode`, names prefixed by `prefix` (several models in one graph:
    /// `m0.`, `m1.`); `seed` seeds dropout.
    pub fn new(graph: &'g mut Graph, mode: Mode, seed: u32, prefix: &str) -> Forward<'g> {
        let path = prefix.trim_end_matches('.').to_string();
        let root = path.len();
        Forward { graph, mode, seed, path, root, origins: HashMap::new(), located: false }
    }

    /// The graph, for the module's own ops.
    pub fn graph(&mut self) -> &mut Graph {
        self.graph
    }

    /// Training or evaluation.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The path of the module being built (`layer1.0.conv1`; empty for the root).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn full_name(&self, name: &str) -> String {
        if self.path.is_empty() { name.to_string() } else { format!("{}.{name}", self.path) }
    }

    /// This module's parameter `name` of `dims` (a graph parameter named by its full path).
    pub fn param(&mut self, name: &str, dims: &[usize]) -> Result<NodeId> {
        let full = self.full_name(name);
        self.graph.param(&full, dims)
    }

    /// This module's batch-norm running statistics over `channels`.
    pub fn batch_norm_state(&mut self, channels: usize) -> Result<BatchNormState> {
        let name = self.path.clone();
        self.graph.batch_norm_state(&name, channels)
    }

    /// A dropout seed of this module's own: the run's seed salted by the module's path (by
    /// its index alone for a layer of a top-level `Sequential`, so that every dropout layer of
    /// a model draws its own masks and a member of several draws the same as on its own).
    pub fn dropout_seed(&self) -> u32 {
        let local = self.path[self.root..].trim_start_matches('.');
        let salt = local
            .parse::<u32>()
            .unwrap_or_else(|_| local.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193)));
        self.seed.wrapping_add(salt)
    }

    /// Builds child `name` on `x`. An error that arises in `module` itself, not in one of its
    /// children, is given `module`'s path and printed form.
    pub fn child(&mut self, name: &str, module: &dyn Module, x: NodeId) -> Result<NodeId> {
        let built = self.child_with(name, module, |f| module.forward(f, x));
        if let Ok(y) = built {
            let path = self.full_name(name);
            self.origins.insert(y, path);
        }
        built
    }

    /// Builds child `name` by `build` in place of its `forward` (a recurrent layer's
    /// [`crate::nn::Recurrent::forward_with_state`]): its tensors are named under `name`, and
    /// an error is located as [`Forward::child`] locates it.
    pub fn child_with<T>(
        &mut self,
        name: &str,
        module: &dyn Module,
        build: impl FnOnce(&mut Forward<'_>) -> Result<T>,
    ) -> Result<T> {
        let outer = self.path.len();
        self.path = self.full_name(name);
        let built = build(self);
        let built = match built {
            Err(e) if !self.located => {
                self.located = true;
                Err(locate(e, &self.path, module))
            }
            other => other,
        };
        self.path.truncate(outer);
        built
    }

    /// `a + b` of the same shape: a residual connection or a merge of branches. A mismatch
    /// names the modules that produced each side.
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let (lhs, rhs) = (self.graph.shape(a).clone(), self.graph.shape(b).clone());
        if lhs != rhs {
            self.located = true;
            let reason = format!(
                "the merge in `{}` adds `{}` to `{}`, which must have the same shape",
                self.describe_path(),
                self.origin(a),
                self.origin(b)
            );
            return Err(Error::ShapeMismatch { op: "add", lhs, rhs, reason });
        }
        self.graph.add(a, b)
    }

    fn describe_path(&self) -> &str {
        if self.path.is_empty() { "the model" } else { &self.path }
    }

    fn origin(&self, x: NodeId) -> String {
        self.origins.get(&x).cloned().unwrap_or_else(|| format!("{}'s input", self.describe_path()))
    }
}

/// `error` with the path and summary of the module it arose in.
fn locate(error: Error, path: &str, module: &dyn Module) -> Error {
    let at = if path.is_empty() {
        format!("(in the model: {})", module.repr())
    } else {
        format!("(in module `{path}`: {})", module.repr())
    };
    match error {
        Error::ShapeMismatch { op, lhs, rhs, reason } => {
            Error::ShapeMismatch { op, lhs, rhs, reason: format!("{reason} {at}") }
        }
        Error::InvalidArgument { op, message } => Error::InvalidArgument { op, message: format!("{message} {at}") },
        other => other,
    }
}

/// Builds `model` on `x` into `graph` in `mode`, every name prefixed by `prefix`.
pub fn build(model: &dyn Module, graph: &mut Graph, x: NodeId, mode: Mode, seed: u32, prefix: &str) -> Result<NodeId> {
    let mut f = Forward::new(graph, mode, seed, prefix);
    let built = model.forward(&mut f, x);
    match built {
        Err(e) if !f.located => Err(locate(e, f.path(), model)),
        other => other,
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

fn walk_state<M: Module + ?Sized>(m: &M, prefix: &str, out: &mut Vec<StateEntry>) {
    out.extend(m.own_state().into_iter().map(|e| StateEntry { name: join(prefix, &e.name), ..e }));
    for (name, child) in m.children() {
        walk_state(child, &join(prefix, &name), out);
    }
}

fn walk_init<M: Module + ?Sized>(m: &M, prefix: &str, plan: InitPlan, rng: &mut Mt19937, out: &mut Vec<Draw>) {
    out.extend(m.own_init(plan, rng).into_iter().map(|d| Draw { name: join(prefix, &d.name), ..d }));
    for (name, child) in m.construction_order() {
        walk_init(child, &join(prefix, &name), plan, rng, out);
    }
}

fn walk_zeroed<M: Module + ?Sized>(m: &M, prefix: &str, out: &mut Vec<String>) {
    out.extend(m.zeroed_at_start().iter().map(|name| join(prefix, name)));
    for (name, child) in m.children() {
        walk_zeroed(child, &join(prefix, &name), out);
    }
}

/// What every module has, derived from the [`Module`] methods: implemented for all modules.
pub trait ModuleExt: Module {
    /// Every tensor of the state dict, named and ordered as PyTorch's `state_dict()` does: a
    /// module's own tensors, then each child's, depth first.
    fn state_dict(&self) -> Vec<StateEntry> {
        let mut out = Vec::new();
        walk_state(self, "", &mut out);
        out
    }

    /// Every parameter's name and dims, in PyTorch's order.
    fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        let state = self.state_dict().into_iter();
        state.filter(|e| e.kind == StateKind::Parameter).map(|e| (e.name, e.dims)).collect()
    }

    /// Starting values of every parameter, drawn from `rng` in PyTorch's order: constructing
    /// the modules draws each one's defaults, module by module in construction order; a
    /// lab's init then redraws the weights it names, in a second pass over the modules in
    /// registration order (`for m in self.modules()`). Returned in state-dict order.
    fn initial_values(&self, plan: InitPlan, rng: &mut Mt19937) -> Vec<(String, Vec<f32>)> {
        let mut drawn = Vec::new();
        walk_init(self, "", plan, rng, &mut drawn);
        let mut draws: HashMap<String, Draw> = drawn.into_iter().map(|d| (d.name.clone(), d)).collect();
        let mut out = Vec::new();
        for (name, _) in self.parameters() {
            let Some(mut draw) = draws.remove(&name) else { continue };
            if let Some((init, fan_in, fan_out)) = draw.redraw {
                draw.values = init.weight(rng, draw.values.len(), fan_in, fan_out);
            }
            out.push((name, draw.values));
        }
        let mut zeroed = Vec::new();
        walk_zeroed(self, "", &mut zeroed);
        for (name, values) in &mut out {
            if zeroed.contains(name) {
                values.iter_mut().for_each(|v| *v = 0.0);
            }
        }
        out
    }

    /// The module as PyTorch's `print(model)` shows it.
    fn repr(&self) -> String {
        let children = self.children();
        let extra = self.extra_repr();
        if children.is_empty() {
            return format!("{}({extra})", self.type_name());
        }
        let mut out = format!("{}(\n", self.type_name());
        for line in extra.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        for (name, child) in children {
            let inner = child.repr().replace('\n', "\n  ");
            out.push_str(&format!("  ({name}): {inner}\n"));
        }
        out.push(')');
        out
    }

    /// `print(model)` followed by the parameter count.
    fn summary(&self) -> String {
        let count: usize = self.parameters().iter().map(|(_, dims)| dims.iter().product::<usize>()).sum();
        format!("{}\nparameters: {count}", self.repr())
    }
}

impl<M: Module + ?Sized> ModuleExt for M {}
