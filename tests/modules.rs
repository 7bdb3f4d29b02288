//! The module API against PyTorch: a residual network of the course's `resnet.py` blocks
//! (`tests/torch/modules.py` wrote the fixtures) prints, names its state, starts, runs and
//! trains one step as PyTorch does; a block written here with the public API trains with the
//! `Trainer`; shape errors in a module graph name the modules.

mod common;

use common::assert_close;
use shadergrad::checkpoint::{self, Checkpoint};
use shadergrad::init::{Init, Mt19937};
use shadergrad::nn::{Block, Forward, InitPlan, Layer, Mode, Module, ModuleExt, ResidualBlock, Sequential, build};
use shadergrad::ops::{loss::LossKind, optim::Optimizer};
use shadergrad::train::{Settings, Trainer};
use shadergrad::{Device, Graph, Inference, NodeId, Result};
use std::path::Path;

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn fixture(name: &str) -> Checkpoint {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch").join(name);
    checkpoint::load(&path).unwrap()
}

fn printed() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/modules.txt")).unwrap()
}

/// `tests/torch/modules.py`'s model.
fn small_resnet() -> Sequential {
    let mut model = Sequential::new(vec![
        Layer::Conv2d { inputs: 1, outputs: 4, kernel: [3, 3], stride: [1, 1], padding: [1, 1], bias: false },
        Layer::batch_norm_2d(4),
        Layer::RELU,
    ]);
    model.push(ResidualBlock::new(Block::Basic, 4, 4, 1));
    model.push(ResidualBlock::new(Block::Basic, 4, 8, 2));
    model.push(ResidualBlock::new(Block::Bottleneck, 8, 2, 2));
    model.push(Layer::AvgPool2d { kernel: 4, stride: 4, padding: 0 });
    model.push(Layer::Flatten);
    model.push(Layer::Linear { inputs: 8, outputs: 3, bias: true });
    model
}

#[test]
fn the_model_prints_and_names_its_state_as_pytorch_does() {
    let text = printed();
    let model = small_resnet();
    let repr_lines = model.repr().lines().count();
    let torch_repr: Vec<&str> = text.lines().take(repr_lines).collect();
    assert_eq!(model.repr(), torch_repr.join("\n"));
    let torch_state: Vec<String> =
        text.lines().skip(repr_lines).take_while(|l| !l.starts_with("train-mode")).map(String::from).collect();
    let ours: Vec<String> = model.state_dict().iter().map(|e| format!("{} {:?}", e.name, e.dims)).collect();
    assert_eq!(ours, torch_state);
    assert!(model.summary().ends_with("parameters: 1491"), "{}", model.summary());
}

#[test]
fn resnet_starting_values_follow_pytorchs_draw_order() {
    let plan = InitPlan::resnet();
    let ours = small_resnet().initial_values(plan, &mut Mt19937::new(1));
    let torch = fixture("modules_init.safetensors");
    for (name, values) in &ours {
        let (_, want) = torch.get(name).unwrap_or_else(|| panic!("PyTorch has no {name}"));
        assert_close(name, values, want, 1e-6);
    }
    assert_eq!(ours.len(), small_resnet().parameters().len());
}

#[test]
fn a_residual_network_runs_and_trains_a_step_as_pytorch_does() {
    let device = device();
    let weights = fixture("modules.safetensors");
    let io = fixture("modules_io.safetensors");
    let values = |name: &str| io.get(name).unwrap().1.to_vec();

    let mut inference = Inference::new(&device, small_resnet(), &[2, 1, 16, 16]).unwrap();
    let loaded = inference.load_weights(&weights, "modules.safetensors", true).unwrap();
    assert!(loaded.skipped.is_empty());
    assert_close("eval output", &inference.run(&values("x")).unwrap(), &values("y"), 1e-4);

    let settings = Settings { batch_size: Some(4), ..Settings::new(LossKind::CrossEntropy, Optimizer::sgd(0.1)) };
    let mut trainer = Trainer::new(&device, small_resnet(), settings, 4, &[1, 16, 16], 1, &[]).unwrap();
    trainer.load_weights(&weights, "modules.safetensors", true).unwrap();
    let loss = trainer.step(&values("batch"), &values("labels"), true).unwrap().unwrap();
    let torch_loss: f64 = printed().lines().last().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!((loss as f64 - torch_loss).abs() < 1e-5 * torch_loss, "loss {loss}, PyTorch {torch_loss}");
    let state = trainer.checkpoint(Default::default()).unwrap();
    // Every batch norm counts the step, as PyTorch's `num_batches_tracked` does.
    let counters = small_resnet().state_dict().into_iter().filter(|e| e.name.ends_with("num_batches_tracked"));
    for entry in counters {
        assert_eq!(state.get(&entry.name).map(|(_, v)| v.to_vec()), Some(vec![1.0]), "{}", entry.name);
    }
    for entry in small_resnet().state_dict() {
        let Some((_, want)) = io.get(&format!("after.{}", entry.name)) else { continue };
        let (_, got) = state.get(&entry.name).unwrap_or_else(|| panic!("no {} after the step", entry.name));
        assert_close(&format!("{} after one step", entry.name), got, want, 1e-4);
    }
}

