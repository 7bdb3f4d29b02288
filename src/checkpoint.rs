//! Checkpoints: named f32 tensors in safetensors format, written atomically (see
//! `atomic_file.rs`) so that an interrupted save never destroys the
//! previous checkpoint.

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensorError, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Tensors by name, with their dims, and string metadata (the recipe, the step).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// (name, dims, values)
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// Free-form metadata.
    pub metadata: HashMap<String, String>,
}

impl Checkpoint {
    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors.iter().find(|(n, _, _)| n == name).map(|(_, d, v)| (d.as_slice(), v.as_slice()))
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io { path: path.display().to_string(), message: e.to_string() }
}

/// Writes `checkpoint` to `path` atomically.
pub fn save(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let bytes: Vec<Vec<u8>> = checkpoint.tensors.iter().map(|(_, _, v)| bytemuck::cast_slice(v).to_vec()).collect();
    let views = checkpoint
        .tensors
        .iter()
        .zip(&bytes)
        .map(|((name, dims, _), b)| {
            Ok((name.clone(), TensorView::new(Dtype::F32, dims.clone(), b).map_err(|e| io(path, e))?))
        })
        .collect::<Result<Vec<_>>>()?;
    let data = safetensors::serialize(views, Some(checkpoint.metadata.clone())).map_err(|e| io(path, e))?;
    crate::atomic_file::write(path, &data).map_err(|e| io(path, e))?;
    Ok(())
}

/// Reads a checkpoint; a corrupt or truncated file is an error naming it.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let data = std::fs::read(path).map_err(|e| io(path, e))?;
    parse(&path.display().to_string(), &data)
}

/// Parses checkpoint bytes; `name` names them in errors.
pub fn parse(name: &str, data: &[u8]) -> Result<Checkpoint> {
    let bad = |offset: u64, message: String| Error::Format { path: name.to_string(), offset, message };
    let (_, metadata) = SafeTensors::read_metadata(data).map_err(|e| {
        let (offset, why) = where_broken(data, e);
        bad(offset, format!("not a valid safetensors file: {why}"))
    })?;
    let st = SafeTensors::deserialize(data).map_err(|e| bad(0, format!("not a valid safetensors file: {e}")))?;
    let mut tensors = Vec::new();
    for (tensor_name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(
                8,
                format!("tensor '{tensor_name}' is {:?}; shadergrad checkpoints hold f32", view.dtype()),
            ));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        tensors.push((tensor_name, view.shape().to_vec(), values));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Checkpoint { tensors, metadata: metadata.metadata().clone().unwrap_or_default() })
}

/// The byte offset where a safetensors file stops making sense, and why. The format is an
/// 8-byte little-endian header length, that many bytes of JSON, then the tensors' bytes.
fn where_broken(data: &[u8], e: SafeTensorError) -> (u64, String) {
    let len = data.len() as u64;
    let header = data.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    match (e, header) {
        (SafeTensorError::HeaderTooSmall, _) => {
            (len, format!("the file ends at byte {len}, inside its 8-byte header length"))
        }
        (SafeTensorError::HeaderTooLarge | SafeTensorError::InvalidHeaderLength, Some(n)) if n > len - 8 => {
            (len, format!("its header is {n} bytes from byte 8, but the file ends at byte {len}"))
        }
        (SafeTensorError::MetadataIncompleteBuffer, Some(n)) => {
            let start = 8 + n;
            let end = start + tensor_bytes(&data[8..start as usize]);
            if end > len {
                (len, format!("truncated: its tensors end at byte {end}, but the file ends at byte {len}"))
            } else {
                (end, format!("{} bytes follow its last tensor, which ends at byte {end}", len - end))
            }
        }
        (e, _) => (8, format!("its header does not describe tensors: {e}")),
    }
}

/// The length of the data section a parsed-and-validated header describes.
fn tensor_bytes(header: &[u8]) -> u64 {
    let json: serde_json::Value = serde_json::from_slice(header).unwrap_or_default();
    let ends = json.as_object().into_iter().flatten().filter_map(|(_, t)| t.get("data_offsets")?.get(1)?.as_u64());
    ends.max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_files() {
        let dir = std::env::temp_dir().join(format!("shadergrad-ckpt-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        let mut c = Checkpoint::default();
        c.tensors.push(("0.bias".into(), vec![2], vec![1.5, -2.0]));
        c.tensors.push(("0.weight".into(), vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
        c.metadata.insert("recipe".into(), "x".into());
        save(&path, &c).unwrap();
        assert_eq!(load(&path).unwrap(), c);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["m.safetensors"], "the temporary file is renamed away");
        let bytes = std::fs::read(&path).unwrap();
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let end = bytes.len();
        for (cut, offset, says) in [
            (0, 0, "inside its 8-byte header length"),
            (5, 5, "inside its 8-byte header length"),
            (20, 20, "but the file ends at byte 20"),
            (header + 4, header + 4, &format!("tensors end at byte {end}, but the file ends at byte {}", header + 4)),
            (end - 3, end - 3, &format!("tensors end at byte {end}, but the file ends at byte {}", end - 3)),
        ] {
            let err = parse("cut.safetensors", &bytes[..cut]).unwrap_err().to_string();
            assert!(err.contains("cut.safetensors") && err.contains(says), "{err}");
            assert!(err.contains(&format!("at byte {offset})")), "cut at {cut}: {err}");
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 7]);
        let err = parse("long.safetensors", &longer).unwrap_err().to_string();
        assert!(
            err.contains(&format!("7 bytes follow its last tensor, which ends at byte {end} (at byte {end})")),
            "{err}"
        );
        let mut garbled = bytes.clone();
        garbled[8] = b'[';
        let err = parse("garbled.safetensors", &garbled).unwrap_err().to_string();
        assert!(err.contains("its header does not describe tensors") && err.contains("(at byte 8)"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
