//! The error type of `selfsup-train`.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when a training or evaluation config is turned into the object
/// it describes.
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
}

impl Error {
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
