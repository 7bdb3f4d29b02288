//! Image folders, as torchvision's `ImageFolder` reads them: one sub-folder per class (classes
//! in sorted order), PNG or JPEG images inside, scaled to [0, 1] in CHW order (`ToTensor`).

use crate::error::{Error, Result};
use crate::train::Data;
use std::path::{Path, PathBuf};

/// A folder's images and the class names, in label order.
#[derive(Clone, Debug)]
pub struct Folder {
    /// The images as examples [3, H, W], labels as class indices.
    pub data: Data,
    /// Sub-folder names, sorted: label k is `classes[k]`.
    pub classes: Vec<String>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |e: std::io::Error| Error::Io { path: dir.display().to_string(), message: e.to_string() };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>().map_err(io)?;
    entries.sort();
    Ok(entries)
}

fn is_image(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

/// Loads every image under `dir`'s class sub-folders. Images must all have the size of the
/// first, unless `resize` gives one size (width, height) for all.
pub fn load_folder(dir: &Path, resize: Option<(u32, u32)>) -> Result<Folder> {
    let classes: Vec<PathBuf> = sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    if classes.is_empty() {
        return Err(Error::Io {
            path: dir.display().to_string(),
            message: "has no class sub-folders (expected one folder of images per class)".into(),
        });
    }
    let mut data = Data { target_width: 1, ..Data::default() };
    let mut size: Option<(u32, u32)> = resize;
    for (label, class_dir) in classes.iter().enumerate() {
        for path in sorted_entries(class_dir)?.into_iter().filter(|p| is_image(p)) {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
            let img = image::load_from_memory(&bytes)
                .map_err(|e| Error::Format {
                    path: path.display().to_string(),
                    offset: 0,
                    message: format!("not a readable PNG or JPEG image: {e}"),
                })?
                .to_rgb8();
            let img = match resize {
                Some((w, h)) => image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle),
                None => img,
            };
            let (w, h) = img.dimensions();
            match size {
                None => size = Some((w, h)),
                Some(expected) if expected != (w, h) => {
                    return Err(Error::Format {
                        path: path.display().to_string(),
                        offset: 0,
                        message: format!(
                            "is {w}×{h}, but the images before it are {}×{}; give a size to resize them all",
                            expected.0, expected.1
                        ),
                    });
                }
                _ => {}
            }
            for c in 0..3 {
                data.x.extend(img.pixels().map(|p| p[c] as f32 / 255.0));
            }
            data.y.push(label as f32);
        }
    }
    let (w, h) = size.unwrap_or((0, 0));
    if data.y.is_empty() {
        return Err(Error::Io {
            path: dir.display().to_string(),
            message: "holds no PNG or JPEG images in its class sub-folders".into(),
        });
    }
    data.example = vec![3, h as usize, w as usize];
    Ok(Folder {
        data,
        classes: classes.iter().map(|c| c.file_name().unwrap_or_default().to_string_lossy().to_string()).collect(),
    })
}
