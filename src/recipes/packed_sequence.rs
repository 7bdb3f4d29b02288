//! Lab 11-6: five words of different lengths as a padded batch and as PyTorch's packed
//! sequence, one-hot, through `nn.RNN(19, 30, batch_first=True)`, printing what the lab prints.
//! The RNN runs on the device both ways: padded, every sequence for all 13 steps; packed, each
//! for its own length (the mask of [`Lengths`]), whose outputs are packed back into rows.

use super::recipe::Recipe;
use crate::backend::device::Device;
use crate::backend::executor::Plan;
use crate::data::packed::Lengths;
use crate::error::{Error, Result};
use crate::init::Mt19937;
use crate::ir::graph::{Graph, NodeId};
use crate::nn::{Forward, Mode, ModuleExt, Recurrent};
use crate::tensor::Tensor;

/// The lab's words.
const WORDS: [&str; 5] = ["hello world", "midnight", "calculation", "path", "short circuit"];

/// `['<pad>'] + list(set(…))` in the recorded order: `<pad>` is 0.
const ALPHABET: [&str; 19] =
    ["<pad>", "m", "i", "d", "l", "n", "r", "t", "s", "a", "e", " ", "p", "u", "c", "h", "w", "o", "g"];

/// Hidden features of the lab's RNN.
const HIDDEN: usize = 30;

fn size(dims: &[usize]) -> String {
    format!("torch.Size([{}])", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

fn integers(values: &[usize]) -> String {
    let longs: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    Tensor::format_integers(&longs, &[values.len()])
}

/// `[B, T, 19]` one-hot rows of padded index rows `[B, T]` (`eye(19)[idx]`: a pad is e₀).
fn one_hot(padded: &[usize]) -> Vec<f32> {
    padded.iter().flat_map(|&i| (0..ALPHABET.len()).map(move |j| if i == j { 1.0 } else { 0.0 })).collect()
}

/// The RNN run once on one-hot rows `x` of `dims` `[B, T, 19]`, each sequence for its own
/// length where `lengths` are given: its outputs `[B, T, H]` and final state, with their dims.
fn run_rnn(
    device: &Device,
    rnn: &Recurrent,
    start: &[(String, Vec<f32>)],
    x: &[f32],
    dims: [usize; 3],
    lengths: Option<&Lengths>,
) -> Result<[(Vec<f32>, Vec<usize>); 2]> {
    let mut g = Graph::new();
    let input = g.input("x", &dims)?;
    let mask = match lengths {
        Some(l) => Some((g.input("mask", &[dims[0], dims[1], 1])?, l.mask(true))),
        None => None,
    };
    let out = rnn.forward_with_state(
        &mut Forward::new(&mut g, Mode::Eval, 0, ""),
        input,
        None,
        None,
        mask.as_ref().map(|m| m.0),
    )?;
    let mut plan = Plan::compile(device, &g, &[out.output, out.h_n])?;
    for (name, values) in start {
        plan.write_named(name, values)?;
    }
    plan.write(input, x)?;
    if let Some((node, values)) = &mask {
        plan.write(*node, values)?;
    }
    let mut read = plan.run_and_read(&[out.output, out.h_n])?.into_iter();
    let mut next = |id: NodeId| (read.next().unwrap_or_default(), g.shape(id).dims().to_vec());
    Ok([next(out.output), next(out.h_n)])
}

/// The lab's printout, its RNN drawn after `manual_seed(recipe.seed)` (the lab sets no seed).
pub(super) fn packed_sequence(recipe: &Recipe, device: &Device, out: &mut dyn FnMut(&str)) -> Result<()> {
    let mut lines = Vec::new();
    let quoted: Vec<String> = ALPHABET.iter().map(|c| format!("'{c}'")).collect();
    lines.push(format!("char_set: [{}]", quoted.join(", ")));
    lines.push(format!("char_set length: {}", ALPHABET.len()));
    let index = |c: char| ALPHABET.iter().position(|a| a.chars().eq([c])).ok_or_else(|| Error::Graph(format!("'{c}'")));
    let words: Vec<Vec<usize>> = WORDS.iter().map(|w| w.chars().map(index).collect()).collect::<Result<_>>()?;
    lines.extend(words.iter().map(|w| integers(w)));
    let lengths = Lengths::of(&words)?;
    lines.push(format!("lengths: {:?}", lengths.lengths()));
    let (batch, steps) = (words.len(), lengths.steps());
    let pad = |rows: &[&Vec<usize>]| -> Vec<usize> {
        rows.iter().flat_map(|w| w.iter().copied().chain(std::iter::repeat(0)).take(steps)).collect()
    };
    let padded = pad(&words.iter().collect::<Vec<_>>());
    let longs: Vec<i64> = padded.iter().map(|&v| v as i64).collect();
    lines.push(Tensor::format_integers(&longs, &[batch, steps]));
    lines.push(size(&[batch, steps]));

    let order = lengths.sorted_indices();
    let sorted: Vec<&Vec<usize>> = order.iter().map(|&b| &words[b]).collect();
    lines.extend(sorted.iter().map(|w| integers(w)));
    let sorted_padded = pad(&sorted);
    let sorted_lengths = Lengths::new(&order.iter().map(|&b| lengths.lengths()[b]).collect::<Vec<_>>(), steps)?;
    let packed = sorted_lengths.pack(&sorted_padded, 1, true)?;
    lines.push(format!(
        "PackedSequence(data={}, batch_sizes={}, sorted_indices=None, unsorted_indices=None)",
        integers(&packed),
        integers(&sorted_lengths.batch_sizes())
    ));
    let classes = ALPHABET.len();
    let (embedded, embedded_sorted) = (one_hot(&padded), one_hot(&sorted_padded));
    let dims = [batch, steps, classes];
    lines.push(size(&dims));
    let packed_rows = sorted_lengths.pack(&embedded_sorted, classes, true)?;
    lines.push(size(&[packed_rows.len() / classes, classes]));

    let rnn = Recurrent::rnn(classes, HIDDEN).batch_first();
    let mut rng = Mt19937::new(recipe.seed).with_uniform(recipe.uniform);
    let start = rnn.initial_values(recipe.init, &mut rng);
    let [(_, out_dims), (_, h_dims)] = run_rnn(device, &rnn, &start, &embedded, dims, None)?;
    lines.push(size(&out_dims));
    lines.push(size(&h_dims));
    let [(output, _), (_, h_dims)] = run_rnn(device, &rnn, &start, &embedded_sorted, dims, Some(&sorted_lengths))?;
    let packed_output = sorted_lengths.pack(&output, HIDDEN, true)?;
    lines.push(size(&[packed_output.len() / HIDDEN, HIDDEN]));
    lines.push(size(&h_dims));

    // pad_packed_sequence of the packed one-hot rows gives the padded batch and the lengths
    // back; packing the sorted padded batch by its lengths gives the packed rows again.
    lines.push(size(&[sorted_lengths.lengths().len(), sorted_lengths.steps(), classes]));
    lines.push(integers(sorted_lengths.lengths()));
    lines.push(size(&dims));
    lines.push(size(&[packed_rows.len() / classes, classes]));
    lines.push(integers(&sorted_lengths.batch_sizes()));
    lines.iter().for_each(|l| out(l));
    Ok(())
}
