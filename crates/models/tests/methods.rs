//! SimCLR and SimSiam networks: output shapes, the backbone on its own, per-view batch
//! statistics, gradients through `z` (no stop-gradient here), dimension contracts.

use burn::prelude::*;
use burn::tensor::Distribution;
use selfsup_models::{
    BackboneConfig, ResNetConfig, SimClrConfig, SimClrProjectionHeadConfig, SimSiamConfig,
    SimSiamPredictionHeadConfig, SimSiamProjectionHeadConfig, SmallCnnConfig, Stem,
};

use crate::support::{assert_close, values};

fn small_cnn() -> BackboneConfig {
    SmallCnnConfig::new().with_channels(vec![4, 8]).into()
}

/// SimCLR on ResNet-18 with either stem: `z` is `[B, 128]`, the backbone alone gives `[B, 512]`.
#[test]
fn simclr_shapes() {
    let device = Device::flex();
    for (stem, input) in [
        (Stem::Cifar, [2, 3, 32, 32]),
        (Stem::ImageNet, [2, 3, 64, 64]),
    ] {
        let model =
            SimClrConfig::new(BackboneConfig::from(ResNetConfig::resnet18(stem))).init(&device);
        let x = Tensor::<4>::random(input, Distribution::Default, &device);
        let (z1, z2) = model.forward(x.clone(), x.clone());
        assert_eq!(z1.dims(), [2, 128], "{stem:?}");
        assert_eq!(z2.dims(), [2, 128], "{stem:?}");
        assert_eq!(model.backbone.forward_features(x).dims(), [2, 512]);
        assert_eq!(model.backbone.feature_dim(), 512);
    }
}

/// SimSiam on ResNet-18 (CIFAR stem) with the paper's heads: `p` and `z` are `[B, 2048]`.
#[test]
fn simsiam_shapes_on_resnet18() {
    let device = Device::flex();
    let config = SimSiamConfig::paper(BackboneConfig::from(ResNetConfig::resnet18(Stem::Cifar)));
    assert_eq!(config.projector.input_dim, 512);
    let model = config.init(&device);
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &device);
    let out = model.forward(x.clone(), x);
    for (name, t) in [
        ("p1", out.p1),
        ("p2", out.p2),
        ("z1", out.z1),
        ("z2", out.z2),
    ] {
        assert_eq!(t.dims(), [2, 2048], "{name}");
    }
}

/// SimSiam on the small CNN with the default (small CIFAR) predictor dimensions (128 → 64 →
/// 128).
#[test]
fn simsiam_shapes_on_small_cnn() {
    let device = Device::flex();
    let projector = SimSiamProjectionHeadConfig::new()
        .with_input_dim(8)
        .with_hidden_dim(32)
        .with_output_dim(128);
    let model = SimSiamConfig::new(small_cnn(), projector, SimSiamPredictionHeadConfig::new())
        .init(&device);
    let x = Tensor::<4>::random([3, 3, 8, 8], Distribution::Default, &device);
    let out = model.forward(x.clone(), x);
    assert_eq!(out.p1.dims(), [3, 128]);
    assert_eq!(out.z2.dims(), [3, 128]);
    assert_eq!(model.backbone.feature_dim(), 8);
}

/// In training, each view is normalised with its own batch statistics: `z1` does not depend on
/// the second view.
#[test]
fn views_are_encoded_separately_in_training() {
    let device = Device::flex().autodiff();
    let model = SimClrConfig::new(small_cnn())
        .with_projector(SimClrProjectionHeadConfig::new().with_input_dim(8))
        .init(&device);
    let x1 = Tensor::<4>::random([4, 3, 8, 8], Distribution::Default, &device);
    let x2 = Tensor::<4>::random([4, 3, 8, 8], Distribution::Default, &device);
    let x3 = Tensor::<4>::random([4, 3, 8, 8], Distribution::Default, &device).mul_scalar(5.0);
    let (z1_a, _) = model.forward(x1.clone(), x2);
    let (z1_b, _) = model.forward(x1, x3);
    assert_close("z1", &values(z1_a), &values(z1_b), 1e-6, 1e-5);
}

/// `z1`, `z2` are not detached: a loss on `z` alone reaches the backbone and the projector (the
/// stop-gradient is the loss crate's job), and a loss on `p` reaches the predictor.
#[test]
fn simsiam_z_is_not_detached() {
    let device = Device::flex().autodiff();
    let projector = SimSiamProjectionHeadConfig::new()
        .with_input_dim(8)
        .with_hidden_dim(16)
        .with_output_dim(16);
    let predictor = SimSiamPredictionHeadConfig::new()
        .with_input_dim(16)
        .with_hidden_dim(4)
        .with_output_dim(16);
    let model = SimSiamConfig::new(small_cnn(), projector, predictor).init(&device);
    let x = Tensor::<4>::random([4, 3, 8, 8], Distribution::Default, &device);
    let out = model.forward(x.clone(), x);
    let w = Tensor::<2>::random([4, 16], Distribution::Default, &device);
    let grads = (out.z1 * w).sum().backward();
    let selfsup_models::Backbone::SmallCnn(cnn) = &model.backbone else {
        panic!("small CNN backbone");
    };
    assert!(cnn.blocks[0].conv.weight.val().grad(&grads).is_some());
    assert!(
        model.projector.blocks[0]
            .linear
            .weight
            .val()
            .grad(&grads)
            .is_some()
    );
    assert!(
        model.predictor.blocks[0]
            .linear
            .weight
            .val()
            .grad(&grads)
            .is_none()
    );

    let x = Tensor::<4>::random([4, 3, 8, 8], Distribution::Default, &device);
    let out = model.forward(x.clone(), x);
    let grads = out.p1.sum().backward();
    assert!(
        model.predictor.blocks[1]
            .linear
            .weight
            .val()
            .grad(&grads)
            .is_some()
    );
}

#[test]
#[should_panic(expected = "the projector takes 512 features but the backbone outputs 2048")]
fn simclr_rejects_mismatched_projector() {
    SimClrConfig::new(BackboneConfig::from(ResNetConfig::resnet50(Stem::Cifar)))
        .init(&Device::flex());
}

#[test]
#[should_panic(
    expected = "the predictor must map the projection's 2048 features to 2048, got 128 → 128"
)]
fn simsiam_rejects_mismatched_predictor() {
    SimSiamConfig::new(
        BackboneConfig::from(ResNetConfig::resnet18(Stem::Cifar)),
        SimSiamProjectionHeadConfig::new(),
        SimSiamPredictionHeadConfig::new(),
    )
    .init(&Device::flex());
}
