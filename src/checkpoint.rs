//! Checkpoints: named tensors in safetensors format. Saves are f32, written atomically (see
//! `atomic_file.rs`) so that an interrupted save never destroys the previous checkpoint;
//! loads also take what PyTorch's `safetensors.torch.save_file` writes (f16, bf16, f64, and
//! integer tensors such as batch norm's int64 `num_batches_tracked`), converted to f32.

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
    let (header_len, metadata) = SafeTensors::read_metadata(data).map_err(|e| {
        let (offset, why) = where_broken(data, e);
        bad(offset, format!("not a valid safetensors file: {why}"))
    })?;
    let st = SafeTensors::deserialize(data).map_err(|e| bad(0, format!("not a valid safetensors file: {e}")))?;
    let data_start = 8 + header_len as u64;
    let mut tensors = Vec::new();
    for (tensor_name, view) in st.tensors() {
        let at = data_start + metadata.info(&tensor_name).map_or(0, |info| info.data_offsets.0 as u64);
        let values = to_f32(view.dtype(), view.data()).ok_or_else(|| {
            bad(
                at,
                format!(
                    "tensor '{tensor_name}' is {}, which shadergrad does not read (it reads floats and integers)",
                    view.dtype()
                ),
            )
        })?;
        tensors.push((tensor_name, view.shape().to_vec(), values));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Checkpoint { tensors, metadata: metadata.metadata().clone().unwrap_or_default() })
}

/// Little-endian values of `dtype` as f32: floats rounded to nearest, integers exactly up to
/// 2²⁴ (counts such as `num_batches_tracked`); `None` for types that are not numbers.
fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    fn each<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        bytes.chunks_exact(N).map(|c| f(c.try_into().expect("chunks of N bytes"))).collect()
    }
    Some(match dtype {
        Dtype::F32 => each(bytes, f32::from_le_bytes),
        Dtype::F16 => each(bytes, |b| half::f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => each(bytes, |b| half::bf16::from_le_bytes(b).to_f32()),
        Dtype::F64 => each(bytes, |b| f64::from_le_bytes(b) as f32),
        Dtype::I64 => each(bytes, |b| i64::from_le_bytes(b) as f32),
        Dtype::I32 => each(bytes, |b| i32::from_le_bytes(b) as f32),
        Dtype::I16 => each(bytes, |b| i16::from_le_bytes(b) as f32),
        Dtype::I8 => each(bytes, |b| i8::from_le_bytes(b) as f32),
        Dtype::U64 => each(bytes, |b| u64::from_le_bytes(b) as f32),
        Dtype::U32 => each(bytes, |b| u32::from_le_bytes(b) as f32),
        Dtype::U16 => each(bytes, |b| u16::from_le_bytes(b) as f32),
        Dtype::U8 => each(bytes, |b: [u8; 1]| b[0] as f32),
        Dtype::BOOL => each(bytes, |b: [u8; 1]| (b[0] != 0) as u8 as f32),
        _ => return None,
    })
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

    #[test]
    fn pytorch_dtypes_are_read_as_f32() {
        let f16: Vec<u8> =
            [1.5f32, -0.099975586, 65504.0].iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
        let bf16: Vec<u8> = [3.140625f32, -1e30].iter().flat_map(|&v| half::bf16::from_f32(v).to_le_bytes()).collect();
        let f64s: Vec<u8> = [0.1f64, -2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let count: Vec<u8> = 1234i64.to_le_bytes().to_vec();
        let fp8 = [0u8; 2];
        fn view(dtype: Dtype, dims: Vec<usize>, bytes: &[u8]) -> TensorView<'_> {
            TensorView::new(dtype, dims, bytes).unwrap()
        }
        let tensors = vec![
            ("a.f16", view(Dtype::F16, vec![3], &f16)),
            ("b.bf16", view(Dtype::BF16, vec![1, 2], &bf16)),
            ("c.f64", view(Dtype::F64, vec![2], &f64s)),
            ("d.num_batches_tracked", view(Dtype::I64, vec![], &count)),
        ];
        let bytes = safetensors::serialize(tensors.clone(), None).unwrap();
        let c = parse("torch.safetensors", &bytes).unwrap();
        let want: [(&str, &[usize], &[f32]); 4] = [
            ("a.f16", &[3], &[1.5, half::f16::from_f32(-0.099975586).to_f32(), 65504.0]),
            ("b.bf16", &[1, 2], &[3.140625, half::bf16::from_f32(-1e30).to_f32()]),
            ("c.f64", &[2], &[0.1, -2.5]),
            ("d.num_batches_tracked", &[], &[1234.0]),
        ];
        for (name, dims, values) in want {
            assert_eq!(c.get(name), Some((dims, values)), "{name}");
        }
        let mut odd = tensors;
        odd.push(("e.fp8", view(Dtype::F8_E4M3, vec![2], &fp8)));
        let bytes = safetensors::serialize(odd, None).unwrap();
        let err = parse("fp8.safetensors", &bytes).unwrap_err().to_string();
        assert!(err.contains("tensor 'e.fp8' is F8_E4M3, which shadergrad does not read"), "{err}");
    }
}
