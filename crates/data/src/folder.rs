//! Users' own images: a folder of class sub-folders (labelled) or a flat folder (unlabelled),
//! each image kept at its own resolution.
//!
//! This is torchvision's `ImageFolder` with its default `pil_loader`: every file becomes an RGB
//! image (PIL's `convert("RGB")`: grey is copied to three channels, alpha is dropped) of its own
//! size, so that a random resized crop later samples from the original picture, as
//! `RandomResizedCrop` does. Unlike torchvision, the EXIF orientation of a photo is applied (a
//! portrait taken with a rotated camera comes out upright).
//!
//! Opening a folder *indexes* it: the file list and every image's size, read from its header in
//! parallel (a few kilobytes per file), so that broken, cut-short or over-size files are found
//! before training starts. The pixels are then either decoded once into memory or, for folders
//! too large for that, decoded from disk each time the loader asks for them ([`Storage`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::header::read_header;

/// File extensions read as images (case-insensitive); other files are ignored, like
/// torchvision's `IMG_EXTENSIONS`.
pub const IMAGE_EXTENSIONS: [&str; 12] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm", "tga", "qoi",
];

/// The default [`ImageFolderOptions::max_pixels`]: 178 956 970 pixels, the size above which PIL
/// refuses an image as a decompression bomb (twice its `Image.MAX_IMAGE_PIXELS`).
pub const DEFAULT_MAX_PIXELS: u64 = 2 * 89_478_485;

/// The default [`ImageFolderOptions::memory_limit`]: 1 GiB of decoded pixels.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

/// Where an [`ImageFolder`]'s pixels live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Every image decoded once, when the folder is opened, and held in memory: the fastest
    /// epochs, at `3 × width × height` bytes per image (a 500 × 375 photograph takes 563 kB, so
    /// 5 000 of them take 2.8 GB).
    Memory,
    /// Images decoded from disk each time they are asked for, by the loader's workers: memory
    /// does not grow with the number of images (the index holds a path and a size per image),
    /// and every epoch decodes every image again.
    Stream,
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Storage::Memory => "in memory",
            Storage::Stream => "streamed from disk",
        })
    }
}

/// How an [`ImageFolder`] chooses its [`Storage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageChoice {
    /// In memory when the decoded images fit in
    /// [`memory_limit`](ImageFolderOptions::memory_limit), streamed otherwise (the default).
    #[default]
    Auto,
    /// Always in memory.
    Memory,
    /// Always streamed.
    Stream,
}

/// How to open an [`ImageFolder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Downscale large images on load. `None` (the default) keeps every image as it is;
    /// `Some(s)`: an image whose shorter side exceeds `s` is resized, aspect ratio kept and
    /// antialiased (a triangle filter widened by the shrink factor, as PIL's bilinear), so that
    /// its shorter side is `s` (the longer one becomes `⌊s · long / short⌋`, torchvision's
    /// `Resize(s)` rule). Smaller images are kept as they are.
    pub max_shorter_side: Option<u32>,
    /// The largest `width × height` accepted. A file declaring more (a decompression bomb, or
    /// just a huge scan) is refused when the folder is indexed, with an error naming it.
    /// Default [`DEFAULT_MAX_PIXELS`].
    pub max_pixels: u64,
    /// Skip files that cannot be read, decoded, or are over `max_pixels`, and symbolic link
    /// loops (a link to a folder that contains it, which would recurse forever), listing them
    /// in [`ImageFolder::skipped`] instead of failing. Default `false`: such a file or loop is
    /// an error naming it. A streamed file that fails later, when the loader decodes it, is
    /// handled by the loader's own setting
    /// ([`LoaderConfig::skip_unreadable`](crate::LoaderConfig::skip_unreadable)).
    pub skip_unreadable: bool,
    /// Indexing and decoding threads; 0 (the default) uses
    /// [`std::thread::available_parallelism`]. The result does not depend on it.
    pub threads: usize,
    /// In memory or streamed; default [`StorageChoice::Auto`].
    pub storage: StorageChoice,
    /// The decoded size (`Σ 3 × width × height` bytes, after `max_shorter_side`) up to which
    /// [`StorageChoice::Auto`] holds the images in memory. Default [`DEFAULT_MEMORY_LIMIT`].
    pub memory_limit: u64,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        Self {
            max_shorter_side: None,
            max_pixels: DEFAULT_MAX_PIXELS,
            skip_unreadable: false,
            threads: 0,
            storage: StorageChoice::Auto,
            memory_limit: DEFAULT_MEMORY_LIMIT,
        }
    }
}

