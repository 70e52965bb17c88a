//! Two-dimensional maps of embeddings, for looking at what a network learned: PCA and exact
//! t-SNE, on host data (`&[f32]`, row-major `n × dim`, e.g. the features of
//! [`extract_features`](crate::extract_features) read back with `into_data`).
//!
//! - [`pca_2d`]: the data centred and projected on its top two principal axes, with the
//!   explained-variance ratios (scikit-learn's `PCA(n_components=2)`, computed exactly).
//! - [`tsne`]: exact t-SNE (van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR
//!   2008) with the defaults and optimiser of scikit-learn's `TSNE` ([`TsneConfig`]).
//!   Memory and time per iteration are O(n²): fine up to a few thousand points (n = 5 000
//!   holds one `n × n` float64 matrix, 200 MB). The gradient rows are spread over
//!   [`std::thread::available_parallelism`] threads; the result does not depend on their
//!   number.
//!
//! UMAP (McInnes et al. 2018) is not offered: no maintained crate does it without heavy
//! dependencies or external nearest-neighbour and initialisation steps.
//!
//! # Example
//! ```
//! use selfsup_train::embedding::{TsneConfig, pca_2d, tsne};
//!
//! // 40 points in 3-D: two clusters.
//! let data: Vec<f32> = (0..40 * 3)
//!     .map(|k| (k / 3 % 2) as f32 * 10.0 + ((k * 7919) % 13) as f32 * 0.1)
//!     .collect();
//! let pca = pca_2d(&data, 3)?;
//! assert_eq!(pca.coords.len(), 40);
//! let map = tsne(&data, 3, &TsneConfig::new().with_perplexity(10.0).with_max_iter(300))?;
//! assert_eq!(map.embedding.len(), 40);
//! # Ok::<(), selfsup_train::Error>(())
//! ```

use std::sync::Mutex;

use burn::config::Config;
use rand::{Rng, SeedableRng};
use selfsup_data::transforms::TransformRng;

use crate::error::{self, Error, Result};

const CONFIG: &str = "t-SNE config";

/// NumPy's float64 machine epsilon, scikit-learn's floor for probabilities in t-SNE.
const MACHINE_EPSILON: f64 = f64::EPSILON;

// ---------------------------------------------------------------------------------------------
// Data checks and threads.

/// The number of rows of `data` (`n × dim`), after checking that it is whole and finite.
fn rows(data: &[f32], dim: usize, what: &str) -> Result<usize> {
    if dim == 0 {
        return Err(Error::Data(format!(
            "{what}: the dimension must be positive"
        )));
    }
    if !data.len().is_multiple_of(dim) {
        return Err(Error::Data(format!(
            "{what}: {} values are not whole rows of {dim}",
            data.len()
        )));
    }
    if let Some(k) = data.iter().position(|x| !x.is_finite()) {
        return Err(Error::Data(format!(
            "{what}: row {}, column {} is {}",
            k / dim,
            k % dim,
            data[k]
        )));
    }
    Ok(data.len() / dim)
}

/// Rows handed out to the threads at a time.
const CHUNK_ROWS: usize = 16;

/// Calls `f(i, row_i)` for every row of `data` (rows of `row_len`), on up to
/// [`std::thread::available_parallelism`] threads when the rows hold enough work (about
/// `cost` operations each). Each row is computed by one call, whatever the threads, so the
/// result does not depend on them.
fn par_rows<T: Send>(
    data: &mut [T],
    row_len: usize,
    cost: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let n = data.len() / row_len.max(1);
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    // Below ~64k operations a pass is not worth a thread.
    if threads == 1 || n.saturating_mul(cost) < 1 << 16 || n <= CHUNK_ROWS {
        for (i, row) in data.chunks_mut(row_len).enumerate() {
            f(i, row);
        }
        return;
    }
    let chunks = Mutex::new(data.chunks_mut(row_len * CHUNK_ROWS).enumerate());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(n.div_ceil(CHUNK_ROWS)) {
            scope.spawn(|| {
                loop {
                    let next = chunks.lock().expect("no thread panics holding it").next();
                    let Some((c, chunk)) = next else { break };
                    for (k, row) in chunk.chunks_mut(row_len).enumerate() {
                        f(c * CHUNK_ROWS + k, row);
                    }
                }
            });
        }
    });
}

/// `f(i)` for `i` in `0..n` (about `cost` operations each), in parallel as [`par_rows`].
fn par_map<T: Send + Clone + Default>(
    n: usize,
    cost: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let mut out = vec![T::default(); n];
    par_rows(&mut out, 1, cost, |i, slot| slot[0] = f(i));
    out
}

