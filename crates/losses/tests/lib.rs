//! Integration tests of `selfsup-losses`, in one binary.
//!
//! - [`oracle`]: vectorized NT-Xent against the loop oracle (values and gradients).
//! - [`golden`]: losses and gradients against PyTorch float64 (`tools/golden_losses.py`).
//! - [`stop_gradient`]: SimSiam's stop-gradient cuts the target branch, and the test can tell.
//! - [`known_values`]: closed forms (orthonormal views, ±p).
//! - [`stability`]: small temperatures against a float64 host oracle.
//! - [`contracts`]: every shape and hyper-parameter assertion.

mod common;
mod contracts;
mod golden;
mod known_values;
mod oracle;
mod stability;
mod stop_gradient;
