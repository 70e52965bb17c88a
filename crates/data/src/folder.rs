//! Users' own images: a folder of class sub-folders (labelled) or a flat folder (unlabelled),
//! each image kept at its own resolution.
//!
//! This is torchvision's `ImageFolder` with its default `pil_loader`: every file becomes an RGB
//! image (PIL's `convert("RGB")`: grey is copied to three channels, alpha is dropped) of its own
//! size, so that a random resized crop later samples from the original picture, as
//! `RandomResizedCrop` does. Unlike torchvision, the EXIF orientation of a photo is applied (a
//! portrait taken with a rotated camera comes out upright), and everything is decoded once, in
//! parallel, into memory.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};

/// File extensions read as images (case-insensitive); other files are ignored, like
/// torchvision's `IMG_EXTENSIONS`.
pub const IMAGE_EXTENSIONS: [&str; 12] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm", "tga", "qoi",
];

/// The default [`ImageFolderOptions::max_pixels`]: 178 956 970 pixels, the size above which PIL
/// refuses an image as a decompression bomb (twice its `Image.MAX_IMAGE_PIXELS`).
pub const DEFAULT_MAX_PIXELS: u64 = 2 * 89_478_485;

/// How to open an [`ImageFolder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Downscale large images on load. `None` (the default) keeps every image as it is;
    /// `Some(s)`: an image whose shorter side exceeds `s` is resized, aspect ratio kept and
    /// antialiased (a triangle filter widened by the shrink factor, as PIL's bilinear), so that
    /// its shorter side is `s` (the longer one becomes `⌊s · long / short⌋`, torchvision's
    /// `Resize(s)` rule). Smaller images are kept as they are. Everything is held in memory, so
    /// a large collection wants a cap (256 for training at 224, say).
    pub max_shorter_side: Option<u32>,
    /// The largest `width × height` accepted. A file declaring more (a decompression bomb, or
    /// just a huge scan) is refused before it is decoded, with an error naming it. Default
    /// [`DEFAULT_MAX_PIXELS`].
    pub max_pixels: u64,
    /// Skip files that cannot be read, decoded, or are over `max_pixels`, and symbolic link
    /// loops (a link to a folder that contains it, which would recurse forever), listing them
    /// in [`ImageFolder::skipped`] instead of failing. Default `false`: such a file or loop is
    /// an error naming it.
    pub skip_unreadable: bool,
    /// Decoding threads; 0 (the default) uses [`std::thread::available_parallelism`]. The result
    /// does not depend on it.
    pub threads: usize,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        Self {
            max_shorter_side: None,
            max_pixels: DEFAULT_MAX_PIXELS,
            skip_unreadable: false,
            threads: 0,
        }
    }
}

/// Images decoded from a directory into memory, each as RGB CHW `u8` of its own size.
///
/// - **Labelled**: when `root` has sub-directories, each one is a class (sorted by name, so
///   labels are stable, as in torchvision's `ImageFolder`); images are found recursively in them,
///   files directly in `root` are ignored. A class folder without any image file is an error.
/// - **Unlabelled**: when `root` has no sub-directory, every image file in it is read.
///
/// Names starting with `.` are ignored; files are read in sorted path order, which is the
/// dataset order whatever [`ImageFolderOptions::threads`] is. Symbolic links are followed, but
/// each folder is read once: a link to a folder that contains it (a loop, which would recurse
/// forever) is an [`Error::SymlinkLoop`], or a skip with
/// [`skip_unreadable`](ImageFolderOptions::skip_unreadable); a second path to a folder already
/// read is always skipped, so no image is read twice. Both are listed in
/// [`skipped`](ImageFolder::skipped); a class folder skipped that way is not a class.
///
/// Each image is decoded with its EXIF orientation applied, converted to 8-bit RGB (grey copied
/// to the three channels, alpha dropped, 16-bit samples scaled to 8 bits) and, with
/// [`max_shorter_side`](ImageFolderOptions::max_shorter_side), downscaled.
///
/// The images generally differ in size ([`ImageDataset::shape`] is per image): train through a
/// transform that crops them to one size, and evaluate through
/// [`CenterResized`](crate::CenterResized).
///
/// ```no_run
/// use selfsup_data::{ImageDataset, ImageFolder, ImageFolderOptions};
/// let options = ImageFolderOptions { max_shorter_side: Some(256), ..Default::default() };
/// let folder = ImageFolder::open("photos", &options)?;
/// println!("{} images, the first is {:?}", folder.len(), folder.shape(0));
/// # Ok::<(), selfsup_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImageFolder {
    images: Vec<Vec<u8>>,
    shapes: Vec<[usize; 3]>,
    labels: Vec<usize>,
    classes: Vec<String>,
    paths: Vec<PathBuf>,
    skipped: Vec<(PathBuf, String)>,
}

