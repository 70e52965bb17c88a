//! NNCLR's support-set lookup against a direct computation (a brute-force cosine argmax over
//! the support set, in float64 on the host), its stop-gradient with a control, and its
//! contracts.

use burn::prelude::*;
use burn::tensor::activation;
use selfsup_losses::{nearest_neighbour, nnclr_loss};

use crate::common::{Rng, assert_close, autodiff_device, device, scalar, tensor, values};

/// For each row of `z`, the index of the support row of largest cosine similarity, by a loop
/// over plain numbers (first index on a tie).
fn brute_force_argmax(z: &[f32], support: &[f32], d: usize) -> Vec<usize> {
    let unit = |row: &[f32]| -> Vec<f64> {
        let norm = row.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        row.iter().map(|&x| x as f64 / norm).collect()
    };
    z.chunks(d)
        .map(|row| {
            let row = unit(row);
            let mut best = (0, f64::NEG_INFINITY);
            for (k, q) in support.chunks(d).enumerate() {
                let cosine: f64 = unit(q).iter().zip(&row).map(|(a, b)| a * b).sum();
                if cosine > best.1 {
                    best = (k, cosine);
                }
            }
            best.0
        })
        .collect()
}

#[test]
fn nearest_neighbour_is_the_brute_force_cosine_argmax_of_the_support_set() {
    let device = device();
    let mut rng = Rng::new(11);
    // (N, D, K): a support set larger and smaller than the batch, one feature, one row.
    for (n, d, k) in [(8, 16, 64), (16, 4, 5), (5, 1, 7), (3, 8, 1), (32, 32, 512)] {
        let z = rng.matrix(n, d);
        // Rows of very different norms: cosine, not dot product, must decide.
        let support: Vec<f32> = rng
            .matrix(k, d)
            .chunks(d)
            .enumerate()
            .flat_map(|(i, row)| row.iter().map(move |x| x * (0.1 + i as f32)))
            .collect();
        let (index, neighbours) = nearest_neighbour(
            tensor(&z, [n, d], &device),
            tensor(&support, [k, d], &device),
        );
        let index: Vec<usize> = index
            .into_data()
            .iter::<i64>()
            .map(|i| i as usize)
            .collect();
        let expected = brute_force_argmax(&z, &support, d);
        assert_eq!(index, expected, "N={n} D={d} K={k}: the argmax");
        // The neighbours are the support's rows as given, not renormalised.
        let rows: Vec<f32> = expected
            .iter()
            .flat_map(|&i| support[i * d..(i + 1) * d].to_vec())
            .collect();
        assert_eq!(values(neighbours), rows, "N={n} D={d} K={k}: the rows");
    }
}

#[test]
fn an_embedding_in_the_support_set_finds_itself() {
    let device = device();
    let mut rng = Rng::new(3);
    let support = rng.matrix(20, 6);
    let picked = [4usize, 0, 19, 4];
    let z: Vec<f32> = picked
        .iter()
        .flat_map(|&i| support[i * 6..(i + 1) * 6].iter().map(|x| 3.0 * x))
        .collect();
    let (index, _) = nearest_neighbour(
        tensor(&z, [4, 6], &device),
        tensor(&support, [20, 6], &device),
    );
    let index: Vec<i64> = index.into_data().iter::<i64>().collect();
    assert_eq!(index, vec![4, 0, 19, 4]);
}

/// `nnclr_loss` written without its `detach`: the same value, but a gradient reaches `nn`.
fn undetached_twin(nn: Tensor<2>, p: Tensor<2>, tau: f64) -> Tensor<1> {
    let normalize = |x: Tensor<2>| {
        let norm = x.clone().square().sum_dim(1).sqrt();
        x / norm
    };
    let n = nn.dims()[0];
    let logits = normalize(nn)
        .matmul(normalize(p).transpose())
        .div_scalar(tau);
    let targets = Tensor::<1, Int>::arange(0..n as i64, &logits.device()).reshape([n, 1]);
    -activation::log_softmax(logits, 1).gather(1, targets).mean()
}