// ---------------------------------------------------------------------------------------------
// PCA.

/// The projection of data on its top two principal axes: see [`pca_2d`].
#[derive(Debug, Clone, PartialEq)]
pub struct Pca2d {
    /// Each row's coordinates on the two axes (centred data projected), `n` entries.
    pub coords: Vec<[f32; 2]>,
    /// The two principal axes (unit vectors of `dim` entries), by decreasing variance, each
    /// with its largest-magnitude entry positive.
    pub components: [Vec<f64>; 2],
    /// The mean row that was subtracted (`dim` entries).
    pub mean: Vec<f64>,
    /// The variance along each axis: the two largest eigenvalues of the sample covariance
    /// (divided by `n − 1`, scikit-learn's `explained_variance_`).
    pub explained_variance: [f64; 2],
    /// Each axis' share of the total variance (scikit-learn's `explained_variance_ratio_`);
    /// `[0, 0]` when every row is the same.
    pub explained_variance_ratio: [f64; 2],
}

/// Principal component analysis to two dimensions, exact: scikit-learn's
/// `PCA(n_components=2).fit_transform(x)` up to the sign of each axis.
///
/// The data (`n × dim`, row-major) is centred; the top two eigenvectors of the `dim × dim`
/// covariance (or, when `n < dim`, of the `n × n` Gram matrix, mapped back) are found by
/// subspace iteration with Rayleigh–Ritz on a block of up to 10 vectors, until their residual
/// `‖Av − λv‖` is below `1e-10 λ₁`. **Sign convention**: each axis is flipped so that its
/// largest-magnitude entry is positive (the first such entry on ties), as scikit-learn's
/// `svd_flip(u_based_decision=False)` does for `PCA` since version 1.5.
///
/// # Errors
///
/// [`Error::Data`] if `data` is not whole rows of `dim`, holds a non-finite value, has fewer
/// than 2 rows or `dim < 2`.
pub fn pca_2d(data: &[f32], dim: usize) -> Result<Pca2d> {
    let n = rows(data, dim, "pca")?;
    if n < 2 || dim < 2 {
        return Err(Error::Data(format!(
            "pca: a 2-D projection needs at least 2 rows and 2 columns, got {n} × {dim}"
        )));
    }
    let mut mean = vec![0.0f64; dim];
    for row in data.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f64> = data
        .chunks_exact(dim)
        .flat_map(|row| row.iter().zip(&mean).map(|(&x, m)| f64::from(x) - m))
        .collect();
    let scale = 1.0 / (n - 1) as f64;
    let total_variance = centred.iter().map(|x| x * x).sum::<f64>() * scale;

    let (values, axes) = if dim <= n {
        // Covariance: the Gram matrix of the columns.
        let columns = transpose(&centred, n, dim);
        let mut cov = gram(&columns, dim, n);
        cov.iter_mut().for_each(|c| *c *= scale);
        top_two_eigenpairs(&cov, dim)
    } else {
        // Gram matrix of the rows; an eigenvector u maps to the axis Xᵀu / ‖Xᵀu‖.
        let mut g = gram(&centred, n, dim);
        g.iter_mut().for_each(|c| *c *= scale);
        let (values, vectors) = top_two_eigenpairs(&g, n);
        let mut axes = vectors.map(|u| {
            let mut v = vec![0.0; dim];
            for (row, ui) in centred.chunks_exact(dim).zip(&u) {
                for (vk, xk) in v.iter_mut().zip(row) {
                    *vk += ui * xk;
                }
            }
            v
        });
        // Rank-one data (two rows): the second axis is any unit vector orthogonal to the first.
        if normalize(&mut axes[0]) == 0.0 {
            axes[0] = unit_vector_orthogonal_to(&[], dim);
        }
        let (first, second) = axes.split_at_mut(1);
        orthogonalize(&mut second[0], &first[0]);
        if normalize(&mut second[0]) == 0.0 {
            second[0] = unit_vector_orthogonal_to(&first[0], dim);
        }
        (values, axes)
    };
    let components = axes.map(|mut v| {
        let (largest, _) = v
            .iter()
            .enumerate()
            .fold((0, 0.0f64), |(best, max), (k, x)| {
                if x.abs() > max {
                    (k, x.abs())
                } else {
                    (best, max)
                }
            });
        if v[largest] < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        v
    });
    let coords = centred
        .chunks_exact(dim)
        .map(|row| {
            let project = |v: &[f64]| row.iter().zip(v).map(|(x, c)| x * c).sum::<f64>() as f32;
            [project(&components[0]), project(&components[1])]
        })
        .collect();
    let values = values.map(|l| l.max(0.0));
    let explained_variance_ratio = if total_variance > 0.0 {
        values.map(|l| l / total_variance)
    } else {
        [0.0, 0.0]
    };
    Ok(Pca2d {
        coords,
        components,
        mean,
        explained_variance: values,
        explained_variance_ratio,
    })
}

