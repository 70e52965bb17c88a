//! The error type of `selfsup-data`.

use std::path::PathBuf;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while opening or decoding a dataset.
///
/// Every variant names the file (and, where it applies, the record) at fault, so a user can go
/// straight to the problem. Messages are lowercase, without trailing punctuation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file the dataset needs does not exist.
    #[error("missing file {path}")]
    MissingFile {
        /// The file that was expected.
        path: PathBuf,
    },
    /// A path that should be a regular file is something else (a directory, say).
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The offending path.
        path: PathBuf,
    },
    /// The dataset directory itself does not exist or is not a directory.
    #[error("dataset directory {path} does not exist or is not a directory")]
    NotADirectory {
        /// The directory that was given.
        path: PathBuf,
    },
    /// An I/O error while reading a file.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A binary batch file whose length is not a whole number of records.
    #[error(
        "{path} is truncated or corrupt: {len} bytes is not a multiple of the record size {record_size} \
         (record {record} is incomplete)"
    )]
    TruncatedFile {
        /// The file at fault.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// The size of one record in bytes.
        record_size: usize,
        /// Index (0-based) of the first incomplete record.
        record: usize,
    },
    /// A record whose label is outside the dataset's label range.
    #[error("{path}: record {record} has label {label}, but labels must be below {num_classes}")]
    BadLabel {
        /// The file at fault.
        path: PathBuf,
        /// Index (0-based) of the record within that file.
        record: usize,
        /// The label byte read.
        label: u8,
        /// The number of classes of that label field.
        num_classes: usize,
    },
    /// A record whose label is outside an inclusive range of valid labels (as stored on disk).
    #[error("{path}: record {record} has label {label}, but labels must be in {min}..={max}")]
    LabelOutOfRange {
        /// The file at fault.
        path: PathBuf,
        /// Index (0-based) of the record within that file.
        record: usize,
        /// The label byte read.
        label: u8,
        /// The smallest valid label.
        min: u8,
        /// The largest valid label.
        max: u8,
    },
    /// A file that does not hold the number of records its dataset has officially.
    #[error("{path} holds {found} records, but the official file has {expected}")]
    RecordCount {
        /// The file at fault.
        path: PathBuf,
        /// The official number of records.
        expected: usize,
        /// The number of records found.
        found: usize,
    },
    /// An image file and its label file that disagree on the number of records.
    #[error("{images} holds {num_images} images but {labels} holds {num_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images it holds.
        num_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels it holds.
        num_labels: usize,
    },
    /// A file whose MD5 digest is not the official one.
    #[error("{path}: md5 {actual} does not match the expected {expected}")]
    ChecksumMismatch {
        /// The file at fault.
        path: PathBuf,
        /// The expected hexadecimal digest.
        expected: String,
        /// The digest computed from the file.
        actual: String,
    },
    /// A class-name file that does not have one name per class.
    #[error("{path}: expected {expected} class names, found {found}")]
    BadClassNames {
        /// The file at fault.
        path: PathBuf,
        /// The number of names expected.
        expected: usize,
        /// The number of non-empty lines found.
        found: usize,
    },
    /// A download that failed (connection, HTTP status, interrupted transfer).
    #[error("cannot download {url}: {reason}")]
    Download {
        /// The address fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An archive that could not be unpacked or lacks the expected content.
    #[error("bad archive {path}: {reason}")]
    Archive {
        /// The archive (file or address).
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An image file that could not be decoded.
    #[error("cannot decode image {path}: {reason}")]
    Image {
        /// The file at fault.
        path: PathBuf,
        /// The decoder's explanation.
        reason: String,
    },
    /// An image whose declared size exceeds the pixel limit (a decompression bomb, or a huge
    /// scan); refused before decoding.
    #[error(
        "image {path} is {width}×{height} = {} pixels, more than the limit of {max_pixels}",
        u64::from(*width) * u64::from(*height)
    )]
    ImageTooLarge {
        /// The file at fault.
        path: PathBuf,
        /// Its width in pixels.
        width: u32,
        /// Its height in pixels.
        height: u32,
        /// The limit in force.
        max_pixels: u64,
    },
    /// A folder that should hold images but holds no image file (see
    /// [`IMAGE_EXTENSIONS`](crate::folder::IMAGE_EXTENSIONS)).
    #[error("{path} holds no image files")]
    EmptyFolder {
        /// The folder at fault (the dataset's root, or one of its class folders).
        path: PathBuf,
    },
    /// A symbolic link loop in an image folder: a path that leads back to a folder containing
    /// it, which a recursive listing would follow forever.
    #[error("{path} is a symbolic link loop: it leads back to {target}, a folder that contains it")]
    SymlinkLoop {
        /// The path reached (through a link).
        path: PathBuf,
        /// The folder it leads back to (canonical path).
        target: PathBuf,
    },
    /// A dataset or request that makes no sense (empty folder, impossible subset size, ...).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => Error::MissingFile { path },
            _ => Error::Io { path, source },
        }
    }
}
