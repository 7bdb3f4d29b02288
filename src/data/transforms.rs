//! Per-channel normalisation and the random augmentations of training batches (random crop
//! with padding, horizontal flip), for images `[C, H, W]`. The augmentations are seeded by
//! (seed, epoch, batch), so a run, or a run resumed mid-epoch, draws the same crops again.
//!
//! They run on the host, between gathering a batch and writing it: a batch's crops and flips
//! cost a pass over its pixels, far less than the training step they feed (BENCHMARKS.md), so
//! the GPU would gain nothing from them.

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::train::Data;

/// A random change to a training image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Augment {
    /// `RandomCrop(size, padding)` with the image's own size: pad every side by this many
    /// zero pixels of the raw image (after normalisation, each channel's value for 0), then
    /// crop a window of the original size at a uniformly drawn offset.
    RandomCrop {
        /// Pixels of padding on each side.
        padding: usize,
    },
    /// `RandomHorizontalFlip()`: mirror left to right with probability ½.
    HorizontalFlip,
}

/// Per-channel normalisation `(x − mean) / std`, as torchvision's `Normalize`.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    /// Each channel's mean.
    pub mean: Vec<f32>,
    /// Each channel's standard deviation.
    pub std: Vec<f32>,
}

/// Where a recipe's normalisation comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Normalization {
    /// Given constants (lab 10-5-2's 0.5 and 0.5).
    Given(Normalize),
    /// Each channel's mean and population standard deviation over the training images (lab
    /// 10-6-2), applied to the test images alike.
    FromTraining,
}

impl Normalize {
    /// Each channel's mean and population standard deviation over every example of `data`
    /// (examples `[C, …]`), in f64 as numpy computes them.
    pub fn fit(data: &Data) -> Normalize {
        let channels = data.example.first().copied().unwrap_or(1).max(1);
        let plane: usize = data.example.iter().skip(1).product();
        let mut sums = vec![0.0f64; channels];
        let mut squares = vec![0.0f64; channels];
        for (i, &v) in data.x.iter().enumerate() {
            let c = (i / plane.max(1)) % channels;
            sums[c] += v as f64;
            squares[c] += v as f64 * v as f64;
        }
        let n = (data.x.len() / channels).max(1) as f64;
        let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
        let std = squares.iter().zip(&mean).map(|(q, m)| ((q / n - m * m).max(0.0).sqrt()) as f32).collect();
        Normalize { mean: mean.into_iter().map(|m| m as f32).collect(), std }
    }

    /// Every channel of `data` (examples `[C, …]`) normalised in place; an example of another
    /// channel count, or a standard deviation that is not positive, is an error.
    pub fn apply(&self, data: &mut Data) -> Result<()> {
        let channels = data.example.first().copied().unwrap_or(0);
        if channels != self.mean.len() || channels != self.std.len() {
            return Err(Error::InvalidArgument {
                op: "normalize",
                message: format!(
                    "{} means and {} deviations for examples of dims {:?} ({channels} channels)",
                    self.mean.len(),
                    self.std.len(),
                    data.example
                ),
            });
        }
        if let Some(bad) = self.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::InvalidArgument {
                op: "normalize",
                message: format!("a standard deviation must be positive, got {bad}"),
            });
        }
        let plane: usize = data.example[1..].iter().product();
        for (i, v) in data.x.iter_mut().enumerate() {
            let c = (i / plane) % channels;
            *v = (*v - self.mean[c]) / self.std[c];
        }
        Ok(())
    }

    /// What a raw 0 becomes: the value of a padded pixel in each channel.
    pub fn zero(&self) -> Vec<f32> {
        self.mean.iter().zip(&self.std).map(|(m, s)| -m / s).collect()
    }
}

impl Augment {
    /// Reads a comma-separated list: `crop:PADDING`, `flip`, or `none` for no augmentation.
    pub fn parse_list(text: &str) -> Result<Vec<Augment>> {
        if text.trim() == "none" {
            return Ok(Vec::new());
        }
        text.split(',')
            .map(|word| match word.trim().split_once(':') {
                None if word.trim() == "flip" => Ok(Augment::HorizontalFlip),
                Some(("crop", padding)) => padding
                    .parse()
                    .map(|padding| Augment::RandomCrop { padding })
                    .map_err(|_| augment_error(text, &format!("'{padding}' is not a number of pixels"))),
                _ => Err(augment_error(text, &format!("unknown augmentation '{word}'"))),
            })
            .collect()
    }
}

fn augment_error(text: &str, why: &str) -> Error {
    Error::InvalidArgument {
        op: "augment",
        message: format!("'{text}': {why}; expected a comma-separated list of crop:PADDING and flip, or none"),
    }
}

