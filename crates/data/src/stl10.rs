//! A strict reader for the STL-10 *binary* version (`stl10_binary/`).
//!
//! STL-10 (Coates, Ng and Lee, "An Analysis of Single-Layer Networks in Unsupervised Feature
//! Learning", AISTATS 2011) has 96×96 colour images in ten classes: 5 000 labelled training
//! images, 8 000 test images and 100 000 unlabelled ones, made for unsupervised and
//! self-supervised learning.
//!
//! An image file (`train_X.bin`, `test_X.bin`, `unlabeled_X.bin`) is a sequence of 27 648-byte
//! records, each three 96×96 planes (red, green, blue) stored **column-major** (the format was
//! written from MATLAB); the reader transposes them to row-major CHW, as torchvision's
//! `np.transpose(images, (0, 1, 3, 2))`. A label file (`train_y.bin`, `test_y.bin`) holds one
//! byte per image, `1..=10` on disk, returned as `0..=9`.
//!
//! The reader checks what it can: each file must exist and be a regular file, an image file's
//! length must be a whole number of records, every label must be in `1..=10`, image and label
//! files must agree in length, and (by default) each file must hold the official number of
//! records. The lengths are checked from the files' sizes before anything is allocated or
//! read, so a wrong file is refused at once however large it is. Any violation is an [`Error`]
//! naming the file and, for a label, the record.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::dataset::{ImageDataset, Part};
use crate::download::{Archive, download_archive};
use crate::error::{Error, Result};
use crate::files::{file_len, read_file};
use crate::transforms::Normalize;

/// Side length of an STL-10 image.
pub const STL10_SIDE: usize = 96;
/// Bytes of one STL-10 image record (3 × 96 × 96).
pub const STL10_IMAGE_BYTES: usize = 3 * STL10_SIDE * STL10_SIDE;
/// The directory the official tarball unpacks to.
pub const STL10_DIR_NAME: &str = "stl10_binary";
/// The official STL-10 binary tarball (2.6 GB), as torchvision's `STL10` fetches it.
pub const STL10_URL: &str = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz";
/// MD5 of [`STL10_URL`]'s tarball (torchvision's `STL10.tgz_md5`).
pub const STL10_TARBALL_MD5: &str = "91f7769df0f17e558f3565bffb0c7dfb";

impl Archive<'static> {
    /// The official STL-10 binary version (see [`Stl10`]).
    pub const STL10: Archive<'static> = Archive {
        url: STL10_URL,
        md5: STL10_TARBALL_MD5,
        dir_name: STL10_DIR_NAME,
    };
}

/// Downloads STL-10 (2.6 GB) into `cache_dir` unless it is already there; returns the path of
/// `cache_dir/stl10_binary`.
pub fn download_stl10(cache_dir: impl AsRef<Path>) -> Result<PathBuf> {
    download_archive(&Archive::STL10, cache_dir.as_ref())
}

/// The STL-10 class names, in label order (the official `class_names.txt`).
pub const STL10_CLASSES: [&str; 10] = [
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
];
/// Number of labelled training images.
pub const STL10_TRAIN_LEN: usize = 5_000;
/// Number of test images.
pub const STL10_TEST_LEN: usize = 8_000;
/// Number of unlabelled images.
pub const STL10_UNLABELED_LEN: usize = 100_000;

/// Which part of STL-10 to read (torchvision's `split` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stl10Split {
    /// `train`: the 5 000 labelled training images.
    Train,
    /// `test`: the 8 000 labelled test images.
    Test,
    /// `unlabeled`: the 100 000 unlabelled images (targets `None`).
    Unlabeled,
    /// `train+unlabeled`: the 5 000 labelled training images, then the 100 000 unlabelled ones
    /// (the usual self-supervised pre-training set).
    TrainUnlabeled,
}

impl Stl10Split {
    /// The split that serves `part`: pre-training on the unlabelled and labelled training images
    /// ([`TrainUnlabeled`](Self::TrainUnlabeled)), the evaluations on
    /// [`Train`](Self::Train) and [`Test`](Self::Test).
    pub const fn for_part(part: Part) -> Self {
        match part {
            Part::Pretrain => Stl10Split::TrainUnlabeled,
            Part::Train => Stl10Split::Train,
            Part::Test => Stl10Split::Test,
        }
    }

