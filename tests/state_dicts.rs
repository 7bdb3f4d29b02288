//! Weights from PyTorch: state dicts that `tests/torch/state_dicts.py` saved with
//! `safetensors.torch.save_file` (no metadata, f16/bf16/f32 tensors, int64 batch counts) load
//! by name, evaluate to PyTorch's accuracy and infer PyTorch's outputs; ones that do not fit
//! name each tensor; and training starts from given weights with fresh optimizer state.

mod common;

use common::assert_close;
use shadergrad::checkpoint::{self, Checkpoint};
use shadergrad::nn::{Layer, ModuleExt, Sequential};
use shadergrad::recipes::{self, ModelFile, Overrides, Paths, Progress};
use shadergrad::state_dict::Mismatch;
use shadergrad::{Device, Inference};
use std::path::{Path, PathBuf};

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch").join(name)
}

fn pytorch_cnn() -> ModelFile {
    ModelFile { arch: Some("mnist-cnn".into()), ..ModelFile::new(fixture("mnist_cnn.safetensors")) }
}

/// `tests/torch/state_dicts.txt`'s (correct, total, loss) for the CNN on `split`.
fn pytorch_result(split: &str) -> (usize, usize, f64) {
    let text = std::fs::read_to_string(fixture("state_dicts.txt")).unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("mnist-cnn {split} "))).expect("a line per split");
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[3].parse().unwrap(), words[5].parse().unwrap(), words[7].parse().unwrap())
}

