//! Data sets: MNIST in IDX format, CIFAR-10 in its binary format, the course's CSV files,
//! image folders, character sequences, batching and augmentation.
//!
//! The course's data ship inside the binary (`assets/`), so every recipe runs from any
//! directory with no download; `--data DIR` reads the same formats from disk.

pub mod batches;
pub mod cifar;
pub mod csv;
pub mod folder;
pub mod idx;
pub mod images;
pub mod mnist;
pub mod packed;
pub mod pairs;
pub mod series;
pub mod text;
pub mod transforms;

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Reads a file, transparently gunzipping it when it starts with the gzip magic bytes.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    gunzip_if_needed(&path.display().to_string(), bytes)
}

/// Most bytes a gzip file may decompress to: far above full MNIST (47 MB), so a corrupt or
/// hostile file cannot exhaust memory.
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Gunzips `bytes` if they start with the gzip magic bytes; `name` names them in errors.
pub fn gunzip_if_needed(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(&bytes[..]);
    decoder.take(MAX_DECOMPRESSED + 1).read_to_end(&mut out).map_err(|e| Error::Format {
        path: name.to_string(),
        offset: out.len() as u64,
        message: format!("the gzip stream is corrupt or truncated ({e}); offset counts decompressed bytes"),
    })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(Error::Format {
            path: name.to_string(),
            offset: MAX_DECOMPRESSED,
            message: format!("decompresses to more than {MAX_DECOMPRESSED} bytes"),
        });
    }
    Ok(out)
}

/// Decodes a PNG or JPEG with limits on its dimensions and memory, so a header that claims
/// an enormous image is an error rather than an allocation; `name` names it in errors.
pub fn decode_image(name: &str, bytes: &[u8]) -> Result<image::DynamicImage> {
    let bad = |e: image::ImageError| Error::Format {
        path: name.to_string(),
        offset: 0,
        message: format!("not a readable PNG or JPEG image: {e}"),
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| {
        Error::Format { path: name.to_string(), offset: 0, message: format!("not a readable PNG or JPEG image: {e}") }
    })?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    reader.decode().map_err(bad)
}
