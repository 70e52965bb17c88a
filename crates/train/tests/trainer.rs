//! The trainer: resume reproduces an uninterrupted run, the non-finite guard keeps the last good
//! checkpoint, the outputs of a run, each method's contract, and evaluation in eval mode.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use selfsup_data::transforms::{Compose, MultiView, Normalize, RandomHorizontalFlip};
use selfsup_data::{
    CifarDataset, CifarVariant, MultiViewTransform, PretextViews, SimSiamTransform, ViewBatch,
};
use selfsup_models::{
    Backbone, BackboneConfig, SimClrConfig, SimClrProjectionHeadConfig, SimSiamConfig,
    SimSiamPredictionHeadConfig, SimSiamProjectionHeadConfig, SmallCnnConfig,
};
use selfsup_train::{
    Checkpoint, CheckpointFault, ClassifierConfig, Error, EvalSplits, KnnConfig, LinearProbeConfig,
    LrScaling, Method, OnlineKnn, OptimizerConfig, PretextMethod, PretextModelConfig, Progress,
    SimClrMethod, SimSiamMethod, StepContext, StepOutput, SupervisedMethod, TrainData, Trainer,
    TrainingConfig, evaluate_classifier, extract_features, knn_backbone, linear_probe_backbone,
    load_backbone,
};
use serde::{Deserialize, Serialize};

use crate::support::device;

/// `n` random 32×32 images; image `i` has label `i % classes`, and, when `separable`, a
/// brightness that gives its class away.
pub fn dataset(n: usize, classes: usize, separable: bool) -> Arc<CifarDataset> {
    let mut rng = StdRng::seed_from_u64(7);
    let labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
    let mut images = vec![0u8; n * 3072];
    for (i, image) in images.chunks_mut(3072).enumerate() {
        for p in image.iter_mut() {
            let noise: u8 = rng.random_range(0..64);
            *p = if separable {
                (labels[i] as usize * 180 / classes.max(2)) as u8 + noise
            } else {
                rng.random()
            };
        }
    }
    Arc::new(CifarDataset::from_parts(
        CifarVariant::Cifar10,
        images,
        labels,
    ))
}

pub fn tiny_backbone() -> BackboneConfig {
    BackboneConfig::SmallCnn(SmallCnnConfig::new().with_channels(vec![4, 8]))
}

pub fn tiny_simsiam() -> SimSiamMethod {
    SimSiamMethod::new(SimSiamConfig::new(
        tiny_backbone(),
        SimSiamProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(16),
        SimSiamPredictionHeadConfig::new()
            .with_input_dim(16)
            .with_hidden_dim(8)
            .with_output_dim(16),
    ))
}

pub fn tiny_simclr() -> SimClrMethod {
    SimClrMethod::new(
        SimClrConfig::new(tiny_backbone()).with_projector(
            SimClrProjectionHeadConfig::new()
                .with_input_dim(8)
                .with_hidden_dim(16)
                .with_output_dim(8),
        ),
    )
}

/// SGD at 0.05 × B/256, momentum 0.9, weight decay 5·10⁻⁴, cosine: spelled out, as the
/// `simsiam_v1.ckpt` fixture's run used it (what `TrainingConfig::paper()` held then).
pub fn config(epochs: usize, batch_size: usize) -> TrainingConfig {
    TrainingConfig {
        epochs,
        batch_size,
        lr: 0.05,
        lr_scaling: LrScaling::Linear,
        cosine: true,
        optimizer: OptimizerConfig::sgd(0.9, 5e-4),
        num_workers: 1,
        seed: 3,
        ..TrainingConfig::adam_constant()
    }
}

pub fn ssl_data(n: usize) -> TrainData {
    TrainData::new(dataset(n, 10, false), Arc::new(SimSiamTransform::cifar10()))
}

pub fn single_view() -> Arc<dyn MultiViewTransform> {
    Arc::new(
        MultiView::new(vec![Box::new(
            Compose::new()
                .then(RandomHorizontalFlip::default())
                .then(Normalize::cifar10()),
        )])
        .unwrap(),
    )
}

#[test]
fn resume_reproduces_the_loss_sequence_of_an_uninterrupted_run() {
    let data = ssl_data(48); // 6 steps of 8 per epoch
    let whole_dir = tempfile::tempdir().unwrap();
    let cut_dir = tempfile::tempdir().unwrap();

    let whole = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(whole_dir.path());
    // One initial model for both runs (tests run in parallel threads that share the device's
    // generator, so two `init_model` calls could draw differently).
    let initial = whole.init_model();
    let initial_copy = crate::methods::independent_copy(&whole, &initial);
    let reference = whole.fit(initial, &data).unwrap();
    assert!(reference.finished);
    assert_eq!(reference.history.step_losses.len(), 12);

    // Checkpoints every 4 steps, "killed" after step 5: the last checkpoint is step 4, mid-epoch.
    let cut_config = TrainingConfig {
        checkpoint_every: Some(4),
        ..config(2, 8)
    };
    let cut = Trainer::new(tiny_simsiam(), cut_config.clone(), &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .stop_after_steps(5);
    let interrupted = cut.fit(initial_copy, &data).unwrap();
    assert!(!interrupted.finished);
    let checkpoint = cut.checkpoint_path().unwrap();
    let saved = Checkpoint::read(&checkpoint).unwrap();
    assert_eq!(
        (
            saved.state.epoch,
            saved.state.batch_in_epoch,
            saved.state.step
        ),
        (0, 4, 4)
    );

    let resumed = Trainer::new(tiny_simsiam(), cut_config, &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .resume(&checkpoint, &data)
        .unwrap();
    assert!(resumed.finished);
    assert_eq!(
        resumed.history.step_losses, reference.history.step_losses,
        "the resumed run's losses equal the uninterrupted run's, bit for bit"
    );
    let epoch_losses =
        |h: &selfsup_train::History| h.epochs.iter().map(|e| e.loss).collect::<Vec<_>>();
    assert_eq!(
        epoch_losses(&resumed.history),
        epoch_losses(&reference.history)
    );
    // And a run resumed from a different config is refused.
    let other = Trainer::new(tiny_simsiam(), config(3, 8), &device()).unwrap();
    let err = other.resume(&checkpoint, &data).unwrap_err();
    assert!(
        matches!(err, Error::Checkpoint { .. }) && err.to_string().contains("training config"),
        "{err}"
    );
    let err = Trainer::new(tiny_simclr(), config(2, 8), &device())
        .unwrap()
        .resume(&checkpoint, &data)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Checkpoint {
                fault: CheckpointFault::Mismatch,
                ..
            }
        ) && err.to_string().contains("a simsiam run, not a simclr one"),
        "{err}"
    );
}