impl ImageFolder {
    /// Reads every image under `root` (see the type's docs for the layout).
    ///
    /// # Errors
    /// [`Error::NotADirectory`] for a missing `root`; [`Error::EmptyFolder`] for a `root` or a
    /// class folder without image files; [`Error::Invalid`] for a zero
    /// `max_shorter_side` or `max_pixels`; and, unless `skip_unreadable`, the first folder
    /// that is a symbolic link loop ([`Error::SymlinkLoop`]) or the error of the first
    /// file (in dataset order) that cannot be read ([`Error::Io`]), decoded ([`Error::Image`])
    /// or is too large ([`Error::ImageTooLarge`]).
    pub fn open(root: impl AsRef<Path>, options: &ImageFolderOptions) -> Result<Self> {
        let root = root.as_ref();
        if options.max_shorter_side == Some(0) {
            return Err(Error::Invalid(
                "image folder: max_shorter_side must be positive".into(),
            ));
        }
        if options.max_pixels == 0 {
            return Err(Error::Invalid(
                "image folder: max_pixels must be positive".into(),
            ));
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
        let mut walk = Walk::new(root, options.skip_unreadable)?;
        if subdirs.is_empty() {
            files.extend(flat_image_files(root)?.into_iter().map(|p| (p, None)));
            if files.is_empty() {
                return Err(Error::EmptyFolder {
                    path: root.to_path_buf(),
                });
            }
        } else {
            for dir in &subdirs {
                let Some(found) = walk.image_files(dir)? else {
                    continue; // a loop or a folder already read: skipped, not a class
                };
                if found.is_empty() {
                    return Err(Error::EmptyFolder { path: dir.clone() });
                }
                let label = classes.len();
                classes.push(dir.file_name().unwrap().to_string_lossy().into_owned());
                files.extend(found.into_iter().map(|p| (p, Some(label))));
            }
            if classes.is_empty() {
                return Err(Error::EmptyFolder {
                    path: root.to_path_buf(),
                });
            }
        }

        let decoded = decode_all(&files, options);
        let mut folder = ImageFolder {
            images: Vec::with_capacity(files.len()),
            shapes: Vec::with_capacity(files.len()),
            labels: Vec::new(),
            classes,
            paths: Vec::with_capacity(files.len()),
            skipped: walk.skipped,
        };
        for ((path, label), result) in files.into_iter().zip(decoded) {
            match result {
                Some(Ok((pixels, shape))) => {
                    folder.images.push(pixels);
                    folder.shapes.push(shape);
                    folder.labels.extend(label);
                    folder.paths.push(path);
                }
                Some(Err(err)) if options.skip_unreadable => {
                    folder.skipped.push((path, err.to_string()));
                }
                Some(Err(err)) => return Err(err),
                // Not decoded: an earlier file failed and stopped the work.
                None => unreachable!("files after a failure are never reached"),
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

    /// What was left out, with the reason: folders reached a second time through symbolic
    /// links (always), then symbolic link loops and files that could not be loaded (with
    /// [`skip_unreadable`](ImageFolderOptions::skip_unreadable)), folders first, then files in
    /// dataset order.
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

    fn shape(&self, index: usize) -> [usize; 3] {
        self.shapes[index]
    }

    fn pixels(&self, index: usize) -> &[u8] {
        &self.images[index]
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

/// The image files directly in `dir` (a flat, unlabelled folder: sub-folders are not read).
fn flat_image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in sorted_entries(dir)? {
        if !path.is_dir() && is_image_file(&path) {
            out.push(path);
        }
    }
    Ok(out)
}

fn canonical(dir: &Path) -> Result<PathBuf> {
    fs::canonicalize(dir).map_err(|e| Error::io(dir, e))
}

/// A recursive listing that follows symbolic links but enters each folder (by canonical path)
/// once, so a link to an ancestor cannot recurse forever and a folder linked twice is not read
/// twice.
struct Walk {
    /// Canonical path of each folder entered, and the path it was first entered by.
    visited: HashMap<PathBuf, PathBuf>,
    /// Canonical paths of the folders being listed, outermost first.
    ancestors: Vec<PathBuf>,
    skip_loops: bool,
    skipped: Vec<(PathBuf, String)>,
}

impl Walk {
    fn new(root: &Path, skip_loops: bool) -> Result<Self> {
        let root_canonical = canonical(root)?;
        Ok(Self {
            visited: HashMap::from([(root_canonical.clone(), root.to_path_buf())]),
            ancestors: vec![root_canonical],
            skip_loops,
            skipped: Vec::new(),
        })
    }

    /// The image files under `dir`, recursively, in sorted path order; `None` when `dir` is
    /// skipped: a loop (with `skip_loops`) or a folder already read through another path.
    fn image_files(&mut self, dir: &Path) -> Result<Option<Vec<PathBuf>>> {
        let target = canonical(dir)?;
        if self.ancestors.contains(&target) {
            let err = Error::SymlinkLoop {
                path: dir.to_path_buf(),
                target,
            };
            if !self.skip_loops {
                return Err(err);
            }
            self.skipped.push((dir.to_path_buf(), err.to_string()));
            return Ok(None);
        }
        if let Some(first) = self.visited.get(&target) {
            let reason = format!(
                "{} leads to {}, already read as {}",
                dir.display(),
                target.display(),
                first.display()
            );
            self.skipped.push((dir.to_path_buf(), reason));
            return Ok(None);
        }
        self.visited.insert(target.clone(), dir.to_path_buf());
        self.ancestors.push(target);
        let mut out = Vec::new();
        for path in sorted_entries(dir)? {
            if path.is_dir() {
                out.extend(self.image_files(&path)?.unwrap_or_default());
            } else if is_image_file(&path) {
                out.push(path);
            }
        }
        self.ancestors.pop();
        Ok(Some(out))
    }
}

/// One decoded image: CHW bytes and `[3, height, width]`.
type Decoded = (Vec<u8>, [usize; 3]);

/// Decodes one file into RGB CHW bytes (see [`ImageFolder`] for the conversions).
fn decode(path: &Path, options: &ImageFolderOptions) -> Result<Decoded> {
    let image_err = |e: image::ImageError| Error::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut reader = ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    // The decoders' own allocation cap (512 MiB by default) must not refuse what `max_pixels`
    // allows: up to 4 channels of 16 bits.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(
        options
            .max_pixels
            .saturating_mul(8)
            .max(limits.max_alloc.unwrap_or(0)),
    );
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(image_err)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::Image {
            path: path.to_path_buf(),
            reason: format!("the image is {width}×{height}: it has no pixels"),
        });
    }
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(Error::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_pixels: options.max_pixels,
        });
    }
    // A malformed EXIF block is no reason to lose the picture: keep it as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(image_err)?;
    img.apply_orientation(orientation);
    let rgb = cap_shorter_side(img.into_rgb8(), options.max_shorter_side);
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    Ok((hwc_to_chw(&rgb), [3, h, w]))
}

