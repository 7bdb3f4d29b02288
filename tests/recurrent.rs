//! The recurrent layers and the embedding against PyTorch's own (tests/torch/recurrent.py):
//! outputs, final states and every gradient through time, starting values and printouts.

mod common;

use common::assert_close;
use shadergrad::autodiff::gradients;
use shadergrad::checkpoint::{self, Checkpoint};
use shadergrad::data::packed::Lengths;
use shadergrad::init::{Init, Mt19937, UniformDraw};
use shadergrad::nn::{Forward, InitPlan, Layer, Mode, ModuleExt, Recurrent};
use shadergrad::{Device, Graph, Inference, Plan};
use std::path::Path;

fn fixture(file: &str) -> Checkpoint {
    checkpoint::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch").join(file)).unwrap()
}

/// Each model's `print(model)` and parameter count, as the script printed them.
fn printed() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/recurrent.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    lines.chunks(2).map(|pair| pair.join("\n")).collect()
}

/// The fixture's four cases, as tests/torch/recurrent.py builds them.
fn cases() -> Vec<(&'static str, Recurrent)> {
    vec![
        ("rnn_tanh", Recurrent::rnn(3, 5).layers(2).batch_first()),
        ("rnn_relu", Recurrent::rnn(3, 4).relu().without_bias()),
        ("lstm", Recurrent::lstm(5, 6).layers(2).batch_first()),
        ("gru", Recurrent::gru(4, 5)),
    ]
}

/// Runs case `name` of `torch` through `model`, on its padded sequences of `NAME.lengths`
/// where the fixture has them, and compares the outputs, final states and the gradients of
/// Σ output·w_out + Σ h_n·w_h with PyTorch's.
fn matches_pytorch(device: &Device, torch: &Checkpoint, name: &str, model: &Recurrent) {
    let value = |k: &str| torch.get(&format!("{name}.{k}")).map(|(dims, v)| (dims.to_vec(), v.to_vec()));
    let mut g = Graph::new();
    let (x_dims, x_values) = value("x").unwrap();
    let x = g.input("x", &x_dims).unwrap();
    let mut written = vec![(x, x_values)];
    let mut state = |g: &mut Graph, k: &str| {
        value(k).map(|(dims, v)| {
            let id = g.input(k, &dims).unwrap();
            written.push((id, v));
            id
        })
    };
    let (h0, c0) = (state(&mut g, "h0"), state(&mut g, "c0"));
    let mask = value("lengths").map(|(_, l)| {
        let steps = x_dims[if model.batch_first { 1 } else { 0 }];
        let lengths = Lengths::new(&l.iter().map(|&v| v as usize).collect::<Vec<_>>(), steps).unwrap();
        let mut dims = x_dims.clone();
        dims[2] = 1;
        let id = g.input("mask", &dims).unwrap();
        written.push((id, lengths.mask(model.batch_first)));
        id
    });
    let out = {
        let mut f = Forward::new(&mut g, Mode::Train, 0, "");
        model.forward_with_state(&mut f, x, h0, c0, mask).unwrap()
    };
    let (w_out_dims, w_out) = value("w_out").unwrap();
    let (w_h_dims, w_h) = value("w_h").unwrap();
    let (wo, wh) = (g.input("w_out", &w_out_dims).unwrap(), g.input("w_h", &w_h_dims).unwrap());
    let a = g.mul(out.output, wo).unwrap();
    let b = g.mul(out.h_n, wh).unwrap();
    let (a, b) = (g.sum(a).unwrap(), g.sum(b).unwrap());
    let loss = g.add(a, b).unwrap();

    let params: Vec<String> = model.state_dict().into_iter().map(|e| e.name).collect();
    let mut wrt: Vec<(String, _)> = vec![("x".to_string(), x)];
    wrt.extend(h0.map(|h| ("h0".to_string(), h)));
    wrt.extend(c0.map(|c| ("c0".to_string(), c)));
    for p in &params {
        let id = g.find(p).unwrap_or_else(|| panic!("{name}: no parameter {p}"));
        written.push((id, value(p).unwrap_or_else(|| panic!("{name}: PyTorch has no {p}")).1));
        wrt.push((p.clone(), id));
    }
    let ids: Vec<_> = wrt.iter().map(|(_, id)| *id).collect();
    let grads = gradients(&mut g, loss, None, &ids).unwrap();
    let mut outputs = vec![out.output, out.h_n];
    outputs.extend(out.c_n);
    outputs.extend(&grads);

    let mut plan = Plan::compile(device, &g, &outputs).unwrap();
    for (id, v) in &written {
        plan.write(*id, v).unwrap();
    }
    plan.write(wo, &w_out).unwrap();
    plan.write(wh, &w_h).unwrap();
    let results = plan.run_and_read(&outputs).unwrap();
    let mut expected = vec!["output".to_string(), "h_n".to_string()];
    if out.c_n.is_some() {
        expected.push("c_n".into());
    }
    expected.extend(wrt.iter().map(|(k, _)| format!("grad.{k}")));
    for (got, k) in results.iter().zip(&expected) {
        let (_, want) = value(k).unwrap_or_else(|| panic!("{name}: PyTorch has no {k}"));
        assert_close(&format!("{name} {k}"), got, &want, 1e-5);
    }
}

