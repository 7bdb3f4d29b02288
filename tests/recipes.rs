//! The course's labs train on the GPU and give the course's numbers: each tiny lab is checked
//! step by step against an independent f32 computation on the CPU.

use shadergrad::recipes::{self, Overrides, Progress, Summary};
use shadergrad::{Device, Error};

/// The models as a trainer holds them.
fn shared(models: &[shadergrad::nn::Sequential]) -> Vec<std::sync::Arc<dyn shadergrad::nn::Module>> {
    models.iter().map(|m| std::sync::Arc::new(m.clone()) as std::sync::Arc<dyn shadergrad::nn::Module>).collect()
}

fn device() -> Device {
    Device::new().expect("an adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// Runs a recipe, collecting every logged (step, loss).
fn run(name: &str, overrides: &Overrides) -> (Summary, Vec<(usize, f32)>) {
    let recipe = recipes::find(name).unwrap().with(overrides);
    let mut losses = Vec::new();
    let summary = recipes::run(&device(), &recipe, &recipes::Paths::default(), |p| {
        if let Progress::Step { step, loss, .. } = p {
            losses.push((*step, *loss));
        }
    })
    .unwrap();
    (summary, losses)
}

fn param(summary: &Summary, name: &str) -> Vec<f32> {
    summary.params.as_ref().unwrap().iter().find(|(n, _)| n == name).unwrap().1.clone()
}

fn close(got: f32, want: f32, tolerance: f32) -> bool {
    (got - want).abs() <= tolerance * want.abs().max(1e-3)
}

/// A linear model's size and its plain gradient-descent schedule.
struct Fit {
    width: usize,
    outputs: usize,
    lr: f32,
    steps: usize,
    bias: bool,
}

/// Full-batch gradient descent on a linear model z = x·Wᵀ + b in plain f32 loops, with the
/// cost `cost(z)` and its gradient with respect to z, `dz(z)`.
fn independent_fit(
    x: &[f32],
    fit: Fit,
    cost: impl Fn(&[f32]) -> f32,
    dz: impl Fn(&[f32]) -> Vec<f32>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Fit { width, outputs, lr, steps, bias } = fit;
    let n = x.len() / width;
    let (mut w, mut b) = (vec![0.0f32; outputs * width], vec![0.0f32; outputs]);
    let mut costs = Vec::new();
    for _ in 0..steps {
        let mut z = vec![0.0f32; n * outputs];
        for r in 0..n {
            for o in 0..outputs {
                z[r * outputs + o] = (0..width).map(|k| x[r * width + k] * w[o * width + k]).sum::<f32>() + b[o];
            }
        }
        costs.push(cost(&z));
        let d = dz(&z);
        for o in 0..outputs {
            for k in 0..width {
                w[o * width + k] -= lr * (0..n).map(|r| d[r * outputs + o] * x[r * width + k]).sum::<f32>();
            }
            if bias {
                b[o] -= lr * (0..n).map(|r| d[r * outputs + o]).sum::<f32>();
            }
        }
    }
    (w, b, costs)
}

#[test]
fn linear_regression_matches_the_course() {
    let (s, losses) = run("linear-regression", &Overrides::default());
    let xs = [1.0f32, 2.0, 3.0];
    let (w, b, costs) = independent_fit(
        &xs,
        Fit { width: 1, outputs: 1, lr: 0.01, steps: 1001, bias: true },
        |z| z.iter().zip(&xs).map(|(h, y)| (h - y) * (h - y)).sum::<f32>() / 3.0,
        |z| z.iter().zip(&xs).map(|(h, y)| 2.0 * (h - y) / 3.0).collect(),
    );
    for &(step, loss) in &losses {
        assert!(close(loss, costs[step], 1e-4), "step {step}: {loss} vs {}", costs[step]);
    }
    assert!(close(param(&s, "0.weight")[0], w[0], 1e-5) && close(param(&s, "0.bias")[0], b[0], 1e-4));
    // The course prints cost 4.666667 first and W 0.985, b 0.033 at the end.
    assert!((losses[0].1 - 4.666_667).abs() < 1e-5);
    assert!((w[0] - 0.985).abs() < 5e-4 && (b[0] - 0.033).abs() < 5e-4);
    // One submit per step, plus one read of the parameters at each logged step.
    assert_eq!(s.counters.submits as usize, 1001 + losses.len());
}

#[test]
fn linear_regression_with_torch_init_starts_from_pytorchs_draws() {
    let recipe = recipes::find("linear-regression").unwrap().with(&Overrides {
        init: Some(shadergrad::init::Init::TorchDefault),
        epochs: Some(1),
        ..Overrides::default()
    });
    let mut first = None;
    recipes::run(&device(), &recipe, &recipes::Paths::default(), |p| {
        if let Progress::Step { params: Some(params), .. } = p {
            first.get_or_insert(params.clone());
        }
    })
    .unwrap();
    // torch.manual_seed(1); nn.Linear(1, 1): W 0.5153, b −0.4414; after one step of lr 0.01
    // on cost 2(hx − y)…: W = 0.5153 − 0.01·dW, checked against the same in f64.
    let params = first.unwrap();
    let (w0, b0) = (0.515_263_2f64, -0.441_378_24f64);
    let xs = [1.0, 2.0, 3.0];
    let dw: f64 = xs.iter().map(|x| 2.0 * (x * w0 + b0 - x) * x / 3.0).sum();
    let db: f64 = xs.iter().map(|x| 2.0 * (x * w0 + b0 - x) / 3.0).sum();
    assert!((params[0].1[0] as f64 - (w0 - 0.01 * dw)).abs() < 1e-6);
    assert!((params[1].1[0] as f64 - (b0 - 0.01 * db)).abs() < 1e-6);
}

#[test]
fn logistic_regression_matches_an_independent_computation() {
    let (s, losses) = run("logistic-toy", &Overrides::default());
    let x = [1., 2., 2., 3., 3., 1., 4., 3., 5., 3., 6., 2.];
    let y = [0.0f32, 0., 0., 1., 1., 1.];
    let sigmoid = |z: f32| 1.0 / (1.0 + (-z).exp());
    let (w, b, costs) = independent_fit(
        &x,
        Fit { width: 2, outputs: 1, lr: 1.0, steps: 1001, bias: true },
        |z| {
            z.iter().zip(&y).map(|(z, y)| -(y * sigmoid(*z).ln() + (1.0 - y) * (1.0 - sigmoid(*z)).ln())).sum::<f32>()
                / 6.0
        },
        |z| z.iter().zip(&y).map(|(z, y)| (sigmoid(*z) - y) / 6.0).collect(),
    );
    for &(step, loss) in &losses {
        assert!(close(loss, costs[step], 1e-3), "step {step}: {loss} vs {}", costs[step]);
    }
    let got = param(&s, "0.weight");
    assert!(close(got[0], w[0], 1e-3) && close(got[1], w[1], 1e-3) && close(param(&s, "0.bias")[0], b[0], 1e-3));
    // The course: cost 0.019852 after 1000 epochs, accuracy 100 %.
    assert!((losses.last().unwrap().1 - 0.019852).abs() < 2e-6);
    assert_eq!(s.train_accuracy, Some(1.0));
}

#[test]
fn softmax_regression_matches_an_independent_computation() {
    let (s, losses) = run("softmax-toy", &Overrides::default());
    let x = [
        1., 2., 1., 1., 2., 1., 3., 2., 3., 1., 3., 4., 4., 1., 5., 5., 1., 7., 5., 5., 1., 2., 5., 6., 1., 6., 6., 6.,
        1., 7., 7., 7.,
    ];
    let y = [2usize, 2, 2, 1, 1, 1, 0, 0];
    let softmax = |z: &[f32], r: usize| {
        let row = &z[r * 3..r * 3 + 3];
        let m = row.iter().cloned().fold(f32::MIN, f32::max);
        let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f32 = e.iter().sum();
        e.iter().map(|v| v / s).collect::<Vec<_>>()
    };
    let (w, _, costs) = independent_fit(
        &x,
        Fit { width: 4, outputs: 3, lr: 0.1, steps: 1001, bias: false },
        |z| (0..8).map(|r| -softmax(z, r)[y[r]].ln()).sum::<f32>() / 8.0,
        |z| {
            (0..8)
                .flat_map(|r| {
                    let mut p = softmax(z, r);
                    p[y[r]] -= 1.0;
                    p.into_iter().map(|v| v / 8.0)
                })
                .collect()
        },
    );
    for &(step, loss) in &losses {
        assert!(close(loss, costs[step], 1e-3), "step {step}: {loss} vs {}", costs[step]);
    }
    for (g, e) in param(&s, "0.weight").iter().zip(&w) {
        assert!(close(*g, *e, 1e-3), "{g} vs {e}");
    }
}

#[test]
fn xor_needs_a_hidden_layer() {
    let (perceptron, _) = run("xor-perceptron", &Overrides { epochs: Some(3001), ..Overrides::default() });
    assert!(perceptron.train_accuracy.unwrap() <= 0.75, "a single unit cannot learn XOR");
    let ln2 = std::f32::consts::LN_2;
    assert!((perceptron.final_loss - ln2).abs() < 1e-3, "it settles at ln 2: {}", perceptron.final_loss);
    let (mlp, _) = run("xor-mlp", &Overrides::default());
    assert_eq!(mlp.train_accuracy, Some(1.0));
    assert!(mlp.final_loss < 0.01, "{}", mlp.final_loss);
}

#[test]
fn a_diverging_run_names_the_step_and_suggests_a_lower_rate() {
    let recipe = recipes::find("tips").unwrap().with(&Overrides { lr: Some(1e5), ..Overrides::default() });
    let err = recipes::run(&device(), &recipe, &recipes::Paths::default(), |_| {}).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Diverged { step: 1, .. }), "{text}");
    assert!(text.contains("step 1") && text.contains("lower"), "{text}");
}