/// A checkpoint records what it trained on; resuming it on other data (another subset, files
/// swapped, other pixels under the same labels, other views) is refused, naming what differs.
#[test]
fn resuming_on_other_data_is_refused_naming_what_differs() {
    let data = ssl_data(48);
    let dir = tempfile::tempdir().unwrap();
    let cut = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .stop_after_steps(7);
    cut.fit(cut.init_model(), &data).unwrap();
    let checkpoint = cut.checkpoint_path().unwrap();
    let saved = Checkpoint::read(&checkpoint).unwrap();
    let fingerprint = saved
        .state
        .data
        .clone()
        .expect("a checkpoint records its data");
    assert_eq!((fingerprint.images, fingerprint.classes), (48, 10));

    let resume = |other: &TrainData| {
        Trainer::new(tiny_simsiam(), config(2, 8), &device())
            .unwrap()
            .resume(&checkpoint, other)
            .unwrap_err()
    };
    let refused = |err: Error, says: &str| {
        assert!(
            matches!(
                err,
                Error::Checkpoint {
                    fault: CheckpointFault::Mismatch,
                    ..
                }
            ) && err
                .to_string()
                .contains("the run was trained on other data")
                && err.to_string().contains(says),
            "{err}"
        );
    };
    // A subset of the images.
    refused(
        resume(&ssl_data(48).with_indices((0..40).collect())),
        "the run trained on 48 images, these are 40",
    );
    // The same images with the two halves swapped (as two batch files exchanged).
    let swapped: Vec<usize> = (24..48).chain(0..24).collect();
    refused(
        resume(&ssl_data(48).with_indices(swapped)),
        "the images' labels in order differ",
    );
    // Other pixels under the same labels.
    refused(
        resume(&TrainData::new(
            dataset(48, 10, true),
            Arc::new(SimSiamTransform::cifar10()),
        )),
        "the pixels of the sampled images differ",
    );
    // Other views.
    refused(
        resume(&TrainData::new(
            dataset(48, 10, false),
            Arc::new(selfsup_data::SimClrTransform::cifar10()),
        )),
        "the views differ",
    );
    // The run's own data resumes.
    let resumed = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .resume(&checkpoint, &ssl_data(48))
        .unwrap();
    assert!(resumed.finished);
}

