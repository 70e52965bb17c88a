//! LR schedules: the warm-up + cosine shape, batch scaling, parameter groups on a fixed LR
//! through Burn's optimizer, serde, and the config contract.

use burn::module::{Module, ParamId};
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_train::{
    CosineSchedule, CosineScheduleConfig, Error, GroupedSchedule, LrScaling, OptimizerConfig,
    ParamGroupLr,
};

use crate::support::{assert_close, device, values};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

/// base 0.4, warm-up 10 of 110 steps from 0, decay to 0.004.
fn schedule() -> CosineSchedule {
    CosineScheduleConfig::new(0.4, 110)
        .with_warmup_steps(10)
        .with_final_lr(0.004)
        .init()
        .unwrap()
}

#[test]
fn warmup_is_linear_from_zero_to_base() {
    let s = schedule();
    // lr(s) = 0.4 · s / 10 for s < 10.
    for step in 0..10 {
        assert!(
            close(s.lr_at(step), 0.04 * step as f64),
            "step {step}: {}",
            s.lr_at(step)
        );
    }
    assert_eq!(s.lr_at(0), 0.0);
    assert!(close(s.lr_at(10), 0.4), "the warm-up ends at the base LR");
}

#[test]
fn warmup_can_start_from_a_factor() {
    let s = CosineScheduleConfig::new(1.0, 100)
        .with_warmup_steps(4)
        .with_warmup_start_factor(0.2)
        .init()
        .unwrap();
    // lr(s) = 0.2 + 0.8 · s / 4.
    for (step, expected) in [(0, 0.2), (1, 0.4), (2, 0.6), (3, 0.8), (4, 1.0)] {
        assert!(
            close(s.lr_at(step), expected),
            "step {step}: {}",
            s.lr_at(step)
        );
    }
}

#[test]
fn cosine_values_at_boundaries_and_midpoint() {
    let s = schedule();
    // Decay over s ∈ [10, 110]: lr = 0.004 + 0.396 · (1 + cos(π (s − 10) / 100)) / 2.
    assert!(close(s.lr_at(10), 0.4));
    assert!(
        close(s.lr_at(60), 0.004 + 0.396 * 0.5),
        "the midpoint is halfway: {}",
        s.lr_at(60)
    );
    // A quarter of the way: (1 + cos(π/4)) / 2 = 0.853553390593…
    assert!(close(
        s.lr_at(35),
        0.004 + 0.396 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0
    ));
    assert!(close(s.lr_at(110), 0.004), "final LR at total_steps");
    assert!(close(
        s.lr_at(109),
        0.004 + 0.396 * (1.0 + (std::f64::consts::PI * 0.99).cos()) / 2.0
    ));
    assert!(
        s.lr_at(109) > 0.004,
        "the last step taken is above the final LR"
    );
    assert_eq!(
        s.lr_at(1_000_000),
        0.004,
        "past the end it stays at the final LR"
    );
}

#[test]
fn shape_is_rising_then_falling() {
    let s = schedule();
    let lrs: Vec<f64> = (0..=110).map(|step| s.lr_at(step)).collect();
    assert!(
        lrs[..=10].windows(2).all(|w| w[1] > w[0]),
        "strictly rising warm-up"
    );
    assert!(
        lrs[10..].windows(2).all(|w| w[1] < w[0]),
        "strictly falling decay"
    );
    let peak = lrs.iter().cloned().fold(f64::MIN, f64::max);
    assert!(close(peak, 0.4));
}

#[test]
fn no_warmup_is_simsiam_cosine() {
    // SimSiam: lr · 0.5 · (1 + cos(π · epoch / epochs)), epochs = 100.
    let s = CosineScheduleConfig::new(0.05, 100).init().unwrap();
    for epoch in [0, 1, 13, 50, 99] {
        let simsiam = 0.05 * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / 100.0).cos());
        assert!(close(s.lr_at(epoch), simsiam), "epoch {epoch}");
    }
}

#[test]
fn constant_is_constant() {
    let s = CosineScheduleConfig::constant(0.03, 50).init().unwrap();
    assert!((0..60).all(|step| s.lr_at(step) == 0.03));
}

#[test]
fn batch_scaling() {
    assert_eq!(LrScaling::Linear.apply(0.05, 512), 0.1); // SimSiam: 0.05 × 512 / 256
    assert_eq!(LrScaling::Linear.apply(0.3, 4096), 4.8); // SimCLR: 0.3 × 4096 / 256
    assert_eq!(LrScaling::Sqrt.apply(0.075, 4096), 4.8); // SimCLR: 0.075 × √4096
    assert_eq!(LrScaling::None.apply(0.1, 32), 0.1);
    assert_eq!(LrScaling::default(), LrScaling::None);
}

#[test]
#[should_panic(expected = "LrScaling::apply: batch_size must be positive")]
fn batch_scaling_rejects_empty_batches() {
    LrScaling::Linear.apply(0.1, 0);
}

