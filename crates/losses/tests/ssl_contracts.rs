//! One `should_panic` test per shape or hyper-parameter contract of Barlow Twins, VICReg,
//! InfoNCE, DINO and SwAV.

use burn::prelude::*;
use selfsup_losses::{
    BarlowTwinsConfig, DinoLossConfig, InfoNceConfig, SwavLossConfig, VicRegConfig, barlow_twins,
    dino, dino_center, info_nce, sinkhorn, swav, vicreg,
};

fn zeros(shape: [usize; 2]) -> Tensor<2> {
    Tensor::zeros(shape, &Device::flex())
}

fn ones(shape: [usize; 2]) -> Tensor<2> {
    Tensor::ones(shape, &Device::flex())
}

// --- barlow_twins ------------------------------------------------------------------------------

#[test]
#[should_panic(
    expected = "barlow_twins: z_a and z_b must have the same shape, got z_a [4, 3] and z_b [4, 5]"
)]
fn barlow_twins_rejects_different_shapes() {
    barlow_twins(ones([4, 3]), ones([4, 5]), 5e-3);
}

#[test]
#[should_panic(
    expected = "barlow_twins: the batch needs at least 2 rows, got z_a and z_b of shape [1, 3]"
)]
fn barlow_twins_rejects_a_single_row() {
    barlow_twins(ones([1, 3]), ones([1, 3]), 5e-3);
}

#[test]
#[should_panic(expected = "barlow_twins: lambda must be non-negative and finite, got -0.1")]
fn barlow_twins_rejects_a_negative_lambda() {
    barlow_twins(ones([4, 3]), ones([4, 3]), -0.1);
}

#[test]
#[should_panic(expected = "barlow_twins: lambda must be non-negative and finite, got NaN")]
fn barlow_twins_config_rejects_a_nan_lambda_on_use() {
    BarlowTwinsConfig::new()
        .with_lambda(f64::NAN)
        .loss(ones([4, 3]), ones([4, 3]));
}

// --- vicreg ------------------------------------------------------------------------------------

#[test]
#[should_panic(
    expected = "vicreg: z_a and z_b must have the same shape, got z_a [4, 3] and z_b [5, 3]"
)]
fn vicreg_rejects_different_shapes() {
    vicreg(ones([4, 3]), ones([5, 3]), &VicRegConfig::new());
}

#[test]
#[should_panic(
    expected = "vicreg: the batch needs at least 2 rows, got z_a and z_b of shape [1, 3]"
)]
fn vicreg_rejects_a_single_row() {
    vicreg(ones([1, 3]), ones([1, 3]), &VicRegConfig::new());
}

#[test]
#[should_panic(expected = "vicreg: invariance must be non-negative and finite, got -1")]
fn vicreg_rejects_a_negative_weight() {
    vicreg(
        ones([4, 3]),
        ones([4, 3]),
        &VicRegConfig::new().with_invariance(-1.0),
    );
}

#[test]
#[should_panic(expected = "vicreg: covariance must be non-negative and finite, got inf")]
fn vicreg_rejects_an_infinite_weight() {
    VicRegConfig::new()
        .with_covariance(f64::INFINITY)
        .loss(ones([4, 3]), ones([4, 3]));
}

#[test]
#[should_panic(expected = "vicreg: eps must be positive and finite, got 0")]
fn vicreg_rejects_a_zero_eps() {
    vicreg(
        ones([4, 3]),
        ones([4, 3]),
        &VicRegConfig::new().with_eps(0.0),
    );
}

// --- info_nce ----------------------------------------------------------------------------------

#[test]
#[should_panic(
    expected = "info_nce: query and key must have the same shape, got query [4, 3] and key [4, 5]"
)]
fn info_nce_rejects_different_shapes() {
    info_nce(ones([4, 3]), ones([4, 5]), None, 0.2);
}

#[test]
#[should_panic(
    expected = "info_nce: the batch needs at least 2 rows, got query and key of shape [1, 3]"
)]
fn info_nce_without_a_queue_rejects_a_single_row() {
    // One row has no in-batch negative: the loss would be 0 whatever the inputs.
    info_nce(ones([1, 3]), ones([1, 3]), None, 0.2);
}

