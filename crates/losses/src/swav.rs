//! SwAV's swapped-prediction loss and its Sinkhorn-Knopp codes.
//!
//! SwAV (Caron et al. 2020, eqs. 1–3 and Algorithm 1): the prototype scores of each
//! high-resolution view are turned into soft codes by a few Sinkhorn-Knopp iterations (an
//! equipartition of the batch over the prototypes), and every other view, high- or
//! low-resolution, predicts those codes:
//!
//! ```text
//! q_i = sinkhorn(stopgrad(z_i))                                (high-resolution view i)
//! ℓ(z, q) = −mean_b Σ_k q_bk · log softmax(z_b / τ)_k
//! L = (1/H) Σ_i (1/(V − 1)) Σ_{v ≠ i} ℓ(z_v, q_i)              (V = H + L views)
//! ```
//!
//! With a queue, the scores of past high-resolution views are appended to view `i`'s scores
//! before Sinkhorn-Knopp, and only the batch's own codes are kept, as lightly's `SwaVLoss`.

use burn::prelude::*;
use burn::tensor::activation;

use crate::contract::{check_positive, check_views};

/// SwAV's Sinkhorn-Knopp algorithm: soft codes assigning each of the `B` rows of `scores` to the
/// `K` prototypes, with the batch spread evenly over the prototypes.
///
/// With `Q = exp(scores / epsilon)`, normalised to sum 1, each of `iterations` rounds divides
/// every prototype's column by its sum, then every row by its sum and by `B`; the result is
/// multiplied by `B`, so that after at least one round each row of the output sums to 1. This is
/// lightly's `sinkhorn` (and facebookresearch/swav's `distributed_sinkhorn`) on one process, in
/// the `[B, K]` layout, computed in the log domain (each normalisation a log-sum-exp): scores /
/// epsilon of any magnitude stay finite in float32, where `exp(scores / epsilon)` overflows
/// beyond 88.7. With `iterations = 0` the output is `B · Q`.
///
/// # Stop-gradient
///
/// **`scores` is detached inside this function (`detach()`): the codes carry no gradient to the
/// scores.** This is SwAV's stop-gradient (Algorithm 1 computes the codes under
/// `torch.no_grad()`), and this function is the one place where it happens.
///
/// # Shapes
/// - `scores`: `[B, K]`, `B ≥ 1`, `K ≥ 1` (similarities of the features and the prototypes)
/// - output: `[B, K]`, non-negative, detached (on an autodiff device, a constant of its graph)
///
/// # Panics
/// If `B = 0`, `K = 0`, or `epsilon` is not positive and finite.
pub fn sinkhorn(scores: Tensor<2>, iterations: usize, epsilon: f64) -> Tensor<2> {
    let [b, k] = scores.dims();
    assert!(
        b >= 1 && k >= 1,
        "sinkhorn: scores need at least 1 row and 1 prototype, got shape {:?}",
        [b, k]
    );
    check_positive("sinkhorn", "epsilon", epsilon);
    let graph = scores.is_autodiff();
    // SwAV's stop-gradient: the one place it happens. The rounds then run off the autodiff graph
    // (`inner`), so that nothing of them is recorded even when `scores` is a leaf.
    let scores = scores.detach().inner();

    let log_b = (b as f64).ln();
    let log_q = scores.div_scalar(epsilon); // [B, K]
    let total = log_sum_exp(log_q.clone().reshape([1, b * k]), 1); // [1, 1]
    let mut log_q = log_q - total; // Q / ΣQ
    for _ in 0..iterations {
        log_q = log_q.clone() - log_sum_exp(log_q, 0); // each prototype's column sums to 1
        log_q = log_q.clone() - log_sum_exp(log_q, 1); // each row sums to 1 ...
        log_q = log_q.sub_scalar(log_b); // ... then to 1/B
    }
    let codes = log_q.add_scalar(log_b).exp();
    if graph { codes.autodiff() } else { codes }
}

/// `log Σ exp(x)` along `dim`, shifted by the maximum; keeps the dimension.
///
/// # Shapes
/// - `x`: `[R, C]`
/// - output: `[1, C]` (`dim = 0`) or `[R, 1]` (`dim = 1`)
fn log_sum_exp(x: Tensor<2>, dim: usize) -> Tensor<2> {
    let max = x.clone().max_dim(dim);
    (x - max.clone()).exp().sum_dim(dim).log() + max
}

