//! Users' own images, converted for an MNIST model: grayscale, inverted when the background
//! is light (MNIST has light digits on black), cropped to the ink, fitted into 20×20 keeping
//! the aspect ratio, and centred by centre of mass in 28×28, which is how MNIST's digits
//! themselves were normalized. Without the crop, a digit photographed with margins arrives
//! smaller than any digit the model saw.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use std::path::Path;

/// Side of an MNIST image.
pub const SIDE: u32 = 28;
/// Side of the box MNIST fits each digit into before centring it.
const BOX: u32 = 20;
/// The least ink (after inverting a light background) that counts as a stroke: a quarter of
/// full brightness. Fainter is paper texture or sensor noise, and an image with nothing
/// brighter holds no digit.
const MIN_INK: u8 = 64;

/// Loads the image at `path` as 28×28 pixels in [0, 1], digit light on dark; `None` when it
/// holds no digit (blank, or no ink of at least a quarter of full brightness).
pub fn load_digit(path: &Path) -> Result<Option<Vec<f32>>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    digit_from_bytes(&path.display().to_string(), &bytes)
}

/// Converts encoded image bytes (PNG or JPEG); `name` names them in errors.
pub fn digit_from_bytes(name: &str, bytes: &[u8]) -> Result<Option<Vec<f32>>> {
    let decoded = super::decode_image(name, bytes)?;
    let gray = decoded.to_luma8();
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::Format {
            path: name.to_string(),
            offset: 0,
            message: format!("the image is {w}×{h}: empty"),
        });
    }
    // The border's mean tells the background: light backgrounds (ink on paper) are inverted.
    let border: Vec<u8> = (0..w)
        .flat_map(|x| [gray.get_pixel(x, 0)[0], gray.get_pixel(x, h - 1)[0]])
        .chain((0..h).flat_map(|y| [gray.get_pixel(0, y)[0], gray.get_pixel(w - 1, y)[0]]))
        .collect();
    let light = border.iter().map(|&v| v as f64).sum::<f64>() / border.len() as f64 > 127.0;
    let ink = image::GrayImage::from_fn(w, h, |x, y| {
        let v = gray.get_pixel(x, y)[0];
        image::Luma([if light { 255 - v } else { v }])
    });
    // The ink's bounding box: pixels above a fifth of the brightest.
    let peak = ink.pixels().map(|p| p[0]).max().unwrap_or(0);
    if peak < MIN_INK {
        return Ok(None);
    }
    let threshold = peak / 5;
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (x, y, p) in ink.enumerate_pixels() {
        if p[0] >= threshold {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    let cropped = image::imageops::crop_imm(&ink, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();
    let (cw, ch) = cropped.dimensions();
    let scale = BOX as f64 / cw.max(ch) as f64;
    let (fw, fh) =
        (((cw as f64 * scale).round() as u32).clamp(1, BOX), ((ch as f64 * scale).round() as u32).clamp(1, BOX));
    let fitted = image::imageops::resize(&cropped, fw, fh, FilterType::Triangle);
    // Place the fitted digit so its centre of mass lands at the image's centre.
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y, p) in fitted.enumerate_pixels() {
        let v = p[0] as f64;
        mass += v;
        mx += v * x as f64;
        my += v * y as f64;
    }
    let (cx, cy) = if mass > 0.0 { (mx / mass, my / mass) } else { (fw as f64 / 2.0, fh as f64 / 2.0) };
    let place = |c: f64, extent: u32| ((SIDE as f64 / 2.0 - c).round() as i64).clamp(0, (SIDE - extent) as i64) as u32;
    let (ox, oy) = (place(cx, fw), place(cy, fh));
    let mut pixels = vec![0.0f32; (SIDE * SIDE) as usize];
    for (x, y, p) in fitted.enumerate_pixels() {
        pixels[((y + oy) * SIDE + x + ox) as usize] = p[0] as f32 / 255.0;
    }
    Ok(Some(pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &image::GrayImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        bytes
    }

    #[test]
    fn ink_on_paper_is_inverted_cropped_and_centred() {
        // A dark 10×40 bar near the corner of a white 100×60 page.
        let page = image::GrayImage::from_fn(100, 60, |x, y| {
            image::Luma([if (5..15).contains(&x) && (5..45).contains(&y) { 0 } else { 255 }])
        });
        let digit = digit_from_bytes("page.png", &png(&page)).unwrap().unwrap();
        let at = |x: u32, y: u32| digit[(y * SIDE + x) as usize];
        assert!(at(14, 14) > 0.9, "the bar is light and in the middle");
        assert!(at(0, 0) < 0.01 && at(27, 27) < 0.01, "the background is dark");
        let rows_with_ink = (0..SIDE).filter(|&y| (0..SIDE).any(|x| at(x, y) > 0.5)).count();
        assert!((19..=21).contains(&rows_with_ink), "the bar is fitted to 20 rows, got {rows_with_ink}");
    }

    #[test]
    fn blank_and_broken_images() {
        let blank = image::GrayImage::from_pixel(30, 30, image::Luma([255]));
        assert_eq!(digit_from_bytes("blank.png", &png(&blank)).unwrap(), None);
        // Faint specks on paper (ink below a quarter of full brightness) are no digit either;
        // one real stroke is.
        let specks = image::GrayImage::from_fn(30, 30, |x, y| image::Luma([if (x + y) % 7 == 0 { 200 } else { 255 }]));
        assert_eq!(digit_from_bytes("specks.png", &png(&specks)).unwrap(), None);
        let stroke = image::GrayImage::from_fn(30, 30, |x, _| image::Luma([if x == 15 { 120 } else { 255 }]));
        assert!(digit_from_bytes("stroke.png", &png(&stroke)).unwrap().is_some());
        let err = digit_from_bytes("x.png", b"\x89PNG but not really").unwrap_err().to_string();
        assert!(err.contains("x.png"), "{err}");
    }
}

#[cfg(test)]
mod limits {
    use super::*;

    #[test]
    fn a_header_claiming_a_huge_image_is_refused_before_allocating() {
        // A PNG whose header says 100,000 × 100,000 pixels (10 GB of gray) and has no data.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let ihdr: Vec<u8> = [&100_000u32.to_be_bytes()[..], &100_000u32.to_be_bytes()[..], &[8, 0, 0, 0, 0]].concat();
        let mut chunk = b"IHDR".to_vec();
        chunk.extend(&ihdr);
        png.extend((ihdr.len() as u32).to_be_bytes());
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
        let err = digit_from_bytes("huge.png", &png).unwrap_err().to_string();
        assert!(err.contains("huge.png") && err.to_lowercase().contains("limit"), "{err}");
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
