//! Strict readers for the CIFAR-10 and CIFAR-100 *binary* versions.
//!
//! A CIFAR-10 record is one label byte followed by 3 072 pixel bytes: 1 024 red, 1 024 green,
//! 1 024 blue, each plane row-major 32×32 (so an image is CHW `u8`). A CIFAR-100 record has two
//! label bytes (coarse, then fine) before the same pixels.
//!
//! The reader checks everything it can: each file must exist and be a regular file, its length
//! must be a whole number of records, it must hold the official number of records (10 000 per
//! CIFAR-10 batch and test file; 50 000 in CIFAR-100's `train.bin`, 10 000 in its `test.bin`;
//! [`CifarOptions::check_official_counts`]), and every label must be in range. On request
//! ([`CifarOptions::verify_md5`]) each CIFAR-10 file is also checked against its official MD5,
//! which is what catches a well-formed file in the wrong place (a `test_batch.bin` copied over
//! `data_batch_1.bin`). Any violation is an [`Error`] naming the file and, where it applies, the
//! record index.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::dataset::{ImageDataset, Part};
use crate::download::{Archive, download_archive};
use crate::error::{Error, Result};
pub use crate::files::verify_md5;
use crate::files::{check_md5, file_len, read_file};
use crate::transforms::Normalize;

/// Side length of a CIFAR image.
pub const CIFAR_SIDE: usize = 32;
/// Bytes of pixels in one CIFAR image (3 × 32 × 32, CHW).
pub const CIFAR_IMAGE_BYTES: usize = 3 * CIFAR_SIDE * CIFAR_SIDE;

/// The official CIFAR-10 class names, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// MD5 digests of the official CIFAR-10 binary files (`cifar-10-batches-bin`).
pub const CIFAR10_MD5: [(&str, &str); 7] = [
    ("data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"),
    ("data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"),
    ("data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"),
    ("data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"),
    ("data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"),
    ("test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"),
    ("batches.meta.txt", "40a0b180e208fe03a63ecc891b2555ad"),
];

/// The official CIFAR-10 binary tarball.
pub const CIFAR10_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// MD5 of [`CIFAR10_URL`]'s tarball (as published and used by torchvision).
pub const CIFAR10_TARBALL_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// The directory the CIFAR-10 tarball unpacks to.
pub const CIFAR10_DIR_NAME: &str = "cifar-10-batches-bin";

/// The official CIFAR-100 binary tarball.
pub const CIFAR100_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz";
/// MD5 of [`CIFAR100_URL`]'s tarball (as published on the CIFAR page).
pub const CIFAR100_TARBALL_MD5: &str = "03b5dce01913d631647c71ecec9e9cb8";
/// The directory the CIFAR-100 tarball unpacks to.
pub const CIFAR100_DIR_NAME: &str = "cifar-100-binary";

impl Archive<'static> {
    /// The official CIFAR-10 binary version.
    pub const CIFAR10: Archive<'static> = Archive {
        url: CIFAR10_URL,
        md5: CIFAR10_TARBALL_MD5,
        dir_name: CIFAR10_DIR_NAME,
    };

    /// The official CIFAR-100 binary version (`train.bin`, `test.bin`, label names).
    pub const CIFAR100: Archive<'static> = Archive {
        url: CIFAR100_URL,
        md5: CIFAR100_TARBALL_MD5,
        dir_name: CIFAR100_DIR_NAME,
    };
}

/// Downloads CIFAR-10 into `cache_dir` unless it is already there; returns the path of
/// `cache_dir/cifar-10-batches-bin`.
pub fn download_cifar10(cache_dir: impl AsRef<Path>) -> Result<PathBuf> {
    download_archive(&Archive::CIFAR10, cache_dir.as_ref())
}

/// Downloads CIFAR-100 into `cache_dir` unless it is already there; returns the path of
/// `cache_dir/cifar-100-binary`.
pub fn download_cifar100(cache_dir: impl AsRef<Path>) -> Result<PathBuf> {
    download_archive(&Archive::CIFAR100, cache_dir.as_ref())
}

