//! Models as PyTorch builds them: the [`Module`] trait, the built-in [`Layer`]s,
//! [`Sequential`], the residual blocks, ResNets and VGGs, the recurrent layers; several models
//! side by side in one graph.

mod layer;
pub mod module;
mod recurrent;
mod resnet;
mod sequential;
pub mod vgg;

pub use layer::Layer;
pub use module::{Draw, Forward, InitPlan, Mode, Module, ModuleExt, build};
pub use recurrent::{Recurrent, RecurrentOutput};
pub use resnet::{Block, ResidualBlock, resnet, resnet_cifar};
pub use sequential::Sequential;
pub use vgg::{vgg, vgg16_cifar};

use crate::state_dict::StateEntry;
use std::sync::Arc;

/// The prefix of model `k`'s parameter names among `count` models: none for a single model,
/// whose names stay PyTorch's (`0.weight`); `m0.`, `m1.`, … otherwise.
pub fn member_prefix(k: usize, count: usize) -> String {
    if count == 1 { String::new() } else { format!("m{k}.") }
}

/// The state dict of `models` living in one graph, each named with its [`member_prefix`].
pub fn state_dict_of(models: &[Arc<dyn Module>]) -> Vec<StateEntry> {
    let mut entries = Vec::new();
    for (k, model) in models.iter().enumerate() {
        let prefix = member_prefix(k, models.len());
        let named = model.state_dict().into_iter();
        entries.extend(named.map(|e| StateEntry { name: format!("{prefix}{}", e.name), ..e }));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::{Init, Mt19937};

    #[test]
    fn xavier_redraws_weights_after_every_default_draw_as_pytorch_does() {
        let model = Sequential::new(vec![
            Layer::Linear { inputs: 3, outputs: 2, bias: true },
            Layer::RELU,
            Layer::Linear { inputs: 2, outputs: 1, bias: true },
        ]);
        let got = model.initial_values(InitPlan::all(Init::XavierUniform), &mut Mt19937::new(7));
        // By hand: construction draws w0 (6), b0 (2), w1 (2), b1 (1); then xavier redraws w0, w1.
        let mut rng = Mt19937::new(7);
        let _w0 = Init::TorchDefault.weight(&mut rng, 6, 3, 2);
        let b0 = Init::TorchDefault.bias(&mut rng, 2, 3);
        let _w1 = Init::TorchDefault.weight(&mut rng, 2, 2, 1);
        let b1 = Init::TorchDefault.bias(&mut rng, 1, 2);
        let w0 = Init::XavierUniform.weight(&mut rng, 6, 3, 2);
        let w1 = Init::XavierUniform.weight(&mut rng, 2, 2, 1);
        let want = [("0.weight", w0), ("0.bias", b0), ("2.weight", w1), ("2.bias", b1)];
        for ((name, values), (want_name, want_values)) in got.iter().zip(want) {
            assert_eq!((name.as_str(), values), (want_name, &want_values));
        }
    }
}