/// A block as a user writes one: two branches of their own modules, merged by a sum.
#[derive(Debug)]
struct TwoBranches {
    wide: Sequential,
    narrow: Sequential,
}

impl TwoBranches {
    fn new(width: usize, narrow_outputs: usize) -> TwoBranches {
        let linear = |i, o| Layer::Linear { inputs: i, outputs: o, bias: true };
        TwoBranches {
            wide: Sequential::new(vec![linear(width, 16), Layer::TANH, linear(16, width)]),
            narrow: Sequential::new(vec![linear(width, narrow_outputs)]),
        }
    }
}

impl Module for TwoBranches {
    fn forward(&self, f: &mut Forward<'_>, x: NodeId) -> Result<NodeId> {
        let a = f.child("wide", &self.wide, x)?;
        let b = f.child("narrow", &self.narrow, x)?;
        let merged = f.add(a, b)?;
        f.add(merged, x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("wide".into(), &self.wide), ("narrow".into(), &self.narrow)]
    }
}

#[test]
fn a_block_written_with_the_public_api_trains_with_the_trainer() {
    let mut model = Sequential::default();
    model.push(TwoBranches::new(4, 4));
    model.push(Layer::Linear { inputs: 4, outputs: 3, bias: true });
    let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[..2], ["0.wide.0.weight".to_string(), "0.wide.0.bias".to_string()]);
    assert!(names.contains(&"0.narrow.0.weight".to_string()) && names.contains(&"1.bias".to_string()));
    assert!(model.repr().contains("(0): TwoBranches(\n    (wide): Sequential("), "{}", model.repr());

    // Three classes told apart by which input is largest.
    let mut rng = Mt19937::new(3);
    let x: Vec<f32> = (0..32 * 4).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let y: Vec<f32> = x.chunks(4).map(|r| (0..3).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap() as f32).collect();
    let initial = model.initial_values(InitPlan::all(Init::XavierUniform), &mut rng);
    let settings = Settings { batch_size: Some(32), ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(0.05)) };
    let mut trainer = Trainer::new(&device(), model, settings, 32, &[4], 1, &initial).unwrap();
    let first = trainer.step(&x, &y, true).unwrap().unwrap();
    let mut last = first;
    for _ in 0..60 {
        last = trainer.step(&x, &y, true).unwrap().unwrap();
    }
    assert!(last < 0.25 * first, "loss {first} → {last}");
}

#[test]
fn a_shape_error_in_a_module_graph_names_the_modules() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4]).unwrap();
    let mut model = Sequential::default();
    model.push(TwoBranches::new(4, 3));
    let err = build(&model, &mut g, x, Mode::Train, 0, "").unwrap_err().to_string();
    assert!(err.contains("[2, 4]") && err.contains("[2, 3]"), "{err}");
    assert!(err.contains("`0`") && err.contains("`0.wide`") && err.contains("`0.narrow`"), "{err}");

    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 8, 8]).unwrap();
    let mut model = Sequential::new(vec![Layer::batch_norm_1d(3)]);
    model.push(ResidualBlock::new(Block::Basic, 4, 4, 1));
    let err = build(&model, &mut g, x, Mode::Train, 0, "").unwrap_err().to_string();
    assert!(err.contains("BatchNorm1d takes inputs of rank [2, 3]") && err.contains("in module `0`"), "{err}");

    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 8, 8]).unwrap();
    let model = ResidualBlock::new(Block::Basic, 4, 4, 1);
    let err = build(&model, &mut g, x, Mode::Eval, 0, "").unwrap_err().to_string();
    assert!(err.contains("in module `conv1`: Conv2d(4, 4, kernel_size=(3, 3)"), "{err}");
}

#[test]
fn named_architectures_have_pytorchs_state_dicts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/architectures.txt");
    let text = std::fs::read_to_string(path).unwrap();
    for (name, classes) in
        [("resnet18", Some(10)), ("resnet50-cifar10", None), ("vgg16-cifar10", None), ("vgg11_bn", None)]
    {
        let torch: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{name} ")))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        let arch = shadergrad::recipes::architecture(name).unwrap();
        let mut model = (arch.build)();
        if let Some(c) = classes {
            let last = model.modules().len() - 1;
            model.replace(last, Layer::Linear { inputs: 512, outputs: c, bias: true });
        }
        let ours: Vec<String> = model.state_dict().iter().map(|e| format!("{} {:?}", e.name, e.dims)).collect();
        assert_eq!(ours, torch, "{name}");
    }
}