/// The per-channel means of CIFAR-100's training images (in `[0, 1]`), the values CIFAR-100
/// code commonly normalises with.
pub const CIFAR100_MEAN: [f32; 3] = [0.5071, 0.4865, 0.4409];
/// The per-channel standard deviations that go with [`CIFAR100_MEAN`].
pub const CIFAR100_STD: [f32; 3] = [0.2673, 0.2564, 0.2762];

/// Which half of a dataset to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images (50 000 for CIFAR).
    Train,
    /// The test images (10 000 for CIFAR).
    Test,
}

impl Split {
    /// The split that serves `part`: CIFAR pre-trains on its labelled training images.
    pub const fn for_part(part: Part) -> Self {
        match part {
            Part::Pretrain | Part::Train => Split::Train,
            Part::Test => Split::Test,
        }
    }
}

/// The two CIFAR variants, which differ in their record layout and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CifarVariant {
    /// CIFAR-10: one label byte (0–9) per record.
    Cifar10,
    /// CIFAR-100: a coarse label byte (0–19) then a fine label byte (0–99) per record.
    Cifar100,
}

impl CifarVariant {
    /// The side of the images, [`CIFAR_SIDE`]: the default size of the training views and of
    /// the evaluation images.
    pub const fn image_size(self) -> usize {
        CIFAR_SIDE
    }

    /// The normalisation of the views and evaluation images: the dataset's channel statistics,
    /// [`Normalize::cifar10`] or [`CIFAR100_MEAN`] / [`CIFAR100_STD`].
    pub fn normalize(self) -> Normalize {
        match self {
            CifarVariant::Cifar10 => Normalize::cifar10(),
            CifarVariant::Cifar100 => Normalize::new(CIFAR100_MEAN.to_vec(), CIFAR100_STD.to_vec())
                .expect("valid statistics"),
        }
    }

    /// The official binary archive ([`Archive::CIFAR10`] or [`Archive::CIFAR100`]).
    pub const fn archive(self) -> Archive<'static> {
        match self {
            CifarVariant::Cifar10 => Archive::CIFAR10,
            CifarVariant::Cifar100 => Archive::CIFAR100,
        }
    }

    /// Number of label bytes before the pixels of each record.
    pub const fn label_bytes(self) -> usize {
        match self {
            CifarVariant::Cifar10 => 1,
            CifarVariant::Cifar100 => 2,
        }
    }

    /// Size of one record in bytes (3 073 or 3 074).
    pub const fn record_size(self) -> usize {
        self.label_bytes() + CIFAR_IMAGE_BYTES
    }

    /// Number of (fine) classes.
    pub const fn num_classes(self) -> usize {
        match self {
            CifarVariant::Cifar10 => 10,
            CifarVariant::Cifar100 => 100,
        }
    }

    /// The official number of records in each file of `split` ([`files`](Self::files)): 10 000
    /// per CIFAR-10 file; 50 000 in CIFAR-100's `train.bin` and 10 000 in its `test.bin`
    /// (Krizhevsky, 2009, and the dataset's page).
    pub const fn official_records_per_file(self, split: Split) -> usize {
        match (self, split) {
            (CifarVariant::Cifar10, _) => 10_000,
            (CifarVariant::Cifar100, Split::Train) => 50_000,
            (CifarVariant::Cifar100, Split::Test) => 10_000,
        }
    }

    /// The official MD5 digest of one of this variant's files, where one is known
    /// ([`CIFAR10_MD5`] for CIFAR-10; none for CIFAR-100, whose binary archive is verified
    /// whole by [`download_archive`]).
    pub fn official_md5(self, file: &str) -> Option<&'static str> {
        match self {
            CifarVariant::Cifar10 => CIFAR10_MD5
                .iter()
                .find(|(name, _)| *name == file)
                .map(|(_, md5)| *md5),
            CifarVariant::Cifar100 => None,
        }
    }

    /// The batch files of a split, in the official order.
    pub fn files(self, split: Split) -> &'static [&'static str] {
        match (self, split) {
            (CifarVariant::Cifar10, Split::Train) => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (CifarVariant::Cifar10, Split::Test) => &["test_batch.bin"],
            (CifarVariant::Cifar100, Split::Train) => &["train.bin"],
            (CifarVariant::Cifar100, Split::Test) => &["test.bin"],
        }
    }
}

