//! VICReg's variance-invariance-covariance loss.
//!
//! VICReg (Bardes, Ponce & LeCun 2022, eqs. 1–6), as lightly's `VICRegLoss` and
//! facebookresearch/vicreg compute it, for two views `Z`, `Z'` of `N` rows and `D` features:
//!
//! ```text
//! s(Z, Z') = (1/(N·D)) Σ_b ‖z_b − z'_b‖²                      (F.mse_loss)
//! v(Z)     = (1/D) Σ_j max(0, 1 − sqrt(Var(z^j) + ε))        (Var unbiased, over the batch)
//! c(Z)     = (1/D) Σ_{i≠j} C(Z)_ij²,   C(Z) = (1/(N−1)) Σ_b (z_b − z̄)(z_b − z̄)ᵀ
//! L        = λ·s(Z, Z') + μ·½·(v(Z) + v(Z')) + ν·(c(Z) + c(Z'))
//! ```
//!
//! Two details follow the official code (and lightly) rather than the paper's eq. 6: the
//! invariance term is a mean over the `N·D` entries, and the variance term is halved.

use burn::prelude::*;
use burn::tensor::activation;

use crate::contract::{check_non_negative, check_pair, check_positive};

/// The VICReg loss: invariance (mean squared error between the views), variance (a hinge on
/// each feature's standard deviation over the batch) and covariance (the off-diagonal entries of
/// each view's covariance matrix), weighted by `config`.
///
/// Both views receive gradients. The variance uses the unbiased estimator (`N − 1`), as
/// PyTorch's `Tensor.var`, and `config.eps` keeps the square root's gradient finite when a
/// feature is constant over the batch.
///
/// # Shapes
/// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1` (the projections of the first views)
/// - `z_b`: `[N, D]` (the second views; row `i` pairs with `z_a` row `i`)
/// - output: `[1]`
///
/// # Panics
/// If the shapes differ, `N < 2` (the unbiased variance needs two rows), `D = 0`, a coefficient
/// is negative or not finite, or `eps` is not positive and finite.
pub fn vicreg(z_a: Tensor<2>, z_b: Tensor<2>, config: &VicRegConfig) -> Tensor<1> {
    check_pair("vicreg", ("z_a", "z_b"), &z_a, &z_b, 2);
    check_non_negative("vicreg", "invariance", config.invariance);
    check_non_negative("vicreg", "variance", config.variance);
    check_non_negative("vicreg", "covariance", config.covariance);
    check_positive("vicreg", "eps", config.eps);
    let invariance = (z_a.clone() - z_b.clone()).square().mean();
    let variance = (variance_term(z_a.clone(), config.eps)
        + variance_term(z_b.clone(), config.eps))
    .mul_scalar(0.5);
    let covariance = covariance_term(z_a) + covariance_term(z_b);
    invariance.mul_scalar(config.invariance)
        + variance.mul_scalar(config.variance)
        + covariance.mul_scalar(config.covariance)
}

/// `v(Z) = mean_j relu(1 − sqrt(Var(z^j) + eps))`, with the unbiased variance.
///
/// # Shapes
/// - `z`: `[N, D]`, `N ≥ 2`
/// - output: `[1]`
fn variance_term(z: Tensor<2>, eps: f64) -> Tensor<1> {
    let std = z.var(0).add_scalar(eps).sqrt(); // [1, D]
    activation::relu(std.neg().add_scalar(1.0)).mean()
}

/// `c(Z) = Σ_{i≠j} C_ij² / D`, with `C` the unbiased covariance matrix of the columns.
///
/// # Shapes
/// - `z`: `[N, D]`, `N ≥ 2`
/// - output: `[1]`
fn covariance_term(z: Tensor<2>) -> Tensor<1> {
    let [n, d] = z.dims();
    let device = z.device();
    let centred = z.clone() - z.mean_dim(0); // [N, D]
    let covariance = centred
        .clone()
        .transpose()
        .matmul(centred)
        .div_scalar((n - 1) as f64); // [D, D]
    let diagonal = Tensor::<2>::eye(d, &device).equal_elem(1.0);
    covariance
        .mask_fill(diagonal, 0.0)
        .square()
        .sum()
        .div_scalar(d as f64)
}

/// The coefficients of [`vicreg`], with the paper's defaults, for saving inside a training
/// configuration.
#[derive(Config, Debug)]
pub struct VicRegConfig {
    /// `λ`, the weight of the invariance term; non-negative and finite. Default 25: VICReg's
    /// implementation details (`λ = μ = 25`, `ν = 1`) and lightly's
    /// `VICRegLoss(lambda_param=25.0)`.
    #[config(default = 25.0)]
    pub invariance: f64,
    /// `μ`, the weight of the variance term; non-negative and finite. Default 25 (VICReg;
    /// lightly's `mu_param=25.0`).
    #[config(default = 25.0)]
    pub variance: f64,
    /// `ν`, the weight of the covariance term; non-negative and finite. Default 1 (VICReg;
    /// lightly's `nu_param=1.0`).
    #[config(default = 1.0)]
    pub covariance: f64,
    /// `ε`, added to each feature's variance under the square root; positive and finite.
    /// Default 1e-4: VICReg (eq. 1) and lightly's `eps=0.0001`.
    #[config(default = 1e-4)]
    pub eps: f64,
}

impl VicRegConfig {
    /// [`vicreg`] with this configuration.
    ///
    /// # Shapes
    /// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1`
    /// - `z_b`: `[N, D]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// As [`vicreg`].
    pub fn loss(&self, z_a: Tensor<2>, z_b: Tensor<2>) -> Tensor<1> {
        vicreg(z_a, z_b, self)
    }
}
