//! `shadergrad train RECIPE`

use clap::Args;
use shadergrad::data::transforms::Augment;
use shadergrad::init::{Init, UniformDraw};
use shadergrad::live::LiveView;
use shadergrad::optimization::{Clip, Schedule};
use shadergrad::plot::Curves;
use shadergrad::recipes::{self, Overrides, Paths, Progress};
use shadergrad::{Device, DeviceOptions, Error, Result};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct TrainArgs {
    /// The recipe (a lab of the course); `list` prints them all.
    recipe: String,
    /// Epochs; for full-batch labs, update steps (the course's nb_epochs + 1).
    #[arg(long, alias = "steps")]
    epochs: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// Examples per step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// The lab's torch.manual_seed (also seeds shuffling and dropout).
    #[arg(long)]
    seed: Option<u32>,
    /// Weight init for every layer: zeros, torch, normal, uniform, xavier, xavier-normal, he, he-normal.
    #[arg(long)]
    init: Option<String>,
    /// A directory holding the full MNIST files (plain or .gz) instead of the shipped subset.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print the loss every N steps (full-batch labs).
    #[arg(long)]
    log_every: Option<usize>,
    /// Save the trained model (and optimizer state) as DIR/model.safetensors, at each epoch's
    /// end and at the end.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue from a checkpoint saved by `--out` (at the batch it saved).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Start from these weights (a checkpoint, or a PyTorch state dict of the model) with
    /// fresh optimizer state: fine-tuning.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// With `false`, --init-from loads the tensors that fit and lists the rest as skipped.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    strict: bool,
    /// Train this architecture (a recipe's model, by the recipe's name) in place of the recipe's own.
    #[arg(long)]
    arch: Option<String>,
    /// With --out, also save every N steps inside epochs.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Hold out this fraction of the training examples and report their loss each epoch.
    #[arg(long)]
    validation: Option<f32>,
    /// Stop after N epochs without a lower validation loss (needs --validation).
    #[arg(long)]
    patience: Option<usize>,
    /// Add L2 × the plain L2 norm of every parameter to the cost, as the course's lab 07-1 does.
    #[arg(long)]
    l2: Option<f32>,
    /// The learning rate's schedule over epochs: constant, step:EVERY:GAMMA,
    /// multistep:M1,M2,…:GAMMA or cosine:PERIOD[:ETA_MIN] (epochs from 0, stepped at each
    /// epoch's start as the course does under torch 1.0).
    #[arg(long)]
    schedule: Option<String>,
    /// Scale all gradients together so that their global L2 norm is at most this.
    #[arg(long, conflicts_with = "clip_value")]
    clip_norm: Option<f32>,
    /// Clamp every gradient element to ±this.
    #[arg(long)]
    clip_value: Option<f32>,
    /// Random changes to every training batch's images, in order: a comma-separated list of
    /// crop:PADDING (a random crop of the image's size after zero padding) and flip (a
    /// horizontal flip half the time), or none. Seeded by --seed.
    #[arg(long)]
    augment: Option<String>,
    /// How --init torch draws uniforms: plain (torch's default CPU path and torch 1.0, the
    /// course's; the default) or fused (torch 2.x on AVX2 and AVX-512 CPUs, one rounding).
    #[arg(long)]
    uniform: Option<String>,
    /// Serve the training curves live on http://127.0.0.1:PORT/ (visdom's 8097 if no port
    /// is given), redrawn as training goes: open it in a browser.
    #[arg(long, num_args = 0..=1, default_missing_value = "8097")]
    live: Option<u16>,
}

