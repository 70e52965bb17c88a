//! `ImageFolder::open` on a folder holding one file of fuzzed bytes. The first byte picks the
//! file's extension (and so the decoder tried when the content names no format); the rest is
//! the file. Either one RGB image of a sane shape, or `Image` / `ImageTooLarge` naming the
//! file. Never a panic, never an allocation beyond the pixel limit.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use selfsup_data::{Error, ImageDataset, ImageFolder, ImageFolderOptions};

const EXTENSIONS: [&str; 12] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm", "tga", "qoi",
];
const MAX_PIXELS: u64 = 1 << 20;

/// One scratch folder for the whole run (libFuzzer runs inputs one at a time in a process).
fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let root = scratch().path();
    for entry in std::fs::read_dir(root).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let path = root.join(format!(
        "input.{}",
        EXTENSIONS[usize::from(pick) % EXTENSIONS.len()]
    ));
    std::fs::write(&path, bytes).unwrap();
    let options = ImageFolderOptions {
        max_pixels: MAX_PIXELS,
        threads: 1,
        ..Default::default()
    };
    match ImageFolder::open(root, &options) {
        Ok(folder) => {
            assert_eq!(folder.len(), 1);
            let [c, h, w] = folder.shape(0);
            assert_eq!(c, 3);
            assert!(h > 0 && w > 0 && (h * w) as u64 <= MAX_PIXELS);
            assert_eq!(folder.pixels(0).len(), c * h * w);
        }
        Err(Error::Image { path: p, .. }) => assert_eq!(p, path),
        Err(Error::ImageTooLarge {
            path: p,
            width,
            height,
            ..
        }) => {
            assert_eq!(p, path);
            assert!(u64::from(width) * u64::from(height) > MAX_PIXELS);
        }
        Err(other) => panic!("unexpected error: {other:?}"),
    }
});
