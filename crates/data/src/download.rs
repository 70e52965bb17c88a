//! Fetching a dataset's archive (a `.tar.gz` with a known MD5) into a cache directory,
//! atomically. Each downloadable dataset names its own [`Archive`] beside its reader:
//! [`Archive::CIFAR10`] and [`Archive::CIFAR100`] in [`cifar`](crate::cifar),
//! [`Archive::STL10`] in [`stl10`](crate::stl10).
//!
//! The tarball is streamed to a temporary file while its MD5 is computed, verified, unpacked into
//! a temporary directory, every unpacked file and directory `fsync`ed, and only then renamed to
//! its final name (and the cache directory `fsync`ed). A download killed at any moment, or a
//! power cut, therefore never looks complete: the final directory either does not exist or holds
//! the whole verified dataset.
//!
//! Each download has temporary names of its own (the process id and a per-process counter) and
//! holds a lock on a `.lock` file beside them for as long as it runs. Several processes (or
//! threads) may download the same dataset into one cache at once: each finishes, the first
//! rename wins and the others keep its copy. Leftovers of a killed download (whose lock the
//! system released) are removed by the next successful one; a running download's are not.
//!
//! The addresses and digests are those torchvision's `CIFAR10`, `CIFAR100` and `STL10` datasets
//! use (for CIFAR, the binary rather than the Python version). [`default_cache_dir`] is where a
//! command line puts them unless told otherwise, and [`download_archive_with_progress`] reports
//! the bytes received, for a progress bar.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
    // Declared first, so dropped last: the lock outlives the temporaries it guards.
    let lock = Owner::claim(cache_dir, archive.dir_name)?;
    let part = TempPath(lock.temporary(TARBALL));
    let unpack = TempPath(lock.temporary(UNPACKED));

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
    sync_tree(&unpacked)?;
    match fs::rename(&unpacked, &target) {
        Ok(()) => sync_dir(cache_dir)?,
        // Another download finished first: its copy is as good as ours.
        Err(_) if target.is_dir() => {}
        Err(e) => return Err(Error::io(&target, e)),
    }
    remove_stale_temporaries(cache_dir, archive.dir_name);
    Ok(target)
}

/// The suffixes of one download's temporaries: the tarball, the unpacked tree, the lock.
const TARBALL: &str = ".tar.gz.part";
const UNPACKED: &str = ".unpack";
const LOCK: &str = ".lock";

/// One download's claim on its temporary names, `.<dir_name>.<pid>-<n>.*` in the cache: an
/// exclusive lock on `.<dir_name>.<pid>-<n>.lock`, held until dropped (or the process dies).
struct Owner {
    stem: PathBuf,
    file: File,
}

impl Owner {
    /// Creates and locks a lock file of a name no other download uses.
    fn claim(cache_dir: &Path, dir_name: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let stem = cache_dir.join(format!(".{dir_name}.{}-{n}", std::process::id()));
            let path = with_suffix(&stem, LOCK);
            let file = match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => file,
                // Left by a killed process of the same id: take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            file.lock().map_err(|e| Error::io(&path, e))?;
            // Another download's clean-up may have taken the file for a dead one's between
            // its creation and the lock (it removes it before unlocking): then start again.
            if path.is_file() {
                return Ok(Self { stem, file });
            }
        }
    }

    /// The temporary of this download with `suffix`.
    fn temporary(&self, suffix: &str) -> PathBuf {
        with_suffix(&self.stem, suffix)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Removed while still locked, so that no clean-up takes it for a dead download's.
        let _ = fs::remove_file(self.temporary(LOCK));
        let _ = self.file.unlock();
    }
}

fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `fsync`s every file and directory under `root` (and `root`), so that the rename that
/// publishes it never points at data the disk does not hold yet.
fn sync_tree(root: &Path) -> Result<()> {
    for entry in fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(root)
}

/// `fsync`s a directory, making the names in it durable (on Unix; elsewhere a directory cannot
/// be opened as a file, and renames are durable by other means).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
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

/// Removes the temporaries of killed downloads of `dir_name`: those whose lock file is gone or
/// can be locked (its owner died). A running download holds its lock, and keeps its files.
fn remove_stale_temporaries(cache_dir: &Path, dir_name: &str) {
    let prefix = format!(".{dir_name}.");
    let Ok(entries) = fs::read_dir(cache_dir) else {
        return;
    };
    let mut stems: Vec<PathBuf> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = [TARBALL, UNPACKED, LOCK]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))?;
            stem.starts_with(&prefix).then(|| cache_dir.join(stem))
        })
        .collect();
    stems.sort();
    stems.dedup();
    for stem in stems {
        let lock_path = with_suffix(&stem, LOCK);
        // Held while the files are removed, the lock file last: a download that locks it
        // meanwhile finds it gone and starts again under another name.
        let lock = match File::options().write(true).open(&lock_path) {
            Ok(file) => match file.try_lock() {
                Ok(()) => Some(file),
                Err(_) => continue,
            },
            // No lock file: left by a download that died before taking one, or by an earlier
            // version of selfsup.
            Err(_) => None,
        };
        let _ = fs::remove_file(with_suffix(&stem, TARBALL));
        let _ = fs::remove_dir_all(with_suffix(&stem, UNPACKED));
        if lock.is_some() {
            let _ = fs::remove_file(&lock_path);
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
