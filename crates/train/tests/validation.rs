//! Bad hyper-parameters and data that cannot train are refused before any work, naming the
//! field (so that a command line can name its flag); and the presets are what they say.

use std::sync::Arc;

use selfsup_data::SimSiamTransform;
use selfsup_train::{
    Error, LrScaling, Method, OptimizerConfig, TrainData, Trainer, TrainingConfig,
};

use crate::methods::{tiny_byol, tiny_dino, tiny_moco_v2, tiny_swav};
use crate::support::device;
use crate::trainer::{config, dataset, single_view, tiny_simclr, tiny_simsiam};

/// Asserts that `err` is an invalid-config error naming `field` and the bad value.
fn assert_names(err: Error, field: &str, value: &str) {
    assert_eq!(err.config_field(), Some(field), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{field} = {value}")),
        "the message names {field} = {value}: {message}"
    );
}

fn refused<M: Method>(method: M, config: TrainingConfig) -> Error {
    Trainer::new(method, config, &device()).expect_err("refused at construction")
}

#[test]
fn bad_training_configs_are_refused_naming_the_field() {
    let cases: Vec<(TrainingConfig, &str, &str)> = vec![
        (config(1, 0), "batch_size", "0"),
        (config(0, 8), "epochs", "0"),
        (
            TrainingConfig {
                lr: -0.1,
                ..config(1, 8)
            },
            "lr",
            "-0.1",
        ),
        (
            TrainingConfig {
                lr: 0.0,
                ..config(1, 8)
            },
            "lr",
            "0",
        ),
        (
            TrainingConfig {
                lr: f64::NAN,
                ..config(1, 8)
            },
            "lr",
            "NaN",
        ),
        (
            TrainingConfig {
                lr: f64::INFINITY,
                ..config(1, 8)
            },
            "lr",
            "inf",
        ),
        (
            TrainingConfig {
                optimizer: OptimizerConfig::sgd(0.9, -5e-4),
                ..config(1, 8)
            },
            "weight_decay",
            "-0.0005",
        ),
        (
            TrainingConfig {
                optimizer: OptimizerConfig::sgd(0.9, f64::NAN),
                ..config(1, 8)
            },
            "weight_decay",
            "NaN",
        ),
        (
            TrainingConfig {
                optimizer: OptimizerConfig::sgd(1.5, 5e-4),
                ..config(1, 8)
            },
            "momentum",
            "1.5",
        ),
        (
            TrainingConfig {
                optimizer: OptimizerConfig::sgd(f64::NAN, 5e-4),
                ..config(1, 8)
            },
            "momentum",
            "NaN",
        ),
        (
            TrainingConfig {
                max_steps: Some(0),
                ..config(1, 8)
            },
            "max_steps",
            "0",
        ),
        (
            TrainingConfig {
                checkpoint_every: Some(0),
                ..config(1, 8)
            },
            "checkpoint_every",
            "0",
        ),
    ];
    for (config, field, value) in cases {
        assert_names(refused(tiny_simsiam(), config), field, value);
    }
}

#[test]
fn bad_method_hyper_parameters_are_refused_naming_the_field() {
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = refused(tiny_simclr().with_temperature(t), config(1, 8));
        assert_names(err, "temperature", &t.to_string());
        let mut moco = tiny_moco_v2();
        moco.temperature = t;
        assert_names(refused(moco, config(1, 8)), "temperature", &t.to_string());
        let mut swav = tiny_swav(0);
        swav.loss.temperature = t;
        assert_names(refused(swav, config(1, 8)), "temperature", &t.to_string());
        let mut dino = tiny_dino();
        dino.loss.teacher_temp = t;
        assert_names(refused(dino, config(1, 8)), "teacher_temp", &t.to_string());
        let mut dino = tiny_dino();
        dino.loss.student_temp = t;
        assert_names(refused(dino, config(1, 8)), "student_temp", &t.to_string());
    }
    for m in [-0.1, 1.5, f64::NAN] {
        let byol = tiny_byol().with_momentum(m, 1.0);
        assert_names(refused(byol, config(1, 8)), "momentum.base", &m.to_string());
        let moco = tiny_moco_v2().with_momentum(0.99, m);
        assert_names(refused(moco, config(1, 8)), "momentum.end", &m.to_string());
        let mut dino = tiny_dino();
        dino.loss.center_momentum = m;
        assert_names(
            refused(dino, config(1, 8)),
            "center_momentum",
            &m.to_string(),
        );
    }
}

#[test]
fn a_transform_with_too_few_views_is_refused_before_any_work() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(&dir);
    let data = TrainData::new(dataset(16, 10, false), single_view());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    assert!(matches!(err, Error::Data(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "simsiam needs 2 views per image, but the transform MultiView makes 1"
    );
    assert!(!dir.exists(), "nothing was written");
    // Resuming is refused the same way, before the checkpoint is even read.
    let err = trainer
        .resume(&dir.join("checkpoint.ckpt"), &data)
        .unwrap_err();
    assert!(err.to_string().contains("simsiam needs 2 views"), "{err}");

    // DINO asked for three global views of a two-view transform.
    let mut dino = tiny_dino();
    dino.global_views = 3;
    let trainer = Trainer::new(dino, config(1, 8), &device()).unwrap();
    let data = TrainData::new(
        dataset(16, 10, false),
        Arc::new(SimSiamTransform::cifar10()),
    );
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dino needs 3 views per image, but the transform SimSiamTransform makes 2"
    );
    // Fewer images than one batch, named before any work too.
    let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(&dir);
    let data = TrainData::new(dataset(5, 10, false), Arc::new(SimSiamTransform::cifar10()));
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    assert!(
        err.to_string()
            .contains("do not make one batch of 8 (batch_size)"),
        "{err}"
    );
    assert!(!dir.exists(), "nothing was written");
}

/// Chen & He 2021, Appendix D: "SGD with base lr = 0.03 … weight decay 5e-4, momentum 0.9 …
/// batch size 512 … 800 epochs", the LR scaled as lr × BatchSize / 256 and decayed on a cosine;
/// §3 ("Baseline settings") for ImageNet: base lr 0.05, weight decay 1e-4.
#[test]
fn the_simsiam_presets_are_the_papers() {
    let cifar = TrainingConfig::simsiam_cifar10();
    assert_eq!(cifar.lr, 0.03);
    assert_eq!(cifar.lr_scaling, LrScaling::Linear);
    assert!(cifar.cosine);
    assert_eq!(cifar.warmup_epochs, 0);
    assert_eq!((cifar.batch_size, cifar.epochs), (512, 800));
    assert_eq!(cifar.optimizer, OptimizerConfig::sgd(0.9, 5e-4));
    assert_eq!(
        TrainingConfig::paper(),
        cifar,
        "paper() is the CIFAR-10 recipe"
    );
    let imagenet = TrainingConfig::simsiam_imagenet();
    assert_eq!(imagenet.lr, 0.05);
    assert_eq!(imagenet.optimizer, OptimizerConfig::sgd(0.9, 1e-4));
    assert_eq!(imagenet.batch_size, 512);
    for preset in [cifar, imagenet, TrainingConfig::adam_constant()] {
        preset.validate().unwrap();
    }
}