/// `rows × cols` row-major → `cols × rows` row-major.
fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; x.len()];
    for (i, row) in x.chunks_exact(cols).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            t[j * rows + i] = v;
        }
    }
    t
}

/// `X Xᵀ` (`count × count`) for `count` rows of `len` values.
fn gram(x: &[f64], count: usize, len: usize) -> Vec<f64> {
    let mut g = vec![0.0; count * count];
    // The lower triangle in parallel, then mirrored.
    par_rows(&mut g, count, count * len / 2, |i, out| {
        let xi = &x[i * len..(i + 1) * len];
        for (j, o) in out.iter_mut().enumerate().take(i + 1) {
            *o = dot(xi, &x[j * len..(j + 1) * len]);
        }
    });
    for i in 0..count {
        for j in 0..i {
            g[j * count + i] = g[i * count + j];
        }
    }
    g
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length; returns its former norm (0 leaves it unchanged).
fn normalize(v: &mut [f64]) -> f64 {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// `v −= (v·u) u` for a unit `u`.
fn orthogonalize(v: &mut [f64], u: &[f64]) {
    let p = dot(v, u);
    v.iter_mut().zip(u).for_each(|(x, y)| *x -= p * y);
}

/// A unit vector orthogonal to the unit vector `u` (or to nothing, when `u` is empty): the
/// standard basis vector least aligned with `u`, orthogonalised.
fn unit_vector_orthogonal_to(u: &[f64], dim: usize) -> Vec<f64> {
    let k = (0..dim)
        .min_by(|&a, &b| {
            let (ua, ub) = (
                u.get(a).map_or(0.0, |x| x.abs()),
                u.get(b).map_or(0.0, |x| x.abs()),
            );
            ua.total_cmp(&ub)
        })
        .unwrap_or(0);
    let mut e = vec![0.0; dim];
    e[k] = 1.0;
    if !u.is_empty() {
        orthogonalize(&mut e, u);
        normalize(&mut e);
    }
    e
}

/// Orthonormalises the `k` columns (stored as rows of `m`) of `q` by modified Gram–Schmidt,
/// twice; a column that vanishes (rank deficiency) is replaced by a pseudo-random one.
fn orthonormalize(q: &mut [Vec<f64>], rng: &mut TransformRng) {
    for c in 0..q.len() {
        let (done, rest) = q.split_at_mut(c);
        let v = &mut rest[0];
        let mut attempts = 0;
        loop {
            let before = dot(v, v).sqrt();
            for _ in 0..2 {
                for u in done.iter() {
                    orthogonalize(v, u);
                }
            }
            let after = normalize(v);
            if after > 1e-10 * before.max(f64::MIN_POSITIVE) && after > 0.0 {
                break;
            }
            attempts += 1;
            assert!(attempts < 100, "pca: cannot complete an orthonormal basis");
            v.iter_mut().for_each(|x| *x = rng.random::<f64>() - 0.5);
        }
    }
}

/// Eigenvalues (descending) and eigenvectors (columns of `v`, row-major `k × k`) of a small
/// symmetric matrix, by cyclic Jacobi rotations.
fn jacobi_eigen(a: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; k * k];
    (0..k).for_each(|i| v[i * k + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j] * a[i * k + j])
            .sum();
        let diag: f64 = (0..k).map(|i| a[i * k + i] * a[i * k + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
                // The smaller root of t² + 2θt − 1 = 0 (θ = 0 gives t = 1: signum(0.0) = 1).
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (arp, arq) = (a[r * k + p], a[r * k + q]);
                    a[r * k + p] = c * arp - s * arq;
                    a[r * k + q] = s * arp + c * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[p * k + r], a[q * k + r]);
                    a[p * k + r] = c * apr - s * aqr;
                    a[q * k + r] = s * apr + c * aqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| a[j * k + j].total_cmp(&a[i * k + i]));
    let values = order.iter().map(|&i| a[i * k + i]).collect();
    let mut vectors = vec![0.0; k * k];
    for (new, &old) in order.iter().enumerate() {
        for r in 0..k {
            vectors[r * k + new] = v[r * k + old];
        }
    }
    (values, vectors)
}

/// Block size of the subspace iteration: the two wanted vectors and eight more.
const PCA_BLOCK: usize = 10;
/// Iteration cap of the subspace iteration.
const PCA_MAX_ITER: usize = 1000;
/// Converged when `‖Av − λv‖ ≤ PCA_TOL · λ₁` for both wanted pairs.
const PCA_TOL: f64 = 1e-10;

/// The two largest eigenpairs of the symmetric `m × m` matrix `s` (`m ≥ 2`).
fn top_two_eigenpairs(s: &[f64], m: usize) -> ([f64; 2], [Vec<f64>; 2]) {
    let k = m.min(PCA_BLOCK);
    let mut rng = TransformRng::seed_from_u64(0x5eed);
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..m).map(|_| rng.random::<f64>() - 0.5).collect())
        .collect();
    orthonormalize(&mut q, &mut rng);
    let times = |v: &[f64]| -> Vec<f64> { s.chunks_exact(m).map(|row| dot(row, v)).collect() };
    let mut best = ([0.0; 2], [q[0].clone(), q[1].clone()]);
    for _ in 0..PCA_MAX_ITER {
        let w: Vec<Vec<f64>> = q.iter().map(|v| times(v)).collect();
        let mut b = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                b[i * k + j] = 0.5 * (dot(&q[i], &w[j]) + dot(&q[j], &w[i]));
            }
        }
        let (values, vectors) = jacobi_eigen(&b, k);
        let combine = |basis: &[Vec<f64>], col: usize| -> Vec<f64> {
            let mut out = vec![0.0; m];
            for (r, b) in basis.iter().enumerate() {
                let c = vectors[r * k + col];
                out.iter_mut().zip(b).for_each(|(o, x)| *o += c * x);
            }
            out
        };
        let ritz: Vec<Vec<f64>> = (0..k).map(|c| combine(&q, c)).collect();
        let images: Vec<Vec<f64>> = (0..k).map(|c| combine(&w, c)).collect();
        let scale = values[0].abs().max(f64::MIN_POSITIVE);
        let converged = (0..2).all(|i| {
            let r: f64 = images[i]
                .iter()
                .zip(&ritz[i])
                .map(|(a, v)| (a - values[i] * v).powi(2))
                .sum();
            r.sqrt() <= PCA_TOL * scale
        });
        best = ([values[0], values[1]], [ritz[0].clone(), ritz[1].clone()]);
        if converged || k == m {
            // With k = m the block spans the whole space: Rayleigh–Ritz is exact.
            break;
        }
        q = images;
        orthonormalize(&mut q, &mut rng);
    }
    let (values, [mut v0, mut v1]) = best;
    normalize(&mut v0);
    orthogonalize(&mut v1, &v0);
    normalize(&mut v1);
    (values, [v0, v1])
}