    /// torchvision's name of the split (`"train"`, `"test"`, `"unlabeled"`,
    /// `"train+unlabeled"`).
    pub const fn name(self) -> &'static str {
        match self {
            Stl10Split::Train => "train",
            Stl10Split::Test => "test",
            Stl10Split::Unlabeled => "unlabeled",
            Stl10Split::TrainUnlabeled => "train+unlabeled",
        }
    }

    /// The `(images, labels)` file pairs of the split, in order, with their official record
    /// counts; unlabelled parts have no label file.
    fn parts(self) -> &'static [(&'static str, Option<&'static str>, usize)] {
        const TRAIN: (&str, Option<&str>, usize) =
            ("train_X.bin", Some("train_y.bin"), STL10_TRAIN_LEN);
        const TEST: (&str, Option<&str>, usize) =
            ("test_X.bin", Some("test_y.bin"), STL10_TEST_LEN);
        const UNLABELED: (&str, Option<&str>, usize) =
            ("unlabeled_X.bin", None, STL10_UNLABELED_LEN);
        match self {
            Stl10Split::Train => &[TRAIN],
            Stl10Split::Test => &[TEST],
            Stl10Split::Unlabeled => &[UNLABELED],
            Stl10Split::TrainUnlabeled => &[TRAIN, UNLABELED],
        }
    }
}

impl std::str::FromStr for Stl10Split {
    type Err = Error;

    /// Parses torchvision's split names.
    fn from_str(s: &str) -> Result<Self> {
        [
            Stl10Split::Train,
            Stl10Split::Test,
            Stl10Split::Unlabeled,
            Stl10Split::TrainUnlabeled,
        ]
        .into_iter()
        .find(|split| split.name() == s)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "unknown STL-10 split `{s}` (expected train, test, unlabeled or train+unlabeled)"
            ))
        })
    }
}

/// How strictly to open [`Stl10`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stl10Options {
    /// Require each file to hold the official number of records ([`STL10_TRAIN_LEN`],
    /// [`STL10_TEST_LEN`], [`STL10_UNLABELED_LEN`]), so that a truncated download is caught
    /// even when it ends on a record boundary. Default `true`; `false` accepts any whole
    /// number of records (small synthetic files in tests, a trimmed copy), still checking that
    /// image and label files agree.
    pub check_official_counts: bool,
    /// Keep only the labelled training images of one of the ten official folds (0..=9) of
    /// `fold_indices.txt`, each of 1 000 images: the standard STL-10 evaluation protocol
    /// (torchvision's `folds`). Only for [`Stl10Split::Train`] and
    /// [`Stl10Split::TrainUnlabeled`] (whose unlabelled images are all kept). Default `None`:
    /// all of them.
    pub fold: Option<usize>,
}

impl Default for Stl10Options {
    fn default() -> Self {
        Self {
            check_official_counts: true,
            fold: None,
        }
    }
}