/// How strictly [`CifarDataset::open_with`] checks the files.
///
/// Whatever the options, every file must be a whole number of records and every label in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarOptions {
    /// Require each file to hold its official number of records
    /// ([`CifarVariant::official_records_per_file`]), so that an empty file, a download cut on a
    /// record boundary or a file with a record too many is refused. Default `true`; `false`
    /// accepts any whole number of records, none included (small synthetic files in tests, a
    /// trimmed copy).
    pub check_official_counts: bool,
    /// Check each file against its official MD5 digest ([`CIFAR10_MD5`], `batches.meta.txt`
    /// included when present): catches a file that is well-formed but not the right one (a
    /// `test_batch.bin` copied over a training batch), which no size or label check can see.
    /// Costs one MD5 pass over the data (about 180 MB for CIFAR-10). Default `false`. CIFAR-100
    /// has no per-file digests here: asking for them is an [`Error::Invalid`].
    pub verify_md5: bool,
}

impl Default for CifarOptions {
    fn default() -> Self {
        Self {
            check_official_counts: true,
            verify_md5: false,
        }
    }
}

/// The records of one parsed batch file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CifarBatch {
    /// Pixels, `len × 3072` bytes, CHW per image.
    pub images: Vec<u8>,
    /// The (fine) label of each record.
    pub labels: Vec<u8>,
    /// The coarse label of each record (CIFAR-100 only; empty for CIFAR-10).
    pub coarse_labels: Vec<u8>,
}

/// Parses the bytes of one batch file, checking its length and every label (the record count
/// is the caller's business: see [`CifarDataset::open_with`]).
///
/// `path` only names the file in errors. This never panics, whatever the bytes; a rejection is
/// [`Error::TruncatedFile`] or [`Error::BadLabel`].
pub fn parse_batch(bytes: &[u8], variant: CifarVariant, path: &Path) -> Result<CifarBatch> {
    let record_size = variant.record_size();
    let n = whole_records(path, bytes.len() as u64, record_size)?;
    let mut batch = CifarBatch {
        images: Vec::with_capacity(n * CIFAR_IMAGE_BYTES),
        labels: Vec::with_capacity(n),
        coarse_labels: Vec::new(),
    };
    let bad_label = |record, label, num_classes| Error::BadLabel {
        path: path.to_path_buf(),
        record,
        label,
        num_classes,
    };
    for (record, chunk) in bytes.chunks_exact(record_size).enumerate() {
        let (labels, pixels) = chunk.split_at(variant.label_bytes());
        let fine = match variant {
            CifarVariant::Cifar10 => labels[0],
            CifarVariant::Cifar100 => {
                let coarse = labels[0];
                if coarse >= 20 {
                    return Err(bad_label(record, coarse, 20));
                }
                batch.coarse_labels.push(coarse);
                labels[1]
            }
        };
        if usize::from(fine) >= variant.num_classes() {
            return Err(bad_label(record, fine, variant.num_classes()));
        }
        batch.labels.push(fine);
        batch.images.extend_from_slice(pixels);
    }
    Ok(batch)
}

/// The number of records in `len` bytes, or [`Error::TruncatedFile`] naming `path`.
fn whole_records(path: &Path, len: u64, record_size: usize) -> Result<usize> {
    let size = record_size as u64;
    if !len.is_multiple_of(size) {
        return Err(Error::TruncatedFile {
            path: path.to_path_buf(),
            len,
            record_size,
            record: usize::try_from(len / size).unwrap_or(usize::MAX),
        });
    }
    usize::try_from(len / size).map_err(|_| {
        Error::Invalid(format!(
            "{}: {len} bytes is too large for this machine",
            path.display()
        ))
    })
}