// ---------------------------------------------------------------------------------------------
// t-SNE.

/// How [`tsne`] places the points before optimising.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum TsneInit {
    /// The [`pca_2d`] coordinates, scaled so that the first has standard deviation `1e-4`
    /// (scikit-learn's default `init="pca"`). Deterministic; needs `dim ≥ 2`.
    Pca,
    /// Independent normal coordinates with standard deviation `1e-4`, drawn from
    /// [`TsneConfig::seed`] (scikit-learn's `init="random"`).
    Random,
}

/// Hyper-parameters of [`tsne`]. Defaults are scikit-learn's `TSNE` (version ≥ 1.2) with
/// `method="exact"`.
#[derive(Config, Debug, PartialEq)]
pub struct TsneConfig {
    /// The perplexity each point's Gaussian is tuned to (an effective number of neighbours);
    /// must be below the number of points.
    #[config(default = 30.0)]
    pub perplexity: f64,
    /// Factor on the affinities `P` during the first [`exaggeration_iter`] iterations, which
    /// forms tight, well-separated clusters early (van der Maaten & Hinton 2008, §3.4).
    ///
    /// [`exaggeration_iter`]: TsneConfig::exaggeration_iter
    #[config(default = 12.0)]
    pub early_exaggeration: f64,
    /// Iterations with early exaggeration and [`initial_momentum`](TsneConfig::initial_momentum)
    /// (scikit-learn's fixed 250).
    #[config(default = 250)]
    pub exaggeration_iter: usize,
    /// Total iterations, early exaggeration included (scikit-learn's `max_iter`).
    #[config(default = 1000)]
    pub max_iter: usize,
    /// The gradient-descent step. `None`: scikit-learn's `"auto"`,
    /// `max(n / early_exaggeration / 4, 50)` (Belkina et al. 2019).
    pub learning_rate: Option<f64>,
    /// Momentum during early exaggeration.
    #[config(default = 0.5)]
    pub initial_momentum: f64,
    /// Momentum afterwards.
    #[config(default = 0.8)]
    pub final_momentum: f64,
    /// After early exaggeration, stop when the KL divergence (checked every 50 iterations)
    /// has not improved for this many iterations.
    #[config(default = 300)]
    pub n_iter_without_progress: usize,
    /// Stop when the norm of the (gain-scaled) gradient, checked every 50 iterations, falls to
    /// this.
    #[config(default = 1e-7)]
    pub min_grad_norm: f64,
    /// Initial layout.
    #[config(default = "TsneInit::Pca")]
    pub init: TsneInit,
    /// Seed of [`TsneInit::Random`]; unused with [`TsneInit::Pca`], which is deterministic.
    #[config(default = 0)]
    pub seed: u64,
}