/// An STL-10 split held in memory as CHW `u8` (the unlabelled part is 2.8 GB).
///
/// Labelled images come first; [`ImageDataset::target`] is `None` for the unlabelled ones.
///
/// ```no_run
/// use selfsup_data::{ImageDataset, Stl10, Stl10Split};
/// let train = Stl10::open("data/stl10_binary", Stl10Split::Train)?;
/// assert_eq!(train.len(), 5_000);
/// assert_eq!(train.shape(0), [3, 96, 96]);
/// println!("first image is a {}", train.classes()[train.target(0).unwrap()]);
/// # Ok::<(), selfsup_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stl10 {
    split: Stl10Split,
    images: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl Stl10 {
    /// The side of the images, [`STL10_SIDE`]: the default size of the training views and of
    /// the evaluation images.
    pub const IMAGE_SIZE: usize = STL10_SIDE;

    /// The official binary archive, [`Archive::STL10`].
    pub const ARCHIVE: Archive<'static> = Archive::STL10;

    /// The normalisation of the views and evaluation images: ImageNet's channel statistics,
    /// [`Normalize::imagenet`].
    pub fn normalize() -> Normalize {
        Normalize::imagenet()
    }

    /// Opens `split` from an `stl10_binary` directory, checking the official record counts.
    pub fn open(dir: impl AsRef<Path>, split: Stl10Split) -> Result<Self> {
        Self::open_with(dir, split, &Stl10Options::default())
    }

    /// Opens `split` from an `stl10_binary` directory with `options`.
    ///
    /// Class names come from `class_names.txt` when it is there (it must then hold ten names),
    /// otherwise from [`STL10_CLASSES`].
    ///
    /// # Errors
    /// [`Error::NotADirectory`], [`Error::MissingFile`] / [`Error::NotAFile`],
    /// [`Error::TruncatedFile`] (an image file that is not a whole number of records),
    /// [`Error::RecordCount`] (not the official count, when checked), [`Error::CountMismatch`]
    /// (images and labels disagree), [`Error::LabelOutOfRange`] (naming the record),
    /// [`Error::BadClassNames`], and [`Error::Invalid`] for a bad fold.
    pub fn open_with(
        dir: impl AsRef<Path>,
        split: Stl10Split,
        options: &Stl10Options,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        if let Some(fold) = options.fold {
            if !matches!(split, Stl10Split::Train | Stl10Split::TrainUnlabeled) {
                return Err(Error::Invalid(format!(
                    "STL-10: folds select training images, the {} split has none",
                    split.name()
                )));
            }
            if fold >= 10 {
                return Err(Error::Invalid(format!(
                    "STL-10: fold {fold} does not exist (folds are 0..=9)"
                )));
            }
        }
        // Every file's size is checked (from its metadata) before anything is allocated or
        // read: a wrong file is refused at once, however large it is.
        let mut lens = Vec::with_capacity(split.parts().len());
        for &(image_file, label_file, official) in split.parts() {
            let image_path = dir.join(image_file);
            let len = file_len(&image_path)?;
            let count = check_records(&image_path, len)?;
            if options.check_official_counts && count != official {
                return Err(Error::RecordCount {
                    path: image_path,
                    expected: official,
                    found: count,
                });
            }
            lens.push(len);
            let Some(label_file) = label_file else {
                continue;
            };
            // One byte per label.
            let label_path = dir.join(label_file);
            let num_labels = usize::try_from(file_len(&label_path)?).unwrap_or(usize::MAX);
            if options.check_official_counts && num_labels != official {
                return Err(Error::RecordCount {
                    path: label_path,
                    expected: official,
                    found: num_labels,
                });
            }
            if num_labels != count {
                return Err(Error::CountMismatch {
                    images: image_path,
                    num_images: count,
                    labels: label_path,
                    num_labels,
                });
            }
        }
        // The whole split at once: `train+unlabeled` is read without a second copy.
        let total: u64 = lens.iter().sum();
        let mut images = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        let mut labels = Vec::new();
        for (&(image_file, label_file, _), &len) in split.parts().iter().zip(&lens) {
            let image_path = dir.join(image_file);
            let start = images.len();
            append_file(&image_path, len, &mut images)?;
            transpose_planes(&mut images[start..]);
            if let Some(label_file) = label_file {
                let label_path = dir.join(label_file);
                let part_labels = parse_stl10_labels(&read_file(&label_path)?, &label_path)?;
                let count = (images.len() - start) / STL10_IMAGE_BYTES;
                if part_labels.len() != count {
                    // The file changed since its size was checked.
                    return Err(Error::CountMismatch {
                        images: image_path,
                        num_images: count,
                        labels: label_path,
                        num_labels: part_labels.len(),
                    });
                }
                labels.extend_from_slice(&part_labels);
            }
        }
        if let Some(fold) = options.fold {
            let keep = read_fold(&dir.join("fold_indices.txt"), fold, labels.len())?;
            let labelled = labels.len();
            let unlabelled = images.len() / STL10_IMAGE_BYTES - labelled;
            let mut kept_images = Vec::with_capacity((keep.len() + unlabelled) * STL10_IMAGE_BYTES);
            for &i in &keep {
                kept_images
                    .extend_from_slice(&images[i * STL10_IMAGE_BYTES..(i + 1) * STL10_IMAGE_BYTES]);
            }
            kept_images.extend_from_slice(&images[labelled * STL10_IMAGE_BYTES..]);
            images = kept_images;
            labels = keep.iter().map(|&i| labels[i]).collect();
        }
        Ok(Self {
            split,
            images,
            labels,
            classes: read_class_names(&dir.join("class_names.txt"))?,
        })
    }

    /// Which split this is.
    pub fn split(&self) -> Stl10Split {
        self.split
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len() / STL10_IMAGE_BYTES
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The pixels of image `index`, row-major CHW (`[3, 96, 96]` flattened).
    ///
    /// # Panics
    /// If `index >= self.len()`.
    pub fn image(&self, index: usize) -> &[u8; STL10_IMAGE_BYTES] {
        let start = index * STL10_IMAGE_BYTES;
        self.images[start..start + STL10_IMAGE_BYTES]
            .try_into()
            .expect("slice has the image length")
    }

    /// The label (0..=9) of image `index`, `None` for an unlabelled image.
    pub fn label(&self, index: usize) -> Option<u8> {
        self.labels.get(index).copied()
    }

    /// The labels (0..=9) of the labelled images, which come first.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Class names, indexed by label.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}

impl ImageDataset for Stl10 {
    fn len(&self) -> usize {
        Stl10::len(self)
    }

    fn shape(&self, _index: usize) -> [usize; 3] {
        [3, STL10_SIDE, STL10_SIDE]
    }

    fn pixels(&self, index: usize) -> crate::Result<std::borrow::Cow<'_, [u8]>> {
        Ok(std::borrow::Cow::Borrowed(self.image(index)))
    }

    fn target(&self, index: usize) -> Option<usize> {
        self.label(index).map(usize::from)
    }

    fn num_classes(&self) -> usize {
        if self.labels.is_empty() {
            0
        } else {
            STL10_CLASSES.len()
        }
    }
}

/// Parses the bytes of an STL-10 image file into row-major CHW images (transposing each
/// column-major plane).
///
/// `path` only names the file in errors. Never panics, whatever the bytes.
pub fn parse_stl10_images(mut bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    check_records(path, bytes.len() as u64)?;
    transpose_planes(&mut bytes);
    Ok(bytes)
}

/// Parses the bytes of an STL-10 label file: one byte per image, `1..=10`, returned as `0..=9`.
///
/// `path` only names the file in errors. Never panics, whatever the bytes.
pub fn parse_stl10_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    bytes
        .iter()
        .enumerate()
        .map(|(record, &label)| match label {
            1..=10 => Ok(label - 1),
            _ => Err(Error::LabelOutOfRange {
                path: path.to_path_buf(),
                record,
                label,
                min: 1,
                max: 10,
            }),
        })
        .collect()
}

