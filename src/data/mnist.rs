//! MNIST: the shipped 8,000 / 2,000 subset, or the full files from a directory.

use super::{gunzip_if_needed, idx::parse_idx, read_maybe_gzip};
use crate::error::{Error, Result};
use std::path::Path;

/// One split: images scaled to [0, 1] (as torchvision's ToTensor) and their labels.
#[derive(Clone, Debug)]
pub struct Split {
    /// `len × rows × cols` pixels in [0, 1], image after image.
    pub images: Vec<f32>,
    /// The digit of each image.
    pub labels: Vec<u8>,
    /// Rows of an image.
    pub rows: usize,
    /// Columns of an image.
    pub cols: usize,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// The split as training data: each image of dims `example` (`[784]`, or `[1, 28, 28]` for
    /// convolutions), its label as a class index.
    pub fn into_data(self, example: &[usize]) -> crate::train::Data {
        crate::train::Data {
            x: self.images,
            example: example.to_vec(),
            y: self.labels.iter().map(|&l| l as f32).collect(),
            target_width: 1,
        }
    }
}

/// The train and test splits.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// Training images.
    pub train: Split,
    /// Test images.
    pub test: Split,
}

const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The subset that ships with shadergrad (assets/mnist; MIT-licensed, see its README).
pub fn load_shipped() -> Result<Mnist> {
    let files: [(&str, &[u8]); 4] = [
        ("assets/mnist/train-images-idx3-ubyte.gz", include_bytes!("../../assets/mnist/train-images-idx3-ubyte.gz")),
        ("assets/mnist/train-labels-idx1-ubyte.gz", include_bytes!("../../assets/mnist/train-labels-idx1-ubyte.gz")),
        ("assets/mnist/t10k-images-idx3-ubyte.gz", include_bytes!("../../assets/mnist/t10k-images-idx3-ubyte.gz")),
        ("assets/mnist/t10k-labels-idx1-ubyte.gz", include_bytes!("../../assets/mnist/t10k-labels-idx1-ubyte.gz")),
    ];
    let decoded =
        files.iter().map(|(n, b)| Ok((n.to_string(), gunzip_if_needed(n, b.to_vec())?))).collect::<Result<Vec<_>>>()?;
    assemble(decoded)
}

/// The four standard MNIST files (each plain or .gz) from `dir`.
pub fn load_dir(dir: &Path) -> Result<Mnist> {
    let mut decoded = Vec::new();
    for name in FILES {
        let plain = dir.join(name);
        let gz = dir.join(format!("{name}.gz"));
        let path = if gz.exists() { gz } else { plain };
        decoded.push((path.display().to_string(), read_maybe_gzip(&path)?));
    }
    assemble(decoded)
}

fn assemble(decoded: Vec<(String, Vec<u8>)>) -> Result<Mnist> {
    let split = |k: usize| parse_split(&decoded[k].0, &decoded[k].1, &decoded[k + 1].0, &decoded[k + 1].1);
    Ok(Mnist { train: split(0)?, test: split(2)? })
}

/// One split from its decompressed image and label files.
pub fn parse_split(images_name: &str, images: &[u8], labels_name: &str, labels: &[u8]) -> Result<Split> {
    let images = parse_idx(images_name, images)?;
    let labels = parse_idx(labels_name, labels)?;
    if images.dims.len() != 3 {
        return Err(Error::Format {
            path: images_name.into(),
            offset: 3,
            message: format!("images must have 3 dimensions [count, rows, cols], found {:?}", images.dims),
        });
    }
    if labels.dims.len() != 1 {
        return Err(Error::Format {
            path: labels_name.into(),
            offset: 3,
            message: format!("labels must have 1 dimension, found {:?}", labels.dims),
        });
    }
    if images.dims[0] != labels.dims[0] {
        return Err(Error::Format {
            path: labels_name.into(),
            offset: 4,
            message: format!("{} labels for the {} images of {images_name}", labels.dims[0], images.dims[0]),
        });
    }
    if let Some(at) = labels.data.iter().position(|&l| l > 9) {
        return Err(Error::Format {
            path: labels_name.into(),
            offset: 8 + at as u64,
            message: format!("label {} of image {at} is not a digit 0–9", labels.data[at]),
        });
    }
    Ok(Split {
        images: images.data.iter().map(|&p| p as f32 / 255.0).collect(),
        labels: labels.data,
        rows: images.dims[1],
        cols: images.dims[2],
    })
}