/// NNCLR's stop-gradient: the neighbours (and the support set and embeddings they come from)
/// get no gradient; the predictions do. The control, the loss without `detach`, does send one
/// to the neighbours, so the check can fail.
#[test]
fn the_neighbours_get_no_gradient_and_the_predictions_do() {
    let device = autodiff_device();
    let mut rng = Rng::new(5);
    let (n, d, k) = (6, 8, 24);
    let z = tensor(&rng.matrix(n, d), [n, d], &device).require_grad();
    let support = tensor(&rng.matrix(k, d), [k, d], &device).require_grad();
    let p = tensor(&rng.matrix(n, d), [n, d], &device).require_grad();
    let (_, nn) = nearest_neighbour(z.clone(), support.clone());
    let loss = nnclr_loss(nn.clone(), p.clone(), 0.2);
    let grads = loss.backward();
    assert!(
        z.grad(&grads).is_none(),
        "z: no gradient through the lookup"
    );
    assert!(
        support.grad(&grads).is_none(),
        "the support set: no gradient"
    );
    let grad_p = values(p.grad(&grads).expect("p gets a gradient"));
    assert!(grad_p.iter().any(|g| g.abs() > 1e-4), "{grad_p:?}");

    // Control: the same neighbours as a tracked leaf, through the twin without detach.
    let nn_leaf = tensor(&values(nn.clone()), [n, d], &device).require_grad();
    let twin = undetached_twin(nn_leaf.clone(), p.clone(), 0.2);
    assert_close(
        "the twin's value",
        scalar(twin.clone()),
        scalar(nnclr_loss(nn, p.clone(), 0.2)),
    );
    let grads = twin.backward();
    let grad_nn = values(nn_leaf.grad(&grads).expect("the twin sends a gradient"));
    assert!(grad_nn.iter().any(|g| g.abs() > 1e-4), "{grad_nn:?}");
    // And the real loss does not, on the same tracked leaf.
    let grads = nnclr_loss(nn_leaf.clone(), p, 0.2).backward();
    assert!(nn_leaf.grad(&grads).is_none(), "nn: no gradient");
}

#[test]
#[should_panic(expected = "nnclr_loss: nn and p must have the same shape")]
fn nnclr_loss_refuses_mismatched_shapes() {
    let device = device();
    let nn = Tensor::<2>::zeros([4, 8], &device);
    let p = Tensor::<2>::zeros([4, 6], &device);
    nnclr_loss(nn, p, 0.2);
}

#[test]
#[should_panic(expected = "nnclr_loss: the batch needs at least 2 rows")]
fn nnclr_loss_needs_two_rows() {
    let device = device();
    nnclr_loss(
        Tensor::<2>::ones([1, 4], &device),
        Tensor::<2>::ones([1, 4], &device),
        0.2,
    );
}

#[test]
#[should_panic(expected = "nnclr_loss: temperature must be positive and finite")]
fn nnclr_loss_refuses_a_zero_temperature() {
    let device = device();
    nnclr_loss(
        Tensor::<2>::ones([2, 4], &device),
        Tensor::<2>::ones([2, 4], &device),
        0.0,
    );
}

#[test]
#[should_panic(
    expected = "nearest_neighbour: the support set needs at least 1 row of z's feature dimension 4"
)]
fn nearest_neighbour_refuses_a_support_set_of_another_dimension() {
    let device = device();
    nearest_neighbour(
        Tensor::<2>::ones([2, 4], &device),
        Tensor::<2>::ones([10, 5], &device),
    );
}

#[test]
#[should_panic(expected = "nearest_neighbour: z needs at least 1 row and 1 feature")]
fn nearest_neighbour_refuses_an_empty_batch() {
    let device = device();
    nearest_neighbour(
        Tensor::<2>::ones([0, 4], &device),
        Tensor::<2>::ones([10, 4], &device),
    );
}