#[test]
fn a_run_writes_its_config_history_log_and_checkpoint_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let trainer = Trainer::new(tiny_simclr(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_run_info(serde_json::json!({"data": "synthetic"}))
        .with_progress(move |event| {
            seen.lock().unwrap().push(match event {
                Progress::Start { total_steps, .. } => format!("start {total_steps}"),
                Progress::Step(s) => format!(
                    "step {} {}/{} {}",
                    s.step, s.batch, s.steps_per_epoch, s.loss
                ),
                Progress::Epoch { record, history } => {
                    format!("epoch {} {}", record.epoch, history.epochs.len())
                }
            });
        });
    let outcome = trainer.fit(trainer.init_model(), &ssl_data(24)).unwrap();
    let events = events.lock().unwrap().clone();
    let losses = &outcome.history.step_losses;
    let expected: Vec<String> = std::iter::once("start 6".to_string())
        .chain((0..2).flat_map(|epoch| {
            (0..3)
                .map(move |b| (epoch, b))
                .map(|(epoch, b)| {
                    let step = epoch * 3 + b + 1;
                    format!("step {step} {}/3 {}", b + 1, losses[step - 1])
                })
                .chain(std::iter::once(format!("epoch {epoch} {}", epoch + 1)))
                .collect::<Vec<_>>()
        }))
        .collect();
    assert_eq!(
        events, expected,
        "progress events in order, with the logged losses"
    );

    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let history: serde_json::Value = serde_json::from_slice(&read("history.json")).unwrap();
    assert_eq!(history["epochs"].as_array().unwrap().len(), 2);
    assert_eq!(history["step_losses"].as_array().unwrap().len(), 6);
    let first = &history["epochs"][0];
    assert_eq!(first["steps"], 3);
    assert_eq!(first["images"], 24);
    let std = first["embedding_std"].as_f64().unwrap();
    assert!(std > 0.0 && std.is_finite(), "collapse monitor: {std}");

    let saved: serde_json::Value = serde_json::from_slice(&read("config.json")).unwrap();
    assert_eq!(saved["method"], "simclr");
    assert_eq!(saved["method_config"]["temperature"], 0.5);
    assert_eq!(saved["training"]["batch_size"], 8);
    assert_eq!(saved["run"]["data"], "synthetic");

    let log = String::from_utf8(read("train.log")).unwrap();
    assert!(log.contains("epoch 2/2: loss"), "{log}");

    let checkpoint = Checkpoint::read(&dir.path().join("checkpoint.ckpt")).unwrap();
    assert_eq!((checkpoint.state.epoch, checkpoint.state.step), (2, 6));

    // The same command again does not destroy the finished run...
    let before = read("checkpoint.ckpt");
    let err = trainer
        .fit(trainer.init_model(), &ssl_data(24))
        .unwrap_err();
    assert!(
        matches!(err, Error::RunExists { .. }) && err.to_string().contains("already holds a run"),
        "{err}"
    );
    assert_eq!(
        read("checkpoint.ckpt"),
        before,
        "the checkpoint is untouched"
    );
    // ...unless asked to.
    let again = Trainer::new(tiny_simclr(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_overwrite(true);
    again.fit(again.init_model(), &ssl_data(24)).unwrap();
    assert_eq!(
        Checkpoint::read(&dir.path().join("checkpoint.ckpt"))
            .unwrap()
            .state
            .step,
        3
    );
    assert_eq!(
        checkpoint.state.history.step_losses,
        outcome.history.step_losses
    );
}

#[test]
fn online_knn_is_logged_at_the_chosen_epochs() {
    let images = dataset(40, 4, true);
    let trainer = Trainer::new(tiny_simclr(), config(3, 8), &device())
        .unwrap()
        .with_online_knn(OnlineKnn {
            train: images.clone(),
            train_indices: (0..30).collect(),
            test: images.clone(),
            test_indices: (30..40).collect(),
            normalize: Some(Normalize::cifar10()),
            config: KnnConfig::new().with_k(5),
            every: 2,
        });
    let outcome = trainer.fit(trainer.init_model(), &ssl_data(24)).unwrap();
    let knn: Vec<Option<f64>> = outcome.history.epochs.iter().map(|e| e.knn_top1).collect();
    assert!(knn[0].is_none(), "not after epoch 1: {knn:?}");
    assert!(knn[2].is_some(), "after the last epoch: {knn:?}");
    for top1 in knn.into_iter().flatten() {
        assert!((0.0..=1.0).contains(&top1));
        // Brightness gives the class away, even to a barely trained encoder.
        assert!(top1 >= 0.5, "{top1}");
    }
}

#[test]
fn the_cosine_schedule_spans_max_steps_and_the_run_stops_there() {
    let trainer = Trainer::new(
        tiny_simsiam(),
        TrainingConfig {
            max_steps: Some(4),
            ..config(5, 8)
        },
        &device(),
    )
    .unwrap();
    let outcome = trainer.fit(trainer.init_model(), &ssl_data(24)).unwrap();
    assert_eq!(outcome.history.step_losses.len(), 4);
    assert_eq!(outcome.history.epochs.len(), 2, "3 steps, then 1");
    let last_lr = outcome.history.epochs[1].lr;
    let base = 0.05 * 8.0 / 256.0;
    assert!(
        last_lr < 0.2 * base,
        "the last step is near the end of the cosine: {last_lr}"
    );
}

/// A supervised method whose loss turns NaN from its `nan_from`-th call on.
#[derive(Serialize, Deserialize)]
struct Exploding {
    inner: SupervisedMethod,
    nan_from: usize,
    #[serde(skip)]
    calls: AtomicUsize,
}

impl Method for Exploding {
    type EncoderConfig = BackboneConfig;
    type Model = selfsup_train::Classifier;
    const NAME: &'static str = "exploding";

    fn init_model(&self, device: &Device) -> Self::Model {
        self.inner.init_model(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> selfsup_train::Result<StepOutput> {
        let mut out = self.inner.step(model, batch, ctx)?;
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.nan_from {
            out.loss = out.loss.mul_scalar(f64::NAN);
        }
        Ok(out)
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        self.inner.backbone_config()
    }
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let method = Exploding {
        inner: SupervisedMethod::new(ClassifierConfig::new(tiny_backbone(), 10)),
        nan_from: 5,
        calls: AtomicUsize::new(0),
    };
    let trainer = Trainer::new(
        method,
        TrainingConfig {
            checkpoint_every: Some(2),
            ..config(3, 8)
        },
        &device(),
    )
    .unwrap()
    .with_out_dir(dir.path());
    let data = TrainData::new(dataset(48, 10, false), single_view());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    let path = dir.path().join("checkpoint.ckpt");
    match &err {
        Error::NonFiniteLoss {
            step, checkpoint, ..
        } => {
            assert_eq!(*step, 5);
            assert_eq!(checkpoint.as_deref(), Some(path.as_path()));
        }
        other => panic!("expected a non-finite loss error, got {other}"),
    }
    assert!(err.to_string().contains("last good checkpoint"), "{err}");
    let saved = Checkpoint::read(&path).unwrap();
    assert_eq!(
        saved.state.step, 4,
        "the checkpoint before the bad step is intact"
    );
    assert!(
        saved
            .state
            .history
            .step_losses
            .iter()
            .all(|l| l.is_finite())
    );
    assert!(!dir.path().join("checkpoint.ckpt.tmp").exists());
}

#[test]
fn supervised_training_learns_a_separable_task_and_logs_accuracy() {
    let data = TrainData::new(dataset(64, 2, true), single_view());
    let trainer = Trainer::new(
        SupervisedMethod::new(ClassifierConfig::new(tiny_backbone(), 10)),
        TrainingConfig {
            lr: 1e-2,
            ..TrainingConfig {
                epochs: 6,
                batch_size: 16,
                num_workers: 1,
                ..TrainingConfig::adam_constant()
            }
        },
        &device(),
    )
    .unwrap();
    let outcome = trainer.fit(trainer.init_model(), &data).unwrap();
    let first = &outcome.history.epochs[0];
    let last = outcome.history.epochs.last().unwrap();
    assert!(last.loss < first.loss, "{} → {}", first.loss, last.loss);
    assert!(
        last.metrics["accuracy"] > 0.9,
        "brightness gives the class away: {:?}",
        last.metrics
    );
    // Evaluated in eval mode on un-augmented images, it classifies new images of the task.
    let test = dataset(40, 2, true);
    let indices: Vec<usize> = (0..40).collect();
    let normalize = Normalize::cifar10();
    let report = evaluate_classifier(
        &outcome.model,
        test.as_ref(),
        &indices,
        Some(&normalize),
        16,
        &device(),
    )
    .unwrap();
    assert_eq!(report.total(), 40);
    assert!(report.top1() > 0.9, "{report}");
}

#[test]
fn the_probe_and_knn_protocols_read_frozen_features() {
    // Brightness separates the classes, so even a random backbone's features do.
    let train = dataset(60, 3, true);
    let test = dataset(30, 3, true);
    let train_indices: Vec<usize> = (0..60).collect();
    let test_indices: Vec<usize> = (0..30).collect();
    let splits = EvalSplits {
        train: train.as_ref(),
        train_indices: &train_indices,
        test: test.as_ref(),
        test_indices: &test_indices,
        normalize: None,
        batch_size: 16,
    };
    let backbone = tiny_backbone().init(&device());
    let knn = knn_backbone(&backbone, splits, &KnnConfig::new().with_k(5), &device()).unwrap();
    assert!(knn.top1() > 0.8, "{knn}");
    let probe = linear_probe_backbone(
        &backbone,
        splits,
        &LinearProbeConfig::new()
            .with_epochs(100)
            .with_batch_size(20)
            .with_lr(5.0),
        &device(),
    )
    .unwrap();
    assert_eq!(probe.test.total(), 30);
    assert!(probe.top1() > 0.6, "{}", probe.test);
    // A label the classifier cannot predict is a named error.
    let classifier = ClassifierConfig::new(tiny_backbone(), 2).init(&device());
    let err = evaluate_classifier(
        &classifier,
        test.as_ref(),
        &test_indices,
        None,
        8,
        &device(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("label 2 is out of range"), "{err}");
}

#[test]
fn methods_name_what_their_batches_lack() {
    // SimSiam on a single-view pipeline.
    let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device()).unwrap();
    let data = TrainData::new(dataset(16, 10, false), single_view());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    assert!(err.to_string().contains("needs 2 views"), "{err}");
    // Pretext training without pretext labels.
    let pretext = Trainer::new(
        PretextMethod::new(PretextModelConfig::new(tiny_backbone())),
        config(1, 8),
        &device(),
    )
    .unwrap();
    let err = pretext.fit(pretext.init_model(), &data).unwrap_err();
    assert!(err.to_string().contains("PretextViews"), "{err}");
    // Too few images for one batch.
    let err = trainer.fit(trainer.init_model(), &ssl_data(5)).unwrap_err();
    assert!(
        err.to_string().contains("do not make one batch of 8"),
        "{err}"
    );
    // Invalid configs are refused up front.
    let err = Trainer::new(tiny_simsiam(), config(0, 8), &device()).unwrap_err();
    assert!(err.to_string().contains("epochs"), "{err}");
}

#[test]
fn pretext_training_logs_each_tasks_accuracy() {
    let trainer = Trainer::new(
        PretextMethod::new(PretextModelConfig::new(tiny_backbone())),
        config(1, 8),
        &device(),
    )
    .unwrap();
    let data = TrainData::new(dataset(16, 10, false), Arc::new(PretextViews::cifar10()));
    let outcome = trainer.fit(trainer.init_model(), &data).unwrap();
    let metrics = &outcome.history.epochs[0].metrics;
    for task in ["rotation", "shear", "color"] {
        let acc = metrics[&format!("{task}_accuracy")];
        assert!((0.0..=1.0).contains(&acc), "{task}: {acc}");
    }
    // Three cross-entropies at chance level sum to about ln 4 + 2 ln 3 ≈ 3.58.
    let loss = outcome.history.step_losses[0];
    assert!((2.5..4.5).contains(&loss), "{loss}");
}

/// The running mean of the first batch norm of the small CNN's first block.
fn first_running_mean(backbone: &Backbone) -> Vec<f32> {
    match backbone {
        Backbone::SmallCnn(net) => net.blocks[0]
            .bn
            .as_ref()
            .expect("batch norm")
            .running_mean
            .value_sync()
            .into_data()
            .iter::<f32>()
            .collect(),
        Backbone::ResNet(_) | Backbone::Vit(_) => unreachable!(),
    }
}

#[test]
fn features_come_from_the_backbone_in_eval_mode_and_leave_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // Train a little so the running statistics are not the initial ones.
    let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(dir.path());
    let outcome = trainer.fit(trainer.init_model(), &ssl_data(24)).unwrap();
    let backbone = &outcome.model.backbone;
    let before = first_running_mean(backbone);
    assert!(
        before.iter().any(|&m| m != 0.0),
        "training moved the statistics"
    );

    let images = dataset(12, 10, false);
    let indices: Vec<usize> = (0..12).collect();
    let normalize = Normalize::cifar10();
    let a = extract_features(
        backbone,
        images.as_ref(),
        &indices,
        Some(&normalize),
        5,
        &device(),
    )
    .unwrap();
    let b = extract_features(
        backbone,
        images.as_ref(),
        &indices,
        Some(&normalize),
        12,
        &device(),
    )
    .unwrap();
    assert_eq!(a.features.dims(), [12, 8]);
    assert_eq!(a.labels, (0..12).map(|i| i % 10).collect::<Vec<_>>());
    // Eval-mode batch norm: an image's features do not depend on its batch.
    let (a, b) = (
        crate::support::values(a.features),
        crate::support::values(b.features),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-5 + 1e-4 * y.abs(), "{x} vs {y}");
    }
    assert_eq!(
        first_running_mean(backbone),
        before,
        "the statistics are untouched"
    );

    // The checkpoint's backbone encodes the same.
    let loaded = load_backbone(&dir.path().join("checkpoint.ckpt"), &device()).unwrap();
    assert_eq!(loaded.method, "simsiam");
    assert_eq!(loaded.config.feature_dim(), 8);
    let loaded = loaded.backbone;
    let c = extract_features(
        &loaded,
        images.as_ref(),
        &indices,
        Some(&normalize),
        12,
        &device(),
    )
    .unwrap();
    assert_eq!(crate::support::values(c.features), b);

    // Unlabelled or missing images are errors, not panics.
    let err = extract_features(backbone, images.as_ref(), &[12], None, 4, &device()).unwrap_err();
    assert!(err.to_string().contains("image 12 does not exist"), "{err}");
}

#[test]
fn bad_checkpoint_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.ckpt");
    let err = load_backbone(&missing, &device()).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("nope.ckpt"),
        "{err}"
    );

    let junk = dir.path().join("junk.ckpt");
    std::fs::write(&junk, b"definitely not a checkpoint").unwrap();
    let err = load_backbone(&junk, &device()).unwrap_err();
    assert!(
        err.to_string().contains("not a selfsup checkpoint"),
        "{err}"
    );

    // A real checkpoint cut short.
    let run = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(tiny_simclr(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(run.path());
    trainer.fit(trainer.init_model(), &ssl_data(16)).unwrap();
    let bytes = std::fs::read(run.path().join("checkpoint.ckpt")).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let err = load_backbone(&cut, &device()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Checkpoint {
                fault: CheckpointFault::Truncated,
                ..
            }
        ) && err.to_string().contains(&format!(
            "truncated: {} of the {} bytes",
            bytes.len() - 10,
            bytes.len()
        )),
        "{err}"
    );
}

#[test]
fn fine_tuning_starts_from_the_pretrained_backbone() {
    let backbone = tiny_backbone().init(&device());
    let config = ClassifierConfig::new(tiny_backbone(), 10);
    let classifier = config.init_with_backbone(backbone.clone(), &device());
    let images = dataset(4, 10, false);
    let indices = [0, 1, 2, 3];
    let ours = extract_features(
        &classifier.backbone,
        images.as_ref(),
        &indices,
        None,
        4,
        &device(),
    )
    .unwrap();
    let theirs =
        extract_features(&backbone, images.as_ref(), &indices, None, 4, &device()).unwrap();
    assert_eq!(
        crate::support::values(ours.features),
        crate::support::values(theirs.features)
    );
    assert_eq!(classifier.head.weight.dims(), [8, 10]);
}

/// A checkpoint in the format written before checkpoints stored the encoder's config (made by
/// the earlier code from this file's `tiny_simsiam`, 1 epoch of 2 steps on `ssl_data(16)`): its
/// backbone loads for evaluation and computes the features the earlier code computed, and
/// `resume` accepts it.
#[test]
fn checkpoints_of_the_earlier_format_still_load_and_resume() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/simsiam_v1.ckpt");
    let saved = Checkpoint::read(&path).unwrap();
    assert!(
        saved.state.encoder_config.is_none(),
        "the fixture predates encoder_config"
    );
    let loaded = load_backbone(&path, &device()).unwrap();
    assert_eq!(loaded.method, "simsiam");
    assert_eq!(
        serde_json::to_value(&loaded.config).unwrap(),
        serde_json::to_value(tiny_backbone()).unwrap()
    );
    let images = dataset(4, 10, false);
    let features = extract_features(
        &loaded.backbone,
        images.as_ref(),
        &[0, 1, 2, 3],
        None,
        4,
        &device(),
    )
    .unwrap();
    let expected: Vec<f32> = serde_json::from_str(include_str!("golden/simsiam_v1_features.json"))
        .expect("the features parse");
    crate::support::assert_close(
        &crate::support::values(features.features),
        &expected,
        1e-6,
        1e-5,
        "features of the earlier checkpoint's backbone",
    );
    let resumed = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .resume(&path, &ssl_data(16))
        .unwrap();
    assert!(resumed.finished);
    assert_eq!(resumed.history, saved.state.history);
}

/// Sets `stop` from the progress callback once the run has taken `at` steps.
fn stop_at(stop: &Arc<AtomicBool>, at: usize) -> impl Fn(Progress<'_>) + Send + Sync + 'static {
    let stop = stop.clone();
    move |event| {
        if let Progress::Step(s) = event
            && s.step == at
        {
            stop.store(true, Ordering::SeqCst);
        }
    }
}

/// A stop signal mid-epoch (after step 3 of 6) and another at an epoch's last step (step 6):
/// each run checkpoints its exact position and says where it stopped; resuming twice gives the
/// uninterrupted run's losses and final tensors bit for bit.
#[test]
fn a_stop_signal_checkpoints_the_exact_position_and_resuming_is_bit_for_bit() {
    let data = ssl_data(48); // 6 steps of 8 per epoch
    let whole = Trainer::new(tiny_simsiam(), config(2, 8), &device()).unwrap();
    let initial = whole.init_model();
    let initial_copy = crate::methods::independent_copy(&whole, &initial);
    let reference = whole.fit(initial, &data).unwrap();
    assert_eq!(reference.history.step_losses.len(), 12);
    assert_eq!(reference.stopped_at_step, None);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    let stop = Arc::new(AtomicBool::new(false));
    let first = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_stop_signal(stop.clone())
        .with_progress(stop_at(&stop, 3))
        .fit(initial_copy, &data)
        .unwrap();
    assert!(!first.finished);
    assert_eq!(first.stopped_at_step, Some(3));
    assert_eq!(first.checkpoint.as_deref(), Some(path.as_path()));
    assert_eq!(
        first.history.step_losses,
        reference.history.step_losses[..3],
        "the step in progress was finished, no other"
    );
    let saved = Checkpoint::read(&path).unwrap();
    let position = (
        saved.state.epoch,
        saved.state.batch_in_epoch,
        saved.state.step,
    );
    assert_eq!(position, (0, 3, 3), "the exact position, mid-epoch");
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert!(
        log.contains("stopped on request after step 3 (3 batches into epoch 1)"),
        "{log}"
    );

    // Resumed, and stopped again at the last step of the first epoch.
    let stop = Arc::new(AtomicBool::new(false));
    let second = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_stop_signal(stop.clone())
        .with_progress(stop_at(&stop, 6))
        .resume(&path, &data)
        .unwrap();
    assert_eq!(second.stopped_at_step, Some(6));
    assert_eq!(second.history.epochs.len(), 1, "the epoch was completed");
    let saved = Checkpoint::read(&path).unwrap();
    assert_eq!(
        (
            saved.state.epoch,
            saved.state.batch_in_epoch,
            saved.state.step
        ),
        (1, 0, 6)
    );

    // A stop signal set at the run's last step changes nothing: the run is finished.
    let stop = Arc::new(AtomicBool::new(false));
    let last = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_stop_signal(stop.clone())
        .with_progress(stop_at(&stop, 12))
        .resume(&path, &data)
        .unwrap();
    assert!(last.finished);
    assert_eq!(last.stopped_at_step, None);
    assert_eq!(
        last.history.step_losses, reference.history.step_losses,
        "the interrupted and resumed runs' losses are the uninterrupted run's, bit for bit"
    );
    let epoch_losses =
        |h: &selfsup_train::History| h.epochs.iter().map(|e| e.loss).collect::<Vec<_>>();
    assert_eq!(
        epoch_losses(&last.history),
        epoch_losses(&reference.history)
    );
    let (a, b) = (
        crate::methods::all_values(&last.model),
        crate::methods::all_values(&reference.model),
    );
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "the same final tensors (weights and batch-norm statistics), bit for bit"
    );
}

/// A supervised method whose step `at_step` adds `sqrt(Σ(w − w.detach()))` over the head's
/// weights to the loss: exactly 0 (the loss stays finite), but its gradient is 1/(2·√0) = +∞,
/// so the optimizer step leaves the head's weights at −∞.
#[derive(Serialize, Deserialize)]
struct Diverging {
    inner: SupervisedMethod,
    at_step: usize,
}

impl Method for Diverging {
    type EncoderConfig = BackboneConfig;
    type Model = selfsup_train::Classifier;
    const NAME: &'static str = "diverging";

    fn init_model(&self, device: &Device) -> Self::Model {
        self.inner.init_model(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> selfsup_train::Result<StepOutput> {
        let mut out = self.inner.step(model, batch, ctx)?;
        if ctx.step == self.at_step {
            let w = model.head.weight.val();
            let zero = (w.clone() - w.detach()).sum();
            out.loss = out.loss + zero.sqrt();
        }
        Ok(out)
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        self.inner.backbone_config()
    }
}

#[test]
fn non_finite_weights_are_never_checkpointed_and_the_last_good_checkpoint_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    let method = Diverging {
        inner: SupervisedMethod::new(ClassifierConfig::new(tiny_backbone(), 10)),
        at_step: 3,
    };
    // The checkpoint of step 2, as it is when step 3 is done.
    let good = Arc::new(Mutex::new(Vec::new()));
    let seen = good.clone();
    let watched = path.clone();
    let trainer = Trainer::new(
        method,
        TrainingConfig {
            checkpoint_every: Some(2),
            ..config(3, 8)
        },
        &device(),
    )
    .unwrap()
    .with_out_dir(dir.path())
    .with_progress(move |event| {
        if let Progress::Step(s) = event
            && s.step == 3
        {
            *seen.lock().unwrap() = std::fs::read(&watched).unwrap();
        }
    });
    let data = TrainData::new(dataset(48, 10, false), single_view());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    match &err {
        Error::NonFiniteWeights {
            epoch,
            step,
            parameter,
            checkpoint,
        } => {
            assert_eq!((*epoch, *step), (0, 4));
            assert_eq!(parameter, "head.weight");
            assert_eq!(checkpoint.as_deref(), Some(path.as_path()));
        }
        other => panic!("expected non-finite weights, got {other}"),
    }
    assert!(
        err.to_string().contains("the last good checkpoint is"),
        "{err}"
    );
    let good = good.lock().unwrap().clone();
    assert!(!good.is_empty());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the last good checkpoint is byte-identical"
    );
    assert!(!dir.path().join("checkpoint.ckpt.tmp").exists());
    let saved = Checkpoint::read(&path).unwrap();
    assert_eq!(saved.state.step, 2);
    let model = saved
        .load_model(
            ClassifierConfig::new(tiny_backbone(), 10).init(&device()),
            &path,
        )
        .unwrap();
    assert_eq!(selfsup_train::first_non_finite_parameter(&model), None);
    // The diverging step's loss was finite: only the weights give the divergence away.
    let history: selfsup_train::History =
        serde_json::from_slice(&std::fs::read(dir.path().join("history.json")).unwrap()).unwrap();
    assert_eq!(history.step_losses.len(), 4);
    assert!(history.step_losses.iter().all(|l| l.is_finite()));
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert!(log.contains("non-finite weights after step 4"), "{log}");
}

/// A supervised method whose step `at_step` also runs the encoder, in training mode, on its
/// images times +∞ and drops the output: the loss and every weight stay finite, but batch
/// norm's running statistics take the non-finite batch statistics, as an update that Burn's
/// `RunningState` still holds pending when the step ends (a plain `Module::visit` reads the
/// value before it).
#[derive(Serialize, Deserialize)]
struct PoisonedStatistics {
    inner: SupervisedMethod,
    at_step: usize,
}

impl Method for PoisonedStatistics {
    type EncoderConfig = BackboneConfig;
    type Model = selfsup_train::Classifier;
    const NAME: &'static str = "poisoned-statistics";

    fn init_model(&self, device: &Device) -> Self::Model {
        self.inner.init_model(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> selfsup_train::Result<StepOutput> {
        let out = self.inner.step(model, batch, ctx)?;
        if ctx.step == self.at_step {
            let poisoned = batch.view(0, ctx.device).mul_scalar(f64::INFINITY);
            let _ = model.backbone.forward_features(poisoned);
        }
        Ok(out)
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        self.inner.backbone_config()
    }
}

/// The running statistics poisoned at the last step (12 of 2 epochs × 6).
fn poisoned_at_the_last_step() -> PoisonedStatistics {
    PoisonedStatistics {
        inner: SupervisedMethod::new(ClassifierConfig::new(tiny_backbone(), 10)),
        at_step: 11,
    }
}

/// Before: the check read the running statistics one update behind what the checkpoint saves,
/// so the run ended "finished" and its final checkpoint held NaN running means.
#[test]
fn batch_norm_statistics_poisoned_at_the_last_step_are_never_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ckpt");
    // The checkpoint of epoch 1 (step 6), as it is when the last step is done.
    let good = Arc::new(Mutex::new(Vec::new()));
    let seen = good.clone();
    let watched = path.clone();
    let trainer = Trainer::new(poisoned_at_the_last_step(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_progress(move |event| {
            if let Progress::Step(s) = event
                && s.step == 12
            {
                *seen.lock().unwrap() = std::fs::read(&watched).unwrap();
            }
        });
    let data = TrainData::new(dataset(48, 10, false), single_view());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    match &err {
        Error::NonFiniteWeights {
            epoch,
            step,
            parameter,
            checkpoint,
        } => {
            assert_eq!((*epoch, *step), (1, 12));
            assert_eq!(parameter, POISONED_PARAMETER);
            assert_eq!(checkpoint.as_deref(), Some(path.as_path()));
        }
        other => panic!("expected non-finite weights, got {other}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "non-finite weights after step 12 (epoch 1), first in `{POISONED_PARAMETER}`: \
             training stopped without writing a checkpoint; the last good checkpoint is "
        )),
        "{err}"
    );
    let good = good.lock().unwrap().clone();
    assert!(!good.is_empty());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the last good checkpoint is byte-identical"
    );
    let saved = Checkpoint::read(&path).unwrap();
    assert_eq!(saved.state.step, 6);
    let model = saved
        .load_model(
            ClassifierConfig::new(tiny_backbone(), 10).init(&device()),
            &path,
        )
        .unwrap();
    assert_eq!(selfsup_train::first_non_finite_parameter(&model), None);
}

/// The first tensor the poisoned step leaves non-finite.
const POISONED_PARAMETER: &str = "backbone.SmallCnn.blocks.0.bn.running_mean";

/// Before: without an output directory no checkpoint is written, so nothing was ever checked
/// and the run ended "finished" with non-finite running statistics.
#[test]
fn a_run_without_an_output_directory_checks_its_final_model() {
    let trainer = Trainer::new(poisoned_at_the_last_step(), config(2, 8), &device()).unwrap();
    let data = TrainData::new(dataset(48, 10, false), single_view());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    match &err {
        Error::NonFiniteWeights {
            epoch,
            step,
            parameter,
            checkpoint,
        } => {
            assert_eq!((*epoch, *step), (1, 12));
            assert_eq!(parameter, POISONED_PARAMETER);
            assert_eq!(*checkpoint, None);
        }
        other => panic!("expected non-finite weights, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "non-finite weights after step 12 (epoch 1), first in `{POISONED_PARAMETER}`: \
             training stopped without writing a checkpoint; no checkpoint was written yet"
        )
    );
    // The same run, healthy, still finishes.
    let healthy = PoisonedStatistics {
        at_step: usize::MAX,
        ..poisoned_at_the_last_step()
    };
    let trainer = Trainer::new(healthy, config(2, 8), &device()).unwrap();
    assert!(trainer.fit(trainer.init_model(), &data).unwrap().finished);
}

/// The images of a CIFAR-like dataset, but image `bad` cannot be loaded, as a streamed file
/// deleted after its folder was indexed.
struct Unreadable {
    inner: Arc<CifarDataset>,
    bad: usize,
}

impl selfsup_data::ImageDataset for Unreadable {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn shape(&self, index: usize) -> [usize; 3] {
        self.inner.shape(index)
    }

    fn pixels(&self, index: usize) -> selfsup_data::Result<std::borrow::Cow<'_, [u8]>> {
        if index == self.bad {
            return Err(selfsup_data::Error::MissingFile {
                path: format!("photos/img_{index}.jpg").into(),
            });
        }
        self.inner.pixels(index)
    }

    fn target(&self, index: usize) -> Option<usize> {
        self.inner.target(index)
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
}

/// Images that raise the stop signal when read: a Ctrl-C that arrives while the online kNN
/// reads its held-out images.
struct SignalsWhenRead {
    inner: Arc<CifarDataset>,
    stop: Arc<AtomicBool>,
}

impl selfsup_data::ImageDataset for SignalsWhenRead {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn shape(&self, index: usize) -> [usize; 3] {
        self.inner.shape(index)
    }

    fn pixels(&self, index: usize) -> selfsup_data::Result<std::borrow::Cow<'_, [u8]>> {
        self.stop.store(true, Ordering::SeqCst);
        self.inner.pixels(index)
    }

    fn target(&self, index: usize) -> Option<usize> {
        self.inner.target(index)
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
}

/// A stop signal during an epoch's evaluation (the online kNN) stops the run at that epoch's
/// end, with its checkpoint: no step of the next epoch is taken.
#[test]
fn a_stop_signal_during_the_online_knn_stops_at_the_epochs_checkpoint() {
    let images = dataset(40, 4, true);
    let stop = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(tiny_simclr(), config(3, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_stop_signal(stop.clone())
        .with_online_knn(OnlineKnn {
            train: images.clone(),
            train_indices: (0..30).collect(),
            test: Arc::new(SignalsWhenRead {
                inner: images.clone(),
                stop: stop.clone(),
            }),
            test_indices: (30..40).collect(),
            normalize: Some(Normalize::cifar10()),
            config: KnnConfig::new().with_k(5),
            every: 1,
        });
    let outcome = trainer.fit(trainer.init_model(), &ssl_data(24)).unwrap();
    // 3 steps of 8 per epoch: the signal came in epoch 1's kNN.
    assert_eq!(outcome.stopped_at_step, Some(3));
    assert_eq!(outcome.history.step_losses.len(), 3);
    assert_eq!(outcome.history.epochs.len(), 1);
    let saved = Checkpoint::read(&trainer.checkpoint_path().unwrap()).unwrap();
    assert_eq!(
        (
            saved.state.epoch,
            saved.state.batch_in_epoch,
            saved.state.step
        ),
        (1, 0, 3)
    );
}

#[test]
fn an_image_unreadable_mid_run_stops_it_naming_the_file_with_a_checkpoint_before_its_batch() {
    // The image the trainer's loader (seed 3, batches of 8) visits 21st: in batch 2 of epoch 0.
    let bad = epoch_order(48, 8)[20];
    let data = TrainData::new(
        Arc::new(Unreadable {
            inner: dataset(48, 10, false),
            bad,
        }),
        Arc::new(SimSiamTransform::cifar10()),
    );
    let file = format!("photos/img_{bad}.jpg");
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(dir.path());
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&file) && message.contains("batch 3") && message.contains("checkpoint"),
        "{message}"
    );
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert!(log.contains(&file), "{log}");
    // The checkpoint holds the position before the failing batch: two batches trained.
    let saved = Checkpoint::read(&dir.path().join("checkpoint.ckpt")).unwrap();
    assert_eq!((saved.state.batch_in_epoch, saved.state.step), (2, 2));

    // Leaving unreadable images out: the run finishes, the log names the file.
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(dir.path());
    let outcome = trainer
        .fit(trainer.init_model(), &data.with_skip_unreadable(true))
        .unwrap();
    assert!(outcome.finished);
    assert_eq!(outcome.history.epochs[0].images, 47);
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert!(
        log.contains(&format!("left out image {bad}")) && log.contains(&file),
        "{log}"
    );
}

/// The order in which the trainer's loader (seed 3) visits `n` images in epoch 0.
fn epoch_order(n: usize, batch_size: usize) -> Vec<usize> {
    selfsup_data::Loader::new(
        dataset(n, 10, false),
        Arc::new(SimSiamTransform::cifar10()),
        selfsup_data::LoaderConfig {
            batch_size,
            seed: 3,
            ..selfsup_data::LoaderConfig::default()
        },
    )
    .unwrap()
    .epoch_order(0)
}

#[test]
fn each_epoch_records_the_time_spent_waiting_for_data() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path());
    let outcome = trainer.fit(trainer.init_model(), &ssl_data(32)).unwrap();
    for record in &outcome.history.epochs {
        assert!(
            record.data_wait_seconds > 0.0 && record.data_wait_seconds <= record.seconds,
            "{record:?}"
        );
    }
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("history.json")).unwrap())
            .unwrap();
    assert!(history["epochs"][1]["data_wait_seconds"].as_f64().unwrap() > 0.0);
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert!(log.contains("s for data"), "{log}");
}

