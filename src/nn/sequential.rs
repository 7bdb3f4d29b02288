//! [`Sequential`]: modules applied in order, named `0`, `1`, … as PyTorch's `nn.Sequential`,
//! or by names of their own as `nn.Sequential(OrderedDict(…))` names them; also the shape of
//! a PyTorch model class whose `forward` runs its children in order (torchvision's `ResNet`,
//! `VGG`), with its class name and the stateless calls its `forward` makes between them.

use super::layer::Layer;
use super::module::{Forward, Module};
use crate::error::Result;
use crate::ir::graph::NodeId;
use std::sync::Arc;

/// Modules applied in order, named as PyTorch's `nn.Sequential` names them (`0.weight`, …).
#[derive(Clone, Debug, Default)]
pub struct Sequential {
    modules: Vec<Arc<dyn Module>>,
    /// Each module's name: its index unless given.
    names: Vec<String>,
    /// Steps that `forward` calls without registering them (`torch.flatten(x, 1)`): they run
    /// but are not children, so neither `print(model)` nor the state dict shows them.
    functional: Vec<bool>,
    /// The class name `print(model)` shows (`None`: `Sequential`).
    class: Option<String>,
}

impl Sequential {
    /// A model of these built-in layers.
    pub fn new(layers: Vec<Layer>) -> Sequential {
        Sequential::of(layers.into_iter().map(|l| Arc::new(l) as Arc<dyn Module>).collect())
    }

    /// A model of these modules, of any kind.
    pub fn of(modules: Vec<Arc<dyn Module>>) -> Sequential {
        let names = (0..modules.len()).map(|i| i.to_string()).collect();
        let functional = vec![false; modules.len()];
        Sequential { modules, names, functional, class: None }
    }

    /// The same modules shown by `print(model)` as a model of class `class` (`ResNet`).
    pub fn with_class(mut self, class: &str) -> Sequential {
        self.class = Some(class.to_string());
        self
    }

    /// Appends `module`, named by its index.
    pub fn push(&mut self, module: impl Module) {
        self.push_named(&self.modules.len().to_string(), module);
    }

    /// Appends `module` named `name` (`conv1`, `layer1`, `fc`).
    pub fn push_named(&mut self, name: &str, module: impl Module) {
        self.modules.push(Arc::new(module));
        self.names.push(name.to_string());
        self.functional.push(false);
    }

    /// Appends a stateless step that `forward` calls without registering it as a child
    /// (torchvision's `torch.flatten(x, 1)`); `name` locates it in errors only.
    pub fn push_functional(&mut self, name: &str, layer: Layer) {
        self.push_named(name, layer);
        *self.functional.last_mut().expect("just pushed") = true;
    }

    /// The index of the module named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The modules, in order.
    pub fn modules(&self) -> &[Arc<dyn Module>] {
        &self.modules
    }

    /// Replaces module `i` (keeping its name).
    pub fn replace(&mut self, i: usize, module: impl Module) {
        self.modules[i] = Arc::new(module);
    }

    /// Module `i` as a built-in layer, if it is one.
    pub fn layer(&self, i: usize) -> Option<&Layer> {
        let module: &dyn std::any::Any = self.modules.get(i)?.as_ref();
        module.downcast_ref::<Layer>()
    }
}

impl Module for Sequential {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let mut h = x;
        for (name, module) in self.names.iter().zip(&self.modules) {
            h = f.child(name, module.as_ref(), h)?;
        }
        Ok(h)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let registered = self.names.iter().zip(&self.modules).zip(&self.functional).filter(|(_, f)| !**f);
        registered.map(|((n, m), _)| (n.clone(), m.as_ref())).collect()
    }

    fn type_name(&self) -> String {
        self.class.clone().unwrap_or_else(|| "Sequential".into())
    }
}
