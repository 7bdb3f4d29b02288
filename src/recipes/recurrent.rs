//! Part 4 of the course: recurrent networks.

use super::catalog::shows;
use super::recipe::Recipe;
use crate::backend::device::Device;
use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::inference::Inference;
use crate::init::{Init, Mt19937};
use crate::nn::{InitPlan, ModuleExt, Recurrent};
use crate::tensor::Tensor;

/// Lab 11-1's one-hot letters h, e, l, o and its input, (3, 5, 4): the lab calls it "batch
/// 3, sequence 5", but the RNN is time-major, so it runs the five columns as sequences of 3.
fn rnn_basics_input() -> (Vec<f32>, [usize; 3]) {
    let one_hot = |k: usize| (0..4).map(move |j| if j == k { 1.0 } else { 0.0 });
    let (h, e, l, o) = (0, 1, 2, 3);
    let rows = [[h, e, l, l, o], [e, o, l, l, l], [l, l, e, e, l]];
    (rows.iter().flatten().flat_map(|&k| one_hot(k)).collect(), [3, 5, 4])
}

/// Lab 11-1: `nn.RNN(4, 2)` built after `torch.manual_seed(0)` and run once on the lab's
/// input, printing the outputs at every step and their size, as the lab prints them.
fn rnn_basics(recipe: &Recipe, device: &Device) -> Result<String> {
    let model = Recurrent::rnn(4, 2);
    let mut rng = Mt19937::new(recipe.seed).with_uniform(recipe.uniform);
    let dims = model.state_dict().into_iter().map(|e| e.dims);
    let values = model.initial_values(recipe.init, &mut rng).into_iter();
    let start = Checkpoint {
        tensors: values.zip(dims).map(|((name, v), dims)| (name, dims, v)).collect(),
        ..Default::default()
    };
    let (x, x_dims) = rnn_basics_input();
    let mut inference = Inference::new(device, model, &x_dims)?;
    inference.load_weights(&start, "the lab's starting values", true)?;
    let outputs = inference.run(&x)?;
    let size = inference.output_dims().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    Ok(format!("{}\ntorch.Size([{size}])", Tensor::format_values(&outputs, inference.output_dims())))
}

/// The recipes of Part 4, in the course's order.
pub(super) fn recipes() -> Vec<Recipe> {
    vec![Recipe {
        seed: 0,
        init: InitPlan::all(Init::TorchDefault),
        ..shows(
            "rnn-basics",
            "11-1",
            "nn.RNN(4, 2) run once on h, e, l, o sequences (time-major), as the lab prints it",
            rnn_basics,
        )
    }]
}
