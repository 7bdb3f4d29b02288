//! The data readers on the real shipped files and on broken copies of them.

use shadergrad::Error;
use shadergrad::data::{csv, mnist};
use std::path::Path;

#[test]
fn the_shipped_mnist_subset_has_the_documented_contents() {
    let m = mnist::load_shipped().unwrap();
    assert_eq!((m.train.len(), m.test.len()), (8000, 2000));
    assert_eq!((m.train.rows, m.train.cols), (28, 28));
    // First labels and class counts, as assets/mnist/README.md gives them.
    assert_eq!(&m.train.labels[..10], &[3, 2, 9, 4, 7, 0, 1, 2, 6, 3]);
    assert_eq!(&m.test.labels[..10], &[9, 8, 6, 3, 1, 6, 0, 4, 6, 1]);
    let count = |labels: &[u8], d: u8| labels.iter().filter(|&&l| l == d).count();
    assert_eq!(count(&m.train.labels, 0), 779);
    assert_eq!(count(&m.test.labels, 9), 196);
    let mean = m.train.images.iter().map(|&p| p as f64).sum::<f64>() / m.train.images.len() as f64;
    assert!((mean - 0.1309).abs() < 5e-4, "train mean pixel {mean}");
    assert!(m.train.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
}

#[test]
fn mnist_loads_from_a_directory_plain_or_gzipped() {
    let dir = std::env::temp_dir().join(format!("shadergrad-mnist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"] {
        std::fs::copy(assets.join(format!("{name}.gz")), dir.join(format!("{name}.gz"))).unwrap();
    }
    // One file uncompressed, as users often have them.
    let labels = shadergrad::data::read_maybe_gzip(&assets.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let m = mnist::load_dir(&dir).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (8000, 2000));

    // A truncated image file names itself and where it ends.
    let images = shadergrad::data::read_maybe_gzip(&assets.join("t10k-images-idx3-ubyte.gz")).unwrap();
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images[..5000]).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err();
    assert!(matches!(&err, Error::Format { offset: 5000, .. }), "{err}");
    assert!(err.to_string().contains("t10k-images-idx3-ubyte") && err.to_string().contains("truncated"), "{err}");

    // Labels that do not match the images in number.
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels[..labels.len() - 1]).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("t10k-labels-idx1-ubyte"), "{err}");
    let mut short = labels.clone();
    short[7] = 0xcf; // count 1999
    short.pop();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &short).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("1999 labels for the 2000 images"), "{err}");

    // A label that is not a digit.
    let mut bad = labels.clone();
    bad[8 + 17] = 12;
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &bad).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err();
    assert!(matches!(&err, Error::Format { offset: 25, .. }), "{err}");

    // A corrupt gzip stream.
    let mut gz = std::fs::read(assets.join("train-labels-idx1-ubyte.gz")).unwrap();
    let mid = gz.len() / 2;
    gz.truncate(mid);
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), &gz).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("train-labels-idx1-ubyte.gz") && err.contains("gzip"), "{err}");

    // A missing file.
    std::fs::remove_file(dir.join("train-images-idx3-ubyte.gz")).unwrap();
    let err = mnist::load_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_course_csv_files_parse_as_numpy_loadtxt_does() {
    let scores = csv::shipped("data-01-test-score.csv").unwrap().unwrap();
    assert_eq!((scores.rows, scores.cols), (25, 4));
    assert_eq!(&scores.data[..4], &[73.0, 80.0, 75.0, 152.0]);
    let diabetes = csv::shipped("data-03-diabetes.csv").unwrap().unwrap();
    assert_eq!((diabetes.rows, diabetes.cols), (759, 9));
    let ones = diabetes.columns(8..9).iter().filter(|&&v| v == 1.0).count();
    assert_eq!(ones, 496);
    let zoo = csv::shipped("data-04-zoo.csv").unwrap().unwrap();
    assert_eq!((zoo.rows, zoo.cols), (101, 17), "19 comment lines with commas and quotes are skipped");
    assert!(csv::shipped("nope.csv").is_none());
    let err = csv::read_csv(Path::new("/nonexistent/file.csv")).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/file.csv"), "{err}");
}

#[test]
fn standardization_and_min_max_scaling_match_numpy() {
    use shadergrad::train::{Data, Scaling};
    let scores = [73., 80., 75., 93., 88., 93., 89., 91., 90., 96., 98., 100., 73., 66., 70.];
    let data = Data { x: scores.to_vec(), example: vec![3], y: vec![0.0; 5], target_width: 1 };
    // numpy: (x - x.mean(0)) / x.std(0, ddof=1), first row.
    let mut standardized = data.clone();
    data.fit_scaler(Scaling::Standardize).apply(&mut standardized);
    for (got, want) in standardized.x[..3].iter().zip([-1.0674474f32, -0.37583897, -0.8398426]) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    let mut scaled = data.clone();
    data.fit_scaler(Scaling::MinMax).apply(&mut scaled);
    assert_eq!(&scaled.x[..3], &[0.0, (80.0 - 66.0) / 32.0, (75.0 - 70.0) / 30.0]);
    assert!(scaled.x.iter().all(|v| (0.0..=1.0).contains(v)));
    // A constant feature does not divide by zero.
    let flat = Data { x: vec![2.0; 4], example: vec![1], y: vec![0.0; 4], target_width: 1 };
    let mut out = flat.clone();
    flat.fit_scaler(Scaling::Standardize).apply(&mut out);
    assert_eq!(out.x, vec![0.0; 4]);
}