#[test]
#[should_panic(
    expected = "info_nce: the batch needs at least 1 row, got query and key of shape [0, 3]"
)]
fn info_nce_with_a_queue_rejects_an_empty_batch() {
    info_nce(zeros([0, 3]), zeros([0, 3]), Some(ones([5, 3])), 0.2);
}

#[test]
#[should_panic(
    expected = "info_nce: the queue must have the feature dimension of query, 3, got queue of shape [5, 4]"
)]
fn info_nce_rejects_a_queue_of_another_dimension() {
    info_nce(ones([4, 3]), ones([4, 3]), Some(ones([5, 4])), 0.2);
}

#[test]
#[should_panic(expected = "info_nce: the queue needs at least 1 row, got queue of shape [0, 3]")]
fn info_nce_rejects_an_empty_queue() {
    info_nce(ones([4, 3]), ones([4, 3]), Some(zeros([0, 3])), 0.2);
}

#[test]
#[should_panic(expected = "info_nce: temperature must be positive and finite, got 0")]
fn info_nce_rejects_a_zero_temperature() {
    info_nce(ones([4, 3]), ones([4, 3]), None, 0.0);
}

#[test]
#[should_panic(expected = "info_nce: temperature must be positive and finite, got -0.2")]
fn info_nce_config_rejects_a_negative_temperature_on_use() {
    InfoNceConfig::new().with_temperature(-0.2).loss(
        ones([4, 3]),
        ones([4, 3]),
        Some(ones([5, 3])),
    );
}

// --- dino / dino_center ------------------------------------------------------------------------

#[test]
#[should_panic(expected = "dino: teacher needs at least 1 view, got none")]
fn dino_rejects_no_teacher_view() {
    dino(&[], &[ones([4, 8]), ones([4, 8])], zeros([1, 8]), 0.04, 0.1);
}

#[test]
#[should_panic(expected = "dino: student needs at least 1 view, got none")]
fn dino_rejects_no_student_view() {
    dino(&[ones([4, 8]), ones([4, 8])], &[], zeros([1, 8]), 0.04, 0.1);
}

#[test]
#[should_panic(
    expected = "dino: every view must have the same shape, got teacher[0] [4, 8] and teacher[1] [4, 6]"
)]
fn dino_rejects_teacher_views_of_different_shapes() {
    dino(
        &[ones([4, 8]), ones([4, 6])],
        &[ones([4, 8]), ones([4, 8])],
        zeros([1, 8]),
        0.04,
        0.1,
    );
}

#[test]
#[should_panic(
    expected = "dino: views need at least 1 row and 1 feature, got student of shape [0, 8]"
)]
fn dino_rejects_empty_views() {
    dino(&[ones([4, 8])], &[zeros([0, 8])], zeros([1, 8]), 0.04, 0.1);
}

#[test]
#[should_panic(
    expected = "dino: teacher and student views must have the same shape, got teacher [4, 8] and student [3, 8]"
)]
fn dino_rejects_student_views_of_another_shape() {
    dino(
        &[ones([4, 8]), ones([4, 8])],
        &[ones([3, 8]), ones([3, 8])],
        zeros([1, 8]),
        0.04,
        0.1,
    );
}

#[test]
#[should_panic(
    expected = "dino: center must be [1, 8] (one entry per output dimension), got [2, 8]"
)]
fn dino_rejects_a_center_of_the_wrong_shape() {
    dino(
        &[ones([4, 8]), ones([4, 8])],
        &[ones([4, 8]), ones([4, 8])],
        zeros([2, 8]),
        0.04,
        0.1,
    );
}

#[test]
#[should_panic(
    expected = "dino: needs a pair of different views, got 1 teacher view and 1 student view"
)]
fn dino_rejects_a_single_view_each() {
    dino(&[ones([4, 8])], &[ones([4, 8])], zeros([1, 8]), 0.04, 0.1);
}

