//! A training curve as a PNG: loss (blue) and test accuracy (orange) against progress, each
//! scaled to its own range, drawn without fonts so it needs nothing beyond the image crate.

use crate::error::{Error, Result};
use image::{Rgb, RgbImage};
use std::path::Path;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 400;
const MARGIN: u32 = 30;
const LOSS: Rgb<u8> = Rgb([31, 119, 180]);
const ACCURACY: Rgb<u8> = Rgb([255, 127, 14]);
const AXES: Rgb<u8> = Rgb([80, 80, 80]);

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), color: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
    for k in 0..=steps {
        let t = k as f64 / steps as f64;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
            let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < WIDTH && (py as u32) < HEIGHT {
                img.put_pixel(px as u32, py as u32, color);
            }
        }
    }
}

/// Draws `series` (x, y) scaled into the plot area, y from its min (bottom) to max (top).
fn curve(img: &mut RgbImage, series: &[(f64, f64)], x_max: f64, color: Rgb<u8>) {
    let finite: Vec<_> = series.iter().filter(|(_, y)| y.is_finite()).collect();
    let lo = finite.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = finite.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let (w, h) = ((WIDTH - 2 * MARGIN) as f64, (HEIGHT - 2 * MARGIN) as f64);
    let at = |&&(x, y): &&(f64, f64)| {
        (MARGIN as f64 + w * x / x_max.max(1e-12), MARGIN as f64 + h * (1.0 - (y - lo) / span))
    };
    let points: Vec<_> = finite.iter().map(at).collect();
    for pair in points.windows(2) {
        line(img, pair[0], pair[1], color);
    }
}

/// Writes the plot of `loss` and `accuracy` (each (progress, value)) to `path`.
pub fn save(path: &Path, loss: &[(f64, f64)], accuracy: &[(f64, f64)]) -> Result<()> {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    let (left, bottom) = (MARGIN as f64, (HEIGHT - MARGIN) as f64);
    line(&mut img, (left, MARGIN as f64), (left, bottom), AXES);
    line(&mut img, (left, bottom), ((WIDTH - MARGIN) as f64, bottom), AXES);
    let x_max = loss.iter().chain(accuracy).map(|p| p.0).fold(0.0, f64::max);
    curve(&mut img, loss, x_max, LOSS);
    curve(&mut img, accuracy, x_max, ACCURACY);
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| Error::Io { path: tmp.display().to_string(), message: e.to_string() })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })
}