/// A CIFAR split held in memory (the CIFAR-10 training set is 150 MB).
///
/// # Example
///
/// ```no_run
/// use selfsup_data::{CifarDataset, Split};
/// let train = CifarDataset::cifar10("data/cifar-10-batches-bin", Split::Train)?;
/// assert_eq!(train.len(), 50_000);
/// let (pixels, label) = (train.image(0), train.label(0));
/// assert_eq!(pixels.len(), 3 * 32 * 32);
/// println!("first image is a {}", train.classes()[label as usize]);
/// # Ok::<(), selfsup_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CifarDataset {
    variant: CifarVariant,
    images: Vec<u8>,
    labels: Vec<u8>,
    coarse_labels: Vec<u8>,
    classes: Vec<String>,
}

impl CifarDataset {
    /// Opens a CIFAR-10 split from a `cifar-10-batches-bin` directory, with the default
    /// [`CifarOptions`] (official record counts checked, no MD5).
    ///
    /// Class names come from `batches.meta.txt` when it is there (it must then hold ten names),
    /// otherwise from [`CIFAR10_CLASSES`].
    pub fn cifar10(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        Self::open(dir.as_ref(), CifarVariant::Cifar10, split)
    }

    /// Opens a CIFAR-100 split from a `cifar-100-binary` directory (`train.bin`, `test.bin`,
    /// optional `fine_label_names.txt`), with the default [`CifarOptions`].
    pub fn cifar100(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        Self::open(dir.as_ref(), CifarVariant::Cifar100, split)
    }

    /// Opens `split` of `variant` from `dir` with the default [`CifarOptions`].
    pub fn open(dir: &Path, variant: CifarVariant, split: Split) -> Result<Self> {
        Self::open_with(dir, variant, split, &CifarOptions::default())
    }

