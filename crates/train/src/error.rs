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
        /// The underlying error.
        message: String,
    },
    /// A checkpoint file is not one this crate wrote, is truncated, or does not fit the model.
    #[error("bad checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
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
    /// A fresh run was asked to write where a run already is.
    #[error(
        "{} already holds a run: resume it, choose another output directory, or allow overwriting",
        checkpoint.display()
    )]
    RunExists {
        /// The existing checkpoint.
        checkpoint: std::path::PathBuf,
    },
    /// The data does not fit the method or the config (no labels for a supervised method, fewer
    /// images than a batch, …).
    #[error("{0}")]
    Data(String),
}

impl Error {
    /// Shorthand for [`Error::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
        err: impl std::fmt::Display,
    ) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    /// Shorthand for [`Error::Checkpoint`].
    pub(crate) fn checkpoint(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.to_path_buf(),
            reason: reason.into(),
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
