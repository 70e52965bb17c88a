//! MAE's reconstruction loss.
//!
//! MAE (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022) regresses the
//! pixels of the masked patches: the mean squared error per patch, averaged over the removed
//! patches only. With the normalised-pixel target (the paper's default, `norm_pix_loss=True`,
//! "improves representation quality"), each target patch is first standardised by its own mean
//! and variance. This is `forward_loss` of the paper's code (`models_mae.py`), which solo-learn's
//! `mae_loss_func` copies:
//!
//! ```text
//! target = (target − mean) / sqrt(var + 10⁻⁶)     (per patch, unbiased variance; if norm_pix)
//! loss   = Σ_{b,n} mask·mean_k (pred − target)² / Σ mask
//! ```

use burn::prelude::*;

/// ε added to each patch's variance in the normalised-pixel target (MAE's `1.e-6`).
pub const MAE_NORM_PIX_EPS: f64 = 1e-6;

/// Each patch standardised by its own mean and unbiased variance (`target.var(dim=-1)`), the
/// normalised-pixel target of MAE.
///
/// # Shapes
/// - `patches`: `[B, N, K]`, `K ≥ 2`
/// - output: `[B, N, K]`
pub fn normalize_patches(patches: Tensor<3>) -> Tensor<3> {
    let (var, mean) = patches.clone().var_mean(2);
    (patches - mean) / (var + MAE_NORM_PIX_EPS).sqrt()
}

/// MAE's loss: the mean squared error of each patch's prediction, averaged over the patches
/// `mask` marks as removed (1; 0 for visible).
///
/// `target` is the images' [`patchify`](https://github.com/facebookresearch/mae)-ed pixels;
/// with `norm_pix` it is standardised per patch first ([`normalize_patches`]). The target
/// receives no gradient.
///
/// # Shapes
/// - `pred`, `target`: `[B, N, K]`
/// - `mask`: `[B, N]`, at least one 1
/// - output: `[1]`
///
/// # Panics
/// If the shapes disagree.
pub fn mae_loss(pred: Tensor<3>, target: Tensor<3>, mask: Tensor<2>, norm_pix: bool) -> Tensor<1> {
    let [b, n, k] = pred.dims();
    assert_eq!(
        target.dims(),
        [b, n, k],
        "mae_loss: target of shape {:?} for predictions of shape {:?}",
        target.dims(),
        [b, n, k]
    );
    assert_eq!(
        mask.dims(),
        [b, n],
        "mae_loss: mask of shape {:?} for {b} images of {n} patches",
        mask.dims()
    );
    let mut target = target.detach();
    if norm_pix {
        target = normalize_patches(target);
    }
    let per_patch: Tensor<2> = (pred - target).square().mean_dim(2).reshape([b, n]);
    (per_patch * mask.clone()).sum() / mask.sum()
}
