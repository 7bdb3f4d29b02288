//! Part 4 of the course: recurrent networks.

use super::catalog::{full_batch, shows};
use super::python::{float_repr, str_repr};
use super::recipe::{Recipe, Source};
use crate::backend::device::Device;
use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::inference::Inference;
use crate::init::{Init, Mt19937};
use crate::ir::ops::loss::LossKind;
use crate::ir::ops::optim::Optimizer;
use crate::nn::{InitPlan, Layer, ModuleExt, Recurrent, Sequential};
use crate::tensor::Tensor;
use crate::train::Task;

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
fn rnn_basics(recipe: &Recipe, device: &Device, out: &mut dyn FnMut(&str)) -> Result<()> {
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
    out(&Tensor::format_values(&outputs, inference.output_dims()));
    out(&format!("torch.Size([{size}])"));
    Ok(())
}

/// Lab 11-3's sentence.
const SHIP: &str = "if you want to build a ship, don't drum up people together to collect wood and don't assign \
                    them tasks and work, but rather teach them to long for the endless immensity of the sea.";

/// Lab 11-3's `Net`: a 2-layer RNN, then a linear layer at every step.
fn long_sequences() -> Sequential {
    let mut model = Sequential::default().with_class("Net");
    model.push_named("rnn", Recurrent::rnn(25, 25).layers(2).batch_first());
    model.push_named("fc", Layer::Linear { inputs: 25, outputs: 25, bias: true });
    model
}

/// Lab 11-4's `Net`: an LSTM, its last step, a linear layer to one value.
fn stock_lstm() -> Sequential {
    let mut model = Sequential::default().with_class("Net");
    model.push_named("rnn", Recurrent::lstm(5, 10).batch_first());
    model.push_functional("last", Layer::LastStep);
    model.push_named("fc", Layer::Linear { inputs: 10, outputs: 1, bias: true });
    model
}

/// A model of the one recurrent layer `layer`.
fn alone(layer: Recurrent) -> Sequential {
    let mut model = Sequential::default();
    model.push(layer);
    model
}

/// Labs 11-2: `nn.RNN(V, V, batch_first=True)` whose outputs are the logits, cross entropy
/// at every step, Adam 0.1, full batch, seed 0, `steps` steps.
fn char_rnn(
    name: &'static str,
    lab: &'static str,
    about: &'static str,
    source: Source,
    model: fn() -> Sequential,
    steps: usize,
    preamble: Option<fn(&Recipe) -> Vec<String>>,
) -> Recipe {
    Recipe {
        preamble,
        seed: 0,
        init: InitPlan::all(Init::TorchDefault),
        task: Task::Classes,
        loss: LossKind::CrossEntropy,
        optimizer: Optimizer::adam(0.1),
        epochs: steps,
        log_every: 1,
        ..full_batch(name, lab, about, source, model)
    }
}

