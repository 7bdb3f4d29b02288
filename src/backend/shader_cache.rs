//! wgpu's pipeline cache kept on disk between runs, for adapters with `PIPELINE_CACHE`
//! (Vulkan): a second run creates its pipelines from the driver's compiled code instead of
//! compiling them again. The file is ours: a magic, a CRC-32 and the length of wgpu's data,
//! then the data, written atomically (temporary file, then rename). A file that is missing,
//! truncated or fails its checksum is ignored and replaced; the cache is never needed for
//! correct results.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const MAGIC: &[u8; 8] = b"SGPCACHE";
const HEADER: usize = 8 + 4 + 8;

/// The directory of pipeline caches: `SHADERGRAD_CACHE_DIR` (`off` for none), else
/// `$XDG_CACHE_HOME/shadergrad`, else `$HOME/.cache/shadergrad`.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match var("SHADERGRAD_CACHE_DIR") {
        Some(dir) if dir == "off" => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => var("XDG_CACHE_HOME")
            .map(|d| PathBuf::from(d).join("shadergrad"))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/shadergrad"))),
    }
}

/// A device's pipeline cache and the file it is kept in.
pub(crate) struct DiskCache {
    cache: wgpu::PipelineCache,
    path: PathBuf,
    /// Pipelines the file held when last written.
    saved: AtomicUsize,
}

/// wgpu's data from our file, if the file is whole.
fn read_payload(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    let len = u64::from_le_bytes(bytes[12..20].try_into().ok()?);
    let data = &bytes[HEADER..];
    if data.len() as u64 != len {
        return None;
    }
    let mut check = flate2::Crc::new();
    check.update(data);
    (check.sum() == crc).then(|| data.to_vec())
}

impl DiskCache {
    /// The cache for `device` (which must have `PIPELINE_CACHE`), seeded from its file in
    /// `dir` when there is a whole one; `None` for adapters wgpu keys no cache for.
    pub(crate) fn open(device: &wgpu::Device, info: &wgpu::AdapterInfo, dir: &Path) -> Option<DiskCache> {
        let key = wgpu::util::pipeline_cache_key(info)?;
        let path = dir.join(key);
        let data = read_payload(&path);
        // SAFETY: the data is what `PipelineCache::get_data` gave an earlier run, read back
        // whole (length and CRC-32 checked); wgpu then checks its own header against this
        // adapter and driver, and `fallback` starts an empty cache if that fails.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("shadergrad pipelines"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        Some(DiskCache { cache, path, saved: AtomicUsize::new(0) })
    }

    /// The cache, for pipeline creation.
    pub(crate) fn cache(&self) -> &wgpu::PipelineCache {
        &self.cache
    }

    /// Writes the cache to its file if the device has compiled pipelines since the last
    /// write. A failure to write only costs the next run its compile time, so it is ignored.
    pub(crate) fn save_if_grown(&self, pipelines: usize) {
        if self.saved.swap(pipelines, Ordering::AcqRel) >= pipelines {
            return;
        }
        if let Some(data) = self.cache.get_data() {
            let _ = write_atomically(&self.path, &data);
        }
    }
}

/// Our header (magic, CRC-32 and length of `data`), then `data`, written atomically.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut check = flate2::Crc::new();
    check.update(data);
    let mut file = Vec::with_capacity(HEADER + data.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&check.sum().to_le_bytes());
    file.extend_from_slice(&(data.len() as u64).to_le_bytes());
    file.extend_from_slice(data);
    crate::atomic_file::write(path, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_files_are_read_back() {
        let dir = std::env::temp_dir().join(format!("shadergrad-cache-test-{}", std::process::id()));
        let path = dir.join("cache");
        write_atomically(&path, b"driver bytes").unwrap();
        assert_eq!(read_payload(&path).as_deref(), Some(&b"driver bytes"[..]));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_payload(&path), None, "a flipped bit fails the checksum");
        std::fs::write(&path, &bytes[..HEADER + 3]).unwrap();
        assert_eq!(read_payload(&path), None, "a truncated file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
