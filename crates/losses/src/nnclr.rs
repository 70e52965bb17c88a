//! NNCLR's support-set lookup and contrastive loss.
//!
//! NNCLR (Dwibedi et al., "With a Little Help from My Friends: Nearest-Neighbor Contrastive
//! Learning of Visual Representations", ICCV 2021) replaces SimCLR's positive, the other view's
//! embedding, by that embedding's nearest neighbour in a support set `Q` of past embeddings
//! (eq. 2-3):
//!
//! ```text
//! NN(z, Q) = argmax_{q ∈ Q} cos(z, q)
//! ℓ_i      = −log( exp(NN(z_i, Q)·p_i⁺/τ) / Σ_k exp(NN(z_i, Q)·p_k⁺/τ) )
//! ```
//!
//! where `p⁺` are the predictions of the other view. This module follows solo-learn's
//! transcription: `NNCLR.find_nn` (`solo/methods/nnclr.py`: `idx = (z @ queue.T).max(dim=1)[1]`
//! on unit rows) is [`nearest_neighbour`], and `nnclr_loss_func` (`solo/losses/nnclr.py`: both
//! sides L2-normalised, `logits = nn @ p.T / τ`, cross-entropy against `arange(N)`) is
//! [`nnclr_loss`]. The method symmetrises it, `½·ℓ(nn₁, p₂) + ½·ℓ(nn₂, p₁)`.

use burn::prelude::*;
use burn::tensor::activation;

use crate::contract::{check_pair, check_temperature};
use crate::cosine::l2_normalize_rows;
use crate::nt_xent::NORMALIZE_EPS;

/// The nearest neighbour, by cosine similarity, of each row of `z` among the rows of `support`
/// (NNCLR's `NN(z, Q)`, solo-learn's `find_nn`): the index of each neighbour and the neighbour
/// itself, a row of `support`, detached.
///
/// Both sides are L2-normalised for the comparison (norm floored at [`NORMALIZE_EPS`]); the
/// rows returned are `support`'s as given (unit rows in NNCLR's queue). solo-learn compares
/// `z @ queue.T` on rows that are already unit: the same argmax. A tie goes to the lowest index.
///
/// The lookup is not differentiable (an argmax picks the row): the neighbours are returned
/// detached, and [`nnclr_loss`] detaches them again where the stop-gradient is documented.
///
/// # Shapes
/// - `z`: `[N, D]`, `N ≥ 1`, `D ≥ 1`
/// - `support`: `[K, D]`, `K ≥ 1`
/// - output: `([N], [N, D])`, the indices into `support` and the neighbours
///
/// # Panics
/// If `z` has no row or no feature, or `support` has no row or another feature dimension.
pub fn nearest_neighbour(z: Tensor<2>, support: Tensor<2>) -> (Tensor<1, Int>, Tensor<2>) {
    let [n, d] = z.dims();
    let shape = support.dims();
    assert!(
        n >= 1 && d >= 1,
        "nearest_neighbour: z needs at least 1 row and 1 feature, got z of shape {:?}",
        [n, d]
    );
    assert!(
        shape[1] == d && shape[0] >= 1,
        "nearest_neighbour: the support set needs at least 1 row of z's feature dimension {d}, \
         got support of shape {shape:?}"
    );
    let support = support.detach();
    let z = l2_normalize_rows(z.detach(), NORMALIZE_EPS); // [N, D]
    let similarity = z.matmul(l2_normalize_rows(support.clone(), NORMALIZE_EPS).transpose()); // [N, K]
    let index = similarity.argmax(1).reshape([n]); // [N]
    let neighbours = support.select(0, index.clone()); // [N, D]
    (index, neighbours)
}

/// NNCLR's contrastive loss of the neighbours `nn` of one view's embeddings against the
/// predictions `p` of the other view (solo-learn's `nnclr_loss_func(nn, p, temperature)`).
///
/// Both are L2-normalised (norm floored at [`NORMALIZE_EPS`], as `F.normalize`); row `i`'s
/// logits are `[nn_i·p_1, …, nn_i·p_N] / τ` and its target is `i`. The loss is the mean
/// cross-entropy over the `N` rows, computed with a max-shifted log-softmax. It is not
/// symmetric in its arguments: the neighbours are the anchors (the rows of the logits).
///
/// # Stop-gradient
///
/// **`nn` is detached inside this function (`detach()`): no gradient ever flows into the
/// neighbours, or into the support set they come from, through this loss.** This is NNCLR's
/// stop-gradient (solo-learn looks the neighbours up under `torch.no_grad()`, in a queue buffer),
/// and this function is the one place where it happens. Only `p` receives a gradient.
///
/// # Shapes
/// - `nn`: `[N, D]`, `N ≥ 2` (a row needs another as its negative), `D ≥ 1`; the nearest
///   neighbours of one view's projections ([`nearest_neighbour`]), detached
/// - `p`: `[N, D]`; the predictions of the other view, receives the gradient
/// - output: `[1]`
///
/// # Panics
/// If `nn` and `p` have different shapes, `N < 2`, `D = 0`, or `temperature` is not positive and
/// finite.
pub fn nnclr_loss(nn: Tensor<2>, p: Tensor<2>, temperature: f64) -> Tensor<1> {
    check_pair("nnclr_loss", ("nn", "p"), &nn, &p, 2);
    check_temperature("nnclr_loss", temperature);
    let [n, _] = nn.dims();
    // NNCLR's stop-gradient: the one place it happens.
    let nn = l2_normalize_rows(nn.detach(), NORMALIZE_EPS); // [N, D]
    let p = l2_normalize_rows(p, NORMALIZE_EPS); // [N, D]
    let logits = nn.matmul(p.transpose()).div_scalar(temperature); // [N, N]
    let device = logits.device();
    let targets = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([n, 1]);
    -activation::log_softmax(logits, 1).gather(1, targets).mean()
}

/// The hyper-parameter of [`nnclr_loss`], for saving inside a training configuration.
#[derive(Config, Debug)]
pub struct NnclrLossConfig {
    /// The temperature `τ` dividing the cosine similarities; positive and finite. Default 0.2:
    /// solo-learn's `scripts/pretrain/cifar/nnclr.yaml` and `imagenet-100/nnclr.yaml`
    /// (`temperature: 0.2`); the paper uses 0.1.
    #[config(default = 0.2)]
    pub temperature: f64,
}

impl NnclrLossConfig {
    /// [`nnclr_loss`] at this configuration's temperature.
    ///
    /// # Shapes
    /// - `nn`: `[N, D]`
    /// - `p`: `[N, D]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// As [`nnclr_loss`].
    pub fn loss(&self, nn: Tensor<2>, p: Tensor<2>) -> Tensor<1> {
        nnclr_loss(nn, p, self.temperature)
    }
}