#[test]
#[should_panic(expected = "dino: teacher_temp must be positive and finite, got 0")]
fn dino_rejects_a_zero_teacher_temperature() {
    dino(
        &[ones([4, 8]), ones([4, 8])],
        &[ones([4, 8]), ones([4, 8])],
        zeros([1, 8]),
        0.0,
        0.1,
    );
}

#[test]
#[should_panic(expected = "dino: student_temp must be positive and finite, got -0.1")]
fn dino_config_rejects_a_negative_student_temperature_on_use() {
    DinoLossConfig::new().with_student_temp(-0.1).loss(
        &[ones([4, 8]), ones([4, 8])],
        &[ones([4, 8]), ones([4, 8])],
        zeros([1, 8]),
        0,
    );
}

#[test]
#[should_panic(expected = "dino_center: momentum must be in [0, 1], got 1.5")]
fn dino_center_rejects_a_momentum_above_one() {
    dino_center(zeros([1, 8]), &[ones([4, 8])], 1.5);
}

#[test]
#[should_panic(
    expected = "dino_center: center must be [1, 8] (one entry per output dimension), got [1, 6]"
)]
fn dino_center_rejects_a_center_of_another_dimension() {
    dino_center(zeros([1, 6]), &[ones([4, 8])], 0.9);
}

// --- sinkhorn / swav ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "sinkhorn: epsilon must be positive and finite, got 0")]
fn sinkhorn_rejects_a_zero_epsilon() {
    sinkhorn(ones([4, 6]), 3, 0.0);
}

#[test]
#[should_panic(expected = "sinkhorn: scores need at least 1 row and 1 prototype, got shape [0, 6]")]
fn sinkhorn_rejects_empty_scores() {
    sinkhorn(zeros([0, 6]), 3, 0.05);
}

fn swav_config() -> SwavLossConfig {
    SwavLossConfig::new()
}

#[test]
#[should_panic(expected = "swav: high_resolution needs at least 1 view, got none")]
fn swav_rejects_no_high_resolution_view() {
    swav(&[], &[ones([4, 6]), ones([4, 6])], None, &swav_config());
}

#[test]
#[should_panic(
    expected = "swav: needs at least 2 views in all, got 1 high-resolution view and none at low resolution"
)]
fn swav_rejects_a_single_view() {
    swav(&[ones([4, 6])], &[], None, &swav_config());
}

#[test]
#[should_panic(
    expected = "swav: high- and low-resolution views must have the same shape, got high_resolution [4, 6] and low_resolution [4, 5]"
)]
fn swav_rejects_low_resolution_views_of_another_shape() {
    swav(
        &[ones([4, 6]), ones([4, 6])],
        &[ones([4, 5])],
        None,
        &swav_config(),
    );
}

#[test]
#[should_panic(
    expected = "swav: the queue needs one entry per high-resolution view, got 1 for 2 views"
)]
fn swav_rejects_a_queue_of_the_wrong_length() {
    swav(
        &[ones([4, 6]), ones([4, 6])],
        &[],
        Some(&[ones([8, 6])]),
        &swav_config(),
    );
}

#[test]
#[should_panic(
    expected = "swav: the queue must score the views' 6 prototypes, got queue of shape [8, 5]"
)]
fn swav_rejects_a_queue_over_other_prototypes() {
    swav(
        &[ones([4, 6]), ones([4, 6])],
        &[],
        Some(&[ones([8, 5]), ones([8, 5])]),
        &swav_config(),
    );
}

#[test]
#[should_panic(expected = "swav: temperature must be positive and finite, got 0")]
fn swav_rejects_a_zero_temperature() {
    swav(
        &[ones([4, 6]), ones([4, 6])],
        &[],
        None,
        &swav_config().with_temperature(0.0),
    );
}

#[test]
#[should_panic(expected = "swav: sinkhorn_epsilon must be positive and finite, got NaN")]
fn swav_config_rejects_a_nan_epsilon_on_use() {
    swav_config()
        .with_sinkhorn_epsilon(f64::NAN)
        .loss(&[ones([4, 6]), ones([4, 6])], &[], None);
}
