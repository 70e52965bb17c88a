//! NT-Xent, SimCLR's normalised-temperature cross-entropy, and its loop oracle.
//!
//! For a batch of `N` positive pairs `(z_a[i], z_b[i])`, stack `z = cat[z_a, z_b]` (`2N` rows)
//! and let `s(i, j) = cos(z[i], z[j])`. Anchor `i`'s partner is `p(i) = i + N` for `i < N` and
//! `i − N` otherwise, and
//!
//! ```text
//! ℓ(i) = −log( exp(s(i, p(i))/τ) / Σ_{k≠i} exp(s(i, k)/τ) )      (2N − 1 terms below)
//! L    = (1/2N) · Σ_i ℓ(i)
//! ```
//!
//! (SimCLR, Chen et al. 2020, eq. 1 and Algorithm 1; seed 003's `simclr_loss_naive`.)

use burn::prelude::*;

use crate::contract::{check_pair, check_temperature};
use crate::cosine::l2_normalize_rows;

/// The norm floor of the row normalisation in [`nt_xent`]: rows are divided by
/// `max(‖z‖, NORMALIZE_EPS)`, as `torch.nn.functional.normalize` (eps = 1e-12) does, so that a
/// zero row gives zero similarities (and a finite gradient) instead of NaN.
pub const NORMALIZE_EPS: f64 = 1e-12;

/// The NT-Xent loss (SimCLR): cross-entropy of each view against its partner view among the
/// `2N − 1` other views of the batch, on cosine similarities divided by `temperature`.
///
/// Rows `i` of `z_a` and `z_b` are a positive pair. Rows are L2-normalised (norm floored at
/// [`NORMALIZE_EPS`]), the `2N × 2N` matrix of cosine similarities of `z = cat[z_a, z_b]` is
/// divided by `temperature`, the diagonal (each view's similarity with itself) is masked out, and
/// each anchor `i` is scored by `−log softmax` at its partner `i ↔ i + N`; the result is the mean
/// over the `2N` anchors. This is the quantity seed 003's `simclr_loss_naive` and
/// `simclr_loss_vectorized` compute (see [`nt_xent_naive`]).
///
/// Numerically stable for any positive temperature: each row's log-sum-exp subtracts the row
/// maximum before exponentiating, and the diagonal is filled with the most negative finite
/// `f32` (not −∞), whose exponential underflows to exactly 0 with no NaN in the value or the
/// gradient. Logits lie in `[−1/τ, 1/τ]`, so nothing overflows even at `τ = 0.01`.
///
/// # Shapes
/// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1` (e.g. the projections of the first views)
/// - `z_b`: `[N, D]` (the projections of the second views; row `i` pairs with `z_a` row `i`)
/// - output: `[1]`, the mean loss
///
/// # Panics
/// If the shapes differ, `N < 2`, `D = 0`, or `temperature` is not positive and finite.
pub fn nt_xent(z_a: Tensor<2>, z_b: Tensor<2>, temperature: f64) -> Tensor<1> {
    check_pair("nt_xent", ("z_a", "z_b"), &z_a, &z_b, 2);
    check_temperature("nt_xent", temperature);
    let [n, _] = z_a.dims();
    let device = z_a.device();

    let a = l2_normalize_rows(z_a, NORMALIZE_EPS);
    let b = l2_normalize_rows(z_b, NORMALIZE_EPS);

    // Positive logits: anchor i and anchor i + N share the same one, cos(a_i, b_i) / τ.
    let positive = (a.clone() * b.clone()).sum_dim(1).div_scalar(temperature); // [N, 1]

    // All 2N × 2N logits, the diagonal (self-similarity) masked out.
    let z = Tensor::cat(vec![a, b], 0); // [2N, D]
    let logits = z.clone().matmul(z.transpose()).div_scalar(temperature); // [2N, 2N]
    let diagonal = Tensor::<2, Int>::eye(2 * n, &device).bool();
    let logits = logits.mask_fill(diagonal, f32::MIN);

    // log Σ_{k≠i} exp(logit_ik), shifted by the row maximum (over the 2N − 1 real entries). The
    // shift cancels in the value, so it is a constant for autodiff: detaching it is not a
    // stop-gradient of the loss, just the analytic log-sum-exp gradient (softmax).
    let row_max = logits.clone().max_dim(1).detach(); // [2N, 1]
    let log_denominator = (logits - row_max.clone()).exp().sum_dim(1).log() + row_max; // [2N, 1]

    // mean_i(−positive_i + log_denominator_i); both halves have the same positives.
    log_denominator.mean() - positive.mean()
}

