//! The error type of `selfsup-train`.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when a training or evaluation config is turned into the object
/// it describes, or when a run reads and writes its files.
///
/// Shape and label contracts of tensor functions are not errors but assertions (they are
/// programming errors); this enum is for values a user writes into a config. Messages are
/// lowercase, without trailing punctuation, and name the config, the field and the bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config field holds a value outside its valid range.
    #[error("invalid {config}: {field} = {value} {reason}")]
    InvalidConfig {
        /// The config at fault (e.g. `"cosine schedule"`).
        config: &'static str,
        /// The offending field.
        field: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What the value should be (e.g. `"must be positive and finite"`).
        reason: String,
    },
    /// Reading or writing a file of a run (checkpoint, history, log, plot) failed.
    #[error("{action} {}: {message}", path.display())]
    Io {
        /// What was being done, e.g. `"cannot write"`.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The kind of the underlying I/O error (e.g. [`StorageFull`](std::io::ErrorKind::StorageFull)
        /// for a full disk).
        kind: std::io::ErrorKind,
        /// The underlying error.
        message: String,
    },
    /// A checkpoint file is not one this crate wrote, is truncated, corrupted, of another format
    /// version, or does not fit the run or model it is loaded into; `fault` says which.
    #[error("bad checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
        /// Which kind of problem.
        fault: CheckpointFault,
        /// What is wrong with it.
        reason: String,
    },
    /// The loss became NaN or infinite; the run stopped before the optimizer step.
    #[error(
        "non-finite loss {loss} at epoch {epoch}, step {step}: training stopped; {}",
        match checkpoint {
            Some(path) => format!("the last good checkpoint is {}", path.display()),
            None => "no checkpoint was written yet".to_string(),
        }
    )]
    NonFiniteLoss {
        /// The epoch (from 0).
        epoch: usize,
        /// The optimizer steps taken before this one.
        step: usize,
        /// The loss value.
        loss: f64,
        /// The last checkpoint written, if any (it is left as it was).
        checkpoint: Option<std::path::PathBuf>,
    },
    /// A step left non-finite weights or batch-norm running statistics (NaN or ±∞) although its
    /// loss was finite (a divergence, an overflowing gradient); found when a checkpoint was
    /// about to be written, which was not written, or, in a run without an output directory,
    /// when the run ended. The run stopped; `checkpoint` (if any) holds finite values and is
    /// untouched.
    #[error(
        "non-finite weights after step {step} (epoch {epoch}), first in `{parameter}`: training \
         stopped without writing a checkpoint; {}",
        match checkpoint {
            Some(path) => format!("the last good checkpoint is {}", path.display()),
            None => "no checkpoint was written yet".to_string(),
        }
    )]
    NonFiniteWeights {
        /// The epoch of the step (from 0).
        epoch: usize,
        /// Optimizer steps taken, the diverging one included.
        step: usize,
        /// The path of the first non-finite parameter in the model (e.g.
        /// `backbone.blocks.0.conv.weight`).
        parameter: String,
        /// The last checkpoint written, if any (it is left as it was).
        checkpoint: Option<std::path::PathBuf>,
    },
    /// A fresh run was asked to write where a run already is.
    #[error(
        "{} already holds a run: resume it, choose another output directory, or allow overwriting",
        checkpoint.display()
    )]
    RunExists {
        /// The existing checkpoint.
        checkpoint: std::path::PathBuf,
    },
    /// The output directory holds a file of a run's name that another program wrote (a
    /// `config.json` that is not a selfsup run's, a `train.log` without a run's `config.json`):
    /// a run only replaces selfsup's own files.
    #[error(
        "{} is not a selfsup run's file: a run writes config.json, history.json, train.log, \
         checkpoint.ckpt, loss.png and metrics.png in its output directory and never replaces \
         another program's; choose another output directory",
        path.display()
    )]
    ForeignFile {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The data does not fit the method or the config (no labels for a supervised method, fewer
    /// images than a batch, …).
    #[error("{0}")]
    Data(String),
    /// A method's views do not fit the data (e.g. a crop larger than the images), found when a
    /// published preset builds them.
    #[error("views: {0}")]
    Views(#[from] selfsup_data::TransformError),
}

/// What is wrong with a checkpoint file ([`Error::Checkpoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckpointFault {
    /// The file ends before the length its header announces (an interrupted copy, a full disk
    /// under a tool other than selfsup).
    Truncated,
    /// The file does not start like a selfsup checkpoint: another kind of file, or garbage.
    NotACheckpoint,
    /// The checksum over the file does not match its bytes: something changed them after they
    /// were written (a bit flip, an overwrite).
    ChecksumMismatch,
    /// A checkpoint of a format version this build does not read (written by a newer selfsup).
    UnsupportedVersion,
    /// The checksum matches (or the format has none: v1) but a section does not parse.
    Corrupt,
    /// A sound checkpoint of something else: another method, another training config, or a
    /// model whose tensors do not fit.
    Mismatch,
}

impl std::fmt::Display for CheckpointFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated",
            Self::NotACheckpoint => "not a checkpoint",
            Self::ChecksumMismatch => "checksum mismatch",
            Self::UnsupportedVersion => "unsupported version",
            Self::Corrupt => "corrupt",
            Self::Mismatch => "mismatch",
        })
    }
}

impl Error {
    /// Shorthand for [`Error::Io`].
    pub(crate) fn io(action: &'static str, path: &std::path::Path, err: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            kind: err.kind(),
            message: err.to_string(),
        }
    }

    /// Shorthand for [`Error::Checkpoint`].
    pub(crate) fn checkpoint(
        path: &std::path::Path,
        fault: CheckpointFault,
        reason: impl Into<String>,
    ) -> Self {
        Self::Checkpoint {
            path: path.to_path_buf(),
            fault,
            reason: reason.into(),
        }
    }

    /// The config field an [`Error::InvalidConfig`] names (`"batch_size"`, `"lr"`,
    /// `"temperature"`, `"momentum.base"`, …), for a command line to name its flag; `None` for
    /// other errors.
    pub fn config_field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidConfig { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Shorthand for [`Error::InvalidConfig`].
    pub(crate) fn invalid(
        config: &'static str,
        field: &'static str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidConfig {
            config,
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(config: &'static str, field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            config,
            field,
            value,
            "must be positive and finite",
        ))
    }
}

/// Checks that `value` is finite and not negative.
pub(crate) fn non_negative(config: &'static str, field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            config,
            field,
            value,
            "must be finite and not negative",
        ))
    }
}

/// Checks that `value` lies in `[0, 1)`.
pub(crate) fn unit_interval(config: &'static str, field: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(config, field, value, "must be in [0, 1)"))
    }
}

/// `value` in `[0, 1]` (a momentum).
pub(crate) fn closed_unit_interval(
    config: &'static str,
    field: &'static str,
    value: f64,
) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(config, field, value, "must be in [0, 1]"))
    }
}

/// Both ends of a momentum schedule in `[0, 1]`.
pub(crate) fn momentum_schedule(
    config: &'static str,
    schedule: &selfsup_models::MomentumSchedule,
) -> Result<()> {
    closed_unit_interval(config, "momentum.base", schedule.base)?;
    closed_unit_interval(config, "momentum.end", schedule.end)
}
