//! Training curves as a PNG a person can read: a titled chart with the loss against the left
//! axis, accuracy (0 to 1) against the right one, tick values on every axis and a legend naming
//! each line.
//!
//! The chart is drawn by `plotters` into memory with DejaVu Sans built into the binary
//! (`assets/fonts/`), so it needs no system fonts and draws the same on a bare server.

use crate::error::{Error, Result};
use image::ImageEncoder;
use plotters::prelude::*;
use plotters::style::register_font;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

/// Width and height in pixels of the picture [`save`] writes.
pub const DEFAULT_SIZE: (u32, u32) = (960, 600);

/// The smallest picture [`render_png`] draws: below it the labels no longer fit beside the axes.
pub const MIN_SIZE: (u32, u32) = (320, 200);

/// The largest width or height [`render_png`] draws, which keeps the pixel count within `u32`
/// (plotters multiplies width by height in `u32`).
pub const MAX_SIDE: u32 = 8192;

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
// plotters' own defaults (the legend's fallback font among them) ask for "sans-serif", so the
// embedded font is registered under that name rather than one of ours.
const FAMILY: &str = "sans-serif";

// matplotlib's first four colours: distinct for most kinds of colour blindness, and familiar.
const TRAIN_LOSS: RGBColor = RGBColor(31, 119, 180);
const VALIDATION_LOSS: RGBColor = RGBColor(255, 127, 14);
const TEST_ACCURACY: RGBColor = RGBColor(44, 160, 44);
const TRAIN_ACCURACY: RGBColor = RGBColor(214, 39, 40);

/// The curves of one training run, each a list of `(x, value)` points in the order recorded.
///
/// `x` is progress in epochs (fractional within an epoch, for per-batch points) unless
/// [`x_label`](Curves::x_label) names another unit. Any list may be empty: its line and its
/// legend entry are then left out. Points whose coordinates are not finite, or beyond ±1e100
/// (only a diverged run produces those), are skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct Curves {
    /// The chart's title, e.g. the recipe's name; none is drawn when empty.
    pub title: String,
    /// The x axis's name: "epoch" from [`Curves::new`]; an empty one is drawn as "epoch".
    pub x_label: String,
    /// Training loss, one point per step or batch, drawn as a thin line.
    pub train_loss: Vec<(f64, f64)>,
    /// Validation loss, one point per epoch.
    pub validation_loss: Vec<(f64, f64)>,
    /// Test accuracy as a fraction (0 to 1; values outside are drawn at the nearer end), one
    /// point per epoch.
    pub test_accuracy: Vec<(f64, f64)>,
    /// Training accuracy as a fraction, like `test_accuracy`.
    pub train_accuracy: Vec<(f64, f64)>,
}

impl Curves {
    /// Empty curves titled `title`, with "epoch" on the x axis.
    pub fn new(title: impl Into<String>) -> Curves {
        Curves {
            title: title.into(),
            x_label: "epoch".to_string(),
            train_loss: Vec::new(),
            validation_loss: Vec::new(),
            test_accuracy: Vec::new(),
            train_accuracy: Vec::new(),
        }
    }
}

/// Draws `curves` as a `width` × `height` PNG and returns the file's bytes.
///
/// Fails with [`Error::InvalidArgument`] for a size outside [`MIN_SIZE`] to [`MAX_SIDE`], or if
/// drawing or encoding fails.
pub fn render_png(curves: &Curves, width: u32, height: u32) -> Result<Vec<u8>> {
    let fail = |message: String| Error::InvalidArgument { op: "plot::render_png", message };
    if width < MIN_SIZE.0 || height < MIN_SIZE.1 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(fail(format!(
            "a {width}x{height} picture cannot hold a readable plot: use {}x{} to {MAX_SIDE}x{MAX_SIDE} pixels",
            MIN_SIZE.0, MIN_SIZE.1
        )));
    }
    register_embedded_font().map_err(fail)?;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    draw(curves, &mut rgb, (width, height)).map_err(|e| fail(format!("drawing the plot failed: {e}")))?;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| fail(format!("encoding the plot as PNG failed: {e}")))?;
    Ok(png)
}

