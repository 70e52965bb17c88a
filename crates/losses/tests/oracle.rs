//! The vectorized [`nt_xent`] against the loop transcription [`nt_xent_naive`] of SimCLR's
//! Algorithm 1 (as lightly's `test_ntx_ent_loss.py` tests its vectorized loss against a
//! loop), and the loop oracle itself against a float64 host transcription.

use selfsup_losses::{nt_xent, nt_xent_naive};

use crate::common::{
    Rng, assert_all_close, assert_close, autodiff_device, device, nt_xent_f64, scalar, tensor,
    values,
};

const BATCHES: [usize; 4] = [2, 3, 8, 17];
const DIMS: [usize; 3] = [1, 5, 64];
const TEMPERATURES: [f64; 4] = [0.05, 0.1, 0.5, 1.0];

#[test]
fn vectorized_matches_the_loop_oracle_across_batches_dims_and_temperatures() {
    let device = device();
    let mut rng = Rng::new(3);
    for n in BATCHES {
        for d in DIMS {
            for tau in TEMPERATURES {
                let (a, b) = (rng.matrix(n, d), rng.matrix(n, d));
                let what = format!("N={n} D={d} tau={tau}");
                let naive = scalar(nt_xent_naive(
                    tensor(&a, [n, d], &device),
                    tensor(&b, [n, d], &device),
                    tau,
                ));
                let fast = scalar(nt_xent(
                    tensor(&a, [n, d], &device),
                    tensor(&b, [n, d], &device),
                    tau,
                ));
                assert_close(&format!("nt_xent vs nt_xent_naive, {what}"), fast, naive);
                // The oracle is itself checked against the float64 host transcription.
                let host = nt_xent_f64(&a, &b, n, d, tau);
                assert_close(
                    &format!("nt_xent_naive vs float64 host, {what}"),
                    naive,
                    host,
                );
            }
        }
    }
}

#[test]
fn vectorized_gradient_matches_the_loop_oracle_gradient() {
    let device = autodiff_device();
    let mut rng = Rng::new(4);
    for (n, d, tau) in [
        (2, 2, 0.5),
        (3, 5, 0.1),
        (8, 64, 1.0),
        (17, 5, 0.05),
        (8, 5, 0.5),
    ] {
        let (a, b) = (rng.matrix(n, d), rng.matrix(n, d));
        let grads_of = |naive: bool| {
            let z_a = tensor(&a, [n, d], &device).require_grad();
            let z_b = tensor(&b, [n, d], &device).require_grad();
            let loss = if naive {
                nt_xent_naive(z_a.clone(), z_b.clone(), tau)
            } else {
                nt_xent(z_a.clone(), z_b.clone(), tau)
            };
            let grads = loss.backward();
            let ga = values(z_a.grad(&grads).expect("z_a has a gradient"));
            let gb = values(z_b.grad(&grads).expect("z_b has a gradient"));
            (ga, gb)
        };
        let (naive_a, naive_b) = grads_of(true);
        let (fast_a, fast_b) = grads_of(false);
        let to64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
        let what = format!("N={n} D={d} tau={tau}");
        assert!(
            naive_a.iter().any(|g| g.abs() > 1e-4),
            "the oracle gradient must not be trivially zero ({what})"
        );
        assert_all_close(&format!("d/dz_a, {what}"), &fast_a, &to64(naive_a));
        assert_all_close(&format!("d/dz_b, {what}"), &fast_b, &to64(naive_b));
    }
}