/// NT-Xent by loops: a transcription of seed 003's (cs231n) `simclr_loss_naive`, kept as the
/// test oracle of [`nt_xent`].
///
/// ```python
/// for k in range(N):  # loop through each positive pair (k, k+N)
///     z_k, z_k_N = out[k], out[k+N]
///     sims_k = torch.tensor([sim(z_k, z) for z in out[np.arange(2*N)!=k]])
///     sims_k_N = torch.tensor([sim(z_k_N, z) for z in out[np.arange(2*N)!=k+N]])
///     l1 = -((sim(z_k, z_k_N) / tau).exp() / (sims_k / tau).exp().sum()).log()
///     l2 = -((sim(z_k_N, z_k) / tau).exp() / (sims_k_N / tau).exp().sum()).log()
///     total_loss += l1 + l2
/// total_loss = total_loss / (2*N)
/// ```
///
/// with `sim(z_i, z_j) = (z_i/‖z_i‖)·(z_j/‖z_j‖)` (no norm floor: a zero row gives NaN). Unlike
/// the Python original, whose `torch.tensor([...])` cuts the graph of the denominators, this
/// version stays one autodiff graph, so its gradient is an oracle too.
///
/// **Not numerically stable**: it exponentiates raw logits, so `exp(1/τ)` overflows `f32` for
/// `τ < 1/88.7 ≈ 0.0113`. It also issues `O(N²)` tiny tensor operations. Use [`nt_xent`] for
/// anything but testing.
///
/// # Shapes
/// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1`
/// - `z_b`: `[N, D]`
/// - output: `[1]`
///
/// # Panics
/// If the shapes differ, `N < 2`, `D = 0`, or `temperature` is not positive and finite.
pub fn nt_xent_naive(z_a: Tensor<2>, z_b: Tensor<2>, temperature: f64) -> Tensor<1> {
    check_pair("nt_xent_naive", ("z_a", "z_b"), &z_a, &z_b, 2);
    check_temperature("nt_xent_naive", temperature);
    let [n, d] = z_a.dims();
    let tau = temperature;

    // Concatenate out_left and out_right into a 2*N x D tensor.
    let out = Tensor::cat(vec![z_a, z_b], 0);
    let row = |k: usize| out.clone().narrow(0, k, 1).reshape([d]);
    let unit = |v: Tensor<1>| v.clone() / v.square().sum().sqrt();
    let sim = |i: usize, j: usize| (unit(row(i)) * unit(row(j))).sum(); // [1]
    // sims of anchor k with every row but itself, in row order: [2N − 1]
    let sims_without = |k: usize| {
        let sims: Vec<Tensor<1>> = (0..2 * n).filter(|&j| j != k).map(|j| sim(k, j)).collect();
        Tensor::cat(sims, 0)
    };

    let mut total_loss: Option<Tensor<1>> = None;
    for k in 0..n {
        // loop through each positive pair (k, k+N)
        let (z_k, z_k_n) = (k, k + n);
        let sims_k = sims_without(z_k);
        let sims_k_n = sims_without(z_k_n);
        let l1 =
            -(sim(z_k, z_k_n).div_scalar(tau).exp() / sims_k.div_scalar(tau).exp().sum()).log();
        let l2 =
            -(sim(z_k_n, z_k).div_scalar(tau).exp() / sims_k_n.div_scalar(tau).exp().sum()).log();
        total_loss = Some(match total_loss {
            None => l1 + l2,
            Some(total) => total + l1 + l2,
        });
    }
    // In the end, divide the total loss by 2N, the number of samples in the batch.
    total_loss
        .expect("the batch has at least 2 pairs")
        .div_scalar((2 * n) as f64)
}

/// The hyper-parameter of [`nt_xent`], for saving inside a training configuration.
#[derive(Config, Debug)]
pub struct NtXentConfig {
    /// The temperature `τ` dividing the cosine similarities; positive and finite.
    /// Default 0.5: seed 003's `train(..., temperature=0.5)` and lightly's
    /// `NTXentLoss(temperature=0.5)`, the value SimCLR's CIFAR-10 experiments use.
    #[config(default = 0.5)]
    pub temperature: f64,
}

impl NtXentConfig {
    /// [`nt_xent`] at this configuration's temperature.
    ///
    /// # Shapes
    /// - `z_a`: `[N, D]`, `N ≥ 2`, `D ≥ 1`
    /// - `z_b`: `[N, D]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// As [`nt_xent`].
    pub fn loss(&self, z_a: Tensor<2>, z_b: Tensor<2>) -> Tensor<1> {
        nt_xent(z_a, z_b, self.temperature)
    }
}
