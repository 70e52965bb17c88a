//! Principal component analysis to two dimensions, exact: [`pca_2d`], scikit-learn's
//! `PCA(n_components=2)` up to the sign of each axis (which follows scikit-learn's `svd_flip`).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{Error, Result, rows};
use crate::parallel::par_rows;

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
fn orthonormalize(q: &mut [Vec<f64>], rng: &mut Xoshiro256PlusPlus) {
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
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5eed);
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
}