#[test]
fn adaptive_average_pooling_averages_equal_bins_and_names_bad_inputs() {
    let mut rng = Mt19937::new(9);
    let x: Vec<f32> = (0..2 * 3 * 4 * 6).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let model = Sequential::new(vec![Layer::AdaptiveAvgPool2d { output: [2, 3] }]);
    let mut inference = Inference::new(&device(), model, &[2, 3, 4, 6]).unwrap();
    let got = inference.run(&x).unwrap();
    // PyTorch's bins for 4×6 → 2×3: rows ⌊i·4/2⌋..⌈(i+1)·4/2⌉, columns likewise, here 2×2 each.
    let mut want = Vec::new();
    for plane in x.chunks(24) {
        for (i, j) in (0..2).flat_map(|i| (0..3).map(move |j| (i, j))) {
            let bin = [(2 * i, 2 * j), (2 * i, 2 * j + 1), (2 * i + 1, 2 * j), (2 * i + 1, 2 * j + 1)];
            want.push(bin.iter().map(|&(r, c)| plane[r * 6 + c]).sum::<f32>() / 4.0);
        }
    }
    assert_close("adaptive average pooling", &got, &want, 1e-6);

    let mut g = Graph::new();
    let x = g.input("x", &[3, 5, 5]).unwrap();
    let model = Sequential::new(vec![Layer::AdaptiveAvgPool2d { output: [2, 2] }]);
    let err = build(&model, &mut g, x, Mode::Eval, 0, "").unwrap_err().to_string();
    assert!(err.contains("[3, 5, 5] to [2, 2]") && err.contains("AdaptiveAvgPool2d(output_size=(2, 2))"), "{err}");
}

#[test]
fn adaptive_average_pooling_and_identity_give_pytorchs_outputs() {
    let io = fixture("pooling_io.safetensors");
    let (dims, x) = io.get("x").unwrap();
    let cases = [
        ("pool_2x3", Layer::AdaptiveAvgPool2d { output: [2, 3] }),
        ("pool_1x1", Layer::AdaptiveAvgPool2d { output: [1, 1] }),
        ("pool_3x4", Layer::AdaptiveAvgPool2d { output: [3, 4] }),
        ("pool_7x9", Layer::AdaptiveAvgPool2d { output: [7, 9] }),
        ("identity", Layer::Identity),
    ];
    for (name, layer) in cases {
        let mut inference = Inference::new(&device(), Sequential::new(vec![layer]), dims).unwrap();
        let (want_dims, want) = io.get(name).unwrap();
        assert_close(name, &inference.run(x).unwrap(), want, 1e-6);
        assert_eq!(inference.output_dims(), want_dims, "{name}");
    }
}

#[test]
fn the_cifar_vgg_and_resnet_start_as_the_courses_labs_start_them() {
    // tests/torch/inits.py: per parameter, its size, f64 sum and first three values.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/inits.txt")).unwrap();
    for (model, plan) in [("vgg16-cifar10", InitPlan::vgg()), ("resnet50-cifar10", InitPlan::resnet())] {
        let torch: Vec<Vec<&str>> = text
            .lines()
            .skip_while(|l| *l != model)
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let arch = shadergrad::recipes::architecture(model).unwrap();
        let ours = (arch.build)().initial_values(plan, &mut Mt19937::new(777));
        assert_eq!(ours.len(), torch.len(), "{model}: parameter count");
        for ((name, values), want) in ours.iter().zip(&torch) {
            assert_eq!(name, want[0], "{model}: state-dict order");
            assert_eq!(values.len(), want[1].parse::<usize>().unwrap(), "{model}: {name}'s size");
            let sum: f64 = values.iter().map(|&v| v as f64).sum();
            let torch_sum: f64 = want[2].parse().unwrap();
            let scale: f64 = values.iter().map(|&v| v.abs() as f64).sum::<f64>().max(1e-30);
            assert!((sum - torch_sum).abs() <= 1e-6 * scale, "{model}: {name} sums to {sum}, PyTorch's to {torch_sum}");
            for (k, want) in want[3..].iter().enumerate() {
                let want: f32 = want.parse().unwrap();
                assert!(
                    (values[k] - want).abs() <= 1e-6 * want.abs().max(1e-3),
                    "{model}: {name}[{k}] {} vs {want}",
                    values[k]
                );
            }
        }
    }
}

#[test]
fn labs_10_5_1_and_10_6_1_print_their_models_as_pytorch_does() {
    // tests/torch/printouts.py: each model's print(model), then its parameter count.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/printouts.txt")).unwrap();
    let (vgg, resnet) = text.split_at(text.find("\nResNet(").expect("two printouts") + 1);
    let show = |name: &str| {
        let recipe = shadergrad::recipes::find(name).unwrap();
        shadergrad::recipes::printout(&recipe, &device()).unwrap()
    };
    let vgg_models = show("vgg-models");
    assert!(vgg_models.starts_with(vgg.trim_end()), "{vgg_models}");
    // The lab's own bug, named: the classifier wants 25088 inputs, the features give 12544.
    let failure = vgg_models.lines().last().unwrap();
    assert!(failure.contains("classifier.0") && failure.contains("25088") && failure.contains("12544"), "{failure}");
    assert_eq!(show("resnet-models"), resnet.trim_end());
}
