//! Barlow Twins' redundancy-reduction loss.
//!
//! Barlow Twins (Zbontar et al. 2021, eq. 1 and Algorithm 1): standardise each feature over the
//! batch, take the `D × D` cross-correlation matrix `C` of the two views, and push it towards the
//! identity:
//!
//! ```text
//! C_ij = (1/N) Σ_b ẑ_a[b, i] · ẑ_b[b, j]
//! L    = Σ_i (1 − C_ii)² + λ · Σ_i Σ_{j≠i} C_ij²
//! ```
//!
//! As lightly's `BarlowTwinsLoss` and facebookresearch/barlowtwins
//! (`nn.BatchNorm1d(affine=False)`), `ẑ` is batch normalisation in training mode: the **biased**
//! variance with [`BARLOW_TWINS_BN_EPS`] added, not the unbiased `std` of the paper's pseudocode.

use burn::prelude::*;

use crate::contract::{check_non_negative, check_pair};

/// The variance floor of the batch standardisation in [`barlow_twins`], PyTorch's
/// `F.batch_norm` default `eps = 1e-5`: `ẑ = (z − mean) / sqrt(var_biased + eps)`.
pub const BARLOW_TWINS_BN_EPS: f64 = 1e-5;

/// The Barlow Twins loss: invariance on the diagonal of the cross-correlation matrix, redundancy
/// reduction (weighted by `lambda`) off it.
///
/// Each column of `z_a` and `z_b` is standardised over the batch (mean 0, biased variance 1,
/// with [`BARLOW_TWINS_BN_EPS`] under the square root), `C = ẑ_aᵀ·ẑ_b / N`, and the loss is
/// `Σ_i (1 − C_ii)² + lambda · Σ_{i≠j} C_ij²`, summed, not averaged, over features (as the paper
/// and lightly's `BarlowTwinsLoss(lambda_param=5e-3)`). Both views receive gradients.
///
/// # Shapes
/// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1` (the projections of the first views)
/// - `z_b`: `[N, D]` (the second views; row `i` pairs with `z_a` row `i`)
/// - output: `[1]`
///
/// # Panics
/// If the shapes differ, `N < 2` (a batch of one has no variance), `D = 0`, or `lambda` is
/// negative or not finite.
pub fn barlow_twins(z_a: Tensor<2>, z_b: Tensor<2>, lambda: f64) -> Tensor<1> {
    check_pair("barlow_twins", ("z_a", "z_b"), &z_a, &z_b, 2);
    check_non_negative("barlow_twins", "lambda", lambda);
    let [n, d] = z_a.dims();
    let device = z_a.device();
    let (a, b) = (standardize(z_a), standardize(z_b));
    let c = a.transpose().matmul(b).div_scalar(n as f64); // [D, D]
    let diagonal = Tensor::<2>::eye(d, &device).equal_elem(1.0); // [D, D], Bool
    let on_diagonal = c
        .clone()
        .mask_fill(diagonal.clone().bool_not(), 0.0)
        .sum_dim(1); // [D, 1]
    let off_diagonal = c.mask_fill(diagonal, 0.0); // [D, D]
    let invariance = on_diagonal.sub_scalar(1.0).square().sum();
    let redundancy = off_diagonal.square().sum();
    invariance + redundancy.mul_scalar(lambda)
}

/// Batch normalisation in training mode without affine parameters: each column minus its mean,
/// divided by `sqrt(biased variance + BARLOW_TWINS_BN_EPS)`.
///
/// # Shapes
/// - `z`: `[N, D]`
/// - output: `[N, D]`
fn standardize(z: Tensor<2>) -> Tensor<2> {
    let centred = z.clone() - z.mean_dim(0); // [N, D]
    let variance = centred.clone().square().mean_dim(0); // [1, D], biased
    centred / variance.add_scalar(BARLOW_TWINS_BN_EPS).sqrt()
}

/// The hyper-parameter of [`barlow_twins`], for saving inside a training configuration.
#[derive(Config, Debug)]
pub struct BarlowTwinsConfig {
    /// The weight `λ` of the redundancy-reduction (off-diagonal) term; non-negative and finite.
    /// Default 5e-3: the trade-off of Barlow Twins' implementation details (`λ = 5·10⁻³`) and
    /// lightly's `BarlowTwinsLoss(lambda_param=5e-3)`.
    #[config(default = 5e-3)]
    pub lambda: f64,
}

impl BarlowTwinsConfig {
    /// [`barlow_twins`] at this configuration's `lambda`.
    ///
    /// # Shapes
    /// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1`
    /// - `z_b`: `[N, D]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// As [`barlow_twins`].
    pub fn loss(&self, z_a: Tensor<2>, z_b: Tensor<2>) -> Tensor<1> {
        barlow_twins(z_a, z_b, self.lambda)
    }
}
