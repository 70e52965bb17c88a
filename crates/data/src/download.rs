//! Fetching a dataset's archive (a `.tar.gz` with a known MD5) into a cache directory,
//! atomically. Each downloadable dataset names its own [`Archive`] beside its reader:
//! [`Archive::CIFAR10`] and [`Archive::CIFAR100`] in [`cifar`](crate::cifar),
//! [`Archive::STL10`] in [`stl10`](crate::stl10).
//!
//! The tarball is streamed to a temporary file while its MD5 is computed, verified, unpacked into
//! a temporary directory, and only then renamed to its final name. A download killed at any
//! moment therefore never looks complete: the final directory either does not exist or holds the
//! whole verified dataset. Leftover temporary files from a killed run are ignored and removed by
//! the next successful one.
//!
//! The addresses and digests are those torchvision's `CIFAR10`, `CIFAR100` and `STL10` datasets
//! use (for CIFAR, the binary rather than the Python version). [`default_cache_dir`] is where a
//! command line puts them unless told otherwise, and [`download_archive_with_progress`] reports
//! the bytes received, for a progress bar.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

use crate::error::{Error, Result};
use crate::files::hex;

/// How long to wait for a connection (and for name resolution) before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a download may stall (no byte received) before giving up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What to fetch: a `.tar.gz` at `url` with digest `md5` that unpacks to the directory `dir_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive<'a> {
    /// Where to download it from (`http://` or `https://`).
    pub url: &'a str,
    /// Expected hexadecimal MD5 of the tarball.
    pub md5: &'a str,
    /// Top-level directory inside the tarball, which becomes `cache_dir/dir_name`.
    pub dir_name: &'a str,
}

/// How far a download has got, as reported to the callback of
/// [`download_archive_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes received so far.
    pub downloaded: u64,
    /// The size announced by the server (`Content-Length`), if any.
    pub total: Option<u64>,
}

/// Where datasets are cached unless told otherwise: `$SELFSUP_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/selfsup`, else `$HOME/.cache/selfsup` (the first variable that is set and
/// not empty). `None` when none of them is.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("SELFSUP_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|p| p.join("selfsup")))
        .or_else(|| var("HOME").map(|p| p.join(".cache").join("selfsup")))
}

/// Downloads, verifies and unpacks `archive` into `cache_dir`, unless `cache_dir/dir_name`
/// already exists (it only ever appears complete). Returns that directory.
///
/// # Errors
/// [`Error::Download`] (naming the address) when the server cannot be reached within
/// [`CONNECT_TIMEOUT`], answers with an error status, or stalls for [`READ_TIMEOUT`];
/// [`Error::ChecksumMismatch`], [`Error::Archive`], or an I/O error on the cache directory.
pub fn download_archive(archive: &Archive<'_>, cache_dir: &Path) -> Result<PathBuf> {
    download_archive_with_progress(archive, cache_dir, &mut |_| {})
}

/// [`download_archive`], calling `progress` as bytes arrive: once when the transfer starts
/// (`downloaded == 0`), then after each chunk; the last call has `downloaded` equal to the
/// tarball's size. Not called when the dataset is already in the cache.
pub fn download_archive_with_progress(
    archive: &Archive<'_>,
    cache_dir: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<PathBuf> {
    let target = cache_dir.join(archive.dir_name);
    if target.is_dir() {
        return Ok(target);
    }
    fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
    let stem = format!(".{}.{}", archive.dir_name, std::process::id());
    let part = TempPath(cache_dir.join(format!("{stem}.tar.gz.part")));
    let unpack = TempPath(cache_dir.join(format!("{stem}.unpack")));

    let actual = fetch(archive.url, &part.0, progress)?;
    if !actual.eq_ignore_ascii_case(archive.md5) {
        return Err(Error::ChecksumMismatch {
            path: PathBuf::from(archive.url),
            expected: archive.md5.to_string(),
            actual,
        });
    }
    unpack_tar_gz(&part.0, &unpack.0)?;
    let unpacked = unpack.0.join(archive.dir_name);
    if !unpacked.is_dir() {
        return Err(Error::Archive {
            path: PathBuf::from(archive.url),
            reason: format!(
                "the archive holds no top-level directory `{}`",
                archive.dir_name
            ),
        });
    }
    match fs::rename(&unpacked, &target) {
        Ok(()) => {}
        // Another process finished first: its copy is as good as ours.
        Err(_) if target.is_dir() => {}
        Err(e) => return Err(Error::io(&target, e)),
    }
    remove_stale_temporaries(cache_dir, archive.dir_name);
    Ok(target)
}

/// Streams `url` into `dest`, returning the hexadecimal MD5 of the bytes.
fn fetch(url: &str, dest: &Path, progress: &mut dyn FnMut(DownloadProgress)) -> Result<String> {
    let download_err = |reason: String| Error::Download {
        url: url.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .build()
        .into();
    let response = agent
        .get(url)
        .call()
        .map_err(|e| download_err(e.to_string()))?;
    let total = response.body().content_length();
    let mut downloaded = 0u64;
    progress(DownloadProgress { downloaded, total });
    let mut reader = response.into_body().into_reader();
    let mut file = File::create(dest).map_err(|e| Error::io(dest, e))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(download_err(e.to_string())),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(|e| Error::io(dest, e))?;
        downloaded += n as u64;
        progress(DownloadProgress { downloaded, total });
    }
    file.sync_all().map_err(|e| Error::io(dest, e))?;
    Ok(hex(&hasher.finalize()))
}

fn unpack_tar_gz(tarball: &Path, into: &Path) -> Result<()> {
    let file = File::open(tarball).map_err(|e| Error::io(tarball, e))?;
    // `Archive::unpack` refuses entries that would escape `into` (absolute paths, `..`).
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(into)
        .map_err(|e| Error::Archive {
            path: tarball.to_path_buf(),
            reason: e.to_string(),
        })
}

fn remove_stale_temporaries(cache_dir: &Path, dir_name: &str) {
    let prefix = format!(".{dir_name}.");
    if let Ok(entries) = fs::read_dir(cache_dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
            }
        }
    }
}

/// A temporary file or directory removed when dropped (on success and on error alike).
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = fs::remove_dir_all(&self.0);
        } else {
            let _ = fs::remove_file(&self.0);
        }
    }
}
