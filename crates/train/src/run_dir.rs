//! A run's output directory: `config.json`, `history.json`, `train.log` and the
//! checkpoint (written by [`Checkpoint`](crate::Checkpoint)).
//!
//! # Durability
//! Every file but the log is replaced atomically ([`write_atomically`]): its new content goes to
//! `<name>.tmp` beside it, which is flushed and synced (`fsync`), renamed over the file, and the
//! directory is synced so that the rename itself survives a power cut. A crash at any moment
//! leaves either the previous file or the new one, never a mix; a failed write (a full disk)
//! removes its `.tmp` and leaves the previous file as it was.
//!
//! # Read back before written
//! `history.json` and the checkpoint's state are parsed back from the very text about to be
//! written, before anything touches the disk ([`reads_back`]): what cannot be read (a value JSON
//! cannot hold) is refused with an error naming the field, and the previous file stays.
//!
//! `train.log` is append-only: each line is written with one `write`, flushed and synced
//! (`fdatasync`) before the call returns, so a crash loses at most the line being written. Lines
//! are rare (one per epoch and event), so the sync costs nothing measurable.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::history::{EpochRecord, History};

/// File names inside a run's output directory.
pub mod files {
    /// The latest checkpoint.
    pub const CHECKPOINT: &str = "checkpoint.ckpt";
    /// Per-epoch history (and every step's loss).
    pub const HISTORY: &str = "history.json";
    /// Method, training config and run information.
    pub const CONFIG: &str = "config.json";
    /// The log, one line per epoch and event.
    pub const LOG: &str = "train.log";
    /// The loss plot the command line draws.
    pub const LOSS_PLOT: &str = "loss.png";
    /// The metrics plot the command line draws.
    pub const METRICS_PLOT: &str = "metrics.png";
    /// Every file of a run directory: what a new run replaces (and the only files it touches).
    pub const ALL: [&str; 6] = [CHECKPOINT, HISTORY, CONFIG, LOG, LOSS_PLOT, METRICS_PLOT];
}

/// Where a run writes, if anywhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunDir {
    pub dir: Option<PathBuf>,
    /// While a new run replaces an old one (`--overwrite`), what it would have written before
    /// its first step: held back, so that a run failing before it leaves the old run whole.
    deferred: Arc<Mutex<Option<Deferred>>>,
}

/// What a replacing run holds back until its first step.
#[derive(Debug, Default)]
struct Deferred {
    config: Option<serde_json::Value>,
    lines: Vec<String>,
}

impl RunDir {
    /// The checkpoint path, if there is a directory.
    pub fn checkpoint_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(files::CHECKPOINT))
    }

    /// Creates the directory.
    pub fn create(&self) -> Result<()> {
        if let Some(dir) = &self.dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        }
        Ok(())
    }

    /// Refuses a directory holding a file of a run's name that is not a selfsup run's (a
    /// `config.json` of another program, a `train.log` without a run's `config.json`): a run
    /// only ever replaces selfsup's own files.
    pub fn check_owned(&self) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let config = dir.join(files::CONFIG);
        let ours = |path: &Path, check: &dyn Fn(&[u8]) -> bool| -> Result<bool> {
            match std::fs::read(path) {
                Ok(bytes) => Ok(check(&bytes)),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(true),
                Err(err) => Err(Error::io("cannot read", path, err)),
            }
        };
        let is_run_json = |keys: &'static [&'static str]| {
            move |bytes: &[u8]| {
                serde_json::from_slice::<serde_json::Value>(bytes)
                    .is_ok_and(|v| keys.iter().all(|k| v.get(k).is_some()))
            }
        };
        let config_ours = ours(&config, &is_run_json(&["method", "training"]))?;
        let checks: [(&str, bool); 3] = [
            (files::CONFIG, config_ours),
            (
                files::HISTORY,
                ours(
                    &dir.join(files::HISTORY),
                    &is_run_json(&["epochs", "step_losses"]),
                )?,
            ),
            (
                files::CHECKPOINT,
                ours(&dir.join(files::CHECKPOINT), &|b: &[u8]| {
                    b.starts_with(b"SELFSUP-CKPT-v")
                })?,
            ),
        ];
        for (name, owned) in checks {
            if !owned {
                return Err(Error::ForeignFile {
                    path: dir.join(name),
                });
            }
        }
        // The log and plots carry no mark of their own: they are a run's when its config is.
        if !config.exists() {
            for name in [files::LOG, files::LOSS_PLOT, files::METRICS_PLOT] {
                if dir.join(name).exists() {
                    return Err(Error::ForeignFile {
                        path: dir.join(name),
                    });
                }
            }
        }
        Ok(())
    }

    /// With `on`, holds back every write from now on until [`commit`](Self::commit): the run
    /// replaces the one in the directory only once it has taken a step. Without, writes go
    /// straight to the files.
    pub fn defer(&self, on: bool) {
        *self.deferred.lock().expect("not poisoned") = on.then(Deferred::default);
    }

    /// Replaces the old run by this one: removes the old run's files (the checkpoint first, so
    /// that a crash in between leaves nothing to resume, never a mix), then writes what was
    /// held back. A no-op unless [`defer`](Self::defer) was called.
    pub fn commit(&self) -> Result<()> {
        let Some(deferred) = self.deferred.lock().expect("not poisoned").take() else {
            return Ok(());
        };
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        for name in files::ALL {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(Error::io("cannot remove", &path, err)),
            }
        }
        sync_dir(&dir.join(files::CONFIG)).map_err(|e| Error::io("cannot sync", dir, e))?;
        if let Some(config) = &deferred.config {
            self.write_config(config)?;
        }
        for line in &deferred.lines {
            self.append_line(line)?;
        }
        Ok(())
    }

    /// Writes `config.json`.
    pub fn write_config(&self, config: &serde_json::Value) -> Result<()> {
        if let Some(deferred) = self.deferred.lock().expect("not poisoned").as_mut() {
            deferred.config = Some(config.clone());
            return Ok(());
        }
        match &self.dir {
            Some(dir) => write_json(&dir.join(files::CONFIG), config),
            None => Ok(()),
        }
    }

    /// Writes `history.json`.
    pub fn save_history(&self, history: &History) -> Result<()> {
        if self.deferred.lock().expect("not poisoned").is_some() {
            // Before its first step a run has no history to keep.
            return Ok(());
        }
        match &self.dir {
            Some(dir) => write_json(&dir.join(files::HISTORY), history),
            None => Ok(()),
        }
    }

    /// Appends a line to `train.log` and emits it as a [`tracing`] event.
    pub fn log_line(&self, line: &str) -> Result<()> {
        tracing::info!("{line}");
        if let Some(deferred) = self.deferred.lock().expect("not poisoned").as_mut() {
            deferred.lines.push(line.to_string());
            return Ok(());
        }
        self.append_line(line)
    }

    /// Appends a line to `train.log`, synced.
    fn append_line(&self, line: &str) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let path = dir.join(files::LOG);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(format!("{line}\n").as_bytes())?;
                f.flush()?;
                f.sync_data()
            })
            .map_err(|e| Error::io("cannot write", &path, e))
    }
}

