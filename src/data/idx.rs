//! The IDX format of the MNIST files: a big-endian header, then unsigned bytes.

use crate::error::{Error, Result};
use byteorder::{BigEndian, ReadBytesExt};
use std::io::Cursor;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Extent of each axis.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Largest element count accepted, far above full MNIST (47 M bytes), so a corrupt header
/// cannot make us allocate without bound.
const MAX_ELEMENTS: u64 = 1 << 32;

/// Parses IDX bytes (already decompressed); `name` names the data in errors.
pub fn parse_idx(name: &str, bytes: &[u8]) -> Result<IdxArray> {
    let bad = |offset: u64, message: String| Error::Format { path: name.to_string(), offset, message };
    let mut cursor = Cursor::new(bytes);
    let magic =
        cursor.read_u32::<BigEndian>().map_err(|_| bad(0, "too short for an IDX header (4 bytes of magic)".into()))?;
    if magic >> 16 != 0 {
        return Err(bad(0, format!("magic number {magic:#010x} is not IDX (its first two bytes must be zero)")));
    }
    let kind = (magic >> 8) & 0xff;
    if kind != 0x08 {
        return Err(bad(2, format!("element type {kind:#04x} is not supported; only unsigned bytes (0x08) are")));
    }
    let rank = (magic & 0xff) as usize;
    if rank == 0 || rank > 4 {
        return Err(bad(3, format!("{rank} dimensions; expected 1 to 4")));
    }
    let mut dims = Vec::with_capacity(rank);
    for d in 0..rank {
        let offset = 4 + 4 * d as u64;
        let extent = cursor
            .read_u32::<BigEndian>()
            .map_err(|_| bad(offset, format!("truncated header: dimension {d} is missing")))?;
        dims.push(extent as usize);
    }
    let header = 4 + 4 * rank;
    let count = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).filter(|&c| c <= MAX_ELEMENTS);
    let Some(count) = count else {
        return Err(bad(4, format!("dimensions {dims:?} hold implausibly many elements")));
    };
    let available = (bytes.len() - header) as u64;
    if available < count {
        return Err(bad(
            bytes.len() as u64,
            format!(
                "truncated: dimensions {dims:?} need {count} bytes of data after the {header}-byte header, but only {available} are there"
            ),
        ));
    }
    if available > count {
        return Err(bad(
            header as u64 + count,
            format!("{} unexpected bytes after the data of dimensions {dims:?}", available - count),
        ));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend(d.to_be_bytes());
        }
        b.extend(data);
        b
    }

    #[test]
    fn parses_a_well_formed_array() {
        let a = parse_idx("t", &idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn corrupt_files_name_the_file_and_offset() {
        let cases: Vec<(Vec<u8>, &str, u64)> = vec![
            (vec![0, 0], "too short", 0),
            (vec![1, 2, 8, 1, 0, 0, 0, 1, 5], "is not IDX", 0),
            (vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 5], "element type", 2),
            (vec![0, 0, 8, 9], "9 dimensions", 3),
            (vec![0, 0, 8, 2, 0, 0, 0, 2], "dimension 1 is missing", 8),
            (idx(&[2, 3], &[1, 2, 3]), "truncated", 15),
            (idx(&[1], &[1, 2]), "unexpected bytes", 9),
            (idx(&[0xffff_ffff, 0xffff_ffff], &[]), "implausibly many", 4),
        ];
        for (bytes, message, offset) in cases {
            let err = parse_idx("images.idx", &bytes).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("images.idx") && text.contains(message), "{text}");
            assert!(matches!(err, Error::Format { offset: o, .. } if o == offset), "{text}: offset should be {offset}");
        }
    }
}
