//! Small temperatures (0.05, 0.01): where the plain `exp(logit)` of the loop oracle overflows
//! float32 (below τ ≈ 0.0113), [`nt_xent`] stays finite and matches the float64 host
//! transcription of SimCLR's Algorithm 1 loop.

use selfsup_losses::nt_xent;

use crate::common::{
    Rng, assert_close, autodiff_device, device, nt_xent_f64, scalar, tensor, values,
};

const SMALL_TEMPERATURES: [f64; 2] = [0.05, 0.01];

#[test]
fn small_temperatures_with_random_views_match_the_float64_oracle() {
    let device = device();
    let mut rng = Rng::new(21);
    for (n, d) in [(2, 3), (4, 8), (16, 32), (17, 5)] {
        for tau in SMALL_TEMPERATURES {
            let (a, b) = (rng.matrix(n, d), rng.matrix(n, d));
            let loss = scalar(nt_xent(
                tensor(&a, [n, d], &device),
                tensor(&b, [n, d], &device),
                tau,
            ));
            let expected = nt_xent_f64(&a, &b, n, d, tau);
            assert_close(
                &format!("random views N={n} D={d} tau={tau}"),
                loss,
                expected,
            );
        }
    }
}

#[test]
fn small_temperatures_with_identical_views_match_the_float64_oracle() {
    // z_a = z_b: every positive logit is the maximal 1/τ (100 at τ = 0.01, e^100 > f32::MAX).
    let device = device();
    let mut rng = Rng::new(22);
    for (n, d) in [(2, 3), (4, 8), (16, 32)] {
        for tau in SMALL_TEMPERATURES {
            let a = rng.matrix(n, d);
            let loss = scalar(nt_xent(
                tensor(&a, [n, d], &device),
                tensor(&a, [n, d], &device),
                tau,
            ));
            let expected = nt_xent_f64(&a, &a, n, d, tau);
            assert_close(
                &format!("identical views N={n} D={d} tau={tau}"),
                loss,
                expected,
            );
        }
    }
}

#[test]
fn small_temperature_gradients_are_finite() {
    let device = autodiff_device();
    let mut rng = Rng::new(23);
    let (n, d) = (8, 16);
    for tau in SMALL_TEMPERATURES {
        for identical in [false, true] {
            let a = rng.matrix(n, d);
            let b = if identical {
                a.clone()
            } else {
                rng.matrix(n, d)
            };
            let z_a = tensor(&a, [n, d], &device).require_grad();
            let z_b = tensor(&b, [n, d], &device).require_grad();
            let grads = nt_xent(z_a.clone(), z_b.clone(), tau).backward();
            for (name, t) in [("z_a", z_a), ("z_b", z_b)] {
                let g = values(t.grad(&grads).expect("a gradient"));
                assert!(
                    g.iter().all(|v| v.is_finite()),
                    "d/d{name} at tau={tau} (identical={identical}) is not finite: {g:?}"
                );
            }
        }
    }
}

#[test]
fn extreme_norms_and_a_zero_row_stay_finite() {
    // Normalisation makes the loss scale-invariant: rows scaled by 1e-3 or 1e3 give the loss of
    // the unscaled rows. A zero row (similarity 0 with everything, norm floored at 1e-12) gives a
    // finite loss and gradient where the unfloored definition gives NaN.
    let device = autodiff_device();
    let mut rng = Rng::new(24);
    let (n, d, tau) = (4, 6, 0.05);
    let (a, b) = (rng.matrix(n, d), rng.matrix(n, d));
    let expected = nt_xent_f64(&a, &b, n, d, tau);
    for scale in [1e-3f32, 1e3] {
        let s = |v: &[f32]| v.iter().map(|x| x * scale).collect::<Vec<_>>();
        let loss = nt_xent(
            tensor(&s(&a), [n, d], &device),
            tensor(&s(&b), [n, d], &device),
            tau,
        );
        assert_close(&format!("rows scaled by {scale}"), scalar(loss), expected);
    }

    let mut a0 = a.clone();
    a0[..d].iter_mut().for_each(|v| *v = 0.0);
    let z_a = tensor(&a0, [n, d], &device).require_grad();
    let z_b = tensor(&b, [n, d], &device).require_grad();
    let loss = nt_xent(z_a.clone(), z_b.clone(), tau);
    let grads = loss.backward();
    assert!(scalar(loss).is_finite(), "a zero row gives a finite loss");
    let g = values(z_a.grad(&grads).unwrap());
    assert!(
        g.iter().all(|v| v.is_finite()),
        "a zero row gives a finite gradient: {g:?}"
    );
}