#[test]
fn recurrent_layers_give_pytorchs_outputs_states_and_gradients_through_time() {
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    let torch = fixture("recurrent.safetensors");
    for (name, model) in cases() {
        matches_pytorch(&device, &torch, name, &model);
    }
}

#[test]
fn padded_sequences_with_lengths_give_pytorchs_packed_outputs_states_and_gradients() {
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    let torch = fixture("packed.safetensors");
    let cases = [
        ("rnn_tanh", Recurrent::rnn(3, 5).layers(2).batch_first()),
        ("lstm", Recurrent::lstm(4, 6).layers(2).batch_first()),
        ("gru", Recurrent::gru(4, 5)),
    ];
    for (name, model) in cases {
        matches_pytorch(&device, &torch, name, &model);
    }
}

#[test]
fn recurrent_layers_start_and_print_as_pytorchs() {
    let torch = fixture("recurrent.safetensors");
    let printed = printed();
    let inits = [
        ("rnn", Recurrent::rnn(3, 4).layers(2)),
        ("lstm", Recurrent::lstm(5, 16).batch_first()),
        ("gru", Recurrent::gru(2, 4).without_bias()),
    ];
    for (k, (name, model)) in inits.iter().enumerate() {
        // Each built right after torch.manual_seed(0): hidden sizes 4 and 16 make the bound a
        // power of two, where torch's plain and fused uniform draws agree.
        let mut rng = Mt19937::new(0);
        if k > 0 {
            // The earlier layers drew first.
            for (_, earlier) in &inits[..k] {
                earlier.initial_values(InitPlan::all(Init::TorchDefault), &mut rng);
            }
        }
        let ours = model.initial_values(InitPlan::all(Init::TorchDefault), &mut rng);
        let names: Vec<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
        let torch_names: Vec<String> = model.state_dict().into_iter().map(|e| e.name).collect();
        assert_eq!(names, torch_names, "{name}: the state dict's order");
        for (p, values) in &ours {
            let (_, want) = torch.get(&format!("init.{name}.{p}")).unwrap_or_else(|| panic!("no init.{name}.{p}"));
            assert_eq!(values.as_slice(), want, "{name}: {p} as drawn");
        }
        assert_eq!(model.summary(), printed[k], "{name}: print(model)");
    }
    for (k, (_, model)) in cases().iter().enumerate() {
        assert_eq!(model.summary(), printed[4 + k]);
    }
}