/// The number of records in `len` bytes of an image file, or [`Error::TruncatedFile`].
fn check_records(path: &Path, len: u64) -> Result<usize> {
    let record = STL10_IMAGE_BYTES as u64;
    let count = usize::try_from(len / record).unwrap_or(usize::MAX);
    if !len.is_multiple_of(record) {
        return Err(Error::TruncatedFile {
            path: path.to_path_buf(),
            len,
            record_size: STL10_IMAGE_BYTES,
            record: count,
        });
    }
    Ok(count)
}

/// Transposes every 96×96 plane in place: column-major on disk to row-major.
fn transpose_planes(bytes: &mut [u8]) {
    const N: usize = STL10_SIDE;
    for plane in bytes.chunks_exact_mut(N * N) {
        for row in 0..N {
            for col in row + 1..N {
                plane.swap(row * N + col, col * N + row);
            }
        }
    }
}

/// Appends the first `len` bytes of a file, its size when checked, to `buf` (whose capacity the
/// caller reserved); an error if the file is shorter now.
fn append_file(path: &Path, len: u64, buf: &mut Vec<u8>) -> Result<()> {
    let read = File::open(path)
        .and_then(|f| f.take(len).read_to_end(buf))
        .map_err(|e| Error::io(path, e))?;
    if read as u64 != len {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{read} bytes read, but the file had {len} when it was opened"),
            ),
        ));
    }
    Ok(())
}

/// The indices of fold `fold` (line `fold` of `fold_indices.txt`, whitespace-separated
/// 0-based indices), each checked against `num_labelled`.
fn read_fold(path: &Path, fold: usize, num_labelled: usize) -> Result<Vec<usize>> {
    let text = String::from_utf8_lossy(&read_file(path)?).into_owned();
    let line = text.lines().nth(fold).ok_or_else(|| {
        Error::Invalid(format!(
            "{}: no line for fold {fold} (it has {} lines)",
            path.display(),
            text.lines().count()
        ))
    })?;
    line.split_whitespace()
        .map(|token| match token.parse::<usize>() {
            Ok(i) if i < num_labelled => Ok(i),
            _ => Err(Error::Invalid(format!(
                "{}: fold {fold} lists `{token}`, not an index below {num_labelled}",
                path.display()
            ))),
        })
        .collect()
}

fn read_class_names(path: &Path) -> Result<Vec<String>> {
    if !path.exists() {
        return Ok(STL10_CLASSES.iter().map(|s| s.to_string()).collect());
    }
    let text = String::from_utf8_lossy(&read_file(path)?).into_owned();
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != STL10_CLASSES.len() {
        return Err(Error::BadClassNames {
            path: path.to_path_buf(),
            expected: STL10_CLASSES.len(),
            found: names.len(),
        });
    }
    Ok(names)
}