    /// Opens `split` of `variant` from `dir`, checking the files as `options` asks.
    ///
    /// Every file's size is checked before any is read, so a short or empty last batch is
    /// reported at once; then each file is read, its labels checked and, with
    /// [`verify_md5`](CifarOptions::verify_md5), its digest.
    ///
    /// # Errors
    /// [`Error::NotADirectory`]; for a file of the split: [`Error::MissingFile`],
    /// [`Error::NotAFile`], [`Error::TruncatedFile`] (not a whole number of records, giving the
    /// byte length), [`Error::RecordCount`] (not the official count, when checked),
    /// [`Error::BadLabel`] (naming the record), [`Error::ChecksumMismatch`] (with `verify_md5`);
    /// [`Error::BadClassNames`] for a class-name file without one name per class; and
    /// [`Error::Invalid`] for `verify_md5` on CIFAR-100.
    pub fn open_with(
        dir: &Path,
        variant: CifarVariant,
        split: Split,
        options: &CifarOptions,
    ) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        if options.verify_md5 && variant == CifarVariant::Cifar100 {
            return Err(Error::Invalid(
                "CIFAR-100: no official per-file md5 digests are known; the archive's is \
                 checked on download (leave verify_md5 off)"
                    .into(),
            ));
        }
        let record_size = variant.record_size();
        let official = variant.official_records_per_file(split);
        for name in variant.files(split) {
            let path = dir.join(name);
            let len = file_len(&path)?;
            let records = whole_records(&path, len, record_size)?;
            if options.check_official_counts && records != official {
                return Err(Error::RecordCount {
                    path,
                    expected: official,
                    found: records,
                });
            }
        }
        let mut all = CifarBatch::default();
        for name in variant.files(split) {
            let path = dir.join(name);
            let bytes = read_file(&path)?;
            let batch = parse_batch(&bytes, variant, &path)?;
            // The file may have changed since it was measured: check the count again.
            if options.check_official_counts && batch.labels.len() != official {
                return Err(Error::RecordCount {
                    path,
                    expected: official,
                    found: batch.labels.len(),
                });
            }
            if options.verify_md5
                && let Some(expected) = variant.official_md5(name)
            {
                check_md5(&path, &bytes, expected)?;
            }
            all.images.extend_from_slice(&batch.images);
            all.labels.extend_from_slice(&batch.labels);
            all.coarse_labels.extend_from_slice(&batch.coarse_labels);
        }
        if options.verify_md5 && variant == CifarVariant::Cifar10 {
            let meta = dir.join("batches.meta.txt");
            if meta.exists()
                && let Some(expected) = variant.official_md5("batches.meta.txt")
            {
                check_md5(&meta, &read_file(&meta)?, expected)?;
            }
        }
        let classes = read_class_names(dir, variant)?;
        Ok(Self {
            variant,
            images: all.images,
            labels: all.labels,
            coarse_labels: all.coarse_labels,
            classes,
        })
    }

    /// Builds a dataset from parts already in memory (synthetic data, tests, subsets).
    ///
    /// # Panics
    ///
    /// If `images.len() != labels.len() * 3072`.
    pub fn from_parts(variant: CifarVariant, images: Vec<u8>, labels: Vec<u8>) -> Self {
        assert_eq!(
            images.len(),
            labels.len() * CIFAR_IMAGE_BYTES,
            "from_parts: {} pixel bytes for {} labels (expected 3072 per image)",
            images.len(),
            labels.len()
        );
        let classes = default_class_names(variant);
        Self {
            variant,
            images,
            labels,
            coarse_labels: Vec::new(),
            classes,
        }
    }

    /// Which CIFAR this is.
    pub fn variant(&self) -> CifarVariant {
        self.variant
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `index`, CHW (`[3, 32, 32]` flattened).
    ///
    /// # Panics
    ///
    /// If `index >= self.len()`.
    pub fn image(&self, index: usize) -> &[u8; CIFAR_IMAGE_BYTES] {
        let start = index * CIFAR_IMAGE_BYTES;
        self.images[start..start + CIFAR_IMAGE_BYTES]
            .try_into()
            .expect("slice has the image length")
    }

    /// The (fine) label of image `index`.
    pub fn label(&self, index: usize) -> u8 {
        self.labels[index]
    }

    /// All (fine) labels, in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The coarse labels (CIFAR-100; empty for CIFAR-10).
    pub fn coarse_labels(&self) -> &[u8] {
        &self.coarse_labels
    }

    /// Class names, indexed by (fine) label.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}

impl ImageDataset for CifarDataset {
    fn len(&self) -> usize {
        CifarDataset::len(self)
    }

    fn shape(&self, _index: usize) -> [usize; 3] {
        [3, CIFAR_SIDE, CIFAR_SIDE]
    }

    fn pixels(&self, index: usize) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(self.image(index)))
    }

    fn target(&self, index: usize) -> Option<usize> {
        Some(usize::from(self.label(index)))
    }

    fn num_classes(&self) -> usize {
        self.variant().num_classes()
    }
}

fn default_class_names(variant: CifarVariant) -> Vec<String> {
    match variant {
        CifarVariant::Cifar10 => CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        CifarVariant::Cifar100 => (0..100).map(|i| format!("class_{i}")).collect(),
    }
}

fn read_class_names(dir: &Path, variant: CifarVariant) -> Result<Vec<String>> {
    let name = match variant {
        CifarVariant::Cifar10 => "batches.meta.txt",
        CifarVariant::Cifar100 => "fine_label_names.txt",
    };
    let path = dir.join(name);
    if !path.exists() {
        return Ok(default_class_names(variant));
    }
    let text = String::from_utf8_lossy(&read_file(&path)?).into_owned();
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != variant.num_classes() {
        return Err(Error::BadClassNames {
            path,
            expected: variant.num_classes(),
            found: names.len(),
        });
    }
    Ok(names)
}

/// Checks the official CIFAR-10 files in `dir` against their MD5 digests ([`CIFAR10_MD5`]).
pub fn verify_cifar10(dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    for (name, expected) in CIFAR10_MD5 {
        verify_md5(&dir.join(name), expected)?;
    }
    Ok(())
}
