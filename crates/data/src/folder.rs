//! Users' own images: a folder of class sub-folders (labelled) or a flat folder (unlabelled).

use std::fs;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};

/// File extensions read as images (case-insensitive); other files are ignored, like
/// torchvision's `IMG_EXTENSIONS`.
pub const IMAGE_EXTENSIONS: [&str; 12] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm", "tga", "qoi",
];

/// How to open an [`ImageFolder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Every image is resized (bilinear, aspect ratio not kept) to `size × size`. Default 32.
    pub size: u32,
    /// Skip files that fail to decode (listing them in [`ImageFolder::skipped`]) instead of
    /// failing. Default `false`: an unreadable file is an error naming it.
    pub skip_unreadable: bool,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        Self {
            size: 32,
            skip_unreadable: false,
        }
    }
}

/// Images decoded from a directory into memory as RGB CHW `u8`, all `size × size`.
///
/// - **Labelled**: when `root` has sub-directories, each one is a class (sorted by name, so
///   labels are stable, as in torchvision's `ImageFolder`); images are found recursively in them,
///   files directly in `root` are ignored.
/// - **Unlabelled**: when `root` has no sub-directory, every image file in it is read.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    size: usize,
    images: Vec<u8>,
    labels: Vec<usize>,
    classes: Vec<String>,
    paths: Vec<PathBuf>,
    skipped: Vec<(PathBuf, String)>,
}

impl ImageFolder {
    /// Reads every image under `root` (see the type's docs for the layout).
    pub fn open(root: impl AsRef<Path>, options: &ImageFolderOptions) -> Result<Self> {
        let root = root.as_ref();
        if options.size == 0 {
            return Err(Error::Invalid("image folder: size must be positive".into()));
        }
        if !root.is_dir() {
            return Err(Error::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        let subdirs = sorted_entries(root)?
            .into_iter()
            .filter(|p| p.is_dir())
            .collect::<Vec<_>>();
        let mut files: Vec<(PathBuf, Option<usize>)> = Vec::new();
        let mut classes = Vec::new();
        if subdirs.is_empty() {
            files.extend(image_files(root, false)?.into_iter().map(|p| (p, None)));
        } else {
            for (label, dir) in subdirs.iter().enumerate() {
                classes.push(dir.file_name().unwrap().to_string_lossy().into_owned());
                files.extend(
                    image_files(dir, true)?
                        .into_iter()
                        .map(|p| (p, Some(label))),
                );
            }
        }
        if files.is_empty() {
            return Err(Error::Invalid(format!(
                "image folder {} holds no image files ({})",
                root.display(),
                IMAGE_EXTENSIONS.join(", ")
            )));
        }

        let size = options.size;
        let decoded = decode_all(&files, size);
        let mut folder = ImageFolder {
            size: size as usize,
            images: Vec::new(),
            labels: Vec::new(),
            classes,
            paths: Vec::new(),
            skipped: Vec::new(),
        };
        for ((path, label), result) in files.into_iter().zip(decoded) {
            match result {
                Ok(pixels) => {
                    folder.images.extend_from_slice(&pixels);
                    folder.labels.extend(label);
                    folder.paths.push(path);
                }
                Err(reason) if options.skip_unreadable => folder.skipped.push((path, reason)),
                Err(reason) => return Err(Error::Image { path, reason }),
            }
        }
        Ok(folder)
    }

    /// Class names (sub-folder names), indexed by label; empty when unlabelled.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The file each image came from, in dataset order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Files that failed to decode and were skipped (with `skip_unreadable`), with the reason.
    pub fn skipped(&self) -> &[(PathBuf, String)] {
        &self.skipped
    }

    /// Whether the images carry labels.
    pub fn is_labelled(&self) -> bool {
        !self.classes.is_empty()
    }
}

impl ImageDataset for ImageFolder {
    fn len(&self) -> usize {
        self.paths.len()
    }

    fn shape(&self) -> [usize; 3] {
        [3, self.size, self.size]
    }

    fn pixels(&self, index: usize) -> &[u8] {
        let n = 3 * self.size * self.size;
        &self.images[index * n..(index + 1) * n]
    }

    fn target(&self, index: usize) -> Option<usize> {
        self.labels.get(index).copied()
    }

    fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect::<Result<Vec<_>>>()?;
    entries.retain(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    entries.sort();
    Ok(entries)
}

fn is_image_file(path: &Path) -> bool {
    path.is_file()
        && path.extension().is_some_and(|ext| {
            let ext = ext.to_string_lossy().to_ascii_lowercase();
            IMAGE_EXTENSIONS.contains(&ext.as_str())
        })
}

fn image_files(dir: &Path, recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            if recursive {
                out.extend(image_files(&path, true)?);
            }
        } else if is_image_file(&path) {
            out.push(path);
        }
    }
    Ok(out)
}

/// Decodes one file into RGB CHW bytes of `size × size`.
fn decode(path: &Path, size: u32) -> std::result::Result<Vec<u8>, String> {
    let img = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?
        .to_rgb8();
    let img = if img.dimensions() == (size, size) {
        img
    } else {
        image::imageops::resize(&img, size, size, FilterType::Triangle)
    };
    let plane = (size * size) as usize;
    let mut chw = vec![0u8; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            chw[c * plane + i] = px.0[c];
        }
    }
    Ok(chw)
}

/// Decodes all files on every core, keeping the input order.
fn decode_all(
    files: &[(PathBuf, Option<usize>)],
    size: u32,
) -> Vec<std::result::Result<Vec<u8>, String>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(p, _)| decode(p, size))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("decoder thread panicked"))
            .collect()
    })
}