/// The images of a directory, each as RGB CHW `u8` of its own size, in memory or streamed from
/// disk ([`Storage`]).
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
/// Opening reads every file's header (its size and EXIF orientation) on
/// [`threads`](ImageFolderOptions::threads) threads: a file that is not an image, is cut short
/// in its header or is over [`max_pixels`](ImageFolderOptions::max_pixels) is found then. Each
/// image is decoded with its EXIF orientation applied, converted to 8-bit RGB (grey copied to
/// the three channels, alpha dropped, 16-bit samples scaled to 8 bits) and, with
/// [`max_shorter_side`](ImageFolderOptions::max_shorter_side), downscaled; in memory and
/// streamed, the pixels are the same. A streamed image whose file has changed since it was
/// indexed (another size) is an error naming it.
///
/// The images generally differ in size ([`ImageDataset::shape`] is per image): train through a
/// transform that crops them to one size, and evaluate through
/// [`CenterResized`](crate::CenterResized).
///
/// ```no_run
/// use selfsup_data::{ImageDataset, ImageFolder, ImageFolderOptions};
/// let options = ImageFolderOptions { max_shorter_side: Some(256), ..Default::default() };
/// let folder = ImageFolder::open("photos", &options)?;
/// println!("{} images ({}), the first is {:?}", folder.len(), folder.storage(), folder.shape(0));
/// # Ok::<(), selfsup_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// The decoded images, with [`Storage::Memory`].
    images: Option<Vec<Vec<u8>>>,
    shapes: Vec<[usize; 3]>,
    labels: Vec<usize>,
    classes: Vec<String>,
    paths: Vec<PathBuf>,
    skipped: Vec<(PathBuf, String)>,
    options: ImageFolderOptions,
}