/// The recipes of Part 4, in the course's order.
pub(super) fn recipes() -> Vec<Recipe> {
    vec![
        Recipe {
            seed: 0,
            init: InitPlan::all(Init::TorchDefault),
            ..shows(
                "rnn-basics",
                "11-1",
                "nn.RNN(4, 2) run once on h, e, l, o sequences (time-major), as the lab prints it",
                rnn_basics,
            )
        },
        char_rnn(
            "rnn-hihello",
            "11-2-2",
            "an RNN learns 'hihell' → 'ihello' (its outputs are the logits), Adam 0.1, 100 steps",
            Source::Chars { text: "hihello", alphabet: "hielo", window: None },
            || alone(Recurrent::rnn(5, 5).batch_first()),
            100,
            None,
        ),
        char_rnn(
            "rnn-charseq",
            "11-2-1",
            "an RNN learns ' if you want you' one character ahead, Adam 0.1, 50 steps",
            Source::Chars { text: " if you want you", alphabet: "ytoifwuan ", window: None },
            || alone(Recurrent::rnn(10, 10).batch_first()),
            50,
            Some(alphabet_dict),
        ),
        char_rnn(
            "rnn-longseq",
            "11-3",
            "a 2-layer RNN and a linear layer on 170 windows of 10 characters of a 180-character sentence, Adam 0.1, 100 steps",
            Source::Chars { text: SHIP, alphabet: " ',.abcdefghiklmnoprstuwy", window: Some(10) },
            long_sequences,
            100,
            Some(window_pairs),
        ),
        Recipe {
            seed: 0,
            init: InitPlan::all(Init::TorchDefault),
            task: Task::Regression,
            loss: LossKind::Mse,
            optimizer: Optimizer::adam(0.01),
            epochs: 500,
            log_every: 1,
            ..full_batch(
                "lstm-stock",
                "11-4",
                "an LSTM on 7-day windows of Google's daily prices predicts the next close (MSE, Adam 0.01, 500 steps)",
                Source::Series { file: "data-02-stock_daily.csv", window: 7, train_fraction: 0.7 },
                stock_lstm,
            )
        },
        Recipe {
            seed: 0,
            init: InitPlan::all(Init::TorchDefault),
            optimizer: Optimizer::sgd(0.01),
            epochs: 5000,
            log_every: 1000,
            ..shows(
                "seq2seq",
                "11-5",
                "a GRU encoder and decoder with embeddings translate four English sentences into Korean (SGD 0.01, 5000 pairs)",
                super::seq2seq::seq2seq,
            )
        },
        Recipe {
            seed: 0,
            init: InitPlan::all(Init::TorchDefault),
            ..shows(
                "packed-sequence",
                "11-6",
                "five words padded and packed (PyTorch's PackedSequence), through nn.RNN(19, 30) each way",
                super::packed_sequence::packed_sequence,
            )
        },
    ]
}

/// What a lab prints for a full-batch step, where it has a print of its own: for one
/// character sequence (labs 11-2), the step, its loss, the predicted indices, the true ones and
/// the predicted string; for sliding windows (lab 11-3), the predicted text: window 0's
/// characters, then each later window's last; for a time series (lab 11-4), the step and the
/// loss as Python prints a float. `None` for recipes of other data.
pub fn step_line(recipe: &Recipe, step: usize, loss: f32, predicted: Option<&[usize]>) -> Option<String> {
    let (text, alphabet, window) = match recipe.source {
        Source::Chars { text, alphabet, window } => (text, alphabet, window),
        Source::Series { .. } => return Some(format!("{step} {}", float_repr(loss as f64))),
        _ => return None,
    };
    let predicted = predicted?;
    let alphabet: Vec<char> = alphabet.chars().collect();
    let decode = |ids: &[usize]| ids.iter().map(|&i| alphabet.get(i).copied().unwrap_or('?')).collect::<String>();
    match window {
        None => {
            let truth = crate::data::text::indices(text, &alphabet).ok()?;
            let numpy = predicted.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
            let list = truth[1..].iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            Some(format!(
                "{step} loss: {loss:.6} prediction: [[{numpy}]] true Y: [[{list}]] prediction str: {}",
                decode(predicted)
            ))
        }
        Some(w) => {
            let mut ids: Vec<usize> = predicted.iter().take(w).copied().collect();
            ids.extend(predicted.chunks(w).skip(1).filter_map(|c| c.last().copied()));
            Some(format!("{step} loss: {loss:.6} {}", decode(&ids)))
        }
    }
}

/// What the lab prints about its data before training, where it prints something.
pub fn preamble(recipe: &Recipe) -> Vec<String> {
    recipe.preamble.map(|p| p(recipe)).unwrap_or_default()
}

/// Lab 11-2-1's `print(char_dic)`: each character and its index, as a Python dict.
fn alphabet_dict(recipe: &Recipe) -> Vec<String> {
    let Source::Chars { alphabet, .. } = recipe.source else { return Vec::new() };
    let entries: Vec<String> =
        alphabet.chars().enumerate().map(|(i, c)| format!("{}: {i}", str_repr(&c.to_string()))).collect();
    vec![format!("{{{}}}", entries.join(", "))]
}

/// Lab 11-3's `print(i, x_str, '->', y_str)` for every window.
fn window_pairs(recipe: &Recipe) -> Vec<String> {
    let Source::Chars { text, window: Some(w), .. } = recipe.source else { return Vec::new() };
    let chars: Vec<char> = text.chars().collect();
    let part = |from: usize| chars[from..from + w].iter().collect::<String>();
    (0..chars.len().saturating_sub(w)).map(|i| format!("{i} {} -> {}", part(i), part(i + 1))).collect()
}