/// Draws `curves` at [`DEFAULT_SIZE`] and writes the PNG to `path` atomically, creating its
/// directory if needed.
pub fn save(path: &Path, curves: &Curves) -> Result<()> {
    let png = render_png(curves, DEFAULT_SIZE.0, DEFAULT_SIZE.1)?;
    crate::atomic_file::write(path, &png)
        .map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })
}

/// Named lines over their index (lab 11-4's test prices against the predictions), titled
/// `title`, as a PNG of [`DEFAULT_SIZE`] written to `path` atomically. The first line is drawn
/// in the training loss's colour, the second in the validation loss's.
pub fn save_series(path: &Path, title: &str, y_label: &str, lines: &[(&str, &[f64])]) -> Result<()> {
    let fail = |message: String| Error::InvalidArgument { op: "plot::save_series", message };
    register_embedded_font().map_err(fail)?;
    let (width, height) = DEFAULT_SIZE;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    draw_series(title, y_label, lines, &mut rgb).map_err(|e| fail(format!("drawing the plot failed: {e}")))?;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| fail(format!("encoding the plot as PNG failed: {e}")))?;
    crate::atomic_file::write(path, &png)
        .map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })
}

fn draw_series(
    title: &str,
    y_label: &str,
    lines: &[(&str, &[f64])],
    rgb: &mut [u8],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (text_px, title_px, swatch) = (16.0, 26.0, 26);
    let points: Vec<Vec<(f64, f64)>> = lines
        .iter()
        .map(|(_, v)| plottable(&v.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect::<Vec<_>>()))
        .collect();
    let xs = x_range(points.iter().flatten().map(|p| p.0));
    let ys = loss_range(points.iter().flatten().map(|p| p.1));
    let root = BitMapBackend::with_buffer(rgb, DEFAULT_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(13)
        .x_label_area_size(48)
        .y_label_area_size(88)
        .caption(title, (FAMILY, title_px))
        .build_cartesian_2d(xs, ys)?;
    let tick = |v: &f64| tick_label(*v);
    chart
        .configure_mesh()
        .x_desc("time step")
        .y_desc(y_label)
        .label_style((FAMILY, text_px))
        .axis_desc_style((FAMILY, text_px))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()?;
    for ((name, _), (line, color)) in
        lines.iter().zip(points.into_iter().zip([TRAIN_LOSS, VALIDATION_LOSS].into_iter().cycle()))
    {
        let style = color.filled().stroke_width(2);
        chart
            .draw_series(LineSeries::new(line, style))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + swatch, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, text_px))
        .legend_area_size(swatch + 10)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Puts the embedded font in plotters' process-wide font table, once: plotters looks every
/// font up there by family name when a text style is made, so this must precede all drawing.
fn register_embedded_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err("the embedded font assets/fonts/DejaVuSans.ttf could not be parsed".to_string())
    }
}

