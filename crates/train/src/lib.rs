//! selfsup-train: training loop and evaluation (coming with issue 5).
#![warn(missing_docs)]
