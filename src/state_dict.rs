//! Matching a file's tensors to a model's state dict by PyTorch's names: which tensors load,
//! which the file lacks or has besides, and which have other shapes. The file may be a
//! shadergrad checkpoint (its optimizer state is skipped) or a bare PyTorch `state_dict`.

use crate::checkpoint::Checkpoint;
pub use crate::error::Mismatch;
use crate::error::{Error, Result};
use crate::ir::ops::optim::OPTIMIZER_STATES;

/// What a state-dict entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    /// A trained parameter (`weight`, `bias`).
    Parameter,
    /// A running statistic a layer keeps (`running_mean`, `running_var`).
    Buffer,
    /// PyTorch's batch norm batch counter (`num_batches_tracked`): read when present, never
    /// needed (batch norm here always averages with its momentum).
    BatchCount,
}

/// One tensor of a model's state dict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// Its PyTorch name (`0.weight`, `layer1.0.bn1.running_var`).
    pub name: String,
    /// Its dims.
    pub dims: Vec<usize>,
    /// What it holds.
    pub kind: StateKind,
}

impl StateEntry {
    /// An entry named `name`.
    pub fn new(name: String, dims: Vec<usize>, kind: StateKind) -> StateEntry {
        StateEntry { name, dims, kind }
    }
}

/// The tensors to write into the model, and what was skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Parameters and buffers that load: (name, values).
    pub tensors: Vec<(String, Vec<f32>)>,
    /// What did not load (empty for a strict load, which fails instead).
    pub skipped: Vec<Mismatch>,
    /// Optimizer state tensors the file has beside the model's parameters (a training
    /// checkpoint's), which loading weights leaves out.
    pub optimizer_state: usize,
}

/// What a strict load's error suggests.
const LENIENT: &str = "load leniently (`--strict false`) to take the ones that fit";

/// Matches `file`'s tensors to `model`'s entries. Strict: every parameter and buffer must be
/// there with the model's dims and nothing else may be (but optimizer state and the batch
/// count), or the error lists each tensor that does not fit with both shapes. Not strict:
/// the tensors that fit load and the rest are reported in [`Selection::skipped`] (a
/// mis-shaped tensor too, so a model with another number of classes can start from the
/// others' weights).
pub fn select(model: &[StateEntry], file: &Checkpoint, path: &str, strict: bool) -> Result<Selection> {
    let mut selection = Selection::default();
    let mut problems = Vec::new();
    for entry in model {
        match file.get(&entry.name) {
            None if entry.kind == StateKind::BatchCount => {}
            None => problems.push(Mismatch::Missing { name: entry.name.clone(), model: entry.dims.clone() }),
            // PyTorch writes the count as a scalar; a one-element tensor holds the same.
            Some((_, values)) if entry.kind == StateKind::BatchCount && values.len() == 1 => {}
            Some((dims, _)) if dims != entry.dims.as_slice() => problems.push(Mismatch::Shape {
                name: entry.name.clone(),
                file: dims.to_vec(),
                model: entry.dims.clone(),
            }),
            Some(_) if entry.kind == StateKind::BatchCount => {}
            Some((_, values)) => selection.tensors.push((entry.name.clone(), values.to_vec())),
        }
    }
    let is_parameter = |name: &str| model.iter().any(|e| e.kind == StateKind::Parameter && e.name == name);
    for (name, dims, _) in &file.tensors {
        if model.iter().any(|e| &e.name == name) {
            continue;
        }
        let optimizer_state =
            name.rsplit_once('.').is_some_and(|(base, state)| OPTIMIZER_STATES.contains(&state) && is_parameter(base));
        if optimizer_state {
            selection.optimizer_state += 1;
        } else {
            problems.push(Mismatch::Unexpected { name: name.clone(), file: dims.clone() });
        }
    }
    if strict && !problems.is_empty() {
        return Err(Error::StateDict { path: path.to_string(), problems, note: LENIENT });
    }
    selection.skipped = problems;
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, dims: &[usize], kind: StateKind) -> StateEntry {
        StateEntry::new(name.into(), dims.to_vec(), kind)
    }

    fn file(tensors: &[(&str, &[usize])]) -> Checkpoint {
        let tensors = tensors.iter().map(|(n, d)| (n.to_string(), d.to_vec(), vec![0.5; d.iter().product()])).collect();
        Checkpoint { tensors, metadata: Default::default() }
    }

    fn model() -> Vec<StateEntry> {
        vec![
            entry("0.weight", &[2, 3], StateKind::Parameter),
            entry("0.bias", &[2], StateKind::Parameter),
            entry("1.running_mean", &[2], StateKind::Buffer),
            entry("1.num_batches_tracked", &[], StateKind::BatchCount),
        ]
    }

    #[test]
    fn a_full_state_dict_loads_and_optimizer_state_and_batch_counts_are_not_in_the_way() {
        let both = file(&[("0.weight", &[2, 3]), ("0.bias", &[2]), ("1.running_mean", &[2])]);
        let s = select(&model(), &both, "f", true).unwrap();
        let names: Vec<&str> = s.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["0.weight", "0.bias", "1.running_mean"]);
        let with_extras = file(&[
            ("0.weight", &[2, 3]),
            ("0.weight.m", &[2, 3]),
            ("0.weight.v", &[2, 3]),
            ("0.bias", &[2]),
            ("1.running_mean", &[2]),
            ("1.num_batches_tracked", &[]),
        ]);
        let s = select(&model(), &with_extras, "f", true).unwrap();
        assert_eq!((s.tensors.len(), s.optimizer_state, s.skipped.len()), (3, 2, 0));
    }

    #[test]
    fn strict_names_every_tensor_that_does_not_fit_and_lenient_skips_them() {
        let bad =
            file(&[("0.weight", &[3, 2]), ("1.running_mean", &[2]), ("2.weight", &[4]), ("1.running_mean.m", &[2])]);
        let err = select(&model(), &bad, "torch.safetensors", true).unwrap_err().to_string();
        for says in [
            "torch.safetensors",
            "'0.weight' is [3, 2] in the file but [2, 3] in the model",
            "'0.bias' [2] is missing from the file",
            "'2.weight' [4] is not in the model",
            // Only a parameter's optimizer state is skipped: a buffer has none.
            "'1.running_mean.m' [2] is not in the model",
        ] {
            assert!(err.contains(says), "{says}: {err}");
        }
        let s = select(&model(), &bad, "f", false).unwrap();
        assert_eq!(s.tensors, [("1.running_mean".to_string(), vec![0.5, 0.5])]);
        assert_eq!(s.skipped.len(), 4);
    }
}