#[test]
fn mnist_softmax_learns_in_one_epoch_shortened_for_ci() {
    let (s, _) = run("mnist-softmax", &Overrides { epochs: Some(1), ..Overrides::default() });
    assert_eq!(s.steps, 80, "8,000 examples in batches of 100");
    assert!(s.test_accuracy.unwrap() > 0.83, "test accuracy {:?}", s.test_accuracy);
    assert_eq!(s.counters.submits, 80, "one submit per step");
}

#[test]
fn unknown_recipes_list_the_known_ones() {
    let err = recipes::find("mnist-transformer").unwrap_err().to_string();
    assert!(err.contains("mnist-transformer") && err.contains("mnist-cnn") && err.contains("xor-mlp"), "{err}");
}

#[test]
fn a_saved_model_evaluates_to_the_same_accuracy_and_resumes_exactly() {
    let dir = std::env::temp_dir().join(format!("shadergrad-recipe-{}", std::process::id()));
    let paths = recipes::Paths { out: Some(dir.clone()), ..Default::default() };
    let recipe = recipes::find("mnist-softmax").unwrap().with(&Overrides { epochs: Some(1), ..Overrides::default() });
    let summary = recipes::run(&device(), &recipe, &paths, |_| {}).unwrap();
    let path = recipes::checkpoint_path(&dir);
    let e = recipes::evaluate_checkpoint(&device(), &recipes::ModelFile::new(&path), None).unwrap();
    assert_eq!(e.recipe, "mnist-softmax");
    assert_eq!(e.train.accuracy, summary.train_accuracy);
    assert_eq!(e.test.unwrap().accuracy, summary.test_accuracy);

    // A checkpoint of another model names the tensor that does not fit.
    let mut saved = shadergrad::checkpoint::load(&path).unwrap();
    saved.metadata.insert("recipe".into(), "mnist-xavier".into());
    shadergrad::checkpoint::save(&path, &saved).unwrap();
    let err = recipes::evaluate_checkpoint(&device(), &recipes::ModelFile::new(&path), None).unwrap_err().to_string();
    assert!(err.contains("0.weight") && err.contains("[10, 784]") && err.contains("[256, 784]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_seed_gives_bit_identical_parameters() {
    // Shuffles, dropout masks and reductions are all fixed by the seed: no atomics anywhere.
    let overrides = Overrides { epochs: Some(1), batch_size: Some(200), ..Overrides::default() };
    let recipe = recipes::find("mnist-dropout").unwrap().with(&overrides);
    let dir = |k: usize| std::env::temp_dir().join(format!("shadergrad-determinism-{}-{k}", std::process::id()));
    let mut saved = Vec::new();
    for k in 0..2 {
        let paths = recipes::Paths { out: Some(dir(k)), ..Default::default() };
        recipes::run(&device(), &recipe, &paths, |_| {}).unwrap();
        saved.push(shadergrad::checkpoint::load(&recipes::checkpoint_path(&dir(k))).unwrap());
        std::fs::remove_dir_all(dir(k)).unwrap();
    }
    assert!(!saved[0].tensors.is_empty());
    for ((name, _, a), (_, _, b)) in saved[0].tensors.iter().zip(&saved[1].tensors) {
        let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{name} differs between two runs with the same seed");
    }
}

#[test]
fn a_run_killed_mid_training_resumes_to_bit_identical_parameters() {
    let bin = env!("CARGO_BIN_EXE_shadergrad");
    let base = std::env::temp_dir().join(format!("shadergrad-kill-{}", std::process::id()));
    let (whole, killed) = (base.join("whole"), base.join("killed"));
    let train = |out: &std::path::Path, extra: &[&str]| {
        let mut cmd = std::process::Command::new(bin);
        // Checkpoints every 30 steps as well as at each epoch's end (80 steps an epoch).
        cmd.args(["train", "mnist-softmax-adam", "--epochs", "3", "--checkpoint-every", "30", "--out"])
            .arg(out)
            .args(extra);
        cmd
    };
    // Uninterrupted; it also draws its training curve beside the model.
    let output = train(&whole, &[]).output().unwrap();
    assert!(output.status.success());
    let plot = image::open(whole.join("training.png")).expect("a PNG plot in --out");
    assert_eq!((plot.width(), plot.height()), shadergrad::plot::DEFAULT_SIZE);
    let last = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_string();
    let json: serde_json::Value = serde_json::from_str(&last).expect("the last line is one JSON object");
    assert_eq!(json["recipe"], "mnist-softmax-adam");
    assert!(json["test_accuracy"].as_f64().unwrap() > 0.2, "better than chance (0.1): {json}");
    // Killed with SIGKILL once the first checkpoint (step 30, inside epoch 1) exists, then resumed.
    let mut child = train(&killed, &[]).stdout(std::process::Stdio::null()).spawn().unwrap();
    let checkpoint = recipes::checkpoint_path(&killed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !checkpoint.exists() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved = shadergrad::checkpoint::load(&checkpoint).expect("the checkpoint survives the kill intact");
    let epoch: usize = saved.metadata["epoch"].parse().unwrap();
    let batch: usize = saved.metadata["batch"].parse().unwrap();
    assert!(epoch < 3, "killed before the end (at epoch {epoch}, batch {batch})");
    let resumed = train(&killed, &["--resume", checkpoint.to_str().unwrap()]).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));

    let a = shadergrad::checkpoint::load(&recipes::checkpoint_path(&whole)).unwrap();
    let b = shadergrad::checkpoint::load(&checkpoint).unwrap();
    assert_eq!(a.metadata["steps"], b.metadata["steps"]);
    // The last epoch's reported loss is the same too (the resumed epoch's partial sum is kept).
    let last_json = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string()
    };
    let resumed_json: serde_json::Value = serde_json::from_str(&last_json(&resumed)).unwrap();
    assert_eq!(resumed_json["final_loss"], json["final_loss"]);
    for ((name, _, x), (_, _, y)) in a.tensors.iter().zip(&b.tensors) {
        assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()), "{name} differs after resuming");
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn digit_images_round_trip_through_predict() {
    use shadergrad::data::mnist;
    let dir = std::env::temp_dir().join(format!("shadergrad-predict-{}", std::process::id()));
    let paths = recipes::Paths { out: Some(dir.clone()), ..Default::default() };
    let recipe = recipes::find("mnist-softmax").unwrap().with(&Overrides { epochs: Some(2), ..Overrides::default() });
    recipes::run(&device(), &recipe, &paths, |_| {}).unwrap();
    let model = recipes::checkpoint_path(&dir);

    let test = mnist::load_shipped().unwrap().test;
    let mut plain = Vec::new();
    let mut photos = Vec::new();
    for i in 0..20 {
        let pixels: Vec<u8> = test.images[i * 784..(i + 1) * 784].iter().map(|&v| (v * 255.0).round() as u8).collect();
        // As MNIST stores it: white digit on black, 28×28.
        let path = dir.join(format!("digit{i}.png"));
        image::GrayImage::from_raw(28, 28, pixels.clone()).unwrap().save(&path).unwrap();
        plain.push(path);
        // As a photo of ink on paper: dark on light, larger, not square.
        let inverted = image::GrayImage::from_raw(28, 28, pixels.iter().map(|v| 255 - v).collect()).unwrap();
        let mut paper = image::GrayImage::from_pixel(84, 112, image::Luma([255]));
        image::imageops::overlay(
            &mut paper,
            &image::imageops::resize(&inverted, 84, 84, image::imageops::FilterType::Triangle),
            0,
            14,
        );
        let path = dir.join(format!("photo{i}.jpg"));
        paper.save(&path).unwrap();
        photos.push(path);
    }
    // A blank page among them: no digit, and the others keep their places.
    let blank = dir.join("blank.png");
    image::GrayImage::from_pixel(28, 28, image::Luma([255])).save(&blank).unwrap();
    plain.insert(3, blank);
    let model = recipes::ModelFile::new(&model);
    let mut on_plain = recipes::predict(&device(), &model, &plain).unwrap().predictions;
    assert!(on_plain.remove(3).classes.is_none(), "a blank image holds no digit");
    let on_photos = recipes::predict(&device(), &model, &photos).unwrap().predictions;
    let class = |p: &recipes::Prediction| p.classes.as_ref().expect("a digit").0;
    let correct = on_plain.iter().enumerate().filter(|(i, p)| class(p) == test.labels[*i] as usize).count();
    assert!(correct >= 16, "{correct}/20 of the shipped test digits predicted right");
    for p in &on_plain {
        let probabilities = &p.classes.as_ref().unwrap().1;
        let total: f32 = probabilities.iter().sum();
        assert!((total - 1.0).abs() < 1e-4 && probabilities.len() == 10);
    }
    let agree = on_plain.iter().zip(&on_photos).filter(|(a, b)| class(a) == class(b)).count();
    assert!(agree >= 16, "only {agree}/20 photos (inverted, rescaled, JPEG) predicted as the originals");

    // Not an image: the error names the file.
    let bogus = dir.join("notes.png");
    std::fs::write(&bogus, b"this is not a png").unwrap();
    let err = recipes::predict(&device(), &model, &[bogus]).unwrap_err().to_string();
    assert!(err.contains("notes.png") && err.contains("not a readable"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_validation_split_stops_training_when_its_loss_stops_falling() {
    let overrides =
        Overrides { epochs: Some(40), lr: Some(0.5), validation: Some(0.1), patience: Some(1), ..Overrides::default() };
    let (s, _) = run("mnist-softmax", &overrides);
    let stopped = s.stopped_early.expect("a rising validation loss stops the run");
    assert!(stopped < 40 && s.epochs == stopped, "{s:?}");
    assert_eq!(s.steps, stopped * 72, "7,200 examples left for training: 72 batches an epoch");
    assert!(s.validation_loss.is_some());
    // Early stopping needs mini-batches and a fraction in [0, 1).
    let recipe = recipes::find("logistic-toy").unwrap().with(&Overrides { patience: Some(2), ..Overrides::default() });
    assert!(recipes::run(&device(), &recipe, &recipes::Paths::default(), |_| {}).is_err());
}

#[test]
fn settings_no_run_can_use_are_refused_with_the_setting_named() {
    let device = device();
    let refused = |overrides: Overrides, named: &str| {
        let recipe = recipes::find("mnist-softmax").unwrap().with(&overrides);
        let err = match recipes::run(&device, &recipe, &recipes::Paths::default(), |_| {}) {
            Err(e) => e.to_string(),
            Ok(s) => panic!("{overrides:?} ran: {s:?}"),
        };
        assert!(err.contains(named), "{overrides:?}: {err}");
    };
    let none = Overrides::default;
    refused(Overrides { validation: Some(1.5), ..none() }, "--validation 1.5 must be a fraction");
    refused(Overrides { validation: Some(-0.1), ..none() }, "--validation -0.1 must be a fraction");
    refused(Overrides { validation: Some(1e-5), ..none() }, "holds out none of the 8000 examples");
    refused(Overrides { validation: Some(0.999), ..none() }, "leaves 8 of the 8000 examples for training");
    refused(Overrides { lr: Some(-1.0), ..none() }, "--lr -1 must be a positive number");
    refused(Overrides { lr: Some(0.0), ..none() }, "--lr 0 must be a positive number");
    refused(Overrides { lr: Some(f32::NAN), ..none() }, "--lr NaN");
    refused(Overrides { batch_size: Some(0), ..none() }, "--batch-size must be at least 1");
    refused(Overrides { validation: Some(0.1), patience: Some(0), ..none() }, "--patience must be at least 1");
    refused(Overrides { l2: Some(-0.5), ..none() }, "--l2 -0.5 must be a weight of at least 0");
    refused(Overrides { l2: Some(f32::INFINITY), ..none() }, "--l2 inf");
    // An output directory that cannot be made fails before any training, not at its first save.
    let file = std::env::temp_dir().join(format!("shadergrad-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, b"a file").unwrap();
    let paths = recipes::Paths { out: Some(file.join("run")), ..recipes::Paths::default() };
    let mut epochs = 0;
    let recipe = recipes::find("mnist-softmax").unwrap();
    let err = recipes::run(&device, &recipe, &paths, |_| epochs += 1).unwrap_err().to_string();
    std::fs::remove_file(&file).unwrap();
    assert!(err.contains("cannot save there") && err.contains("shadergrad-not-a-dir-"), "{err}");
    assert_eq!(epochs, 0, "nothing was trained");
}

#[test]
fn the_courses_l2_penalty_adds_each_parameters_norm_to_the_cost() {
    use shadergrad::init::{Init, Mt19937};
    use shadergrad::nn::{InitPlan, ModuleExt};
    use shadergrad::train::{Data, Scaling};
    let (_, losses) = run("standardized", &Overrides { l2: Some(1.0), ..Overrides::default() });
    // The same run in f64 loops: standardized 04-1 scores, nn.Linear(3, 1) from seed 1,
    // cost = MSE + ‖W‖ + ‖b‖, SGD 0.1.
    let x = [73., 80., 75., 93., 88., 93., 89., 91., 90., 96., 98., 100., 73., 66., 70.];
    let y = [152.0f64, 185., 180., 196., 142.];
    let mut data = Data { x: x.to_vec(), example: vec![3], y: vec![0.0; 5], target_width: 1 };
    let scaler = data.fit_scaler(Scaling::Standardize);
    scaler.apply(&mut data);
    let model = (recipes::find("standardized").unwrap().model)();
    let init = model.initial_values(InitPlan::all(Init::TorchDefault), &mut Mt19937::new(1));
    let mut w: Vec<f64> = init[0].1.iter().map(|&v| v as f64).collect();
    let mut b = init[1].1[0] as f64;
    let xs: Vec<f64> = data.x.iter().map(|&v| v as f64).collect();
    for step in 0..21 {
        let h: Vec<f64> = (0..5).map(|r| (0..3).map(|k| xs[r * 3 + k] * w[k]).sum::<f64>() + b).collect();
        let norm_w = w.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cost = h.iter().zip(&y).map(|(h, y)| (h - y).powi(2)).sum::<f64>() / 5.0 + norm_w + b.abs();
        if let Some(&(_, got)) = losses.iter().find(|(s, _)| *s == step) {
            assert!((got as f64 - cost).abs() <= 1e-4 * cost, "step {step}: {got} vs {cost}");
        }
        let d: Vec<f64> = h.iter().zip(&y).map(|(h, y)| 2.0 * (h - y) / 5.0).collect();
        for k in 0..3 {
            w[k] -= 0.1 * ((0..5).map(|r| d[r] * xs[r * 3 + k]).sum::<f64>() + w[k] / norm_w);
        }
        b -= 0.1 * (d.iter().sum::<f64>() + b.signum());
    }
    assert_eq!(losses.len(), 21);
}

#[test]
fn every_recipe_builds_its_model_on_its_inputs() {
    use shadergrad::nn::Mode;
    use shadergrad::recipes::Source;
    for recipe in recipes::all() {
        let example: Vec<usize> = match recipe.source {
            Source::Inline { width, .. } => vec![width],
            Source::Csv("data-01-test-score.csv") => vec![3],
            Source::Csv("data-03-diabetes.csv") => vec![8],
            Source::Csv(_) => vec![16],
            Source::Mnist { images: false } => vec![784],
            Source::Mnist { images: true } => vec![1, 28, 28],
            Source::Folder { width, height } => vec![3, height as usize, width as usize],
            Source::Cifar10 => vec![3, 32, 32],
            Source::Series { window, .. } => vec![window, 5],
            Source::Chars { text, alphabet, window } => {
                vec![window.unwrap_or(text.chars().count() - 1), alphabet.chars().count()]
            }
            Source::Nothing => continue,
        };
        for mode in [Mode::Train, Mode::Eval] {
            let mut g = shadergrad::Graph::new();
            let x = g.input("x", &[[2].as_slice(), &example].concat()).unwrap();
            let out = shadergrad::nn::build(&(recipe.model)(), &mut g, x, mode, 0, "")
                .unwrap_or_else(|e| panic!("{}: {e}", recipe.name));
            assert_eq!(g.shape(out).dims()[0], 2, "{}", recipe.name);
        }
    }
}

#[test]
fn mnist_backprop_steps_equal_the_courses_hand_written_updates() {
    use shadergrad::nn::{Layer, Sequential};
    use shadergrad::ops::{loss::LossKind, optim::Optimizer};
    use shadergrad::optimization::{ParamFilter, ParamGroup};
    use shadergrad::train::{Settings, Trainer};
    // A small 4-3-2 sigmoid net on a batch of 5 with one-hot targets, as lab 08-4 on MNIST.
    let (n, i, h, o) = (5usize, 4usize, 3usize, 2usize);
    let model = Sequential::new(vec![
        Layer::Linear { inputs: i, outputs: h, bias: true },
        Layer::SIGMOID,
        Layer::Linear { inputs: h, outputs: o, bias: true },
        Layer::SIGMOID,
    ]);
    let vals = |len: usize, f: f32| (0..len).map(|k| ((k as f32 + 1.0) * f).sin()).collect::<Vec<f32>>();
    let (w1, b1, w2, b2) = (vals(h * i, 0.7), vals(h, 1.1), vals(o * h, 0.3), vals(o, 1.9));
    let initial = vec![
        ("0.weight".to_string(), w1.clone()),
        ("0.bias".to_string(), b1.clone()),
        ("2.weight".to_string(), w2.clone()),
        ("2.bias".to_string(), b2.clone()),
    ];
    let recipe = recipes::find("mnist-backprop").unwrap();
    let settings = Settings {
        batch_size: Some(n),
        shuffle: false,
        groups: vec![ParamGroup::new(ParamFilter::Suffix(".bias".into())).lr_factor(1.0 / n as f32)],
        ..Settings::new(LossKind::Mse, Optimizer::sgd(0.5 * (n * o) as f32 / 2.0))
    };
    // The recipe's own setting is this rule at its batch of 10 and 10 classes.
    assert_eq!((recipe.optimizer.lr(), recipe.bias_lr_factor), (0.5 * 100.0 / 2.0, 0.1));
    let mut trainer = Trainer::new(&device(), model, settings, n, &[i], o, &initial).unwrap();
    let x = vals(n * i, 0.45);
    let y: Vec<f32> = (0..n).flat_map(|r| [(r % 2) as f32, ((r + 1) % 2) as f32]).collect();
    trainer.step(&x, &y, false).unwrap();
    let got = trainer.parameters().unwrap();

    // The course's loop, in f64: forward, diff = ŷ − y, chain rule, w -= lr·Σ, b -= lr·mean.
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let f = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let (mut w1, mut b1, mut w2, mut b2, x, y) = (f(&w1), f(&b1), f(&w2), f(&b2), f(&x), f(&y));
    let l1: Vec<f64> =
        (0..n * h).map(|k| (0..i).map(|j| x[k / h * i + j] * w1[k % h * i + j]).sum::<f64>() + b1[k % h]).collect();
    let a1: Vec<f64> = l1.iter().map(|&v| sig(v)).collect();
    let l2: Vec<f64> =
        (0..n * o).map(|k| (0..h).map(|j| a1[k / o * h + j] * w2[k % o * h + j]).sum::<f64>() + b2[k % o]).collect();
    let d_l2: Vec<f64> = (0..n * o).map(|k| (sig(l2[k]) - y[k]) * sig(l2[k]) * (1.0 - sig(l2[k]))).collect();
    let d_a1: Vec<f64> = (0..n * h).map(|k| (0..o).map(|c| d_l2[k / h * o + c] * w2[c * h + k % h]).sum()).collect();
    let d_l1: Vec<f64> = (0..n * h).map(|k| d_a1[k] * sig(l1[k]) * (1.0 - sig(l1[k]))).collect();
    for c in 0..o {
        for j in 0..h {
            w2[c * h + j] -= 0.5 * (0..n).map(|r| a1[r * h + j] * d_l2[r * o + c]).sum::<f64>();
        }
        b2[c] -= 0.5 * (0..n).map(|r| d_l2[r * o + c]).sum::<f64>() / n as f64;
    }
    for c in 0..h {
        for j in 0..i {
            w1[c * i + j] -= 0.5 * (0..n).map(|r| x[r * i + j] * d_l1[r * h + c]).sum::<f64>();
        }
        b1[c] -= 0.5 * (0..n).map(|r| d_l1[r * h + c]).sum::<f64>() / n as f64;
    }
    for ((name, values), want) in got.iter().zip([w1, b1, w2, b2]) {
        for (k, (g, w)) in values.iter().zip(&want).enumerate() {
            assert!((*g as f64 - w).abs() < 1e-5, "{name}[{k}]: {g} vs the course's {w}");
        }
    }
}

#[test]
fn trainer_epochs_visit_every_full_batch_and_report_each_step() {
    use shadergrad::nn::{Layer, Sequential};
    use shadergrad::ops::{loss::LossKind, optim::Optimizer};
    use shadergrad::train::{Data, Settings, Task, Trainer};
    let data = Data {
        x: (0..40).map(|v| (v % 7) as f32 / 7.0).collect(),
        example: vec![2],
        y: (0..20).map(|v| (v % 2) as f32).collect(),
        target_width: 1,
    };
    let model = Sequential::new(vec![Layer::Linear { inputs: 2, outputs: 2, bias: true }]);
    let settings =
        Settings { batch_size: Some(6), data_seed: 3, ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(0.05)) };
    let initial = vec![("0.weight".to_string(), vec![0.1, -0.2, 0.3, 0.05]), ("0.bias".to_string(), vec![0.0, 0.0])];
    let mut trainer = Trainer::new(&device(), model, settings, 6, &[2], 1, &initial).unwrap();
    let mut batches = trainer.batches(&data);
    let mut seen = Vec::new();
    let (mean, steps) = trainer.epoch(&data, &mut batches, 0, |k, of, loss| seen.push((k, of, loss))).unwrap();
    assert_eq!(steps, 3, "20 examples in batches of 6 with drop_last");
    assert_eq!(seen.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), vec![(0, 3), (1, 3), (2, 3)]);
    let expected = seen.iter().map(|s| s.2 as f64).sum::<f64>() / 3.0;
    assert!((mean as f64 - expected).abs() < 1e-6);
    assert!(trainer.evaluate(&data, Task::Classes).unwrap().accuracy.is_some());
}

#[test]
fn models_trained_together_match_the_same_models_trained_apart() {
    use shadergrad::init::{Init, Mt19937};
    use shadergrad::nn::{InitPlan, Layer, ModuleExt, Sequential};
    use shadergrad::ops::{loss::LossKind, optim::Optimizer};
    use shadergrad::train::{Combine, Data, Settings, Task, Trainer};
    let data = Data {
        x: (0..96).map(|v| ((v * 37) % 11) as f32 / 11.0 - 0.5).collect(),
        example: vec![4],
        y: (0..24).map(|v| (v % 3) as f32).collect(),
        target_width: 1,
    };
    let mlp = |hidden| {
        Sequential::new(vec![
            Layer::Linear { inputs: 4, outputs: hidden, bias: true },
            Layer::TANH,
            Layer::Linear { inputs: hidden, outputs: 3, bias: true },
        ])
    };
    let models = [mlp(5), mlp(7)];
    let mut rng = Mt19937::new(5);
    let initial: Vec<Vec<(String, Vec<f32>)>> =
        models.iter().map(|m| m.initial_values(InitPlan::all(Init::XavierUniform), &mut rng)).collect();
    let settings = Settings { batch_size: Some(8), ..Settings::new(LossKind::CrossEntropy, Optimizer::adam(0.05)) };
    let device = device();
    let prefixed: Vec<(String, Vec<f32>)> = initial
        .iter()
        .enumerate()
        .flat_map(|(k, values)| values.iter().map(move |(n, v)| (format!("m{k}.{n}"), v.clone())))
        .collect();
    let mut together =
        Trainer::with_models(&device, shared(&models), Combine::Ensemble, settings.clone(), 8, &[4], 1, &prefixed)
            .unwrap();
    let mut apart: Vec<Trainer> = models
        .iter()
        .zip(&initial)
        .map(|(m, init)| Trainer::new(&device, m.clone(), settings.clone(), 8, &[4], 1, init).unwrap())
        .collect();
    for step in 0..6 {
        let indices: Vec<usize> = (0..8).map(|i| (i * 5 + step * 3) % 24).collect();
        let (x, y) = data.gather(&indices);
        let mean = together.step(&x, &y, true).unwrap().unwrap();
        let losses: Vec<f32> = apart.iter_mut().map(|t| t.step(&x, &y, true).unwrap().unwrap()).collect();
        assert_eq!(together.last_losses(), losses.as_slice(), "step {step}: each model's loss");
        assert!((mean - (losses[0] + losses[1]) / 2.0).abs() < 1e-6);
    }
    let joint = together.parameters().unwrap();
    for (k, t) in apart.iter_mut().enumerate() {
        for (name, values) in t.parameters().unwrap() {
            let (_, got) = joint.iter().find(|(n, _)| *n == format!("m{k}.{name}")).unwrap();
            let worst = got.iter().zip(&values).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-6, "m{k}.{name} differs from the model trained alone by {worst}");
        }
    }
    // The ensemble predicts the mean of the models' outputs; each model is reported too.
    let (x, _) = data.gather(&(0..24).collect::<Vec<_>>());
    let combined = together.infer(&x, 24).unwrap();
    let outs: Vec<Vec<f32>> = apart.iter_mut().map(|t| t.infer(&x, 24).unwrap()).collect();
    for (i, c) in combined.iter().enumerate() {
        assert!((c - (outs[0][i] + outs[1][i]) / 2.0).abs() < 1e-5, "output {i}: {c}");
    }
    let evaluation = together.evaluate(&data, Task::Classes).unwrap();
    let alone: Vec<_> = apart.iter_mut().map(|t| t.evaluate(&data, Task::Classes).unwrap()).collect();
    assert_eq!(evaluation.members.len(), 2);
    for (m, a) in evaluation.members.iter().zip(&alone) {
        assert_eq!(m.accuracy, a.accuracy);
        assert!((m.loss - a.loss).abs() < 1e-6);
    }
}

/// A directory of MNIST files holding the first `train` and `test` examples of the shipped subset.
fn small_mnist(dir: &std::path::Path, train: usize, test: usize) {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, count) in [("train", train), ("t10k", test)] {
        for (kind, magic, header) in [("images-idx3", 0x803u32, 16), ("labels-idx1", 0x801, 8)] {
            let bytes = shadergrad::data::read_maybe_gzip(&assets.join(format!("{prefix}-{kind}-ubyte.gz"))).unwrap();
            let per = if kind.starts_with("images") { 784 } else { 1 };
            let mut out = magic.to_be_bytes().to_vec();
            out.extend((count as u32).to_be_bytes());
            if per == 784 {
                out.extend(28u32.to_be_bytes());
                out.extend(28u32.to_be_bytes());
            }
            out.extend_from_slice(&bytes[header..header + count * per]);
            std::fs::write(dir.join(format!("{prefix}-{kind}-ubyte")), out).unwrap();
        }
    }
}

#[test]
fn mnist_ensemble_trains_two_models_saves_both_and_reports_each() {
    // Two deep CNNs on 200 examples, one epoch of batch 20: the recipe's plumbing, not its
    // accuracy (15 epochs on the subset; README records that run).
    let base = std::env::temp_dir().join(format!("shadergrad-ensemble-{}", std::process::id()));
    let data = base.join("mnist");
    small_mnist(&data, 200, 100);
    let overrides = Overrides { epochs: Some(1), batch_size: Some(20), ..Overrides::default() };
    let recipe = recipes::find("mnist-ensemble").unwrap().with(&overrides);
    let paths = recipes::Paths { data: Some(data.clone()), out: Some(base.join("out")), ..Default::default() };
    let mut epochs = Vec::new();
    let summary = recipes::run(&device(), &recipe, &paths, |p| {
        if let Progress::Epoch { loss, members, .. } = p {
            epochs.push((*loss, members.clone()));
        }
    })
    .unwrap();
    // One submit per step for both models, and one for the epoch's checkpoint.
    assert_eq!((summary.steps, summary.counters.submits), (10, 11));
    let (mean, members) = &epochs[0];
    assert_eq!(members.len(), 2);
    assert!((mean - (members[0].0 + members[1].0) / 2.0).abs() < 1e-4, "{mean} vs {members:?}");
    assert_ne!(members[0].0, members[1].0, "the models start from different draws");
    assert_eq!(summary.member_test_accuracies.len(), 2);
    let saved = shadergrad::checkpoint::load(&recipes::checkpoint_path(&base.join("out"))).unwrap();
    for name in ["m0.0.weight", "m1.0.weight", "m0.10.weight", "m1.13.bias"] {
        assert!(saved.get(name).is_some(), "{name} is missing from the checkpoint");
    }
    let saved = recipes::ModelFile::new(recipes::checkpoint_path(&base.join("out")));
    let test = recipes::evaluate_checkpoint(&device(), &saved, Some(&data)).unwrap().test;
    let test = test.unwrap();
    assert_eq!(test.accuracy, summary.test_accuracy);
    assert_eq!(test.members.iter().map(|m| m.accuracy).collect::<Vec<_>>(), summary.member_test_accuracies);
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn tiny_labs_with_torch_init_give_pytorchs_costs() {
    // `recipe step cost` lines printed by tests/torch/tiny_labs.py (PyTorch 2.15, CPU): the
    // labs written with nn modules, PyTorch's init and its random draws.
    let mut pytorch: Vec<(&str, Vec<(usize, f32)>)> = Vec::new();
    for line in include_str!("torch/tiny_labs.txt").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let point = (f[1].parse().unwrap(), f[2].parse().unwrap());
        match pytorch.last_mut() {
            Some((name, points)) if *name == f[0] => points.push(point),
            _ => pytorch.push((f[0], vec![point])),
        }
    }
    assert_eq!(pytorch.len(), 9);
    let mut worst = (0.0f32, "", 0);
    for (name, costs) in pytorch {
        let (_, losses) =
            run(name, &Overrides { init: Some(shadergrad::init::Init::TorchDefault), ..Overrides::default() });
        assert_eq!(losses.iter().map(|l| l.0).collect::<Vec<_>>(), costs.iter().map(|c| c.0).collect::<Vec<_>>());
        for (&(step, got), &(_, want)) in losses.iter().zip(&costs) {
            // Float32 rounding (exp, sums in another order) compounds over XOR's 10,000 steps
            // through a saddle (8.2e-4 relative at worst on lavapipe); elsewhere the costs
            // agree within 2e-5 (multivariable's small cost after large ones).
            let tolerance = if name.starts_with("xor") { 5e-3 } else { 1e-4 };
            let error = (got - want).abs() / want.abs();
            assert!(error <= tolerance, "{name} step {step}: cost {got}, PyTorch {want} ({error:.1e} relative)");
            if error > worst.0 {
                worst = (error, name, step);
            }
        }
    }
    eprintln!("worst relative difference from PyTorch: {:.1e} ({} step {})", worst.0, worst.1, worst.2);
}

#[test]
fn a_torch_init_checkpoint_evaluates_with_its_own_model_and_others_are_refused() {
    // softmax-toy with --init torch is nn.Linear(4, 3) with a bias; the default has none.
    let dir = std::env::temp_dir().join(format!("shadergrad-torch-ckpt-{}", std::process::id()));
    let paths = recipes::Paths { out: Some(dir.clone()), ..Default::default() };
    let overrides = Overrides { init: Some(shadergrad::init::Init::TorchDefault), ..Overrides::default() };
    let recipe = recipes::find("softmax-toy").unwrap().with(&overrides);
    let summary = recipes::run(&device(), &recipe, &paths, |_| {}).unwrap();
    let path = recipes::checkpoint_path(&dir);
    let train = recipes::evaluate_checkpoint(&device(), &recipes::ModelFile::new(&path), None).unwrap().train;
    assert_eq!(train.accuracy, summary.train_accuracy);
    // Without the note of which model it is, the checkpoint's bias has no place in the model.
    let mut saved = shadergrad::checkpoint::load(&path).unwrap();
    saved.metadata.remove("model");
    shadergrad::checkpoint::save(&path, &saved).unwrap();
    let err = recipes::evaluate_checkpoint(&device(), &recipes::ModelFile::new(&path), None).unwrap_err().to_string();
    assert!(err.contains("'0.bias' [3] is not in the model"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn models_side_by_side_report_and_predict_by_the_first() {
    use shadergrad::nn::{Layer, Sequential};
    use shadergrad::ops::{loss::LossKind, optim::Optimizer};
    use shadergrad::train::{Combine, Data, Settings, Task, Trainer};
    let data = Data {
        x: (0..64).map(|v| ((v * 13) % 7) as f32 / 7.0 - 0.4).collect(),
        example: vec![4],
        y: (0..16).map(|v| (v % 2) as f32).collect(),
        target_width: 1,
    };
    let linear = |o| Layer::Linear { inputs: 4, outputs: o, bias: true };
    let models = vec![Sequential::new(vec![linear(2)]), Sequential::new(vec![linear(2)])];
    let initial = vec![
        ("m0.0.weight".to_string(), vec![0.1, -0.2, 0.3, 0.05, -0.1, 0.2, 0.0, 0.4]),
        ("m1.0.weight".to_string(), vec![-0.3, 0.1, 0.2, -0.05, 0.3, -0.2, 0.1, 0.0]),
    ];
    let settings = Settings { batch_size: Some(16), ..Settings::new(LossKind::CrossEntropy, Optimizer::sgd(0.5)) };
    let mut t =
        Trainer::with_models(&device(), shared(&models), Combine::SideBySide, settings.clone(), 16, &[4], 1, &initial)
            .unwrap();
    let loss = t.step(&data.x, &data.y, true).unwrap().unwrap();
    assert_eq!(loss, t.last_losses()[0]);
    assert_ne!(t.last_losses()[0], t.last_losses()[1]);
    let first = vec![("0.weight".to_string(), initial[0].1.clone())];
    let mut alone = Trainer::new(&device(), models[0].clone(), settings, 16, &[4], 1, &first).unwrap();
    alone.step(&data.x, &data.y, false).unwrap();
    assert_eq!(t.infer(&data.x, 16).unwrap(), alone.infer(&data.x, 16).unwrap(), "the first model predicts");
    let e = t.evaluate(&data, Task::Classes).unwrap();
    assert_eq!((e.loss, e.accuracy), (e.members[0].loss, e.members[0].accuracy));
}

#[test]
fn a_full_batch_labs_schedule_steps_every_update() {
    use shadergrad::optimization::Schedule;
    // Lab 03's gradient descent with a rate that halves... to nothing after the first update.
    let overrides =
        Overrides { epochs: Some(3), schedule: Some(Schedule::Step { every: 1, gamma: 0.0 }), ..Default::default() };
    let recipe = recipes::find("gradient-descent").unwrap().with(&overrides);
    let mut params = Vec::new();
    recipes::run(&device(), &recipe, &recipes::Paths::default(), |p| {
        if let Progress::Step { params: Some(p), .. } = p {
            params.push(p[0].1[0]);
        }
    })
    .unwrap();
    assert_eq!(params.len(), 3);
    assert_ne!(params[0], 0.0, "the first update moves W");
    assert_eq!((params[1], params[2]), (params[0], params[0]), "later updates have rate 0: {params:?}");
}
