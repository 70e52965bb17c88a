//! 2-D maps of embeddings: PCA against data built with known principal axes, t-SNE's
//! affinities against their perplexity target, and t-SNE maps of separated clusters.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use selfsup_embedding::{
    Error, TsneConfig, TsneInit, pca_2d, tsne, tsne_conditional_probabilities,
};

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `k` orthonormal vectors of length `len` (Gram–Schmidt on normal draws), optionally also
/// orthogonal to the all-ones vector (zero mean).
fn orthonormal(k: usize, len: usize, centred: bool, rng: &mut StdRng) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    if centred {
        basis.push(vec![1.0 / (len as f64).sqrt(); len]);
    }
    let skip = basis.len();
    while basis.len() < k + skip {
        let mut v: Vec<f64> = (0..len).map(|_| normal(rng)).collect();
        for _ in 0..2 {
            for u in &basis {
                let p: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        basis.push(v);
    }
    basis.split_off(skip)
}

/// `n × dim` data whose sample covariance (divided by `n − 1`) is exactly
/// `Σ_k stds[k]² axes[k] axes[k]ᵀ`, shifted by `offset`: `X = √(n−1) Z diag(stds) Aᵀ` with `Z`'s
/// columns orthonormal and zero-mean.
fn data_with_axes(
    n: usize,
    dim: usize,
    stds: &[f64],
    seed: u64,
) -> (Vec<f32>, Vec<Vec<f64>>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let z = orthonormal(stds.len(), n, true, &mut rng);
    let axes = orthonormal(stds.len(), dim, false, &mut rng);
    let offset: Vec<f64> = (0..dim).map(|_| 3.0 * normal(&mut rng)).collect();
    let root = ((n - 1) as f64).sqrt();
    let mut data = vec![0.0f32; n * dim];
    for i in 0..n {
        for j in 0..dim {
            let x: f64 = (0..stds.len())
                .map(|k| root * z[k][i] * stds[k] * axes[k][j])
                .sum();
            data[i * dim + j] = (x + offset[j]) as f32;
        }
    }
    (data, axes, offset)
}

/// The axis with its largest-magnitude entry positive.
fn flipped(axis: &[f64]) -> Vec<f64> {
    let largest = axis
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap();
    axis.iter().map(|x| x * largest.signum()).collect()
}

fn check_pca(n: usize, dim: usize, stds: &[f64], seed: u64) {
    let (data, axes, offset) = data_with_axes(n, dim, stds, seed);
    let pca = pca_2d(&data, dim).unwrap();
    let total: f64 = stds.iter().map(|s| s * s).sum();
    let tol = 1e-5; // the data went through float32
    for k in 0..2 {
        let expected = flipped(&axes[k]);
        for (j, (got, want)) in pca.components[k].iter().zip(&expected).enumerate() {
            assert!(
                (got - want).abs() < tol,
                "{n}×{dim}: axis {k}[{j}] = {got}, expected {want}"
            );
        }
        let variance = stds[k] * stds[k];
        assert!(
            (pca.explained_variance[k] - variance).abs() < tol * variance,
            "{n}×{dim}: variance {k} = {}, expected {variance}",
            pca.explained_variance[k]
        );
        let ratio = variance / total;
        assert!(
            (pca.explained_variance_ratio[k] - ratio).abs() < tol,
            "{n}×{dim}: ratio {k} = {}, expected {ratio}",
            pca.explained_variance_ratio[k]
        );
    }
    for (m, o) in pca.mean.iter().zip(&offset) {
        assert!((m - o).abs() < 1e-4, "mean {m}, expected {o}");
    }
    // Coordinates: the centred rows projected on the axes.
    for (i, c) in pca.coords.iter().enumerate() {
        for (coordinate, axis) in c.iter().zip(&pca.components) {
            let x: f64 = (0..dim)
                .map(|j| (f64::from(data[i * dim + j]) - pca.mean[j]) * axis[j])
                .sum();
            assert!((f64::from(*coordinate) - x).abs() < 1e-4 * (1.0 + x.abs()));
        }
    }
}

/// A rotated anisotropic Gaussian-like cloud in 5-D (covariance path, the block spans the
/// space).
#[test]
fn pca_recovers_known_axes_and_variance_ratios() {
    check_pca(500, 5, &[5.0, 2.0, 0.5, 0.3, 0.1], 1);
}

/// 60-D data (covariance path, subspace iteration over a block of 10).
#[test]
fn pca_recovers_known_axes_in_many_dimensions() {
    check_pca(
        400,
        60,
        &[
            4.0, 3.0, 1.0, 0.9, 0.8, 0.5, 0.5, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1,
        ],
        2,
    );
}

/// Fewer rows than columns: the Gram-matrix path.
#[test]
fn pca_recovers_known_axes_with_fewer_rows_than_columns() {
    check_pca(8, 20, &[3.0, 1.5, 0.5], 3);
}

#[test]
fn pca_of_two_points_and_bad_data() {
    let pca = pca_2d(&[0.0, 0.0, 0.0, 3.0, 4.0, 0.0], 3).unwrap();
    assert!((pca.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
    assert_eq!(pca.explained_variance_ratio[1], 0.0);
    let dot: f64 = pca.components[0]
        .iter()
        .zip(&pca.components[1])
        .map(|(a, b)| a * b)
        .sum();
    assert!(dot.abs() < 1e-12, "axes are orthogonal");

    assert!(matches!(pca_2d(&[1.0, 2.0, 3.0], 2), Err(Error::Data(_))));
    assert!(matches!(pca_2d(&[1.0, 2.0], 2), Err(Error::Data(_))));
    assert!(matches!(pca_2d(&[1.0, 2.0, 3.0], 1), Err(Error::Data(_))));
    let err = pca_2d(&[1.0, f32::NAN, 3.0, 4.0], 2).unwrap_err();
    assert!(err.to_string().contains("row 0, column 1"), "{err}");
}

/// `k` blobs of `per` points in `dim`-D: centres `N(0, spread²)` per coordinate, unit noise.
fn blobs(k: usize, per: usize, dim: usize, spread: f64, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..dim).map(|_| spread * normal(&mut rng)).collect())
        .collect();
    let mut data = Vec::with_capacity(k * per * dim);
    let mut labels = Vec::with_capacity(k * per);
    for i in 0..k * per {
        let c = i % k;
        labels.push(c);
        data.extend(centres[c].iter().map(|m| (m + normal(&mut rng)) as f32));
    }
    (data, labels)
}

/// Each row's perplexity `exp(−Σ p ln p)` is the target to 1e-3 relative.
#[test]
fn tsne_affinities_have_the_target_perplexity() {
    let (data, _) = blobs(3, 40, 10, 2.0, 4);
    let n = 120;
    for perplexity in [5.0, 30.0, 100.0] {
        let p = tsne_conditional_probabilities(&data, 10, perplexity).unwrap();
        for (i, row) in p.chunks_exact(n).enumerate() {
            assert_eq!(row[i], 0.0);
            let sum: f64 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12, "row {i} sums to {sum}");
            let entropy: f64 = row.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum();
            let found = entropy.exp();
            assert!(
                (found - perplexity).abs() <= 1e-3 * perplexity,
                "row {i}: perplexity {found}, target {perplexity}"
            );
        }
    }
}

