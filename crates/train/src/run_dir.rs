//! A run's output directory: `config.json`, `history.json`, `train.log` and the
//! checkpoint (written by [`Checkpoint`](crate::Checkpoint)).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

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
}

/// Where a run writes, if anywhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunDir {
    pub dir: Option<PathBuf>,
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

    /// Writes `config.json`.
    pub fn write_config(&self, config: &serde_json::Value) -> Result<()> {
        match &self.dir {
            Some(dir) => write_json(&dir.join(files::CONFIG), config),
            None => Ok(()),
        }
    }

    /// Writes `history.json`.
    pub fn save_history(&self, history: &History) -> Result<()> {
        match &self.dir {
            Some(dir) => write_json(&dir.join(files::HISTORY), history),
            None => Ok(()),
        }
    }

    /// Appends a line to `train.log` and emits it as a [`tracing`] event.
    pub fn log_line(&self, line: &str) -> Result<()> {
        tracing::info!("{line}");
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let path = dir.join(files::LOG);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"))
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
    if let Some(std) = r.embedding_std {
        line += &format!(", embedding std×√d {std:.3}");
    }
    if let Some(top1) = r.knn_top1 {
        line += &format!(", kNN top-1 {:.2}%", 100.0 * top1);
    }
    for (name, value) in &r.metrics {
        line += &format!(", {name} {value:.4}");
    }
    line
}

/// `value` as pretty JSON in `path`, through a temporary file and a rename.
pub(crate) fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io("cannot write", path, e))
}
