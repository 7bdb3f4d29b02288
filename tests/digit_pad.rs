//! The windowed example `digit_pad` under Xvfb (Debian's `xvfb`; lavapipe presents to X):
//! replaying images of digits, it predicts what `predict` predicts and draws the pad and the
//! bars, the predicted one orange; a blank page is no digit.

use shadergrad::Device;
use shadergrad::data::mnist;
use shadergrad::recipes::{self, ModelFile};
use std::path::{Path, PathBuf};
use std::process::Command;

fn model() -> ModelFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch/mnist_cnn.safetensors");
    ModelFile { arch: Some("mnist-cnn".into()), ..ModelFile::new(path) }
}

/// The example's binary, which `cargo test` builds beside the tests.
fn digit_pad() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let path = deps.parent().unwrap().parent().unwrap().join("examples").join("digit_pad");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it (or `cargo build --example digit_pad`)",
        path.display()
    );
    path
}

/// Replays `image` in the pad under Xvfb: what it printed, and its screenshot.
fn replay(image: &Path, shot: &Path) -> (String, image::RgbaImage) {
    let model = model();
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 800x600x24"])
        .arg(digit_pad())
        .arg("--model")
        .arg(&model.path)
        .args(["--arch", "mnist-cnn", "--replay"])
        .arg(image)
        .arg("--screenshot")
        .arg(shot)
        .output()
        .expect("xvfb-run (apt-get install xvfb) runs the windowed example");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "digit_pad failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    (stdout, image::open(shot).unwrap().to_rgba8())
}

/// The bar slots (draw.wgsl's PANEL and SLOT) that hold orange pixels.
fn orange_bars(frame: &image::RgbaImage) -> Vec<u32> {
    (0..10)
        .filter(|k| {
            let x0 = 310 + 28 * k;
            (x0..x0 + 28).any(|x| {
                (0..255).any(
                    |y| matches!(frame.get_pixel(x, y).0, [r, g, b, _] if r > 200 && (100..180).contains(&g) && b < 80),
                )
            })
        })
        .collect()
}

#[test]
fn the_pad_predicts_as_predict_does_and_draws_it() {
    let dir = std::env::temp_dir().join(format!("shadergrad-pad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let test = mnist::load_shipped().unwrap().test;
    let mut images = Vec::new();
    for i in 0..3 {
        // Ink on paper, four times MNIST's size.
        let pixels: Vec<u8> =
            test.images[i * 784..(i + 1) * 784].iter().map(|&v| 255 - (v * 255.0).round() as u8).collect();
        let digit = image::GrayImage::from_raw(28, 28, pixels).unwrap();
        let path = dir.join(format!("digit{i}.png"));
        image::imageops::resize(&digit, 112, 112, image::imageops::FilterType::Nearest).save(&path).unwrap();
        images.push(path);
    }
    let predicted = recipes::predict(&Device::new().unwrap(), &model(), &images).unwrap().predictions;
    for (image, p) in images.iter().zip(predicted) {
        let class = p.classes.expect("a digit").0;
        let (printed, frame) = replay(image, &dir.join("shot.png"));
        assert_eq!(printed.trim(), format!("prediction: {class}"), "{}", image.display());
        assert_eq!(frame.dimensions(), (600, 300));
        let canvas: Vec<u8> =
            (10..290).flat_map(|y| (10..290).map(move |x| (x, y))).map(|(x, y)| frame.get_pixel(x, y).0[0]).collect();
        assert!(canvas.iter().filter(|&&v| v > 250).count() > canvas.len() / 2, "white paper on the canvas");
        assert!(canvas.iter().filter(|&&v| v < 60).count() > 500, "dark ink on the canvas");
        assert_eq!(orange_bars(&frame), [class as u32], "the predicted bar, and only it, is orange");
    }

    let blank = dir.join("blank.png");
    image::GrayImage::from_pixel(60, 40, image::Luma([250])).save(&blank).unwrap();
    let (printed, frame) = replay(&blank, &dir.join("blank-shot.png"));
    assert_eq!(printed.trim(), "prediction: no digit");
    assert!(orange_bars(&frame).is_empty(), "no bars without a digit");
    std::fs::remove_dir_all(&dir).unwrap();
}