#[test]
fn bad_configs_are_rejected() {
    let cases = [
        (
            CosineScheduleConfig::new(0.0, 10),
            "invalid cosine schedule: base_lr = 0 must be positive and finite",
        ),
        (
            CosineScheduleConfig::new(f64::INFINITY, 10),
            "invalid cosine schedule: base_lr = inf must be positive and finite",
        ),
        (
            CosineScheduleConfig::new(0.1, 0),
            "invalid cosine schedule: total_steps = 0 must be positive",
        ),
        (
            CosineScheduleConfig::new(0.1, 10).with_warmup_steps(10),
            "invalid cosine schedule: warmup_steps = 10 must be below total_steps (10)",
        ),
        (
            CosineScheduleConfig::new(0.1, 10).with_warmup_start_factor(1.5),
            "invalid cosine schedule: warmup_start_factor = 1.5 must be in [0, 1]",
        ),
        (
            CosineScheduleConfig::new(0.1, 10).with_final_lr(0.2),
            "invalid cosine schedule: final_lr = 0.2 must be in [0, base_lr = 0.1]",
        ),
        (
            CosineScheduleConfig::new(0.1, 10).with_final_lr(-0.01),
            "invalid cosine schedule: final_lr = -0.01 must be in [0, base_lr = 0.1]",
        ),
    ];
    for (config, message) in cases {
        let err = config.init().expect_err(message);
        assert!(matches!(err, Error::InvalidConfig { .. }));
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn serialises_as_its_config_and_validates_on_load() {
    let s = schedule();
    let text = serde_json::to_string(&s).unwrap();
    let back: CosineSchedule = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
    let config: CosineScheduleConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(&config, s.config());

    let bad = text.replace("\"warmup_steps\":10", "\"warmup_steps\":500");
    assert_ne!(bad, text);
    let err = serde_json::from_str::<CosineSchedule>(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("warmup_steps = 500 must be below total_steps (110)"),
        "{err}"
    );
}

#[test]
fn grouped_schedule_rates() {
    let grouped = GroupedSchedule::simsiam(schedule());
    for step in [0, 5, 10, 60, 110] {
        assert_eq!(grouped.group_lr_at(None, step), schedule().lr_at(step));
        assert_eq!(
            grouped.group_lr_at(Some(0), step),
            0.4,
            "the predictor stays at the base LR"
        );
    }
    let lr = grouped.lr_at(60);
    let id = ParamId::new();
    assert_eq!(lr.lr_from_param(id, Some("predictor.layer2.weight")), 0.4);
    assert_eq!(
        lr.lr_from_param(id, Some("backbone.layer1.conv1.weight")),
        schedule().lr_at(60)
    );
    assert_eq!(lr.base(), schedule().lr_at(60));

    let following = GroupedSchedule::new(
        schedule(),
        vec![ParamGroupLr::new("head".into()).with_fixed(false)],
    )
    .unwrap();
    assert_eq!(following.group_lr_at(Some(0), 60), schedule().lr_at(60));

    let err = GroupedSchedule::new(schedule(), vec![ParamGroupLr::new(String::new())]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid grouped schedule: path_contains = \"\" (group 0) must not be empty"
    );
}

#[test]
#[should_panic(expected = "GroupedSchedule::group_lr_at: group 1 out of range (1 groups)")]
fn grouped_schedule_rejects_unknown_groups() {
    GroupedSchedule::simsiam(schedule()).group_lr_at(Some(1), 0);
}

#[derive(Module, Debug)]
struct Siamese {
    encoder: Linear,
    predictor: Linear,
}

/// One SGD step (no momentum, no decay: `w ← w − lr·g`) with the grouped LR: the encoder moves
/// by the scheduled LR, the predictor by the fixed base LR.
#[test]
fn one_optimizer_applies_the_group_rates() {
    let device = device().autodiff();
    let model = Siamese {
        encoder: LinearConfig::new(3, 3).init(&device),
        predictor: LinearConfig::new(3, 3).init(&device),
    };
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, -2.0, 0.5, 0.3, 0.7, -1.1], [2, 3]),
        &device,
    );
    let loss = model
        .predictor
        .forward(model.encoder.forward(x))
        .square()
        .sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let encoder_grad = grads.get::<2>(model.encoder.weight.id).unwrap();
    let predictor_grad = grads.get::<2>(model.predictor.weight.id).unwrap();
    let encoder_before = model.encoder.weight.val().inner();
    let predictor_before = model.predictor.weight.val().inner();

    let grouped = GroupedSchedule::simsiam(schedule());
    let step = 90;
    let (scheduled, fixed) = (schedule().lr_at(step), 0.4);
    assert!(
        scheduled < fixed / 2.0,
        "the two rates differ enough to tell apart"
    );
    let mut optimizer = OptimizerConfig::sgd(0.0, 0.0).init().unwrap();
    let model = optimizer.step(grouped.lr_at(step), model, grads);

    assert_close(
        &values(model.encoder.weight.val().inner()),
        &values(encoder_before - encoder_grad.inner().mul_scalar(scheduled)),
        1e-6,
        1e-6,
        "encoder on the schedule",
    );
    assert_close(
        &values(model.predictor.weight.val().inner()),
        &values(predictor_before - predictor_grad.inner().mul_scalar(fixed)),
        1e-6,
        1e-6,
        "predictor on the fixed LR",
    );
}