/// The SwAV loss: each high-resolution view's Sinkhorn-Knopp codes, predicted by every other
/// view through a softmax at `config.temperature`, the cross-entropies averaged over the other
/// views and then over the high-resolution views.
///
/// For high-resolution view `i`, the codes are [`sinkhorn`] of its scores, with `queue[i]`'s
/// rows appended when there is a queue (and then dropped from the codes); every view `v ≠ i`,
/// high-resolution first, then low-resolution, adds `−mean_b Σ_k q_bk · log softmax(z_v / τ)_bk`,
/// and the sum is divided by `V − 1` (`V` views in all); the result is the mean over `i`. This
/// is lightly's `SwaVLoss.forward`.
///
/// # Stop-gradient
///
/// The codes come from [`sinkhorn`], which detaches its input: a view's scores receive gradient
/// only through its log-softmax predictions of the other views' codes, and the queue receives
/// none.
///
/// # Shapes
/// - `high_resolution`: `H ≥ 1` views of `[B, K]`, `B ≥ 1`, `K ≥ 1` (scores of the features
///   against the `K` prototypes)
/// - `low_resolution`: `L ≥ 0` views of `[B, K]`; `H + L ≥ 2`
/// - `queue`: `None`, or `H` views of `[Q, K]`, `Q ≥ 1` (scores of past high-resolution views,
///   one per high-resolution view)
/// - output: `[1]`
///
/// # Panics
/// If there is no high-resolution view or fewer than 2 views in all, the views' shapes differ,
/// the queue does not hold one `[Q, K]` entry per high-resolution view, or a hyper-parameter is
/// not positive and finite.
pub fn swav(
    high_resolution: &[Tensor<2>],
    low_resolution: &[Tensor<2>],
    queue: Option<&[Tensor<2>]>,
    config: &SwavLossConfig,
) -> Tensor<1> {
    let [b, k] = check_views("swav", "high_resolution", high_resolution);
    if !low_resolution.is_empty() {
        let low_shape = check_views("swav", "low_resolution", low_resolution);
        assert!(
            low_shape == [b, k],
            "swav: high- and low-resolution views must have the same shape, got \
             high_resolution {:?} and low_resolution {low_shape:?}",
            [b, k]
        );
    }
    let n_views = high_resolution.len() + low_resolution.len();
    assert!(
        n_views >= 2,
        "swav: needs at least 2 views in all, got 1 high-resolution view and none at low \
         resolution"
    );
    if let Some(queue) = queue {
        assert!(
            queue.len() == high_resolution.len(),
            "swav: the queue needs one entry per high-resolution view, got {} for {} views",
            queue.len(),
            high_resolution.len()
        );
        let [_, queue_k] = check_views("swav", "queue", queue);
        assert!(
            queue_k == k,
            "swav: the queue must score the views' {k} prototypes, got queue of shape {:?}",
            queue[0].dims()
        );
    }
    check_positive("swav", "temperature", config.temperature);
    check_positive("swav", "sinkhorn_epsilon", config.sinkhorn_epsilon);

    let mut loss: Option<Tensor<1>> = None;
    for (i, view) in high_resolution.iter().enumerate() {
        let scores = match queue {
            Some(queue) => Tensor::cat(vec![view.clone(), queue[i].clone()], 0),
            None => view.clone(),
        };
        // [B, K]: the batch's own codes (the queue's rows dropped).
        let codes =
            sinkhorn(scores, config.sinkhorn_iterations, config.sinkhorn_epsilon).narrow(0, 0, b);
        let others = high_resolution
            .iter()
            .enumerate()
            .filter(|&(v, _)| v != i)
            .map(|(_, z)| z)
            .chain(low_resolution);
        let subloss = others
            .map(|z| swapped_prediction(z.clone(), codes.clone(), config.temperature))
            .reduce(|a, b| a + b)
            .expect("at least 2 views");
        let term = subloss.div_scalar((n_views - 1) as f64);
        loss = Some(match loss {
            None => term,
            Some(loss) => loss + term,
        });
    }
    loss.expect("at least 1 high-resolution view")
        .div_scalar(high_resolution.len() as f64)
}

/// `−mean_b Σ_k codes_bk · log softmax(scores_b / τ)_k`, lightly's `SwaVLoss.subloss`.
///
/// # Shapes
/// - `scores`, `codes`: `[B, K]`
/// - output: `[1]`
fn swapped_prediction(scores: Tensor<2>, codes: Tensor<2>, temperature: f64) -> Tensor<1> {
    let log_probs = activation::log_softmax(scores.div_scalar(temperature), 1);
    -(codes * log_probs).sum_dim(1).mean()
}

/// The hyper-parameters of [`swav`], with the defaults of SwAV and lightly's `SwaVLoss`, for
/// saving inside a training configuration.
#[derive(Config, Debug)]
pub struct SwavLossConfig {
    /// The temperature `τ` of the predictions' softmax; positive and finite. Default 0.1 (SwAV;
    /// lightly's `SwaVLoss(temperature=0.1)`).
    #[config(default = 0.1)]
    pub temperature: f64,
    /// The number of Sinkhorn-Knopp rounds. Default 3 (SwAV; lightly's `sinkhorn_iterations`).
    #[config(default = 3)]
    pub sinkhorn_iterations: usize,
    /// The entropic regularisation `ε` of Sinkhorn-Knopp, dividing the scores; positive and
    /// finite. Default 0.05 (SwAV; lightly's `sinkhorn_epsilon`).
    #[config(default = 0.05)]
    pub sinkhorn_epsilon: f64,
}

impl SwavLossConfig {
    /// [`swav`] with this configuration.
    ///
    /// # Shapes
    /// As [`swav`].
    ///
    /// # Panics
    /// As [`swav`].
    pub fn loss(
        &self,
        high_resolution: &[Tensor<2>],
        low_resolution: &[Tensor<2>],
        queue: Option<&[Tensor<2>]>,
    ) -> Tensor<1> {
        swav(high_resolution, low_resolution, queue, self)
    }
}
