//! Closed forms.

use selfsup_losses::{NtXentConfig, negative_cosine, nt_xent, nt_xent_naive, simsiam_loss};

use crate::common::{Rng, assert_close, device, scalar, tensor};

/// The first `n` rows of the `d × d` identity, times `scale`: orthogonal rows of equal length.
fn orthogonal_rows(n: usize, d: usize, scale: f32) -> Vec<f32> {
    assert!(n <= d);
    (0..n * d)
        .map(|k| if k / d == k % d { scale } else { 0.0 })
        .collect()
}

/// NT-Xent of identical views `z_a = z_b` with orthonormal rows (after normalisation).
///
/// Let `e_1..e_N` be the (normalised) rows, so `z = [e_1..e_N, e_1..e_N]`. For anchor `i` the
/// diagonal entry (itself) is masked out; its partner `i ± N` is the same unit vector, so the
/// positive logit is `cos/τ = 1/τ`; the other `2N − 2` rows are the `e_k`, `k ≠ i`, twice each,
/// orthogonal to `e_i`, so their logits are `0/τ = 0`. Every anchor therefore has
///
/// ```text
/// ℓ = −log( e^{1/τ} / (e^{1/τ} + (2N − 2)·e^0) ) = −1/τ + ln(e^{1/τ} + 2N − 2)
/// ```
///
/// and so does their mean. (Written as `ln(1 + (2N − 2)·e^{−1/τ})` to evaluate it without
/// cancellation: the same number.)
fn closed_form(n: usize, tau: f64) -> f64 {
    (1.0 + (2 * n - 2) as f64 * (-1.0 / tau).exp()).ln()
}

#[test]
fn identical_orthonormal_views_give_the_closed_form() {
    let device = device();
    for (n, d) in [(2, 2), (3, 5), (4, 4), (8, 16)] {
        for scale in [1.0, 3.5, 0.01] {
            let z = orthogonal_rows(n, d, scale);
            for tau in [0.01, 0.05, 0.1, 0.5, 1.0, 2.0] {
                let what = format!("N={n} D={d} scale={scale} tau={tau}");
                let expected = closed_form(n, tau);
                // the two forms of the closed form agree
                assert_close(
                    &format!("closed form {what}"),
                    expected,
                    -1.0 / tau + ((1.0 / tau).exp() + (2 * n - 2) as f64).ln(),
                );
                let loss = nt_xent(
                    tensor(&z, [n, d], &device),
                    tensor(&z, [n, d], &device),
                    tau,
                );
                assert_close(&format!("nt_xent {what}"), scalar(loss), expected);
                if tau >= 0.05 {
                    // The loop oracle overflows f32 below τ ≈ 0.0113 (see its docs).
                    let naive = nt_xent_naive(
                        tensor(&z, [n, d], &device),
                        tensor(&z, [n, d], &device),
                        tau,
                    );
                    assert_close(&format!("nt_xent_naive {what}"), scalar(naive), expected);
                }
            }
        }
    }
}

#[test]
fn the_config_uses_its_temperature() {
    let device = device();
    let (n, d, tau) = (3, 4, 0.2);
    let z = orthogonal_rows(n, d, 1.0);
    let config = NtXentConfig::new().with_temperature(tau);
    let loss = config.loss(tensor(&z, [n, d], &device), tensor(&z, [n, d], &device));
    assert_close("NtXentConfig::loss", scalar(loss), closed_form(n, tau));
    // The documented default: SimCLR's CIFAR-10 temperature 0.5, lightly's
    // NTXentLoss.
    assert_eq!(NtXentConfig::new().temperature, 0.5);
}

/// `cos(p, p) = 1` and `cos(p, −p) = −1` for every non-zero row, so `D(p, p) = −1`,
/// `D(p, −p) = +1`, and SimSiam's loss of `p1 = z2 = p`, `p2 = z1 = q` is `½(−1) + ½(−1) = −1`.
#[test]
fn negative_cosine_of_p_with_itself_and_its_opposite() {
    let device = device();
    let mut rng = Rng::new(11);
    for (n, d) in [(1, 1), (1, 7), (5, 3), (16, 64)] {
        let p = rng.matrix(n, d);
        let minus_p: Vec<f32> = p.iter().map(|v| -v).collect();
        let q = rng.matrix(n, d);
        let t = |v: &[f32]| tensor(v, [n, d], &device);
        let what = format!("N={n} D={d}");
        assert_close(
            &format!("D(p, p) {what}"),
            scalar(negative_cosine(t(&p), t(&p))),
            -1.0,
        );
        assert_close(
            &format!("D(p, -p) {what}"),
            scalar(negative_cosine(t(&p), t(&minus_p))),
            1.0,
        );
        assert_close(
            &format!("simsiam_loss(p, q, q, p) {what}"),
            scalar(simsiam_loss(t(&p), t(&q), t(&q), t(&p))),
            -1.0,
        );
    }
}

/// Orthogonal rows have cosine 0; scaling a row does not change its cosine.
#[test]
fn negative_cosine_of_orthogonal_and_rescaled_rows() {
    let device = device();
    let (n, d) = (3, 4);
    // p = rows e_0, e_1, e_2; z = rows e_1, e_2, e_3 (scaled): orthogonal row by row.
    let p = orthogonal_rows(n, d, 2.0);
    let z: Vec<f32> = (0..n * d)
        .map(|k| if k % d == k / d + 1 { 5.0 } else { 0.0 })
        .collect();
    let loss = negative_cosine(tensor(&p, [n, d], &device), tensor(&z, [n, d], &device));
    assert_close("D(p, z) with orthogonal rows", scalar(loss), 0.0);

    // Mean of row cosines: row i of z2 is row i of p times (i + 1), or minus it for row 1:
    // cosines 1, −1, 1 → D = −(1 − 1 + 1)/3 = −1/3.
    let mut rng = Rng::new(12);
    let p = rng.matrix(n, d);
    let factors = [1.0f32, -2.0, 3.0];
    let z2: Vec<f32> = p
        .iter()
        .enumerate()
        .map(|(k, v)| v * factors[k / d])
        .collect();
    let loss = negative_cosine(tensor(&p, [n, d], &device), tensor(&z2, [n, d], &device));
    assert_close("D(p, rescaled p)", scalar(loss), -1.0 / 3.0);
}