#[test]
fn lab_11_1_prints_pytorchs_run_from_either_uniform_draw() {
    let torch = fixture("recurrent.safetensors");
    let model = Recurrent::rnn(4, 2);
    let draw =
        |uniform| model.initial_values(InitPlan::all(Init::TorchDefault), &mut Mt19937::new(0).with_uniform(uniform));
    // tests/torch/recurrent.py ran on an AVX2 CPU, whose torch draws fused: exactly those; the
    // plain draws are the other path's, at most one rounding away, and not all the same here.
    let (fused, plain) = (draw(UniformDraw::Fused), draw(UniformDraw::Plain));
    let mut differ = 0;
    for ((name, f), (_, p)) in fused.iter().zip(&plain) {
        let (_, want) = torch.get(&format!("init.rnn_basics.{name}")).unwrap();
        assert_eq!(f.as_slice(), want, "{name}, fused");
        for (a, b) in p.iter().zip(want) {
            assert!((a - b).abs() <= 1.2e-7, "{name}, plain: {a} against {b}");
            differ += (a != b) as usize;
        }
    }
    assert!(differ > 0, "the two draws agree on every value: this fixture cannot tell them apart");

    let recipe = shadergrad::recipes::find("rnn-basics").unwrap();
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    let printed = shadergrad::recipes::printout(&recipe, &device).unwrap();
    let want =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/rnn_basics.txt")).unwrap();
    assert_eq!(printed, want.trim_end());
}

#[test]
fn an_embedding_starts_prints_and_gathers_as_pytorchs() {
    let torch = fixture("recurrent.safetensors");
    let layer = Layer::Embedding { count: 17, dim: 16 };
    let ours = layer.initial_values(InitPlan::all(Init::TorchDefault), &mut Mt19937::new(0));
    let (_, want) = torch.get("init.embedding.weight").unwrap();
    // normal_'s transcendentals on this fixture's AVX2 CPU are approximations within 1e-6.
    for (k, (a, b)) in ours[0].1.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-6, "weight[{k}]: {a} against PyTorch's {b}");
    }
    assert_eq!(layer.summary(), printed()[3]);

    let (dims, indices) = torch.get("embedding.indices").unwrap();
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    let mut inference = Inference::new(&device, layer, dims).unwrap();
    let weights = Checkpoint { tensors: vec![("weight".into(), vec![17, 16], want.to_vec())], ..Default::default() };
    inference.load_weights(&weights, "PyTorch's embedding", true).unwrap();
    let (_, rows) = torch.get("embedding.output").unwrap();
    assert_eq!(inference.run(indices).unwrap(), rows);
    assert_eq!(inference.output_dims(), [2, 4, 16]);
}

#[test]
fn the_rnn_labs_with_torch_init_give_pytorchs_losses_and_predictions() {
    // tests/torch/rnn_labs.py ran the labs' code on an AVX2 CPU, whose torch draws uniforms
    // fused: the recipes reproduce it with --uniform fused.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/rnn_labs.txt")).unwrap();
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    // Lab 11-3's Adam at lr 0.1 is chaotic: a rounding moves its loss by per cents after ~50
    // steps, so it is held to PyTorch's over its first 20 steps, and all others over every step.
    let labs = [("rnn-hihello", 100), ("rnn-charseq", 50), ("rnn-longseq", 20), ("lstm-stock", 500)];
    for (name, compared) in labs {
        let want: Vec<(f32, &str)> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{name} ")))
            .map(|l| {
                let mut words = l.splitn(3, ' ');
                let (_, loss, prediction) = (words.next(), words.next().unwrap(), words.next().unwrap_or(""));
                (loss.parse().unwrap(), prediction)
            })
            .collect();
        let overrides = shadergrad::recipes::Overrides {
            uniform: Some(UniformDraw::Fused),
            epochs: Some(compared),
            ..Default::default()
        };
        let recipe = shadergrad::recipes::find(name).unwrap().with(&overrides);
        let mut got = Vec::new();
        let summary = shadergrad::recipes::run(&device, &recipe, &Default::default(), |p| {
            if let shadergrad::recipes::Progress::Step { step, loss, predicted, .. } = p {
                // The character labs' printed prediction; none for the stock prices.
                let line =
                    predicted.as_deref().and_then(|p| shadergrad::recipes::step_line(&recipe, *step, *loss, Some(p)));
                let prediction = line.as_deref().map_or("", |l| l.rsplit("prediction str: ").next().unwrap());
                // The long-sequence lab prints its predicted sentence after the loss.
                let prediction = prediction.split_once(&format!("loss: {loss:.6} ")).map_or(prediction, |(_, s)| s);
                got.push((*loss, prediction.to_string()));
            }
        })
        .unwrap();
        assert_eq!(got.len(), compared, "{name}: steps");
        // The prediction comes back with the loss: still one submit a step.
        assert_eq!(summary.counters.submits, summary.steps as u64, "{name}");
        for (step, ((loss, prediction), (want_loss, want_prediction))) in got.iter().zip(&want).enumerate() {
            // Adam at lr 0.1 amplifies f32 rounding differences over the steps.
            assert!(
                (loss - want_loss).abs() <= 1e-4 * want_loss,
                "{name} step {step}: loss {loss}, PyTorch's {want_loss}"
            );
            assert_eq!(prediction, want_prediction, "{name} step {step}: the prediction");
        }
    }
}

