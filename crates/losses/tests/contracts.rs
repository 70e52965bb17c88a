//! One `should_panic` test per shape or hyper-parameter contract.

use burn::prelude::*;
use selfsup_losses::{NtXentConfig, negative_cosine, nt_xent, nt_xent_naive, simsiam_loss};

fn zeros(shape: [usize; 2]) -> Tensor<2> {
    Tensor::zeros(shape, &Device::flex())
}

fn ones(shape: [usize; 2]) -> Tensor<2> {
    Tensor::ones(shape, &Device::flex())
}

// --- nt_xent ---------------------------------------------------------------------------------

#[test]
#[should_panic(
    expected = "nt_xent: z_a and z_b must have the same shape, got z_a [4, 3] and z_b [4, 5]"
)]
fn nt_xent_rejects_different_feature_dims() {
    nt_xent(ones([4, 3]), ones([4, 5]), 0.5);
}

#[test]
#[should_panic(
    expected = "nt_xent: z_a and z_b must have the same shape, got z_a [4, 3] and z_b [3, 3]"
)]
fn nt_xent_rejects_different_batches() {
    nt_xent(ones([4, 3]), ones([3, 3]), 0.5);
}

#[test]
#[should_panic(
    expected = "nt_xent: the batch needs at least 2 rows, got z_a and z_b of shape [1, 3]"
)]
fn nt_xent_rejects_a_single_pair() {
    nt_xent(ones([1, 3]), ones([1, 3]), 0.5);
}

#[test]
#[should_panic(
    expected = "nt_xent: the feature dimension must be at least 1, got z_a and z_b of shape [2, 0]"
)]
fn nt_xent_rejects_empty_features() {
    nt_xent(zeros([2, 0]), zeros([2, 0]), 0.5);
}

#[test]
#[should_panic(expected = "nt_xent: temperature must be positive and finite, got 0")]
fn nt_xent_rejects_zero_temperature() {
    nt_xent(ones([2, 3]), ones([2, 3]), 0.0);
}

#[test]
#[should_panic(expected = "nt_xent: temperature must be positive and finite, got -0.5")]
fn nt_xent_rejects_negative_temperature() {
    nt_xent(ones([2, 3]), ones([2, 3]), -0.5);
}

#[test]
#[should_panic(expected = "nt_xent: temperature must be positive and finite, got NaN")]
fn nt_xent_rejects_nan_temperature() {
    nt_xent(ones([2, 3]), ones([2, 3]), f64::NAN);
}

#[test]
#[should_panic(expected = "nt_xent: temperature must be positive and finite, got inf")]
fn nt_xent_rejects_infinite_temperature() {
    nt_xent(ones([2, 3]), ones([2, 3]), f64::INFINITY);
}

#[test]
#[should_panic(expected = "nt_xent: temperature must be positive and finite, got 0")]
fn nt_xent_config_rejects_zero_temperature_on_use() {
    NtXentConfig::new()
        .with_temperature(0.0)
        .loss(ones([2, 3]), ones([2, 3]));
}

// --- nt_xent_naive ---------------------------------------------------------------------------

#[test]
#[should_panic(
    expected = "nt_xent_naive: z_a and z_b must have the same shape, got z_a [4, 3] and z_b [4, 5]"
)]
fn nt_xent_naive_rejects_different_shapes() {
    nt_xent_naive(ones([4, 3]), ones([4, 5]), 0.5);
}

#[test]
#[should_panic(
    expected = "nt_xent_naive: the batch needs at least 2 rows, got z_a and z_b of shape [1, 3]"
)]
fn nt_xent_naive_rejects_a_single_pair() {
    nt_xent_naive(ones([1, 3]), ones([1, 3]), 0.5);
}

#[test]
#[should_panic(
    expected = "nt_xent_naive: the feature dimension must be at least 1, got z_a and z_b of shape [2, 0]"
)]
fn nt_xent_naive_rejects_empty_features() {
    nt_xent_naive(zeros([2, 0]), zeros([2, 0]), 0.5);
}

#[test]
#[should_panic(expected = "nt_xent_naive: temperature must be positive and finite, got -1")]
fn nt_xent_naive_rejects_negative_temperature() {
    nt_xent_naive(ones([2, 3]), ones([2, 3]), -1.0);
}

// --- negative_cosine / simsiam_loss ----------------------------------------------------------

#[test]
#[should_panic(
    expected = "negative_cosine: p and z must have the same shape, got p [4, 8] and z [4, 6]"
)]
fn negative_cosine_rejects_different_shapes() {
    negative_cosine(ones([4, 8]), ones([4, 6]));
}

#[test]
#[should_panic(
    expected = "negative_cosine: the batch needs at least 1 row, got p and z of shape [0, 8]"
)]
fn negative_cosine_rejects_an_empty_batch() {
    negative_cosine(zeros([0, 8]), zeros([0, 8]));
}

#[test]
#[should_panic(
    expected = "negative_cosine: the feature dimension must be at least 1, got p and z of shape [3, 0]"
)]
fn negative_cosine_rejects_empty_features() {
    negative_cosine(zeros([3, 0]), zeros([3, 0]));
}

#[test]
#[should_panic(
    expected = "simsiam_loss: p1, p2, z1 and z2 must have the same shape, got p1 [4, 8], p2 [2, 8], z1 [2, 8] and z2 [4, 8]"
)]
fn simsiam_loss_rejects_views_of_different_batches() {
    // p1/z2 and p2/z1 agree pairwise, but the two views disagree: still rejected.
    simsiam_loss(ones([4, 8]), ones([2, 8]), ones([2, 8]), ones([4, 8]));
}

#[test]
#[should_panic(
    expected = "simsiam_loss: p1, p2, z1 and z2 must have the same shape, got p1 [4, 8], p2 [4, 8], z1 [4, 8] and z2 [4, 7]"
)]
fn simsiam_loss_rejects_a_mismatched_target() {
    simsiam_loss(ones([4, 8]), ones([4, 8]), ones([4, 8]), ones([4, 7]));
}