/// The batch's generator: the same (seed, epoch, batch) draws the same augmentations.
pub fn batch_rng(seed: u64, epoch: usize, batch: usize) -> Rng {
    let mut rng = Rng::new(seed ^ 0xa06e_0e17);
    let epoch_seed = rng.next_u64().wrapping_add(epoch as u64);
    let mut rng = Rng::new(epoch_seed);
    Rng::new(rng.next_u64().wrapping_add(batch as u64))
}

/// Applies `augments` in order to every image of `batch` (examples of dims `[C, H, W]`),
/// padding crops with `fill[c]` in channel c.
pub fn augment_batch(batch: &mut [f32], example: &[usize], augments: &[Augment], fill: &[f32], rng: &mut Rng) {
    let &[channels, height, width] = example else { return };
    let size = channels * height * width;
    let mut scratch = vec![0.0f32; size];
    for image in batch.chunks_exact_mut(size) {
        for augment in augments {
            match *augment {
                Augment::RandomCrop { padding } => {
                    let top = rng.range(0, 2 * padding);
                    let left = rng.range(0, 2 * padding);
                    for c in 0..channels {
                        let fill = fill.get(c).copied().unwrap_or(0.0);
                        for y in 0..height {
                            for x in 0..width {
                                // The window's pixel (y, x) is the padded image's (top + y, left + x).
                                let (sy, sx) =
                                    ((top + y) as isize - padding as isize, (left + x) as isize - padding as isize);
                                let inside = (0..height as isize).contains(&sy) && (0..width as isize).contains(&sx);
                                scratch[(c * height + y) * width + x] =
                                    if inside { image[(c * height + sy as usize) * width + sx as usize] } else { fill };
                            }
                        }
                    }
                    image.copy_from_slice(&scratch);
                }
                Augment::HorizontalFlip => {
                    if rng.next_u64() & 1 == 1 {
                        for row in image.chunks_exact_mut(width) {
                            row.reverse();
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(channels: usize, side: usize) -> Vec<f32> {
        (0..channels * side * side).map(|i| i as f32).collect()
    }

    #[test]
    fn a_crop_is_a_shifted_window_of_the_padded_image() {
        let example = [2, 4, 4];
        let original = ramp(2, 4);
        let mut seen = std::collections::HashSet::new();
        for batch in 0..64 {
            let mut image = original.clone();
            let mut rng = batch_rng(7, 0, batch);
            augment_batch(&mut image, &example, &[Augment::RandomCrop { padding: 1 }], &[-1.0, -2.0], &mut rng);
            // Find the shift that explains the window: every pixel is the original's at it or fill.
            let shift = (-1..=1isize).flat_map(|dy| (-1..=1isize).map(move |dx| (dy, dx))).find(|&(dy, dx)| {
                (0..2).all(|c| {
                    (0..4).all(|y| {
                        (0..4).all(|x| {
                            let (sy, sx) = (y as isize + dy, x as isize + dx);
                            let got = image[(c * 4 + y) * 4 + x];
                            if (0..4).contains(&sy) && (0..4).contains(&sx) {
                                got == original[(c * 4 + sy as usize) * 4 + sx as usize]
                            } else {
                                got == [-1.0, -2.0][c]
                            }
                        })
                    })
                })
            });
            seen.insert(shift.expect("the crop is a window of the padded image"));
        }
        assert_eq!(seen.len(), 9, "all nine offsets of padding 1 are drawn: {seen:?}");
    }

    #[test]
    fn flips_mirror_rows_and_the_same_seed_draws_the_same() {
        let example = [1, 2, 3];
        let draw = |batch| {
            let mut image = ramp(1, 3)[..6].to_vec();
            augment_batch(&mut image, &example, &[Augment::HorizontalFlip], &[], &mut batch_rng(1, 2, batch));
            image
        };
        let outcomes: Vec<Vec<f32>> = (0..16).map(draw).collect();
        assert!(outcomes.contains(&vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
        assert!(outcomes.contains(&vec![2.0, 1.0, 0.0, 5.0, 4.0, 3.0]));
        assert_eq!(outcomes, (0..16).map(draw).collect::<Vec<_>>());
    }

    #[test]
    fn normalisation_is_per_channel_and_checks_its_channels() {
        let mut data = Data { x: vec![0.0, 1.0, 0.5, 0.5], example: vec![2, 2], y: vec![0.0], target_width: 1 };
        let norm = Normalize { mean: vec![0.5, 0.25], std: vec![0.5, 0.25] };
        norm.apply(&mut data).unwrap();
        assert_eq!(data.x, vec![-1.0, 1.0, 1.0, 1.0]);
        assert_eq!(norm.zero(), vec![-1.0, -1.0]);
        let three = Normalize { mean: vec![0.0; 3], std: vec![1.0; 3] };
        assert!(three.apply(&mut data).unwrap_err().to_string().contains("3 means"));
    }
}
