//! The error type of `selfsup-embedding`, and the check of the input rows.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can be wrong with a PCA or t-SNE call: the data, or a t-SNE hyper-parameter. Messages
/// are lowercase, without trailing punctuation, and name the field or the row at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config field holds a value outside its valid range.
    #[error("invalid {config}: {field} = {value} {reason}")]
    InvalidConfig {
        /// The config at fault (`"t-SNE config"`).
        config: &'static str,
        /// The offending field.
        field: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What the value should be (e.g. `"must be positive and finite"`).
        reason: String,
    },
    /// The data is not whole rows, holds a non-finite value, or is too small for the map.
    #[error("{0}")]
    Data(String),
}

impl Error {
    /// The config field an [`Error::InvalidConfig`] names (`"perplexity"`, …), for a command
    /// line to name its flag; `None` for other errors.
    pub fn config_field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidConfig { field, .. } => Some(field),
            Self::Data(_) => None,
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

/// The number of rows of `data` (`n × dim`), after checking that it is whole and finite.
pub(crate) fn rows(data: &[f32], dim: usize, what: &str) -> Result<usize> {
    if dim == 0 {
        return Err(Error::Data(format!(
            "{what}: the dimension must be positive"
        )));
    }
    if !data.len().is_multiple_of(dim) {
        return Err(Error::Data(format!(
            "{what}: {} values are not whole rows of {dim}",
            data.len()
        )));
    }
    if let Some(k) = data.iter().position(|x| !x.is_finite()) {
        return Err(Error::Data(format!(
            "{what}: row {}, column {} is {}",
            k / dim,
            k % dim,
            data[k]
        )));
    }
    Ok(data.len() / dim)
}