/// The fraction of points whose nearest other point in the map has their label.
fn one_nn_agreement(map: &[[f32; 2]], labels: &[usize]) -> f64 {
    let hits = (0..map.len())
        .filter(|&i| {
            let nearest = (0..map.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let d = |j: usize| {
                        (map[i][0] - map[j][0]).powi(2) + (map[i][1] - map[j][1]).powi(2)
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            labels[nearest] == labels[i]
        })
        .count();
    hits as f64 / map.len() as f64
}

#[test]
fn tsne_separates_gaussian_blobs() {
    let (data, labels) = blobs(3, 50, 50, 1.0, 5);
    let out = tsne(&data, 50, &TsneConfig::new()).unwrap();
    assert_eq!(out.embedding.len(), 150);
    assert!(out.embedding.iter().flatten().all(|x| x.is_finite()));
    let agreement = one_nn_agreement(&out.embedding, &labels);
    assert!(agreement >= 0.95, "1-NN agreement {agreement}");
    assert!(
        out.kl_divergence < out.kl_after_exaggeration,
        "KL {} at the end, {} after early exaggeration",
        out.kl_divergence,
        out.kl_after_exaggeration
    );
    assert!(out.iterations > 250 && out.iterations <= 1000);
}

#[test]
fn tsne_is_deterministic() {
    let (data, _) = blobs(3, 20, 8, 3.0, 6);
    let config = TsneConfig::new().with_perplexity(10.0).with_max_iter(300);
    assert_eq!(
        tsne(&data, 8, &config).unwrap(),
        tsne(&data, 8, &config).unwrap()
    );

    let random = config.clone().with_init(TsneInit::Random).with_seed(7);
    let a = tsne(&data, 8, &random).unwrap();
    assert_eq!(a, tsne(&data, 8, &random).unwrap(), "same seed");
    assert_ne!(
        a.embedding,
        tsne(&data, 8, &random.clone().with_seed(8))
            .unwrap()
            .embedding,
        "another seed"
    );
}

#[test]
fn tsne_config_errors_name_the_parameter() {
    let (data, _) = blobs(2, 10, 4, 3.0, 7);
    let field = |config: TsneConfig| match tsne(&data, 4, &config) {
        Err(Error::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert_eq!(field(TsneConfig::new()), "perplexity"); // 30 ≥ 20 points
    let ok = TsneConfig::new().with_perplexity(5.0);
    assert_eq!(field(ok.clone().with_perplexity(-1.0)), "perplexity");
    assert_eq!(
        field(ok.clone().with_early_exaggeration(0.5)),
        "early_exaggeration"
    );
    assert_eq!(
        field(ok.clone().with_learning_rate(Some(0.0))),
        "learning_rate"
    );
    assert_eq!(field(ok.clone().with_final_momentum(1.0)), "final_momentum");
    assert_eq!(field(ok.clone().with_max_iter(100)), "max_iter");
    assert_eq!(field(ok.clone().with_min_grad_norm(-1.0)), "min_grad_norm");
    let msg = tsne(&data, 4, &TsneConfig::new()).unwrap_err().to_string();
    assert!(msg.contains("perplexity") && msg.contains("20"), "{msg}");

    assert_eq!(TsneConfig::new().effective_learning_rate(150), 50.0);
    assert_eq!(TsneConfig::new().effective_learning_rate(4800), 100.0);
    assert!(matches!(tsne(&data[..7], 4, &ok), Err(Error::Data(_))));
}
