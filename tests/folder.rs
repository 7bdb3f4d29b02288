//! Image folders (one sub-folder per class) and the `custom-images` recipe on them.

use shadergrad::Device;
use shadergrad::data::folder::load_folder;
use shadergrad::recipes::{self, Overrides, Paths};
use std::path::Path;

/// Writes `count` noisy images per class: "cat" reddish, "dog" bluish.
fn make_folder(dir: &Path, count: usize, width: u32, height: u32) {
    for (class, tint) in [("cat", [200u8, 60, 60]), ("dog", [60u8, 60, 200])] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for k in 0..count {
            let mut state = (k as u32 + 1).wrapping_mul(2_654_435_761);
            let img = image::RgbImage::from_fn(width, height, |_, _| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (state % 80) as u8;
                image::Rgb(tint.map(|c| c.saturating_add(noise)))
            });
            let ext = if k % 2 == 0 { "png" } else { "jpg" };
            img.save(dir.join(class).join(format!("{k:02}.{ext}"))).unwrap();
        }
    }
}

#[test]
fn a_folder_of_classes_loads_in_sorted_order_and_trains() {
    let dir = std::env::temp_dir().join(format!("shadergrad-folder-{}", std::process::id()));
    make_folder(&dir, 8, 80, 50);
    let folder = load_folder(&dir, Some((128, 64))).unwrap();
    assert_eq!(folder.classes, vec!["cat", "dog"]);
    assert_eq!(folder.data.example, vec![3, 64, 128]);
    assert_eq!(folder.data.len(), 16);
    assert_eq!(&folder.data.y[..], &[[0.0; 8], [1.0; 8]].concat()[..]);

    let recipe = recipes::find("custom-images").unwrap().with(&Overrides {
        epochs: Some(6),
        lr: Some(1e-3),
        ..Overrides::default()
    });
    let paths = Paths { data: Some(dir.clone()), ..Paths::default() };
    let summary = recipes::run(&Device::new().unwrap(), &recipe, &paths, |_| {}).unwrap();
    assert!(summary.train_accuracy.unwrap() >= 0.9, "{:?}", summary.train_accuracy);

    // Without --data the recipe says what it needs.
    let err = recipes::run(&Device::new().unwrap(), &recipe, &Paths::default(), |_| {}).unwrap_err().to_string();
    assert!(err.contains("--data DIR"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_folders_name_the_file_or_folder() {
    let dir = std::env::temp_dir().join(format!("shadergrad-badfolder-{}", std::process::id()));
    make_folder(&dir, 2, 20, 10);
    image::RgbImage::new(30, 10).save(dir.join("dog").join("odd.png")).unwrap();
    let err = load_folder(&dir, None).unwrap_err().to_string();
    assert!(err.contains("odd.png") && err.contains("30×10") && err.contains("20×10"), "{err}");
    std::fs::write(dir.join("dog").join("odd.png"), b"not an image").unwrap();
    let err = load_folder(&dir, Some((8, 8))).unwrap_err().to_string();
    assert!(err.contains("odd.png") && err.contains("not a readable"), "{err}");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(load_folder(&empty, None).unwrap_err().to_string().contains("no class sub-folders"));
    std::fs::remove_dir_all(&dir).unwrap();
}
