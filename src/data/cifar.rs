//! CIFAR-10 in its binary format, from the user's own copy (`--data DIR`, the folder
//! `cifar-10-batches-bin` of the archive): never downloaded.
//!
//! Each of `data_batch_1.bin` … `data_batch_5.bin` (training) and `test_batch.bin` is a run of
//! records of 3,073 bytes: the label (0–9), then the image's 1,024 red, 1,024 green and 1,024
//! blue bytes, each plane row by row. The real files hold 10,000 records each; any whole
//! number of records reads, so a test can write a small copy.

use crate::error::{Error, Result};
use std::path::Path;

/// Side of an image.
pub const SIDE: usize = 32;
/// Bytes of one image: three planes of 32×32.
pub const PIXELS: usize = 3 * SIDE * SIDE;
/// Bytes of one record: the label, then the pixels.
pub const RECORD: usize = 1 + PIXELS;
/// The training files, in the order they are read.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The classes, by label.
pub const CLASSES: [&str; 10] = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const LAYOUT: &str =
    "CIFAR-10 binary records of 3073 bytes: a label byte 0–9, then 1024 red, 1024 green and 1024 blue bytes";

/// Images as bytes (channel-major, as stored) with their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Images {
    /// `len × 3 × 32 × 32` bytes, image after image.
    pub pixels: Vec<u8>,
    /// The class of each image.
    pub labels: Vec<u8>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images as training data `[3, 32, 32]` in [0, 1] (as torchvision's ToTensor), their
    /// labels as class indices.
    pub fn into_data(self) -> crate::train::Data {
        crate::train::Data {
            x: self.pixels.iter().map(|&p| p as f32 / 255.0).collect(),
            example: vec![3, SIDE, SIDE],
            y: self.labels.iter().map(|&l| l as f32).collect(),
            target_width: 1,
        }
    }
}

/// The training and test images.
#[derive(Clone, Debug)]
pub struct Cifar10 {
    /// The five training files' images, in order.
    pub train: Images,
    /// The test file's images.
    pub test: Images,
}

/// Reads the six files of `dir`; a missing, truncated or corrupt one is an error naming the
/// file, the byte and the layout expected.
pub fn load_dir(dir: &Path) -> Result<Cifar10> {
    let read = |name: &str| -> Result<Images> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: format!("{e}: expected the CIFAR-10 binary file {name} here ({LAYOUT})"),
        })?;
        parse_records(&path.display().to_string(), &bytes)
    };
    let mut train = Images::default();
    for name in TRAIN_FILES {
        let part = read(name)?;
        train.pixels.extend(part.pixels);
        train.labels.extend(part.labels);
    }
    Ok(Cifar10 { train, test: read(TEST_FILE)? })
}

/// Parses one file's records; `name` names it in errors.
pub fn parse_records(name: &str, bytes: &[u8]) -> Result<Images> {
    let bad = |offset: usize, message: String| Error::Format { path: name.to_string(), offset: offset as u64, message };
    if bytes.is_empty() {
        return Err(bad(0, format!("the file is empty; expected {LAYOUT}")));
    }
    if !bytes.len().is_multiple_of(RECORD) {
        let whole = bytes.len() / RECORD;
        return Err(bad(
            whole * RECORD,
            format!(
                "{} bytes is not a whole number of records: record {} is cut after {} of its {RECORD} bytes \
                 (the file is truncated or not CIFAR-10); expected {LAYOUT}",
                bytes.len(),
                whole,
                bytes.len() % RECORD
            ),
        ));
    }
    let count = bytes.len() / RECORD;
    let mut images = Images { pixels: Vec::with_capacity(count * PIXELS), labels: Vec::with_capacity(count) };
    for (k, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if label as usize >= CLASSES.len() {
            return Err(bad(k * RECORD, format!("record {k} has label {label}, not a class 0–9; expected {LAYOUT}")));
        }
        images.labels.push(label);
        images.pixels.extend_from_slice(&record[1..]);
    }
    Ok(images)
}

/// Writes `images` as one file of records, in the format [`parse_records`] reads.
pub fn records(images: &Images) -> Vec<u8> {
    let mut out = Vec::with_capacity(images.len() * RECORD);
    for (label, pixels) in images.labels.iter().zip(images.pixels.chunks_exact(PIXELS)) {
        out.push(*label);
        out.extend_from_slice(pixels);
    }
    out
}