fn draw(
    curves: &Curves,
    rgb: &mut [u8],
    (width, height): (u32, u32),
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    // Sizes are laid out for DEFAULT_SIZE and scaled with the picture, but text never shrinks
    // below what stays legible.
    let scale = (f64::from(width) / f64::from(DEFAULT_SIZE.0)).min(f64::from(height) / f64::from(DEFAULT_SIZE.1));
    let text_px = (16.0 * scale).max(10.0);
    let title_px = (26.0 * scale).max(12.0);
    let swatch = (1.6 * text_px).round() as i32;
    let dot = ((text_px / 5.0).round() as u32).max(2);

    let train_loss = plottable(&curves.train_loss);
    let validation_loss = plottable(&curves.validation_loss);
    let test_accuracy = fraction(&curves.test_accuracy);
    let train_accuracy = fraction(&curves.train_accuracy);

    let all = [&train_loss, &validation_loss, &test_accuracy, &train_accuracy];
    let xs = x_range(all.iter().flat_map(|points| points.iter().map(|p| p.0)));
    let losses = loss_range(train_loss.iter().chain(&validation_loss).map(|p| p.1));
    let x_label = if curves.x_label.is_empty() { "epoch" } else { curves.x_label.as_str() };
    let tick = |v: &f64| tick_label(*v);

    let root = BitMapBackend::with_buffer(rgb, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin((0.8 * text_px).round() as u32)
        .x_label_area_size((10.0 + 2.4 * text_px).round() as u32)
        .y_label_area_size((12.0 + 4.8 * text_px).round() as u32)
        .right_y_label_area_size((12.0 + 3.2 * text_px).round() as u32);
    if !curves.title.is_empty() {
        builder.caption(&curves.title, (FAMILY, title_px));
    }
    let mut chart = builder.build_cartesian_2d(xs.clone(), losses)?.set_secondary_coord(xs, 0.0f64..1.0f64);

    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("loss")
        .label_style((FAMILY, text_px))
        .axis_desc_style((FAMILY, text_px))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("accuracy")
        .label_style((FAMILY, text_px))
        .axis_desc_style((FAMILY, text_px))
        .y_label_formatter(&tick)
        .draw()?;

    let mut legend = false;
    if !train_loss.is_empty() {
        let style = TRAIN_LOSS.filled().stroke_width(1);
        // A line needs two points; a lone one gets a dot so that it is not lost.
        let size = if train_loss.len() == 1 { dot } else { 0 };
        chart
            .draw_series(LineSeries::new(train_loss, style).point_size(size))?
            .label("train loss")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + swatch, y)], style));
        legend = true;
    }
    if !validation_loss.is_empty() {
        let style = VALIDATION_LOSS.filled().stroke_width(2);
        chart
            .draw_series(LineSeries::new(validation_loss, style).point_size(dot))?
            .label("validation loss")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + swatch, y)], style));
        legend = true;
    }
    for (points, color, name) in
        [(test_accuracy, TEST_ACCURACY, "test accuracy"), (train_accuracy, TRAIN_ACCURACY, "train accuracy")]
    {
        if points.is_empty() {
            continue;
        }
        let style = color.filled().stroke_width(2);
        chart
            .draw_secondary_series(LineSeries::new(points, style).point_size(dot))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + swatch, y)], style));
        legend = true;
    }
    // plotters sizes the legend box from its entries, so an empty one is not asked for.
    if legend {
        chart
            .configure_series_labels()
            // Mid-right is where loss has fallen low and accuracy risen high: usually empty.
            .position(SeriesLabelPosition::MiddleRight)
            .label_font((FAMILY, text_px))
            .legend_area_size(swatch + 10)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The points of `points` that can be placed on an axis. Magnitudes beyond 1e100 are dropped
/// too: plotters' tick arithmetic asserts on an axis whose span overflows to infinity.
fn plottable(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let ok = |v: f64| v.is_finite() && v.abs() <= 1e100;
    points.iter().copied().filter(|&(x, y)| ok(x) && ok(y)).collect()
}

/// Accuracies held to the right axis's 0 to 1, so that a stray value cannot draw over the axes
/// (plotters does not clip lines to the plotting area).
fn fraction(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    plottable(points).into_iter().map(|(x, y)| (x, y.clamp(0.0, 1.0))).collect()
}

/// The least and greatest of `values`, or `None` when there are none.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |span, v| Some(span.map_or((v, v), |(lo, hi): (f64, f64)| (lo.min(v), hi.max(v)))))
}

/// From 0 (where training starts) to the last x, so that runs of different lengths read alike.
fn x_range(xs: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = extent(xs).unwrap_or((0.0, 1.0));
    let lo = lo.min(0.0);
    let hi = if hi > lo { hi } else { lo + 1.0 };
    lo..hi
}

/// The losses' span with a little room above and below, never reaching below zero when no loss
/// does, and never empty (plotters would put every point on one line).
fn loss_range(losses: impl Iterator<Item = f64>) -> Range<f64> {
    let Some((lo, hi)) = extent(losses) else { return 0.0..1.0 };
    let pad = if hi > lo { 0.05 * (hi - lo) } else { (0.1 * hi.abs()).max(1e-3) };
    let bottom = if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad };
    bottom..hi + pad
}

