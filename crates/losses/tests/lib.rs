//! Integration tests of `selfsup-losses`, in one binary.
//!
//! - [`oracle`]: vectorized NT-Xent against the loop oracle (values and gradients).
//! - [`golden`]: losses and gradients against PyTorch float64 (`tools/golden_losses.py`).
//! - [`stop_gradient`]: SimSiam's stop-gradient cuts the target branch, and the test can tell.
//! - [`known_values`]: closed forms (orthonormal views, ±p).
//! - [`stability`]: small temperatures against a float64 host oracle.
//! - [`contracts`]: every shape and hyper-parameter assertion.
//! - [`ssl_golden`]: Barlow Twins, VICReg, InfoNCE, DINO and SwAV (values, gradients, DINO's
//!   centre and temperature schedule, Sinkhorn-Knopp codes) against lightly 1.6.0 float64
//!   (`tools/golden_ssl_losses.py`).
//! - [`ssl_stop_gradient`]: MoCo's, DINO's and SwAV's stop-gradients, each with a control that
//!   shows the check can fail.
//! - [`ssl_contracts`]: every shape and hyper-parameter assertion of those five losses.
//!   [`ssl_golden`] also holds NNCLR against solo-learn's `nnclr_loss_func` and `find_nn`.
//! - [`nnclr`]: NNCLR's support-set lookup against a brute-force cosine argmax, its
//!   stop-gradient (with a control), and its contracts.

mod common;
mod contracts;
mod golden;
mod known_values;
mod nnclr;
mod oracle;
mod ssl_contracts;
mod ssl_golden;
mod ssl_stop_gradient;
mod stability;
mod stop_gradient;
