//! File helpers every reader shares: whole regular files, their lengths, and MD5 checks.
//!
//! A leaf module: the dataset readers ([`cifar`](crate::cifar), [`stl10`](crate::stl10)) and
//! the downloader ([`download`](crate::download)) use it, and it uses none of them.

use std::fs;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::error::{Error, Result};

/// The length of a regular file, without reading it.
pub(crate) fn file_len(path: &Path) -> Result<u64> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
        });
    }
    Ok(meta.len())
}

/// Reads a whole file after checking that it is a regular file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    file_len(path)?;
    fs::read(path).map_err(|e| Error::io(path, e))
}

/// Lower-case hexadecimal of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks one file against an expected hexadecimal MD5 digest.
///
/// # Errors
/// [`Error::ChecksumMismatch`] naming the file and both digests; an I/O error, or
/// [`Error::NotAFile`], when it cannot be read.
pub fn verify_md5(path: &Path, expected: &str) -> Result<()> {
    check_md5(path, &read_file(path)?, expected)
}

/// Checks the bytes of `path`, already read, against an expected hexadecimal MD5 digest.
pub(crate) fn check_md5(path: &Path, bytes: &[u8], expected: &str) -> Result<()> {
    let actual = hex(&Md5::digest(bytes));
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(Error::ChecksumMismatch {
            path: PathBuf::from(path),
            expected: expected.to_string(),
            actual,
        })
    }
}