#[test]
fn lab_11_6_prints_pytorchs_padded_and_packed_sequences() {
    let recipe = shadergrad::recipes::find("packed-sequence").unwrap();
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    let printed = shadergrad::recipes::printout(&recipe, &device).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/packed_sequence.txt");
    assert_eq!(printed, std::fs::read_to_string(path).unwrap().trim_end());
}

#[test]
fn lab_11_5_with_torch_init_gives_pytorchs_losses_and_translations() {
    // tests/torch/seq2seq.py ran the lab for 300 pairs, printing every one: the same first
    // 300 iterations as the lab's 5000, whose per-iteration losses it kept in full.
    let torch = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch");
    let want = std::fs::read_to_string(torch.join("seq2seq_300.txt")).unwrap();
    let exact: Vec<f64> = std::fs::read_to_string(torch.join("seq2seq_losses.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let overrides = shadergrad::recipes::Overrides { epochs: Some(300), log_every: Some(1), ..Default::default() };
    let recipe = shadergrad::recipes::find("seq2seq").unwrap().with(&overrides);
    let device = Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)");
    let got = shadergrad::recipes::printout(&recipe, &device).unwrap();
    let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.trim_end().lines().collect());
    assert_eq!(got.len(), want.len(), "lines:\n{}", got.join("\n"));
    let mut losses = 0;
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        match (g.split_once("] loss = "), w.split_once("] loss = ")) {
            (Some((g_at, g_loss)), Some((w_at, _))) => {
                assert_eq!(g_at, w_at, "line {k}");
                // Printed to 4 decimals; PyTorch's own value in full.
                let (ours, theirs) = (g_loss.parse::<f64>().unwrap(), exact[losses]);
                assert!((ours - theirs).abs() <= 1e-4, "iteration {}: loss {ours}, PyTorch's {theirs}", losses + 1);
                losses += 1;
            }
            _ => assert_eq!(g, w, "line {k}"),
        }
    }
    assert_eq!(losses, 300);
}

#[test]
fn the_rnn_labs_print_their_data_and_steps_as_python_does() {
    let find = |name| shadergrad::recipes::find(name).unwrap();
    // Lab 11-3's `print(i, x_str, '->', y_str)`, and 11-2-1's `print(char_dic)`.
    let windows = shadergrad::recipes::preamble(&find("rnn-longseq"));
    assert_eq!(windows.len(), 170);
    assert_eq!(windows[0], "0 if you wan -> f you want");
    assert_eq!(windows[169], "169 of the sea -> f the sea.");
    assert_eq!(
        shadergrad::recipes::preamble(&find("rnn-charseq")),
        ["{'y': 0, 't': 1, 'o': 2, 'i': 3, 'f': 4, 'w': 5, 'u': 6, 'a': 7, 'n': 8, ' ': 9}"]
    );
    assert!(shadergrad::recipes::preamble(&find("rnn-hihello")).is_empty());
    // Lab 11-4's `print(i, loss.item())`: the f32 loss as a Python float.
    let loss: f32 = "0.2271038144826889".parse().unwrap();
    let line = shadergrad::recipes::step_line(&find("lstm-stock"), 3, loss, None);
    assert_eq!(line.as_deref(), Some("3 0.2271038144826889"));
}
