//! [`Sequential`]: modules applied in order, named `0`, `1`, … as PyTorch's `nn.Sequential`.

use super::layer::Layer;
use super::module::{Forward, Module};
use crate::error::Result;
use crate::ir::graph::NodeId;
use std::sync::Arc;

/// Modules applied in order, named as PyTorch's `nn.Sequential` names them (`0.weight`, …).
#[derive(Clone, Debug, Default)]
pub struct Sequential {
    modules: Vec<Arc<dyn Module>>,
}

impl Sequential {
    /// A model of these built-in layers.
    pub fn new(layers: Vec<Layer>) -> Sequential {
        Sequential { modules: layers.into_iter().map(|l| Arc::new(l) as Arc<dyn Module>).collect() }
    }

    /// A model of these modules, of any kind.
    pub fn of(modules: Vec<Arc<dyn Module>>) -> Sequential {
        Sequential { modules }
    }

    /// Appends `module`.
    pub fn push(&mut self, module: impl Module) {
        self.modules.push(Arc::new(module));
    }

    /// The modules, in order.
    pub fn modules(&self) -> &[Arc<dyn Module>] {
        &self.modules
    }

    /// The modules, to change.
    pub fn modules_mut(&mut self) -> &mut Vec<Arc<dyn Module>> {
        &mut self.modules
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
        for (i, module) in self.modules.iter().enumerate() {
            h = f.child(&i.to_string(), module.as_ref(), h)?;
        }
        Ok(h)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.modules.iter().enumerate().map(|(i, m)| (i.to_string(), m.as_ref())).collect()
    }

    fn type_name(&self) -> String {
        "Sequential".into()
    }
}
