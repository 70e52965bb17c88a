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
//! (SimCLR, Chen et al. 2020, eq. 1 and Algorithm 1.)

use burn::prelude::*;
use burn::tensor::{IndexingUpdateOp, activation};

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
/// over the `2N` anchors. This is the quantity SimCLR's Algorithm 1 computes anchor by anchor (see
/// [`nt_xent_naive`]).
///
/// Numerically stable for any positive temperature: each row's log-sum-exp is taken relative to
/// the row maximum, and the diagonal is set to the most negative finite `f32` (not −∞), whose
/// exponential underflows to exactly 0 with no NaN in the value or the gradient. Logits lie in
/// `[−1/τ, 1/τ]`, so nothing overflows even at `τ = 0.01`.
///
/// # Cost
///
/// One `[2N, D] × [D, 2N]` matmul forward and two `[2N, 2N] × [2N, D]` backward (as PyTorch's
/// `cross_entropy` over `z @ z.T`), plus four passes over the `2N × 2N` logits (diagonal, row
/// max, fused softmax, row max) and none more backward: only the row normalisation goes through
/// autodiff; the rest is computed outside the graph with its analytic gradient (the private
/// `nt_xent_of_unit_rows` derives it). Figures in `docs/benchmarks.md`.
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
    let z = l2_normalize_rows(Tensor::cat(vec![z_a, z_b], 0), NORMALIZE_EPS); // [2N, D]
    nt_xent_of_unit_rows(z, temperature)
}

/// NT-Xent of the rows of `z = cat[a, b]`, already normalised, with its gradient in `z`.
///
/// Autodiff through the `2N × 2N` logits would record every full-size pass (a mask, a max, a
/// subtraction, an exponential, a sum, a division) and replay each backward. Instead the value
/// and the gradient are computed together outside the graph, on the backend's own tensors, with
/// its fused row softmax `P`. With `S = z·zᵀ/τ`, its diagonal set to `f32::MIN`, `M = 2N` and
/// `swap(z) = cat[b, a]` (each row's partner):
///
/// ```text
/// P = softmax_rows(S)                            (P_ii = 0)
/// lse_i = m_i − log max_k P_ik                   (m_i = max_k S_ik; P's largest entry is e⁰/r_i)
/// L = (1/M)·Σ_i lse_i − (1/(N·τ))·Σ_{i<N} a_i·b_i
/// ∂L/∂z = (P + Pᵀ)·z/(M·τ) − swap(z)/(N·τ)
/// ```
///
/// `r_i ∈ [1, M − 1]`, so `log max_k P_ik` is finite whatever `τ`; positive logits are
/// `O(N·D)` row dot products, never gathered from `S`. The result re-enters the graph as
/// `L + ((z·g) − detach(z·g))` with `g = ∂L/∂z` a constant: its value is `L` exactly and its
/// gradient in `z` is `g`, which autodiff carries back through the normalisation. On a tensor
/// without autodiff it is just `L`.
///
/// # Shapes
/// - `z`: `[2N, D]`, rows unit or zero
/// - output: `[1]`
fn nt_xent_of_unit_rows(z: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [m, _] = z.dims();
    let n = m / 2;
    let graph = z.is_autodiff();
    let zi = z.clone().inner(); // [2N, D], no autodiff

    // The logits with the self-similarities set to the most negative finite f32: a scatter of 2N
    // values along the diagonal (no 2N × 2N mask to build). Its exponential is exactly 0.
    let zt = zi.clone().div_scalar(temperature); // [2N, D], z/τ
    let logits = zt.clone().matmul(zi.clone().transpose()); // [2N, 2N]
    let device = logits.device();
    let diagonal = Tensor::<1, Int>::arange(0..m as i64, &device).unsqueeze::<2>(); // [1, 2N]
    let fill = Tensor::<2>::full([1, m], f32::MIN, &device);
    let logits = logits.scatter(0, diagonal, fill, IndexingUpdateOp::Assign);

    let row_max = logits.clone().max_dim(1); // [2N, 1]
    let probs = activation::softmax(logits, 1); // [2N, 2N]
    let log_denominator = row_max - probs.clone().max_dim(1).log(); // [2N, 1]
    // Positive logits z_i·z_p(i)/τ as row dot products, with the matmul's products (z_i/τ)·z_k so
    // that ℓ_i = lse_i − positive_i cancels row by row when the positive is the row maximum (a
    // loss near 0 from two terms near 1/τ = 100).
    let (a, b) = (zi.clone().narrow(0, 0, n), zi.clone().narrow(0, n, n));
    let positive = Tensor::cat(
        vec![
            (zt.clone().narrow(0, 0, n) * b.clone()).sum_dim(1),
            (zt.narrow(0, n, n) * a.clone()).sum_dim(1),
        ],
        0,
    ); // [2N, 1]
    let loss = (log_denominator - positive).mean();
    if !graph {
        return loss;
    }

    // Two matmuls rather than (P + Pᵀ)·z: a transposed elementwise add costs more than a matmul,
    // which reads the transposed operand in place.
    let scale = 1.0 / (m as f64 * temperature);
    let grad = probs.clone().matmul(zi.clone()) + probs.transpose().matmul(zi); // [2N, D]
    let grad = (grad - Tensor::cat(vec![b, a], 0).mul_scalar(2.0)).mul_scalar(scale);
    let surrogate = (z * grad.autodiff()).sum(); // [1], gradient `grad` in z
    loss.autodiff() + (surrogate.clone() - surrogate.detach())
}

/// NT-Xent by loops, written from SimCLR's Algorithm 1 anchor by anchor, kept as the test oracle of [`nt_xent`].
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
    /// Default 0.5: SimCLR's CIFAR-10 setting (appendix B.9) and lightly's
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
