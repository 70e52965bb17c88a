//! Exact t-SNE (van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008) to two
//! dimensions, as scikit-learn's `TSNE(method="exact")` runs it: [`tsne()`] with a
//! [`TsneConfig`] whose defaults are scikit-learn's.

use burn::config::Config;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{self, Error, Result, rows};
use crate::parallel::{par_map, par_rows};
use crate::pca::pca_2d;

const CONFIG: &str = "t-SNE config";

/// NumPy's float64 machine epsilon, scikit-learn's floor for probabilities in t-SNE.
const MACHINE_EPSILON: f64 = f64::EPSILON;

/// How [`tsne`] places the points before optimising.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum TsneInit {
    /// The [`pca_2d`] coordinates, scaled so that the first has standard deviation `1e-4`
    /// (scikit-learn's default `init="pca"`). Deterministic; needs `dim ≥ 2`.
    Pca,
    /// Independent normal coordinates with standard deviation `1e-4`, drawn from
    /// [`TsneConfig::seed`] (scikit-learn's `init="random"`): `rand_distr`'s `StandardNormal`
    /// over a xoshiro256++ stream seeded with it.
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
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
            (0..n)
                .map(|_| {
                    let [a, b]: [f64; 2] = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
                    [1e-4 * a, 1e-4 * b]
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
