//! End to end on flex, through the facade, on a tiny synthetic CIFAR-10 written to disk:
//! pre-train SimSiam a few steps with checkpoints, get "killed", resume, then evaluate the
//! checkpoint's backbone with the linear probe and kNN against a random-init backbone.

use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use selfsup::burn::module::Module;
use selfsup::burn::tensor::Device;
use selfsup::data::transforms::Normalize;
use selfsup::data::{CifarDataset, CifarOptions, CifarVariant, SimSiamTransform, Split};
use selfsup::models::{
    BackboneConfig, SimSiamConfig, SimSiamPredictionHeadConfig, SimSiamProjectionHeadConfig,
    SmallCnnConfig,
};
use selfsup::train::{
    EvalSplits, KnnConfig, LinearProbeConfig, Method, SimSiamMethod, TrainData, Trainer,
    TrainingConfig, knn_backbone, linear_probe_backbone, load_backbone,
};

/// Writes a CIFAR-10 directory with `per_file` images in each of the five train files and the
/// test file. Classes differ in their mean colour, so features can separate them.
fn write_cifar10(dir: &Path, per_file: usize) {
    let mut rng = StdRng::seed_from_u64(11);
    let files = [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ];
    for name in files {
        let mut bytes = Vec::with_capacity(per_file * 3073);
        for i in 0..per_file {
            let label = (i % 10) as u8;
            bytes.push(label);
            for channel in 0..3 {
                let base = (usize::from(label) * 23 + channel * 37 * usize::from(label % 3)) % 200;
                for _ in 0..1024 {
                    bytes.push((base + rng.random_range(0..56)) as u8);
                }
            }
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    std::fs::write(
        dir.join("batches.meta.txt"),
        "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n",
    )
    .unwrap();
}

fn method() -> SimSiamMethod {
    let backbone = BackboneConfig::SmallCnn(SmallCnnConfig::new().with_channels(vec![8, 16]));
    SimSiamMethod::new(SimSiamConfig::new(
        backbone,
        SimSiamProjectionHeadConfig::new()
            .with_input_dim(16)
            .with_hidden_dim(32)
            .with_output_dim(32),
        SimSiamPredictionHeadConfig::new()
            .with_input_dim(32)
            .with_hidden_dim(8)
            .with_output_dim(32),
    ))
}

#[test]
fn pretrain_interrupt_resume_and_probe_on_flex() {
    let data_dir = tempfile::tempdir().unwrap();
    write_cifar10(data_dir.path(), 20);
    // 20 records a file, not the official 10 000.
    let small = CifarOptions {
        check_official_counts: false,
        ..Default::default()
    };
    let open =
        |split| CifarDataset::open_with(data_dir.path(), CifarVariant::Cifar10, split, &small);
    let train = Arc::new(open(Split::Train).unwrap());
    let test = Arc::new(open(Split::Test).unwrap());
    assert_eq!((train.len(), test.len()), (100, 20));

    let device = Device::flex();
    let config = TrainingConfig {
        epochs: 2,
        batch_size: 16,
        num_workers: 2,
        seed: 5,
        ..TrainingConfig::paper()
    };
    let data = TrainData::new(train.clone(), Arc::new(SimSiamTransform::cifar10()));

    // The reference: one uninterrupted run.
    let reference = Trainer::new(method(), config.clone(), &device).unwrap();
    let initial = reference.init_model();
    // A copy with its own batch-norm statistics: Burn's `clone` shares a `RunningState`'s
    // storage, so the reference run would move the interrupted run's starting statistics.
    let initial_copy = reference
        .method()
        .init_model(reference.device())
        .load_record(initial.clone().into_record());
    let uninterrupted = reference.fit(initial, &data).unwrap();
    assert_eq!(
        uninterrupted.history.step_losses.len(),
        12,
        "2 epochs × 6 batches"
    );

    // The same run, checkpointing every 5 steps, "killed" after step 8.
    let out = tempfile::tempdir().unwrap();
    let interrupted_config = TrainingConfig {
        checkpoint_every: Some(5),
        ..config
    };
    let trainer = Trainer::new(method(), interrupted_config.clone(), &device)
        .unwrap()
        .with_out_dir(out.path())
        .stop_after_steps(8);
    assert!(!trainer.fit(initial_copy, &data).unwrap().finished);
    let checkpoint = out.path().join("checkpoint.ckpt");

    // Resumed in a new trainer, as a new process would.
    let resumed = Trainer::new(method(), interrupted_config, &device)
        .unwrap()
        .with_out_dir(out.path())
        .resume(&checkpoint, &data)
        .unwrap();
    assert!(resumed.finished);
    assert_eq!(
        resumed.history.step_losses, uninterrupted.history.step_losses,
        "resume reproduces the uninterrupted run's losses"
    );
    for name in ["config.json", "history.json", "train.log"] {
        assert!(out.path().join(name).is_file(), "{name} written");
    }
    let log = std::fs::read_to_string(out.path().join("train.log")).unwrap();
    assert!(log.contains("resuming simsiam"), "{log}");

    // Evaluate the checkpoint's backbone and a random one with the same protocol.
    let loaded = load_backbone(&checkpoint, &device).unwrap();
    assert_eq!(loaded.method, "simsiam");
    let backbone = loaded.backbone;
    let train_indices: Vec<usize> = (0..100).collect();
    let test_indices: Vec<usize> = (0..20).collect();
    let normalize = Normalize::cifar10();
    let splits = EvalSplits {
        train: train.as_ref(),
        train_indices: &train_indices,
        test: test.as_ref(),
        test_indices: &test_indices,
        normalize: Some(&normalize),
        batch_size: 32,
    };
    let probe_config = LinearProbeConfig::new().with_epochs(30).with_batch_size(25);
    let probe = linear_probe_backbone(&backbone, splits, &probe_config, &device).unwrap();
    assert_eq!(probe.test.total(), 20);
    assert!(
        probe.top1() > 0.3,
        "colour separates the classes: {}",
        probe.test
    );
    let knn = knn_backbone(&backbone, splits, &KnnConfig::new().with_k(10), &device).unwrap();
    assert_eq!(knn.total(), 20);
    assert!(knn.top1() > 0.3, "{knn}");
}