impl TsneConfig {
    /// Checks every field for `n` points, naming the first bad one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the field: `perplexity` not positive or not below `n`,
    /// `early_exaggeration` below 1, `learning_rate` not positive, momenta outside `[0, 1)`,
    /// `max_iter` zero or below `exaggeration_iter`, `n_iter_without_progress` zero,
    /// `min_grad_norm` negative.
    pub fn validate(&self, n: usize) -> Result<()> {
        error::positive(CONFIG, "perplexity", self.perplexity)?;
        if self.perplexity >= n as f64 {
            return Err(Error::invalid(
                CONFIG,
                "perplexity",
                self.perplexity,
                format!("must be less than the number of points ({n})"),
            ));
        }
        if !(self.early_exaggeration.is_finite() && self.early_exaggeration >= 1.0) {
            return Err(Error::invalid(
                CONFIG,
                "early_exaggeration",
                self.early_exaggeration,
                "must be at least 1",
            ));
        }
        if let Some(lr) = self.learning_rate {
            error::positive(CONFIG, "learning_rate", lr)?;
        }
        error::unit_interval(CONFIG, "initial_momentum", self.initial_momentum)?;
        error::unit_interval(CONFIG, "final_momentum", self.final_momentum)?;
        if self.max_iter == 0 || self.max_iter < self.exaggeration_iter {
            return Err(Error::invalid(
                CONFIG,
                "max_iter",
                self.max_iter,
                format!(
                    "must be positive and at least exaggeration_iter ({})",
                    self.exaggeration_iter
                ),
            ));
        }
        if self.n_iter_without_progress == 0 {
            return Err(Error::invalid(
                CONFIG,
                "n_iter_without_progress",
                0,
                "must be positive",
            ));
        }
        error::non_negative(CONFIG, "min_grad_norm", self.min_grad_norm)
    }

    /// The learning rate used for `n` points (resolving `"auto"`).
    pub fn effective_learning_rate(&self, n: usize) -> f64 {
        self.learning_rate
            .unwrap_or_else(|| (n as f64 / self.early_exaggeration / 4.0).max(50.0))
    }
}

/// A t-SNE map: see [`tsne`].
#[derive(Debug, Clone, PartialEq)]
pub struct TsneOutput {
    /// The 2-D coordinates, one per input row.
    pub embedding: Vec<[f32; 2]>,
    /// `KL(P ‖ Q)` of the final map (the true `P`, without exaggeration).
    pub kl_divergence: f64,
    /// `KL(P ‖ Q)` of the map at the end of early exaggeration (the true `P`).
    pub kl_after_exaggeration: f64,
    /// Gradient steps taken (fewer than `max_iter` if a stopping rule fired); scikit-learn's
    /// `n_iter_` is this minus one (the index of the last step).
    pub iterations: usize,
}

/// Binary-search steps for each point's bandwidth (scikit-learn's `n_steps`).
const PERPLEXITY_STEPS: usize = 100;
/// Tolerance on the entropy (nats) of each conditional distribution.
const PERPLEXITY_TOLERANCE: f64 = 1e-5;
/// Iterations between KL / gradient-norm checks (scikit-learn's `_N_ITER_CHECK`).
const CHECK_EVERY: usize = 50;
/// Floor of the per-coordinate gains (scikit-learn's `min_gain`).
const MIN_GAIN: f64 = 0.01;

