//! # selfsup-losses
//!
//! The self-supervised losses, as pure functions over Burn tensors: no state, no backend choice
//! (every function works on whatever [`Device`](burn::prelude::Device) its inputs live on, with
//! or without autodiff).
//!
//! ## Crate map
//! - [`nt_xent`](nt_xent()): SimCLR's normalised-temperature cross-entropy, vectorized and
//!   numerically stable (log-sum-exp with max subtraction). [`NtXentConfig`] holds its one
//!   hyper-parameter for saving with a training config.
//! - [`nt_xent_naive`]: a loop transcription of seed 003's (cs231n) `simclr_loss_naive`, the test
//!   oracle of [`nt_xent`](nt_xent()). Slow, and not stable for small temperatures.
//! - [`negative_cosine`]: SimSiam's `D(p, z) = −cos(p, z)`, averaged over the batch. **It
//!   detaches `z`**: this is the one place in the workspace where SimSiam's stop-gradient happens.
//! - [`simsiam_loss`]: the symmetrised SimSiam loss `½·D(p1, z2) + ½·D(p2, z1)`.
//!
//! ## Contracts
//! Shapes and hyper-parameters are checked with assertions whose messages name the function and
//! the offending shapes or values: the two views must have equal shapes with a non-empty feature
//! dimension, NT-Xent needs a batch of at least 2 pairs (the cosine losses at least 1), and the
//! temperature must be positive and finite.
#![warn(missing_docs)]

mod contract;
pub mod cosine;
pub mod nt_xent;

pub use cosine::{COSINE_EPS, negative_cosine, simsiam_loss};
pub use nt_xent::{NORMALIZE_EPS, NtXentConfig, nt_xent, nt_xent_naive};