impl ImageFolder {
    /// Indexes every image under `root` (see the type's docs for the layout), and decodes them
    /// into memory when [`storage`](ImageFolderOptions::storage) says so.
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
        check_options(options)?;
        if !root.is_dir() {
            return Err(Error::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        let subdirs = sorted_entries(root)?
            .into_iter()
            .filter(|(_, kind)| *kind == Kind::Dir)
            .map(|(path, _)| path)
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
        Self::build(files, classes, walk.skipped, options)
    }

    /// A dataset of the given files, in the given order, indexed and stored as
    /// [`open`](Self::open) does: the way to read a layout of your own (a file list, the
    /// ImageNet readers' validation folder). `files` pairs each path with its label, an index
    /// into `classes`; pass no labels and no classes for unlabelled images.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `files` is empty, mixes labelled and unlabelled files, or a label
    /// is not below `classes.len()`; otherwise as [`open`](Self::open).
    pub fn from_files(
        files: Vec<(PathBuf, Option<usize>)>,
        classes: Vec<String>,
        options: &ImageFolderOptions,
    ) -> Result<Self> {
        check_options(options)?;
        if files.is_empty() {
            return Err(Error::Invalid("image folder: no files".into()));
        }
        let labelled = files[0].1.is_some();
        if let Some((path, _)) = files.iter().find(|(_, l)| l.is_some() != labelled) {
            return Err(Error::Invalid(format!(
                "image folder: {} is {}labelled, but {} is {}",
                path.display(),
                if labelled { "not " } else { "" },
                files[0].0.display(),
                if labelled { "labelled" } else { "not" },
            )));
        }
        if let Some((path, Some(label))) = files
            .iter()
            .find(|(_, l)| l.is_some_and(|l| l >= classes.len()))
        {
            return Err(Error::Invalid(format!(
                "image folder: {} has label {label}, but there are {} classes",
                path.display(),
                classes.len()
            )));
        }
        Self::build(files, classes, Vec::new(), options)
    }

    /// Indexes `files`, then decodes them into memory if the storage choice says so.
    fn build(
        files: Vec<(PathBuf, Option<usize>)>,
        classes: Vec<String>,
        skipped: Vec<(PathBuf, String)>,
        options: &ImageFolderOptions,
    ) -> Result<Self> {
        let indexed = parallel_map_files(&files, options, |(path, _)| index(path, options));
        let mut folder = ImageFolder {
            images: None,
            shapes: Vec::with_capacity(files.len()),
            labels: Vec::new(),
            classes,
            paths: Vec::with_capacity(files.len()),
            skipped,
            options: options.clone(),
        };
        for ((path, label), result) in files.into_iter().zip(indexed) {
            match result {
                Some(Ok(shape)) => {
                    folder.shapes.push(shape);
                    folder.labels.extend(label);
                    folder.paths.push(path);
                }
                Some(Err(err)) if options.skip_unreadable => {
                    folder.skipped.push((path, err.to_string()));
                }
                Some(Err(err)) => return Err(err),
                // Not indexed: an earlier file failed and stopped the work.
                None => unreachable!("files after a failure are never reached"),
            }
        }
        let memory = match options.storage {
            StorageChoice::Memory => true,
            StorageChoice::Stream => false,
            StorageChoice::Auto => folder.decoded_bytes() <= options.memory_limit,
        };
        if memory {
            folder.decode_into_memory()?;
        }
        Ok(folder)
    }

    /// Decodes every indexed image into memory (a file that fails is an error, or skipped).
    fn decode_into_memory(&mut self) -> Result<()> {
        let options = &self.options;
        let shapes = &self.shapes;
        let jobs: Vec<(usize, &PathBuf)> = self.paths.iter().enumerate().collect();
        let decoded = parallel_map_files(&jobs, options, |&(i, path)| {
            decode_checked(path, shapes[i], options)
        });
        let mut images = Vec::with_capacity(self.paths.len());
        let mut kept = Vec::with_capacity(self.paths.len());
        for (i, result) in decoded.into_iter().enumerate() {
            match result {
                Some(Ok(pixels)) => {
                    images.push(pixels);
                    kept.push(i);
                }
                Some(Err(err)) if options.skip_unreadable => {
                    self.skipped.push((self.paths[i].clone(), err.to_string()));
                }
                Some(Err(err)) => return Err(err),
                None => unreachable!("files after a failure are never reached"),
            }
        }
        if kept.len() < self.paths.len() {
            let labelled = self.is_labelled();
            self.paths = kept.iter().map(|&i| self.paths[i].clone()).collect();
            self.shapes = kept.iter().map(|&i| self.shapes[i]).collect();
            if labelled {
                self.labels = kept.iter().map(|&i| self.labels[i]).collect();
            }
        }
        self.images = Some(images);
        Ok(())
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
    /// dataset order (those found when indexing, then those found when decoding into memory).
    pub fn skipped(&self) -> &[(PathBuf, String)] {
        &self.skipped
    }

    /// Whether the images carry labels.
    pub fn is_labelled(&self) -> bool {
        !self.classes.is_empty()
    }

    /// Where the pixels live: decoded in memory, or streamed from disk.
    pub fn storage(&self) -> Storage {
        if self.images.is_some() {
            Storage::Memory
        } else {
            Storage::Stream
        }
    }

    /// `Σ 3 × width × height`: the bytes the decoded images take (or would take) in memory.
    pub fn decoded_bytes(&self) -> u64 {
        self.shapes
            .iter()
            .map(|s| (s[0] * s[1] * s[2]) as u64)
            .sum()
    }
}

impl ImageDataset for ImageFolder {
    fn len(&self) -> usize {
        self.paths.len()
    }

    fn shape(&self, index: usize) -> [usize; 3] {
        self.shapes[index]
    }

    fn pixels(&self, index: usize) -> Result<Cow<'_, [u8]>> {
        match &self.images {
            Some(images) => Ok(Cow::Borrowed(&images[index])),
            None => decode_checked(&self.paths[index], self.shapes[index], &self.options)
                .map(Cow::Owned),
        }
    }

    fn target(&self, index: usize) -> Option<usize> {
        self.labels.get(index).copied()
    }

    fn num_classes(&self) -> usize {
        self.classes.len()
    }

    fn source(&self, index: usize) -> Option<&Path> {
        Some(&self.paths[index])
    }
}

fn check_options(options: &ImageFolderOptions) -> Result<()> {
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
    Ok(())
}

/// The `[3, height, width]` an image file will decode to, from its header: upright (EXIF
/// orientation), capped by `max_shorter_side`; refused when empty or over `max_pixels`.
fn index(path: &Path, options: &ImageFolderOptions) -> Result<[usize; 3]> {
    let header = guarded(path, || read_header(path))?;
    check_size(path, header.width, header.height, options)?;
    let (w, h) = header.upright();
    let (w, h) = capped_size(w, h, options.max_shorter_side);
    Ok([3, h as usize, w as usize])
}

/// Refuses an image of no pixels, or of more than `options.max_pixels`.
fn check_size(path: &Path, width: u32, height: u32, options: &ImageFolderOptions) -> Result<()> {
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
    Ok(())
}

/// [`decode_guarded`], checked against the shape the header promised.
fn decode_checked(path: &Path, shape: [usize; 3], options: &ImageFolderOptions) -> Result<Vec<u8>> {
    let (pixels, decoded) = decode_guarded(path, options)?;
    if decoded != shape {
        return Err(Error::Image {
            path: path.to_path_buf(),
            reason: format!(
                "it decodes to {}×{} pixels, but its header said {}×{} when the folder was \
                 indexed (was the file changed?)",
                decoded[2], decoded[1], shape[2], shape[1]
            ),
        });
    }
    Ok(pixels)
}

/// What a directory entry is, symbolic links followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Other,
}