fn format_params(params: &[(String, Vec<f32>)]) -> String {
    params
        .iter()
        .map(|(n, v)| {
            let values: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
            format!("{n}: [{}]", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join("  ")
}

pub fn run(options: &DeviceOptions, args: &TrainArgs) -> Result<ExitCode> {
    if args.recipe == "list" {
        for r in recipes::all() {
            println!("{:20} lab {:5} {}", r.name, r.lab, r.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let init = match &args.init {
        Some(name) => Some(Init::parse(name).ok_or_else(|| Error::BadSetting {
            name: "--init",
            value: name.clone(),
            expected: Init::NAMES,
        })?),
        None => None,
    };
    let overrides = Overrides {
        epochs: args.epochs,
        lr: args.lr,
        batch_size: args.batch_size,
        seed: args.seed,
        init,
        log_every: args.log_every,
        validation: args.validation,
        patience: args.patience,
        l2: args.l2,
        arch: args.arch.as_deref().map(recipes::architecture).transpose()?,
        schedule: args.schedule.as_deref().map(Schedule::parse).transpose()?,
        clip: args.clip_norm.map(Clip::Norm).or(args.clip_value.map(Clip::Value)),
        augment: args.augment.as_deref().map(Augment::parse_list).transpose()?,
        uniform: match &args.uniform {
            Some(name) => Some(UniformDraw::parse(name).ok_or_else(|| Error::BadSetting {
                name: "--uniform",
                value: name.clone(),
                expected: "plain, fused",
            })?),
            None => None,
        },
    };
    let paths = Paths {
        data: args.data.clone(),
        out: args.out.clone(),
        resume: args.resume.clone(),
        checkpoint_every: args.checkpoint_every,
        init_from: args.init_from.as_ref().map(|path| recipes::ModelFile {
            path: path.clone(),
            arch: None,
            strict: args.strict,
        }),
    };
    let recipe = recipes::find(&args.recipe)?.with(&overrides);
    let device = Device::with_options(options)?;
    if let Some(shows) = recipe.shows {
        shows(&recipe, &device, &mut |line: &str| println!("{line}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("adapter: {}", device.describe());
    for line in recipes::preamble(&recipe) {
        println!("{line}");
    }
    // The bar draws on stderr, and only on a terminal: logs and the JSON line stay clean.
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix} {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut curves = Curves::new(format!("{} (lab {})", recipe.name, recipe.lab));
    let mut live = match args.live {
        Some(port) => {
            let view = LiveView::serve(port, &curves.title)?;
            eprintln!("live curves: {}", view.url());
            Some(view)
        }
        None => None,
    };
    // The live view's drawing fails only for sizes it never gets; training goes on regardless.
    let mut show = |curves: &Curves, force: bool| {
        if let Some(view) = live.as_mut() {
            let _ = view.update(curves, force);
        }
    };
    let started = std::time::Instant::now();
    let mut running_loss = 0.0f64;
    let summary = recipes::run(&device, &recipe, &paths, |p| match p {
        Progress::Normalized(n) => {
            let scaled = |v: &[f32], k: f32| v.iter().map(|x| format!("{:.4}", x * k)).collect::<Vec<_>>().join(", ");
            println!("normalised per channel: mean ({}) std ({})", scaled(&n.mean, 1.0), scaled(&n.std, 1.0));
            println!("  in 0…255: mean ({}) std ({})", scaled(&n.mean, 255.0), scaled(&n.std, 255.0));
        }
        Progress::Loaded { path, loaded, skipped } => {
            eprintln!("loaded {loaded} tensors from {}", path.display());
            crate::model_file::report_skipped(skipped);
        }
        Progress::Step { step, loss, params, predicted } => {
            let line = recipes::step_line(&recipe, *step, *loss, predicted.as_deref());
            let params = params.as_deref().map(format_params).unwrap_or_default();
            let line = line.unwrap_or_else(|| format!("step {step:5}  cost {loss:.6}  {params}"));
            bar.suspend(|| println!("{line}"));
            curves.train_loss.push((*step as f64, *loss as f64));
            curves.x_label = "step".into();
            show(&curves, false);
        }
        Progress::Batch { epoch, step, steps, loss } => {
            if *step == 0 {
                bar.set_length(*steps as u64);
                bar.set_prefix(epoch.to_string());
            }
            bar.set_position(*step as u64 + 1);
            let rate = (epoch - 1) as f64 * *steps as f64 + *step as f64 + 1.0;
            let per_second = rate * recipe.batch_size.unwrap_or(1) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {loss:.4}  {per_second:.0} samples/s"));
            if let Some(every) = recipe.batch_log {
                // As labs 10-5-2 and 10-6-2: the running mean, reset at each epoch's start and
                // after each print; the batches after the last full group go unprinted.
                if *step == 0 {
                    running_loss = 0.0;
                }
                running_loss += *loss as f64;
                if (*step + 1) % every.max(1) == 0 {
                    let mean = running_loss / every.max(1) as f64;
                    bar.suspend(|| println!("[{epoch}, {:5}] loss: {mean:.3}", step + 1));
                    running_loss = 0.0;
                }
            }
            curves.train_loss.push(((epoch - 1) as f64 + (*step as f64 + 1.0) / *steps as f64, *loss as f64));
            show(&curves, false);
        }
        Progress::Epoch { epoch, loss, test_accuracy, tested, validation_loss, samples_per_second, members } => {
            let accuracy = test_accuracy.map(|a| format!("  test accuracy {:.4}", a)).unwrap_or_default();
            let validation = validation_loss.map(|v| format!("  validation cost {v:.6}")).unwrap_or_default();
            bar.suspend(|| {
                println!("epoch {epoch:3}  cost {loss:.6}{validation}{accuracy}  ({samples_per_second:.0} samples/s)");
                for (k, (cost, accuracy)) in members.iter().enumerate() {
                    let accuracy = accuracy.map(|a| format!("  test accuracy {a:.4}")).unwrap_or_default();
                    println!("    model m{k}  cost {cost:.6}{accuracy}");
                }
                if let (Some(a), true) = (test_accuracy, recipe.batch_log.is_some()) {
                    // The CIFAR labs' own line: `%d %%` of the percentage, its integer part.
                    println!("Accuracy of the network on the {tested} test images: {} %", (a * 100.0).floor() as u32);
                }
            });
            if let Some(a) = test_accuracy {
                curves.test_accuracy.push((*epoch as f64, *a as f64));
            }
            if let Some(v) = validation_loss {
                curves.validation_loss.push((*epoch as f64, *v as f64));
            }
            show(&curves, true);
        }
    })?;
    bar.finish_and_clear();
    if let Some(out) = &args.out {
        shadergrad::plot::save(&out.join("training.png"), &curves)?;
    }
    let mut json = serde_json::json!({
        "recipe": summary.recipe,
        "adapter": device.info().name,
        "backend": format!("{:?}", device.info().backend),
        "steps": summary.steps,
        "epochs": summary.epochs,
        "final_loss": summary.final_loss,
        "train_accuracy": summary.train_accuracy,
        "test_accuracy": summary.test_accuracy,
        "validation_loss": summary.validation_loss,
        "stopped_early_at_epoch": summary.stopped_early,
        "seconds": summary.seconds,
        "samples_per_second": summary.samples_per_second,
        "submits": summary.counters.submits,
        "gpu_allocations": summary.counters.allocations,
    });
    if !summary.member_test_accuracies.is_empty() {
        json["member_test_accuracies"] = summary.member_test_accuracies.clone().into();
    }
    if let Some(params) = &summary.params {
        json["params"] =
            params.iter().map(|(n, v)| (n.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>().into();
    }
    if let Some(out) = &args.out {
        json["model"] = recipes::checkpoint_path(out).display().to_string().into();
    }
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
