//! [`TransformError`]: why a transform (or an [`Image`](super::Image)) could not be built.

/// A rejected hyper-parameter or image buffer.
///
/// Every variant names the offending parameter (as the constructor spells it, e.g.
/// `"scale"`, `"brightness"`, `"p"`) and the value it got, so a bad configuration is
/// diagnosed at construction, never halfway through an epoch. Messages are lowercase, without
/// trailing punctuation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// A scalar hyper-parameter outside its allowed range.
    #[error("{name} = {value} is out of range: expected {expected}")]
    OutOfRange {
        /// The parameter, as the constructor names it.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The allowed range, in words (e.g. `"a value in (0, 1]"`).
        expected: &'static str,
    },
    /// A `(min, max)` pair whose minimum exceeds its maximum.
    #[error("{name} = ({min}, {max}) is not a valid range: min must not exceed max")]
    InvertedRange {
        /// The parameter, as the constructor names it.
        name: &'static str,
        /// The minimum given.
        min: f32,
        /// The maximum given.
        max: f32,
    },
    /// A size (output side, kernel size, hole length, number of views...) that must be positive.
    #[error("{name} must be positive, got 0")]
    ZeroSize {
        /// The parameter, as the constructor names it.
        name: &'static str,
    },
    /// A Gaussian kernel size that is not odd.
    #[error("{name} = {value} must be odd")]
    EvenKernel {
        /// The parameter, as the constructor names it.
        name: &'static str,
        /// The value given.
        value: usize,
    },
    /// Two per-channel parameters of different lengths, or a list of the wrong length.
    #[error("{name} has {found} values, but {expected} are needed")]
    LengthMismatch {
        /// The parameter, as the constructor names it.
        name: &'static str,
        /// The number of values needed.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// A list that must not be empty.
    #[error("{name} must not be empty")]
    Empty {
        /// The parameter, as the constructor names it.
        name: &'static str,
    },
    /// An image buffer whose length does not match its dimensions.
    #[error(
        "image data has {found} values, but {channels} channels × {height} × {width} needs {expected}"
    )]
    ImageSize {
        /// Channels given.
        channels: usize,
        /// Height given.
        height: usize,
        /// Width given.
        width: usize,
        /// `channels * height * width`.
        expected: usize,
        /// The length of the buffer given.
        found: usize,
    },
}

/// `Ok(())` when `value` is finite and in `[lo, hi]`, else [`TransformError::OutOfRange`].
pub(crate) fn check_closed(
    name: &'static str,
    value: f32,
    lo: f32,
    hi: f32,
    expected: &'static str,
) -> Result<(), TransformError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(TransformError::OutOfRange {
            name,
            value,
            expected,
        })
    }
}

/// A probability: finite and in `[0, 1]`.
pub(crate) fn check_probability(name: &'static str, p: f32) -> Result<(), TransformError> {
    check_closed(name, p, 0.0, 1.0, "a probability in [0, 1]")
}

/// `Ok(())` when `min <= max`, else [`TransformError::InvertedRange`].
pub(crate) fn check_ordered(name: &'static str, min: f32, max: f32) -> Result<(), TransformError> {
    if min <= max {
        Ok(())
    } else {
        Err(TransformError::InvertedRange { name, min, max })
    }
}

/// `Ok(())` when `size > 0`, else [`TransformError::ZeroSize`].
pub(crate) fn check_positive_size(name: &'static str, size: usize) -> Result<(), TransformError> {
    if size > 0 {
        Ok(())
    } else {
        Err(TransformError::ZeroSize { name })
    }
}
