//! CIFAR-10 from a folder in the binary format (a small one this test writes): reading, its
//! errors, per-channel statistics, and the labs 10-5-2 and 10-6-2 recipes training on it.

use shadergrad::Device;
use shadergrad::data::cifar::{self, Images, PIXELS, RECORD, TEST_FILE, TRAIN_FILES};
use shadergrad::data::transforms::Normalize;
use shadergrad::recipes::{self, Overrides, Paths, Progress};
use std::path::{Path, PathBuf};

/// `count` images whose pixels and labels follow from `seed`.
fn images(count: usize, seed: usize) -> Images {
    let pixels = (0..count * PIXELS).map(|i| ((i * 7 + seed * 31 + (i / 1024) * 50) % 256) as u8).collect();
    let labels = (0..count).map(|k| ((k + seed) % 10) as u8).collect();
    Images { pixels, labels }
}

/// A CIFAR-10 folder of `per_file` images in each training file and `test` in the test file.
fn write_folder(name: &str, per_file: usize, test: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shadergrad-cifar-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (k, file) in TRAIN_FILES.iter().enumerate() {
        std::fs::write(dir.join(file), cifar::records(&images(per_file, k))).unwrap();
    }
    std::fs::write(dir.join(TEST_FILE), cifar::records(&images(test, 9))).unwrap();
    dir
}

#[test]
fn a_folder_reads_back_in_file_order_with_its_statistics() {
    let dir = write_folder("read", 3, 2);
    let c = cifar::load_dir(&dir).unwrap();
    assert_eq!((c.train.len(), c.test.len()), (15, 2));
    let first: Vec<Images> = (0..5).map(|k| images(3, k)).collect();
    assert_eq!(c.train.pixels, first.iter().flat_map(|i| i.pixels.clone()).collect::<Vec<u8>>());
    assert_eq!(c.test, images(2, 9));
    // The fitted statistics are the bytes' own, as numpy computes lab 10-6-2's in f64.
    let (mut sums, mut squares) = ([0.0f64; 3], [0.0f64; 3]);
    for (i, &p) in c.train.pixels.iter().enumerate() {
        let ch = (i / 1024) % 3;
        sums[ch] += p as f64;
        squares[ch] += (p as f64).powi(2);
    }
    let count = (c.train.len() * 1024) as f64;
    let mean = sums.map(|s| s / count / 255.0);
    let std = [0, 1, 2].map(|ch| (squares[ch] / count - (sums[ch] / count).powi(2)).sqrt() / 255.0);
    let fitted = Normalize::fit(&c.train.clone().into_data());
    for ch in 0..3 {
        assert!((fitted.mean[ch] as f64 - mean[ch]).abs() < 1e-6, "mean {ch}");
        assert!((fitted.std[ch] as f64 - std[ch]).abs() < 1e-6, "std {ch}");
    }
}

#[test]
fn missing_truncated_and_corrupt_files_name_the_file_and_byte() {
    let dir = write_folder("bad", 2, 1);
    let error = |dir: &Path| cifar::load_dir(dir).unwrap_err().to_string();

    std::fs::remove_file(dir.join("data_batch_3.bin")).unwrap();
    let message = error(&dir);
    assert!(message.contains("data_batch_3.bin") && message.contains("3073 bytes"), "{message}");

    std::fs::write(dir.join("data_batch_3.bin"), &cifar::records(&images(2, 2))[..RECORD + 100]).unwrap();
    let message = error(&dir);
    assert!(message.contains("data_batch_3.bin") && message.contains(&RECORD.to_string()), "{message}");
    assert!(message.contains("record 1 is cut after 100"), "{message}");

    let mut bytes = cifar::records(&images(2, 2));
    bytes[RECORD] = 10;
    std::fs::write(dir.join("data_batch_3.bin"), bytes).unwrap();
    let message = error(&dir);
    assert!(message.contains("label 10") && message.contains(&format!("byte {RECORD}")), "{message}");
}

#[test]
fn without_data_the_cifar_recipes_say_what_to_give() {
    let recipe = recipes::find("vgg16-cifar10").unwrap();
    let device = Device::new().expect("an adapter");
    let message = recipes::run(&device, &recipe, &Paths::default(), |_| {}).unwrap_err().to_string();
    assert!(message.contains("--data DIR") && message.contains("data_batch_1.bin"), "{message}");
}

#[test]
fn the_cifar_recipes_train_on_a_small_folder() {
    let dir = write_folder("train", 2, 4);
    let device = Device::new().expect("an adapter");
    for name in ["vgg16-cifar10", "resnet50-cifar10"] {
        let overrides = Overrides { epochs: Some(1), batch_size: Some(10), ..Default::default() };
        let recipe = recipes::find(name).unwrap().with(&overrides);
        let paths = Paths { data: Some(dir.clone()), ..Default::default() };
        let mut normalized = None;
        let (mut epochs, mut tested) = (0, 0);
        let summary = recipes::run(&device, &recipe, &paths, |p| match p {
            Progress::Normalized(n) => normalized = Some(n.clone()),
            Progress::Epoch { tested: t, .. } => (epochs, tested) = (epochs + 1, *t),
            _ => {}
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((summary.steps, epochs), (1, 1), "{name}");
        // The labs' "Accuracy of the network on the 4 test images" counts the test set.
        assert_eq!(tested, 4, "{name}");
        assert!(summary.final_loss.is_finite() && summary.test_accuracy.is_some(), "{name}");
        assert_eq!(summary.counters.submits, summary.steps as u64, "{name}: one submit a training step");
        let n = normalized.unwrap_or_else(|| panic!("{name} normalises"));
        if name == "vgg16-cifar10" {
            assert_eq!((n.mean, n.std), (vec![0.5; 3], vec![0.5; 3]));
        } else {
            let fitted = Normalize::fit(&cifar::load_dir(&dir).unwrap().train.into_data());
            assert_eq!(n, fitted, "lab 10-6-2 normalises by the training images' own statistics");
        }
    }
}

#[test]
fn mutated_files_are_records_or_errors_never_panics() {
    // A deterministic run of the fuzz target (fuzz/fuzz_targets/cifar.rs): files cut and
    // label bytes changed at random.
    let bytes = cifar::records(&images(3, 1));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as usize
    };
    let mut parsed = 0;
    for _ in 0..500 {
        // Half the cuts fall on record boundaries, so some files stay whole.
        let cut = if next() % 2 == 0 { (next() % 4) * RECORD } else { next() % (bytes.len() + 1) };
        let mut mutated = bytes[..cut.min(bytes.len())].to_vec();
        if !mutated.is_empty() && next() % 2 == 0 {
            let at = (next() % 3) * RECORD;
            if at < mutated.len() {
                mutated[at] = (next() % 16) as u8;
            }
        }
        if let Ok(images) = cifar::parse_records("mutated.bin", &mutated) {
            parsed += 1;
            assert_eq!(cifar::records(&images), mutated);
        }
    }
    assert!(parsed > 0, "some mutations are still whole records");
}
