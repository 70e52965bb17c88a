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
//! - [`nt_xent_naive`]: a loop transcription of SimCLR's Algorithm 1, the test oracle of [`nt_xent`](nt_xent()). Slow, and not stable for
//!   small temperatures.
//! - [`negative_cosine`]: SimSiam's `D(p, z) = −cos(p, z)`, averaged over the batch. **It
//!   detaches `z`**: this is the one place in the workspace where SimSiam's stop-gradient happens.
//! - [`simsiam_loss`]: the symmetrised SimSiam loss `½·D(p1, z2) + ½·D(p2, z1)`.
//! - [`barlow_twins`](barlow_twins()): Barlow Twins' cross-correlation loss (Zbontar et al.
//!   2021), as lightly's `BarlowTwinsLoss`; [`BarlowTwinsConfig`] holds its `λ`.
//! - [`vicreg`](vicreg()): VICReg's variance-invariance-covariance loss (Bardes et al. 2022), as
//!   lightly's `VICRegLoss`; [`VicRegConfig`] holds its three weights and `ε`.
//! - [`info_nce`](info_nce()): MoCo's InfoNCE (He et al. 2020, Algorithm 1) against a queue of
//!   negatives, or against the batch's other keys. **It detaches the key and the queue**: the
//!   one place MoCo's stop-gradient happens. [`InfoNceConfig`] holds its temperature.
//! - [`dino`](dino()): DINO's self-distillation loss over global and local views (Caron et al.
//!   2021), as lightly's `DINOLoss`. **It detaches the teacher outputs**: the one place DINO's
//!   stop-gradient happens. [`dino_center`] is the centre's moving average, and
//!   [`DinoLossConfig`] holds the temperatures, lightly's teacher-temperature warm-up and the
//!   centre momentum.
//! - [`swav`](swav()): SwAV's swapped-prediction loss with multi-crop and an optional queue
//!   (Caron et al. 2020), as lightly's `SwaVLoss`; [`sinkhorn`] computes its codes. **Sinkhorn
//!   detaches its scores**: the one place SwAV's stop-gradient happens. [`SwavLossConfig`] holds
//!   its temperature and the Sinkhorn-Knopp settings.
//! - [`nnclr_loss`]: NNCLR's contrastive loss of support-set neighbours against the other
//!   view's predictions (Dwibedi et al. 2021), as solo-learn's `nnclr_loss_func`;
//!   [`nearest_neighbour`] is its cosine lookup in the support set. **It detaches the
//!   neighbours**: the one place NNCLR's stop-gradient happens. [`NnclrLossConfig`] holds its
//!   temperature.
//! - [`mae_loss`]: MAE's pixel regression on the masked patches (He et al. 2022), as the paper's
//!   `forward_loss`; [`normalize_patches`] is its per-patch normalised target. **It detaches
//!   the target.**
//!
//! ## Contracts
//! Shapes and hyper-parameters are checked with assertions whose messages name the function and
//! the offending shapes or values: paired views must have equal shapes with a non-empty feature
//! dimension, lists of views must be non-empty and of one shape, NT-Xent, Barlow Twins and
//! VICReg need a batch of at least 2 rows (the cosine losses at least 1), and temperatures,
//! epsilons and weights must be finite (positive, or non-negative for the weights).
#![warn(missing_docs)]

pub mod barlow_twins;
mod contract;
pub mod cosine;
pub mod dino;
pub mod info_nce;
pub mod mae;
pub mod nnclr;
pub mod nt_xent;
pub mod swav;
pub mod vicreg;

pub use barlow_twins::{BARLOW_TWINS_BN_EPS, BarlowTwinsConfig, barlow_twins};
pub use cosine::{COSINE_EPS, negative_cosine, simsiam_loss};
pub use dino::{DinoLossConfig, dino, dino_center};
pub use info_nce::{InfoNceConfig, info_nce};
pub use mae::{MAE_NORM_PIX_EPS, mae_loss, normalize_patches};
pub use nnclr::{NnclrLossConfig, nearest_neighbour, nnclr_loss};
pub use nt_xent::{NORMALIZE_EPS, NtXentConfig, nt_xent, nt_xent_naive};
pub use swav::{SwavLossConfig, sinkhorn, swav};
pub use vicreg::{VicRegConfig, vicreg};