/// The log line of a finished epoch.
pub(crate) fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let mut line = format!(
        "epoch {}/{epochs}: loss {:.4}, lr {:.3e}, {:.1} img/s, {:.1} s",
        r.epoch + 1,
        r.loss,
        r.lr,
        r.images_per_second,
        r.seconds
    );
    line += &format!(
        " (waited {:.1} s for data, {:.0}%)",
        r.data_wait_seconds,
        100.0 * r.data_wait_seconds / r.seconds.max(1e-9)
    );
    if let Some(std) = r.embedding_std {
        line += &format!(", embedding std×√d {std:.3}");
    }
    if let Some(top1) = r.knn_top1 {
        line += &format!(", kNN top-1 {:.2}%", 100.0 * top1);
    }
    if let Some(top1) = r.online_linear_top1 {
        line += &format!(", online linear top-1 {:.2}%", 100.0 * top1);
    }
    for (name, value) in &r.metrics {
        line += &format!(", {name} {value:.4}");
    }
    line
}

/// `value` as pretty JSON in `path`, atomically ([`write_atomically`]), once the text is proven
/// to read back as a `T` ([`reads_back`]): otherwise nothing is written and `path` is left as
/// it was.
pub(crate) fn write_json<T: Serialize + DeserializeOwned>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises");
    reads_back::<T>(text.as_bytes())
        .map_err(|reason| Error::io("cannot write", path, refused(reason)))?;
    write_atomically(path, open_file, |out| out.write_all(text.as_bytes()))
        .map_err(|e| Error::io("cannot write", path, e))
}

/// Whether `json` reads back as a `T`; otherwise why not, naming the field
/// (`history.epochs[0].loss: invalid type: null, expected f64 …`). A writer calls it on the
/// text it is about to write, so that a file it writes is one it can read: serde_json writes a
/// NaN or an infinity as `null`, which a float field then refuses.
pub(crate) fn reads_back<T: DeserializeOwned>(json: &[u8]) -> std::result::Result<(), String> {
    let mut parser = serde_json::Deserializer::from_slice(json);
    match serde_path_to_error::deserialize::<_, T>(&mut parser) {
        Ok(_) => Ok(()),
        Err(err) => {
            let inner = err.inner().to_string();
            let hint = if inner.starts_with("invalid type: null") {
                " (JSON writes a NaN or an infinity as null)"
            } else {
                ""
            };
            Err(format!("`{}`: {inner}{hint}", err.path()))
        }
    }
}

/// The I/O error of a write refused by [`reads_back`]'s `reason` (`InvalidData`).
pub(crate) fn refused(reason: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("it would not read back, so nothing was written: {reason}"),
    )
}

/// The temporary file beside `path` that [`write_atomically`] writes: `<name>.tmp`.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Creates (or truncates) `path` for writing, buffered.
pub(crate) fn open_file(path: &Path) -> io::Result<Box<dyn Write>> {
    Ok(Box::new(io::BufWriter::with_capacity(
        1 << 20,
        File::create(path)?,
    )))
}

/// Replaces `path` atomically with what `fill` writes: into `<name>.tmp` (opened by `open`),
/// flushed, synced, renamed over `path`, then the directory synced. On error the `.tmp` is
/// removed and `path` is left as it was.
pub(crate) fn write_atomically(
    path: &Path,
    open: impl FnOnce(&Path) -> io::Result<Box<dyn Write>>,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = tmp_path(path);
    let written = (|| {
        let mut out = open(&tmp)?;
        fill(&mut out)?;
        out.flush()?;
        drop(out);
        // Reopened for the sync, so that `open` may hand any writer; Windows needs write access
        // to flush a file's buffers.
        OpenOptions::new().write(true).open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    sync_dir(path)
}

/// Syncs the directory holding `path`, so that a rename into it is durable. A no-op where
/// directories cannot be opened (Windows, whose renames are durable once they return).
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