#[test]
fn a_bare_pytorch_state_dict_evaluates_to_pytorchs_accuracy() {
    let e = recipes::evaluate_checkpoint(&device(), &pytorch_cnn(), None).unwrap();
    assert_eq!(e.recipe, "mnist-cnn");
    assert!(e.skipped.is_empty());
    for (split, got) in [("train", &e.train), ("test", e.test.as_ref().unwrap())] {
        let (correct, total, loss) = pytorch_result(split);
        let accuracy = got.accuracy.unwrap();
        assert_eq!((accuracy * total as f32).round() as usize, correct, "{split}: accuracy {accuracy} of {total}");
        assert!(((got.loss as f64) - loss).abs() <= 1e-4 * loss, "{split}: loss {} vs PyTorch's {loss}", got.loss);
    }
    // Without --arch, the file names no model: the error says what to do.
    let err = recipes::evaluate_checkpoint(&device(), &ModelFile::new(fixture("mnist_cnn.safetensors")), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mnist_cnn.safetensors") && err.contains("--arch"), "{err}");
}

#[test]
fn infer_writes_pytorchs_logits() {
    let dir = std::env::temp_dir().join(format!("shadergrad-infer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("y.safetensors");
    let io = checkpoint::load(&fixture("mnist_cnn_io.safetensors")).unwrap();
    let inferred = recipes::infer(&device(), &pytorch_cnn(), None, &fixture("mnist_cnn_io.safetensors"), &out).unwrap();
    assert_eq!(inferred.dims, [4, 10]);
    let got = checkpoint::load(&out).unwrap();
    assert_close("infer mnist-cnn", got.get("y").unwrap().1, io.get("y").unwrap().1, 1e-4);

    // The command line does the same.
    let cli_out = dir.join("cli.safetensors");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_shadergrad"))
        .args(["infer", "--arch", "mnist-cnn", "--model"])
        .arg(fixture("mnist_cnn.safetensors"))
        .arg("--input")
        .arg(fixture("mnist_cnn_io.safetensors"))
        .arg("--out")
        .arg(&cli_out)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(checkpoint::load(&cli_out).unwrap().get("y"), got.get("y"));

    // An input of another shape names the layer it does not fit.
    let mut wrong = Checkpoint::default();
    wrong.tensors.push(("x".into(), vec![2, 1, 20, 20], vec![0.0; 800]));
    checkpoint::save(&dir.join("wrong.safetensors"), &wrong).unwrap();
    let err =
        recipes::infer(&device(), &pytorch_cnn(), None, &dir.join("wrong.safetensors"), &out).unwrap_err().to_string();
    assert!(err.contains("in module `7`: Linear(in_features=3136") && err.contains("[2, 1600]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn bn_mlp() -> Sequential {
    Sequential::new(vec![
        Layer::Linear { inputs: 4, outputs: 8, bias: true },
        Layer::batch_norm_1d(8),
        Layer::RELU,
        Layer::Linear { inputs: 8, outputs: 3, bias: true },
    ])
}

#[test]
fn batch_norm_statistics_and_counts_load_and_run_as_pytorchs_eval_mode() {
    let weights = checkpoint::load(&fixture("bn_mlp.safetensors")).unwrap();
    assert_eq!(weights.get("1.num_batches_tracked"), Some((&[][..], &[5.0][..])), "int64, read");
    let io = checkpoint::load(&fixture("bn_mlp_io.safetensors")).unwrap();
    let mut inference = Inference::new(&device(), bn_mlp(), &[6, 4]).unwrap();
    let loaded = inference.load_weights(&weights, "bn_mlp.safetensors", true).unwrap();
    assert_eq!(loaded.tensors.len(), 8, "weights, biases and running statistics");
    let y = inference.run(io.get("x").unwrap().1).unwrap();
    assert_close("bn_mlp eval", &y, io.get("y").unwrap().1, 1e-4);
}

#[test]
fn state_dicts_that_do_not_fit_name_each_tensor_unless_loaded_leniently() {
    let mut weights = checkpoint::load(&fixture("bn_mlp.safetensors")).unwrap();
    weights.tensors.retain(|(n, _, _)| n != "3.bias");
    weights.tensors.push(("4.weight".into(), vec![2], vec![0.0; 2]));
    let k = weights.tensors.iter().position(|(n, _, _)| n == "0.weight").unwrap();
    weights.tensors[k] = ("0.weight".into(), vec![4, 8], vec![0.0; 32]);
    let mut inference = Inference::new(&device(), bn_mlp(), &[6, 4]).unwrap();
    let err = inference.load_weights(&weights, "edited.safetensors", true).unwrap_err().to_string();
    for says in [
        "edited.safetensors",
        "'0.weight' is [4, 8] in the file but [8, 4] in the model",
        "'3.bias' [3] is missing from the file",
        "'4.weight' [2] is not in the model",
    ] {
        assert!(err.contains(says), "{says}: {err}");
    }
    let lenient = inference.load_weights(&weights, "edited.safetensors", false).unwrap();
    assert_eq!(lenient.tensors.len(), 6);
    assert_eq!(lenient.skipped.len(), 3);
}

/// Trains `recipe` one epoch, returning its first batch loss, what loading reported, and the
/// checkpoint it saved.
fn one_epoch(recipe: &str, out: &Path, init_from: Option<ModelFile>) -> (f32, Vec<Mismatch>, Checkpoint) {
    let recipe = recipes::find(recipe).unwrap().with(&Overrides { epochs: Some(1), ..Overrides::default() });
    let paths = Paths { out: Some(out.to_path_buf()), init_from, ..Paths::default() };
    let (mut first, mut skipped) = (None, Vec::new());
    recipes::run(&device(), &recipe, &paths, |p| match p {
        Progress::Batch { loss, .. } => {
            first.get_or_insert(*loss);
        }
        Progress::Loaded { skipped: s, .. } => skipped = s.clone(),
        _ => {}
    })
    .unwrap();
    (first.unwrap(), skipped, checkpoint::load(&recipes::checkpoint_path(out)).unwrap())
}

#[test]
fn training_starts_from_given_weights_with_fresh_optimizer_state() {
    let dir = std::env::temp_dir().join(format!("shadergrad-init-from-{}", std::process::id()));
    let (fresh_loss, _, trained) = one_epoch("mnist-softmax", &dir.join("a"), None);
    let from = ModelFile::new(recipes::checkpoint_path(&dir.join("a")));
    let (tuned_loss, skipped, tuned) = one_epoch("mnist-softmax", &dir.join("b"), Some(from.clone()));
    assert!(skipped.is_empty());
    assert!(tuned_loss < 0.5 * fresh_loss, "starts trained: first loss {tuned_loss} vs {fresh_loss} from scratch");
    // Adam starts again: one epoch's steps, not two.
    assert_eq!(tuned.metadata.get("steps"), trained.metadata.get("steps"));

    // Another model: strictly, an error naming the tensor; leniently, it is skipped.
    let recipe = recipes::find("mnist-xavier").unwrap();
    let paths = Paths { init_from: Some(from.clone()), ..Paths::default() };
    let err = recipes::run(&device(), &recipe, &paths, |_| {}).unwrap_err().to_string();
    assert!(err.contains("'0.weight' is [10, 784] in the file but [256, 784] in the model"), "{err}");
    let lenient = ModelFile { strict: false, ..from };
    let (_, skipped, _) = one_epoch("mnist-xavier", &dir.join("c"), Some(lenient));
    assert!(skipped.contains(&Mismatch::Shape { name: "0.weight".into(), file: vec![10, 784], model: vec![256, 784] }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_state_dicts_are_errors_never_panics() {
    // A deterministic run of the fuzz target's mutations (fuzz/fuzz_targets/checkpoint.rs) on
    // a PyTorch file: bytes changed in the header (dtypes, shapes, offsets) and the data.
    let bytes = std::fs::read(fixture("bn_mlp.safetensors")).unwrap();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let entries = bn_mlp().state_dict();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut parsed, mut loaded) = (0, 0);
    for _ in 0..3000 {
        let mut mutated = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let at =
                if next() % 4 == 0 { (next() as usize) % bytes.len() } else { 8 + (next() as usize) % (header - 8) };
            mutated[at] = b"0123456789[],:\"FIBU"[(next() % 19) as usize];
        }
        if let Ok(c) = checkpoint::parse("mutated.safetensors", &mutated) {
            parsed += 1;
            for strict in [true, false] {
                if let Ok(s) = shadergrad::state_dict::select(&entries, &c, "mutated.safetensors", strict) {
                    loaded += 1;
                    for (name, values) in &s.tensors {
                        let e = entries.iter().find(|e| &e.name == name).unwrap();
                        assert_eq!(e.dims.iter().product::<usize>(), values.len(), "{name}");
                    }
                }
            }
        }
    }
    assert!(parsed > 0 && loaded > 0, "some mutations leave a valid file ({parsed} parsed, {loaded} loaded)");
}
