//! Data sets: MNIST in IDX format, the course's CSV files, and batching.
//!
//! The course's data ship inside the binary (`assets/`), so every recipe runs from any
//! directory with no download; `--data DIR` reads the same formats from disk.

pub mod batches;
pub mod csv;
pub mod folder;
pub mod idx;
pub mod images;
pub mod mnist;

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Reads a file, transparently gunzipping it when it starts with the gzip magic bytes.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    gunzip_if_needed(&path.display().to_string(), bytes)
}

/// Gunzips `bytes` if they start with the gzip magic bytes; `name` names them in errors.
pub fn gunzip_if_needed(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(&bytes[..]);
    decoder.read_to_end(&mut out).map_err(|e| Error::Format {
        path: name.to_string(),
        offset: out.len() as u64,
        message: format!("the gzip stream is corrupt or truncated ({e}); offset counts decompressed bytes"),
    })?;
    Ok(out)
}