/// Squared Euclidean distances between the rows of `data` (`n × n`, zero diagonal).
fn squared_distances(data: &[f32], n: usize, dim: usize) -> Vec<f64> {
    let mut d = vec![0.0f64; n * n];
    par_rows(&mut d, n, n * dim / 2, |i, out| {
        let xi = &data[i * dim..(i + 1) * dim];
        for (j, o) in out.iter_mut().enumerate().take(i) {
            let xj = &data[j * dim..(j + 1) * dim];
            *o = xi
                .iter()
                .zip(xj)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
        }
    });
    for i in 0..n {
        for j in 0..i {
            d[j * n + i] = d[i * n + j];
        }
    }
    d
}

/// Turns row `i` of squared distances into the conditional distribution `p_{j|i}` whose
/// perplexity `2^H` (`H` in bits; `e^H` in nats, the same number) matches `perplexity`, by
/// binary search on the precision `β = 1/(2σ²)` (scikit-learn's `_binary_search_perplexity`).
/// Distances are shifted by the row's smallest before `exp`, which leaves `p` unchanged but
/// keeps it from underflowing.
fn conditional_row(row: &mut [f64], i: usize, perplexity: f64) {
    let target = perplexity.ln();
    let d_min = row
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(_, &d)| d)
        .fold(f64::INFINITY, f64::min);
    let dist: Vec<f64> = row.iter().map(|d| d - d_min).collect();
    let (mut beta, mut beta_min, mut beta_max) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..PERPLEXITY_STEPS {
        let mut sum = 0.0;
        for (j, (p, d)) in row.iter_mut().zip(&dist).enumerate() {
            *p = if j == i { 0.0 } else { (-d * beta).exp() };
            sum += *p;
        }
        let sum = if sum == 0.0 { 1e-8 } else { sum };
        let mut weighted = 0.0;
        for (p, d) in row.iter_mut().zip(&dist) {
            *p /= sum;
            weighted += d * *p;
        }
        let entropy = sum.ln() + beta * weighted;
        let diff = entropy - target;
        if diff.abs() <= PERPLEXITY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            beta_min = beta;
            beta = if beta_max == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + beta_max) / 2.0
            };
        } else {
            beta_max = beta;
            beta = if beta_min == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + beta_min) / 2.0
            };
        }
    }
}

/// The conditional affinities `p_{j|i}` of t-SNE (row `i` of the returned `n × n` matrix,
/// row-major; zero diagonal; each row sums to 1): Gaussian kernels on squared Euclidean
/// distances, each point's bandwidth tuned so that its row has the given perplexity
/// (`exp` of its entropy in nats) to `1e-5` in entropy.
///
/// # Errors
///
/// [`Error::Data`] if `data` is not whole rows of `dim` or holds a non-finite value;
/// [`Error::InvalidConfig`] if `perplexity` is not positive or not below the number of rows.
pub fn tsne_conditional_probabilities(
    data: &[f32],
    dim: usize,
    perplexity: f64,
) -> Result<Vec<f64>> {
    let n = rows(data, dim, "t-SNE")?;
    TsneConfig::new()
        .with_perplexity(perplexity)
        .with_exaggeration_iter(0)
        .with_max_iter(1)
        .validate(n)?;
    Ok(conditionals(data, n, dim, perplexity))
}

fn conditionals(data: &[f32], n: usize, dim: usize, perplexity: f64) -> Vec<f64> {
    let mut p = squared_distances(data, n, dim);
    par_rows(&mut p, n, n * 20, |i, row| {
        conditional_row(row, i, perplexity)
    });
    p
}

/// The joint affinities `P = (P_cond + P_condᵀ) / Σ`, floored at machine epsilon off the
/// diagonal (scikit-learn's `_joint_probabilities`).
fn joint_probabilities(mut p: Vec<f64>, n: usize) -> Vec<f64> {
    for i in 0..n {
        for j in 0..i {
            let s = p[i * n + j] + p[j * n + i];
            p[i * n + j] = s;
            p[j * n + i] = s;
        }
    }
    let sum = p.iter().sum::<f64>().max(MACHINE_EPSILON);
    for i in 0..n {
        for j in 0..n {
            let v = &mut p[i * n + j];
            *v = if i == j {
                0.0
            } else {
                (*v / sum).max(MACHINE_EPSILON)
            };
        }
    }
    p
}