/// The files of a run directory, by name.
fn run_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A run replacing another (`with_overwrite`) that fails before its first step leaves the old
/// run's files exactly as they were; one that takes a step replaces all of them, the log
/// included.
#[test]
fn an_overwrite_replaces_the_old_run_only_once_the_new_one_has_taken_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let old = Trainer::new(tiny_simsiam(), config(1, 8), &device())
        .unwrap()
        .with_out_dir(dir.path());
    old.fit(old.init_model(), &ssl_data(16)).unwrap();
    let before = run_files(dir.path());
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "checkpoint.ckpt",
            "config.json",
            "history.json",
            "train.log"
        ]
    );

    // The new run's first batch holds an image that cannot be loaded.
    let broken = TrainData::new(
        Arc::new(Unreadable {
            inner: dataset(16, 10, false),
            bad: epoch_order(16, 8)[0],
        }),
        Arc::new(SimSiamTransform::cifar10()),
    );
    let new = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(dir.path())
        .with_overwrite(true);
    let err = new.fit(new.init_model(), &broken).unwrap_err();
    assert!(matches!(err, Error::Data(_)), "{err}");
    assert!(
        run_files(dir.path()) == before,
        "the failed overwrite left the old run as it was"
    );

    // A new run that trains replaces every file.
    new.fit(new.init_model(), &ssl_data(16)).unwrap();
    let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
    assert_eq!(log.matches("training simsiam").count(), 1, "{log}");
    assert!(
        log.contains("epoch 2/2") && !log.contains("epoch 1/1"),
        "{log}"
    );
    let history: selfsup_train::History =
        serde_json::from_slice(&std::fs::read(dir.path().join("history.json")).unwrap()).unwrap();
    assert_eq!(history.epochs.len(), 2);
    let saved = Checkpoint::read(&dir.path().join("checkpoint.ckpt")).unwrap();
    assert_eq!(saved.state.training.epochs, 2);
}

/// A directory holding another program's `config.json`, or a `train.log` without a run's
/// config, is refused, `with_overwrite` or not, and the file stays as it was.
#[test]
fn files_that_are_not_a_runs_are_never_replaced() {
    for (name, content) in [
        (
            "config.json",
            &b"{\"name\": \"my-app\", \"port\": 8080}"[..],
        ),
        ("history.json", b"[1, 2, 3]"),
        ("train.log", b"my own notes\n"),
        ("checkpoint.ckpt", b"not selfsup's"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        for overwrite in [false, true] {
            let trainer = Trainer::new(tiny_simsiam(), config(1, 8), &device())
                .unwrap()
                .with_out_dir(dir.path())
                .with_overwrite(overwrite);
            let err = trainer
                .fit(trainer.init_model(), &ssl_data(16))
                .unwrap_err();
            assert_eq!(err, Error::ForeignFile { path: path.clone() }, "{name}");
            assert!(
                err.to_string().contains("is not a selfsup run's file"),
                "{err}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), content, "{name}");
            assert_eq!(run_files(dir.path()).len(), 1, "nothing else written");
        }
    }
}