/// A tick value as a person would write it: no trailing zeros, and an exponent only where a
/// decimal would be long.
fn tick_label(v: f64) -> String {
    let magnitude = v.abs();
    // Ticks stepped across zero in floating point land a hair off it (2.8e-17, say).
    if magnitude < 1e-12 {
        return "0".to_string();
    }
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{v:.1e}");
    }
    let fixed = format!("{v:.6}");
    fixed.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves() -> Curves {
        let mut c = Curves::new("mnist-mlp");
        let steps = 50;
        for epoch in 0..3 {
            for s in 0..steps {
                let x = epoch as f64 + (s + 1) as f64 / steps as f64;
                c.train_loss.push((x, 2.3 * (-x).exp() + 0.05 * ((s % 7) as f64 / 7.0)));
            }
            let e = (epoch + 1) as f64;
            c.validation_loss.push((e, 2.3 * (-e).exp() + 0.08));
            c.test_accuracy.push((e, 1.0 - 0.5 * (-e).exp()));
            c.train_accuracy.push((e, 1.0 - 0.45 * (-e).exp()));
        }
        c
    }

    fn decode(png: &[u8]) -> image::RgbImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("valid PNG").to_rgb8()
    }

    fn has_colour(img: &image::RgbImage, c: RGBColor) -> bool {
        img.pixels().any(|p| p.0 == [c.0, c.1, c.2])
    }

    #[test]
    fn a_series_plot_draws_both_lines() {
        let path = std::env::temp_dir().join(format!("shadergrad-series-{}.png", std::process::id()));
        let truth: Vec<f64> = (0..220).map(|i| (i as f64 / 20.0).sin()).collect();
        let guess: Vec<f64> = truth.iter().map(|v| v * 0.9).collect();
        save_series(&path, "lstm-stock", "scaled close", &[("original", &truth), ("prediction", &guess)]).unwrap();
        let img = decode(&std::fs::read(&path).unwrap());
        assert_eq!(img.dimensions(), DEFAULT_SIZE);
        assert!(has_colour(&img, TRAIN_LOSS) && has_colour(&img, VALIDATION_LOSS));
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn renders_a_png_of_the_asked_size_with_every_line() {
        let png = render_png(&curves(), 800, 500).unwrap();
        let img = decode(&png);
        assert_eq!(img.dimensions(), (800, 500));
        let first = *img.get_pixel(0, 0);
        assert!(img.pixels().any(|p| *p != first), "the picture is a single colour");
        for c in [TRAIN_LOSS, VALIDATION_LOSS, TEST_ACCURACY, TRAIN_ACCURACY] {
            assert!(has_colour(&img, c), "no pixel of line colour {c:?}");
        }
    }

    #[test]
    fn text_is_drawn_with_the_embedded_font() {
        // Only the title differs, so differing pictures mean glyphs were rasterised.
        let mut other = curves();
        other.title = "a different title".to_string();
        let (a, b) = (render_png(&curves(), 640, 400).unwrap(), render_png(&other, 640, 400).unwrap());
        assert!(decode(&a) != decode(&b), "changing the title changed no pixel");
    }

    #[test]
    fn empty_and_degenerate_curves_still_draw_axes() {
        let empty = Curves::new("");
        let img = decode(&render_png(&empty, MIN_SIZE.0, MIN_SIZE.1).unwrap());
        assert_eq!(img.dimensions(), MIN_SIZE);
        assert!(img.pixels().any(|p| p.0 == [0, 0, 0]), "no axis drawn");

        let mut odd = Curves::new("odd");
        odd.train_loss = vec![(1.0, 0.5), (f64::NAN, 1.0), (2.0, f64::INFINITY)];
        odd.validation_loss = vec![(1.0, 0.5)];
        odd.test_accuracy = vec![(1.0, 97.0)];
        odd.x_label = String::new();
        render_png(&odd, 640, 400).unwrap();
    }

    #[test]
    fn rejects_a_size_too_small_to_read() {
        assert!(matches!(render_png(&curves(), 100, 50), Err(Error::InvalidArgument { .. })));
        assert!(matches!(render_png(&curves(), 640, MAX_SIDE + 1), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn save_writes_the_png() {
        let dir = std::env::temp_dir().join(format!("shadergrad-plot-test-{}", std::process::id()));
        let path = dir.join("training.png");
        save(&path, &curves()).unwrap();
        let img = decode(&std::fs::read(&path).unwrap());
        assert_eq!(img.dimensions(), DEFAULT_SIZE);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tick_labels_read_naturally() {
        assert_eq!(tick_label(0.1 + 0.2), "0.3");
        assert_eq!(tick_label(2.0), "2");
        assert_eq!(tick_label(0.00125), "0.00125");
        assert_eq!(tick_label(2.8e-17), "0");
        assert_eq!(tick_label(0.0002), "2.0e-4");
        assert_eq!(tick_label(-1.5), "-1.5");
    }
}