/// [`decode`], with a panic inside a decoder (a bug of the image crate on a malformed file)
/// turned into an [`Error::Image`] naming the file, so one bad file cannot bring the whole
/// folder down, and is skipped like any undecodable file with `skip_unreadable`.
fn decode_guarded(path: &Path, options: &ImageFolderOptions) -> Result<Decoded> {
    std::panic::catch_unwind(|| decode(path, options)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Image {
            path: path.to_path_buf(),
            reason: format!("the decoder panicked: {message}"),
        })
    })
}

/// Downscales `img` so that its shorter side is `cap`, when it is longer (see
/// [`ImageFolderOptions::max_shorter_side`]).
fn cap_shorter_side(img: RgbImage, cap: Option<u32>) -> RgbImage {
    let (w, h) = img.dimensions();
    let (short, long) = (w.min(h), w.max(h));
    match cap {
        Some(cap) if short > cap => {
            let new_long = ((u64::from(cap) * u64::from(long) / u64::from(short)) as u32).max(1);
            let (nw, nh) = if w <= h {
                (cap, new_long)
            } else {
                (new_long, cap)
            };
            image::imageops::resize(&img, nw, nh, FilterType::Triangle)
        }
        _ => img,
    }
}

fn hwc_to_chw(img: &RgbImage) -> Vec<u8> {
    let plane = img.width() as usize * img.height() as usize;
    let mut chw = vec![0u8; 3 * plane];
    let (r, rest) = chw.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
        r[i] = px[0];
        g[i] = px[1];
        b[i] = px[2];
    }
    chw
}

/// Decodes the files on `options.threads` threads, results in the input order.
///
/// Threads take the next file from a shared counter. Unless failures are skipped, the first
/// failure stops every thread from starting files past it, so all files before it are decoded
/// and it is the first failure in order: the outcome does not depend on the scheduling. Entries
/// past that failure are `None`.
fn decode_all(
    files: &[(PathBuf, Option<usize>)],
    options: &ImageFolderOptions,
) -> Vec<Option<Result<Decoded>>> {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(files.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let mut results: Vec<Option<Result<Decoded>>> = Vec::new();
    results.resize_with(files.len(), || None);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= files.len() || i > first_failure.load(Ordering::Relaxed) {
                            return done;
                        }
                        let result = decode_guarded(&files[i].0, options);
                        if result.is_err() && !options.skip_unreadable {
                            first_failure.fetch_min(i, Ordering::Relaxed);
                        }
                        done.push((i, result));
                    }
                })
            })
            .collect();
        for handle in handles {
            for (i, result) in handle.join().expect("image decoding thread panicked") {
                results[i] = Some(result);
            }
        }
    });
    results
}