/// The gradient of `KL(exaggeration · P ‖ Q)` at `y` and, if asked, `KL(P ‖ Q)` (scikit-learn's
/// exact `_kl_divergence`, one Student-t degree of freedom): with `w_ij = (1 + ‖y_i − y_j‖²)⁻¹`,
/// `Z = Σ_{k≠l} w_kl` and `q_ij = w_ij / Z`,
///
/// `∂C/∂y_i = 4 Σ_j (p_ij − q_ij) w_ij (y_i − y_j) = 4 (Σ_j p_ij w_ij (y_i − y_j) − Σ_j w_ij² (y_i − y_j) / Z)`,
///
/// so one pass over the pairs accumulates both sums and `Z`'s row sums.
/// (scikit-learn also floors `q_ij` at machine epsilon, which binds only for `q_ij < 2.2e-16`,
/// far below what a map of a few thousand points reaches.)
fn gradient(
    p: &[f64],
    y: &[[f64; 2]],
    exaggeration: f64,
    with_kl: bool,
) -> (Vec<[f64; 2]>, Option<f64>) {
    #[derive(Clone, Default)]
    struct Row {
        attract: [f64; 2],
        repel: [f64; 2],
        w_sum: f64,
        /// `Σ_j p_ij (ln p_ij − ln w_ij)`.
        kl: f64,
        p_sum: f64,
    }
    let n = y.len();
    let rows = par_map(n, n, |i| {
        let mut row = Row::default();
        let [yi0, yi1] = y[i];
        for (j, (&pij, yj)) in p[i * n..(i + 1) * n].iter().zip(y).enumerate() {
            if j == i {
                continue;
            }
            let (d0, d1) = (yi0 - yj[0], yi1 - yj[1]);
            let w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
            let pw = pij * w;
            let ww = w * w;
            row.attract[0] += pw * d0;
            row.attract[1] += pw * d1;
            row.repel[0] += ww * d0;
            row.repel[1] += ww * d1;
            row.w_sum += w;
            if with_kl {
                row.kl += pij * (pij.max(MACHINE_EPSILON).ln() - w.ln());
                row.p_sum += pij;
            }
        }
        row
    });
    let z: f64 = rows.iter().map(|r| r.w_sum).sum();
    let grad = rows
        .iter()
        .map(|r| {
            [
                4.0 * (exaggeration * r.attract[0] - r.repel[0] / z),
                4.0 * (exaggeration * r.attract[1] - r.repel[1] / z),
            ]
        })
        .collect();
    // KL = Σ p (ln p − ln q) = Σ p (ln p − ln w) + ln Z · Σ p.
    let kl = with_kl.then(|| {
        rows.iter().map(|r| r.kl).sum::<f64>() + z.ln() * rows.iter().map(|r| r.p_sum).sum::<f64>()
    });
    (grad, kl)
}

/// `KL(P ‖ Q)` of the map `y`.
fn kl_divergence(p: &[f64], y: &[[f64; 2]]) -> f64 {
    gradient(p, y, 1.0, true).1.unwrap_or(0.0)
}

/// One stage of scikit-learn's `_gradient_descent`: momentum, per-coordinate gains (+0.2 where
/// the gradient's sign differs from the last update's, ×0.8 elsewhere, floored at 0.01), and
/// the stopping rules checked every 50 iterations. Returns the last iteration run.
struct Stage {
    /// First and one-past-last iteration.
    iters: std::ops::Range<usize>,
    momentum: f64,
    exaggeration: f64,
    n_iter_without_progress: usize,
}

fn descend(p: &[f64], y: &mut [[f64; 2]], stage: Stage, lr: f64, min_grad_norm: f64) -> usize {
    let n = y.len();
    let mut update = vec![[0.0f64; 2]; n];
    let mut gains = vec![[1.0f64; 2]; n];
    let (mut best_error, mut best_iter) = (f64::INFINITY, stage.iters.start);
    let mut last = stage.iters.start;
    for i in stage.iters.clone() {
        last = i;
        let check = (i + 1).is_multiple_of(CHECK_EVERY);
        let (mut grad, error) = gradient(p, y, stage.exaggeration, check);
        for k in 0..n {
            for c in 0..2 {
                let g = &mut grad[k][c];
                let gain = &mut gains[k][c];
                *gain = if update[k][c] * *g < 0.0 {
                    *gain + 0.2
                } else {
                    *gain * 0.8
                };
                *gain = gain.max(MIN_GAIN);
                *g *= *gain;
                update[k][c] = stage.momentum * update[k][c] - lr * *g;
                y[k][c] += update[k][c];
            }
        }
        if let Some(error) = error {
            let grad_norm = grad
                .iter()
                .map(|g| g[0] * g[0] + g[1] * g[1])
                .sum::<f64>()
                .sqrt();
            if error < best_error {
                (best_error, best_iter) = (error, i);
            } else if i - best_iter > stage.n_iter_without_progress {
                break;
            }
            if grad_norm <= min_grad_norm {
                break;
            }
        }
    }
    last
}