/// The entries of `dir` not starting with `.`, sorted, each with its [`Kind`]. The kind comes
/// from the directory listing itself (no `stat` per file, which matters for a million files);
/// only symbolic links are resolved.
fn sorted_entries(dir: &Path) -> Result<Vec<(PathBuf, Kind)>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let mut file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if file_type.is_symlink() {
            match fs::metadata(&path) {
                Ok(meta) => file_type = meta.file_type(),
                Err(_) => {
                    entries.push((path, Kind::Other)); // a dangling link
                    continue;
                }
            }
        }
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        entries.push((path, kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// Whether `path`, a regular file, has one of the [`IMAGE_EXTENSIONS`].
fn is_image_file(path: &Path, kind: Kind) -> bool {
    kind == Kind::File
        && path.extension().is_some_and(|ext| {
            let ext = ext.to_string_lossy().to_ascii_lowercase();
            IMAGE_EXTENSIONS.contains(&ext.as_str())
        })
}

/// The image files directly in `dir` (a flat, unlabelled folder: sub-folders are not read).
fn flat_image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (path, kind) in sorted_entries(dir)? {
        if is_image_file(&path, kind) {
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
        for (path, kind) in sorted_entries(dir)? {
            if kind == Kind::Dir {
                out.extend(self.image_files(&path)?.unwrap_or_default());
            } else if is_image_file(&path, kind) {
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
    check_size(path, width, height, options)?;
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
    guarded(path, || decode(path, options))
}

/// `f()`, with a panic turned into an [`Error::Image`] naming `path` (see [`decode_guarded`]).
fn guarded<R>(path: &Path, f: impl FnOnce() -> Result<R>) -> Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
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

/// `(width, height)` after [`ImageFolderOptions::max_shorter_side`]: the shorter side brought
/// down to `cap` when it is longer, the longer one to `⌊cap · long / short⌋` (at least 1).
fn capped_size(w: u32, h: u32, cap: Option<u32>) -> (u32, u32) {
    let (short, long) = (w.min(h), w.max(h));
    match cap {
        Some(cap) if short > cap => {
            let new_long = ((u64::from(cap) * u64::from(long) / u64::from(short)) as u32).max(1);
            if w <= h {
                (cap, new_long)
            } else {
                (new_long, cap)
            }
        }
        _ => (w, h),
    }
}

/// Downscales `img` so that its shorter side is `cap`, when it is longer (see
/// [`ImageFolderOptions::max_shorter_side`]).
fn cap_shorter_side(img: RgbImage, cap: Option<u32>) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = capped_size(w, h, cap);
    if (nw, nh) == (w, h) {
        img
    } else {
        image::imageops::resize(&img, nw, nh, FilterType::Triangle)
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

/// `f` of every item on `options.threads` threads, results in the input order; unless
/// `options.skip_unreadable`, the first failure stops the work (see [`parallel_map`]).
fn parallel_map_files<T: Sync, R: Send>(
    items: &[T],
    options: &ImageFolderOptions,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Option<Result<R>>> {
    parallel_map(items, options.threads, !options.skip_unreadable, f)
}

/// `f` of every item on `threads` threads (0: one per core), results in the input order.
///
/// Threads take the next item from a shared counter. With `stop_at_failure`, the first failure
/// stops every thread from starting items past it, so all items before it are done and it is
/// the first failure in order: the outcome does not depend on the scheduling. Entries past that
/// failure are `None`.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    stop_at_failure: bool,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Option<Result<R>>> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(items.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let mut results: Vec<Option<Result<R>>> = Vec::new();
    results.resize_with(items.len(), || None);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= items.len() || i > first_failure.load(Ordering::Relaxed) {
                            return done;
                        }
                        let result = f(&items[i]);
                        if result.is_err() && stop_at_failure {
                            first_failure.fetch_min(i, Ordering::Relaxed);
                        }
                        done.push((i, result));
                    }
                })
            })
            .collect();
        for handle in handles {
            for (i, result) in handle.join().expect("image folder thread panicked") {
                results[i] = Some(result);
            }
        }
    });
    results
}
