//! InfoNCE, MoCo's contrastive loss, with a queue of negatives or with in-batch negatives.
//!
//! MoCo (He et al. 2020, eq. 1 and Algorithm 1): each query `q` is scored against its key `k₊`
//! and `K` negative keys from a queue, all L2-normalised, and
//!
//! ```text
//! ℓ(q) = −log( exp(q·k₊/τ) / (exp(q·k₊/τ) + Σ_{k ∈ queue} exp(q·k/τ)) )
//! L    = mean over the N queries
//! ```
//!
//! Without a queue, the other keys of the batch are the negatives: `logits = q·kᵀ/τ` and query
//! `i`'s target is key `i`, MoCo v3's `contrastive_loss` (Chen, Xie & He 2021) without its `2τ`
//! factor. The keys (and the queue) come from the momentum encoder and receive no gradient.

use burn::prelude::*;
use burn::tensor::activation;

use crate::contract::{check_pair, check_temperature};
use crate::cosine::l2_normalize_rows;
use crate::nt_xent::NORMALIZE_EPS;

/// The InfoNCE loss of MoCo: cross-entropy of each query against its key among the negatives,
/// on cosine similarities divided by `temperature`.
///
/// `query`, `key` and the rows of `queue` are L2-normalised (norm floored at
/// [`NORMALIZE_EPS`], as `F.normalize`). With a queue, row `i`'s logits are
/// `[q_i·k_i, q_i·queue_1, …, q_i·queue_K] / τ` and its target is 0 (MoCo's Algorithm 1, and
/// lightly's `NTXentLoss` with a memory bank); without one they are `[q_i·k_1, …, q_i·k_N] / τ`
/// and its target is `i`. The loss is the mean cross-entropy over the `N` queries, computed with
/// a max-shifted log-softmax.
///
/// # Stop-gradient
///
/// **`key` and `queue` are detached inside this function (`detach()`): no gradient ever flows
/// into them, or into whatever produced them, through this loss.** This is MoCo's stop-gradient
/// (Algorithm 1: `k = k.detach()`; the queue holds past keys), and this function is the one
/// place where it happens. Only `query` receives a gradient. Note that lightly's `NTXentLoss`
/// does not detach its second argument: there the key encoder runs under `torch.no_grad()`.
///
/// # Shapes
/// - `query`: `[N, D]`, `D ≥ 1` (`N ≥ 1` with a queue, `N ≥ 2` without: one row has no
///   in-batch negative); the online encoder's projections, receives the gradient
/// - `key`: `[N, D]`; the momentum encoder's projections of the other views, detached
/// - `queue`: `[K, D]`, `K ≥ 1`, one past key per row, detached; or `None` for in-batch negatives
/// - output: `[1]`
///
/// # Panics
/// If `query` and `key` have different shapes, the batch is too small, `D = 0`, the queue's
/// feature dimension differs from `D` or it has no row, or `temperature` is not positive and
/// finite.
pub fn info_nce(
    query: Tensor<2>,
    key: Tensor<2>,
    queue: Option<Tensor<2>>,
    temperature: f64,
) -> Tensor<1> {
    let min_batch = if queue.is_some() { 1 } else { 2 };
    check_pair("info_nce", ("query", "key"), &query, &key, min_batch);
    check_temperature("info_nce", temperature);
    let [n, d] = query.dims();
    if let Some(queue) = &queue {
        let shape = queue.dims();
        assert!(
            shape[1] == d,
            "info_nce: the queue must have the feature dimension of query, {d}, got queue of \
             shape {shape:?}"
        );
        assert!(
            shape[0] >= 1,
            "info_nce: the queue needs at least 1 row, got queue of shape {shape:?}"
        );
    }
    // MoCo's stop-gradient: the one place it happens.
    let key = key.detach();
    let queue = queue.map(|queue| queue.detach());

    let q = l2_normalize_rows(query, NORMALIZE_EPS); // [N, D]
    let k = l2_normalize_rows(key, NORMALIZE_EPS); // [N, D]
    let target_log_probs = match queue {
        Some(queue) => {
            let queue = l2_normalize_rows(queue, NORMALIZE_EPS); // [K, D]
            let positive = (q.clone() * k).sum_dim(1); // [N, 1]
            let negative = q.matmul(queue.transpose()); // [N, K]
            let logits = Tensor::cat(vec![positive, negative], 1).div_scalar(temperature);
            activation::log_softmax(logits, 1).narrow(1, 0, 1) // [N, 1], target 0
        }
        None => {
            let logits = q.matmul(k.transpose()).div_scalar(temperature); // [N, N]
            let device = logits.device();
            let targets = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([n, 1]);
            activation::log_softmax(logits, 1).gather(1, targets) // [N, 1], target i
        }
    };
    -target_log_probs.mean()
}

/// The hyper-parameter of [`info_nce`], for saving inside a training configuration.
#[derive(Config, Debug)]
pub struct InfoNceConfig {
    /// The temperature `τ` dividing the cosine similarities; positive and finite. Default 0.2:
    /// MoCo v2 (Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning"); MoCo
    /// v1 used 0.07.
    #[config(default = 0.2)]
    pub temperature: f64,
}

impl InfoNceConfig {
    /// [`info_nce`] at this configuration's temperature.
    ///
    /// # Shapes
    /// - `query`: `[N, D]`
    /// - `key`: `[N, D]`
    /// - `queue`: `[K, D]` or `None`
    /// - output: `[1]`
    ///
    /// # Panics
    /// As [`info_nce`].
    pub fn loss(&self, query: Tensor<2>, key: Tensor<2>, queue: Option<Tensor<2>>) -> Tensor<1> {
        info_nce(query, key, queue, self.temperature)
    }
}