/// Exact t-SNE of the rows of `data` (`n × dim`, row-major) to two dimensions (van der Maaten
/// & Hinton 2008), as scikit-learn's `TSNE(method="exact")` runs it:
///
/// 1. conditional affinities from squared Euclidean distances, each point's Gaussian tuned to
///    [`perplexity`](TsneConfig::perplexity) by binary search
///    ([`tsne_conditional_probabilities`]); symmetrised and normalised into `P`;
/// 2. the initial layout ([`TsneInit`]; PCA by default, scaled to standard deviation `1e-4`);
/// 3. [`exaggeration_iter`](TsneConfig::exaggeration_iter) iterations of gradient descent on
///    `KL(early_exaggeration · P ‖ Q)` with momentum 0.5, then the rest up to
///    [`max_iter`](TsneConfig::max_iter) on `KL(P ‖ Q)` with momentum 0.8, both with
///    per-coordinate gains and the `"auto"` learning rate `max(n / early_exaggeration / 4, 50)`.
///
/// Computed in float64; deterministic for a config (and its seed, with random initialisation),
/// whatever the number of threads.
///
/// # Errors
///
/// [`Error::Data`] if `data` is not whole rows of `dim`, holds a non-finite value, or (PCA
/// initialisation) has `dim < 2`; [`Error::InvalidConfig`] from [`TsneConfig::validate`].
pub fn tsne(data: &[f32], dim: usize, config: &TsneConfig) -> Result<TsneOutput> {
    let n = rows(data, dim, "t-SNE")?;
    if n < 2 {
        return Err(Error::Data(format!(
            "t-SNE: needs at least 2 points, got {n}"
        )));
    }
    config.validate(n)?;
    let p = joint_probabilities(conditionals(data, n, dim, config.perplexity), n);

    let mut y: Vec<[f64; 2]> = match config.init {
        TsneInit::Pca => {
            let coords = pca_2d(data, dim)?.coords;
            let mean = coords.iter().map(|c| f64::from(c[0])).sum::<f64>() / n as f64;
            let var = coords
                .iter()
                .map(|c| (f64::from(c[0]) - mean).powi(2))
                .sum::<f64>()
                / n as f64;
            let scale = if var > 0.0 { 1e-4 / var.sqrt() } else { 1.0 };
            coords
                .iter()
                .map(|c| [f64::from(c[0]) * scale, f64::from(c[1]) * scale])
                .collect()
        }
        TsneInit::Random => {
            let mut rng = TransformRng::seed_from_u64(config.seed);
            (0..n)
                .map(|_| {
                    [
                        1e-4 * standard_normal(&mut rng),
                        1e-4 * standard_normal(&mut rng),
                    ]
                })
                .collect()
        }
    };

    let lr = config.effective_learning_rate(n);
    let explored = config.exaggeration_iter;
    let mut last = 0;
    if explored > 0 {
        last = descend(
            &p,
            &mut y,
            Stage {
                iters: 0..explored,
                momentum: config.initial_momentum,
                exaggeration: config.early_exaggeration,
                n_iter_without_progress: explored,
            },
            lr,
            config.min_grad_norm,
        );
    }
    let kl_after_exaggeration = kl_divergence(&p, &y);
    let start = if explored > 0 { last + 1 } else { 0 };
    if start < config.max_iter {
        last = descend(
            &p,
            &mut y,
            Stage {
                iters: start..config.max_iter,
                momentum: config.final_momentum,
                exaggeration: 1.0,
                n_iter_without_progress: config.n_iter_without_progress,
            },
            lr,
            config.min_grad_norm,
        );
    }
    Ok(TsneOutput {
        kl_divergence: kl_divergence(&p, &y),
        kl_after_exaggeration,
        iterations: last + 1,
        embedding: y.iter().map(|c| [c[0] as f32, c[1] as f32]).collect(),
    })
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut TransformRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0];
        let (values, v) = jacobi_eigen(&a, 3);
        assert!(values[0] >= values[1] && values[1] >= values[2]);
        for c in 0..3 {
            for r in 0..3 {
                let av: f64 = (0..3).map(|k| a[r * 3 + k] * v[k * 3 + c]).sum();
                assert!((av - values[c] * v[r * 3 + c]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn parallel_rows_match_serial_ones() {
        let n = 1000;
        let out = par_map(n, 1000, |i| (i as f64).sqrt());
        assert!(out.iter().enumerate().all(|(i, &x)| x == (i as f64).sqrt()));
    }
}
