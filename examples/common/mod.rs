//! What the training and evaluation examples share: their common flags, opening CIFAR-10
//! (with `--limit` subsets), and the run of a method through the trainer.
//!
//! Not an example itself (Cargo only builds `examples/*.rs` and `examples/*/main.rs`).
#![allow(dead_code)] // each example uses a part

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use selfsup::data::transforms::{Compose, MultiView, Normalize, RandomHorizontalFlip};
use selfsup::data::{CifarDataset, ImageDataset, MultiViewTransform, Split, class_balanced_subset};
use selfsup::device::{DeviceSpec, default_device_spec, parse_device};
use selfsup::models::{BackboneConfig, ResNetConfig, SmallCnnConfig, Stem};
use selfsup::train::{
    KnnConfig, Method, OnlineKnn, TrainData, TrainOutcome, Trainer, TrainingConfig,
};

/// The result type of the examples' `run`.
pub type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// Runs `run` and turns an error into a message on stderr and exit status 1.
pub fn main_with(run: impl FnOnce() -> Result<()>) -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The encoder to train or evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackboneKind {
    /// ResNet-18 with the CIFAR stem (3×3 conv, no max-pool): 512-d features.
    Resnet18,
    /// The 4-block CNN of seeds 001/002 (64-128-256-512 channels): ~9× faster than ResNet-18.
    SmallCnn,
}

impl BackboneKind {
    /// Its config.
    pub fn config(self) -> BackboneConfig {
        match self {
            Self::Resnet18 => BackboneConfig::ResNet(ResNetConfig::resnet18(Stem::Cifar)),
            Self::SmallCnn => BackboneConfig::SmallCnn(SmallCnnConfig::new()),
        }
    }
}

/// Optimizer, LR and schedule presets of the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Recipe {
    /// Seed 000's tutorial: Adam, LR 10⁻³, constant.
    Tutorial,
    /// The SimSiam paper's CIFAR recipe: SGD, LR 0.05 × B/256, momentum 0.9, weight decay
    /// 5·10⁻⁴, cosine decay.
    Paper,
}

/// Where the data is and how much of it to use.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// CIFAR-10 binary directory (`data_batch_1..5.bin`, `test_batch.bin`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Use a class-balanced subset of this many training images (a multiple of 10).
    #[arg(long)]
    pub limit: Option<usize>,
}

impl DataArgs {
    /// The training split and the images to use (`--limit`).
    pub fn train(&self, seed: u64) -> Result<(Arc<CifarDataset>, Vec<usize>)> {
        self.split(Split::Train, self.limit, seed)
    }

    /// The test split and the images to use (`limit` of them, class-balanced).
    pub fn test(&self, limit: Option<usize>, seed: u64) -> Result<(Arc<CifarDataset>, Vec<usize>)> {
        self.split(Split::Test, limit, seed)
    }

    /// A split and a class-balanced subset of `limit` of its images (all when `None`).
    pub fn split(
        &self,
        split: Split,
        limit: Option<usize>,
        seed: u64,
    ) -> Result<(Arc<CifarDataset>, Vec<usize>)> {
        let dataset = Arc::new(CifarDataset::cifar10(&self.data_dir, split)?);
        let indices = subset(dataset.as_ref(), limit, seed)?;
        Ok((dataset, indices))
    }
}

/// All images, or a class-balanced subset of `limit`.
pub fn subset(dataset: &dyn ImageDataset, limit: Option<usize>, seed: u64) -> Result<Vec<usize>> {
    Ok(match limit {
        Some(n) if n < dataset.len() => class_balanced_subset(dataset, n, seed)?,
        _ => (0..dataset.len()).collect(),
    })
}

/// Seed 001's supervised training views: a random horizontal flip, then CIFAR-10
/// normalization (one view).
pub fn supervised_views() -> Arc<dyn MultiViewTransform> {
    let view = Compose::new()
        .then(RandomHorizontalFlip::default())
        .then(Normalize::cifar10());
    Arc::new(MultiView::new(vec![Box::new(view)]).expect("one view"))
}

/// The flags of every pre-training example.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Backend: flex, tch, tch-cuda:N, wgpu or cuda:N (among those compiled in).
    #[arg(long, value_parser = parse_device, default_value_t = default_device_spec())]
    pub device: DeviceSpec,
    /// Where the run writes config.json, history.json, loss.png, train.log and checkpoints.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Encoder.
    #[arg(long, value_enum, default_value_t = BackboneKind::Resnet18)]
    pub backbone: BackboneKind,
    /// Passes over the training images.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Stop after this many optimizer steps (the schedule spans them).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Optimizer and schedule preset.
    #[arg(long, value_enum, default_value_t = Recipe::Paper)]
    pub recipe: Recipe,
    /// Base LR, overriding the recipe's (before its batch-size scaling).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the weights, the order and the augmentations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Loader threads (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Also checkpoint every N steps (always at each epoch's end).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue the run saved in this checkpoint (same flags).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Start afresh even if --out-dir already holds a run (its checkpoint is replaced).
    #[arg(long)]
    pub overwrite: bool,
    /// Log kNN accuracy every N epochs on held-out images (0: off).
    #[arg(long, default_value_t = 0)]
    pub knn_every: usize,
    /// Memory-bank images of the online kNN (class-balanced from the train split).
    #[arg(long, default_value_t = 5000)]
    pub knn_train: usize,
    /// Held-out images of the online kNN (class-balanced from the test split).
    #[arg(long, default_value_t = 1000)]
    pub knn_test: usize,
}

impl TrainArgs {
    /// The training config these flags describe.
    pub fn training_config(&self) -> TrainingConfig {
        let mut config = match self.recipe {
            Recipe::Tutorial => TrainingConfig::tutorial(),
            Recipe::Paper => TrainingConfig::paper(),
        };
        config.epochs = self.epochs;
        config.max_steps = self.max_steps;
        config.batch_size = self.batch_size;
        config.seed = self.seed;
        config.checkpoint_every = self.checkpoint_every;
        if let Some(lr) = self.lr {
            config.lr = lr;
        }
        if let Some(workers) = self.workers {
            config.num_workers = workers;
        }
        config
    }

    /// Trains `method` on views from `transform` (fresh, or resumed with `--resume`), printing
    /// progress, and returns the outcome.
    pub fn run<M: Method>(
        &self,
        method: M,
        transform: Arc<dyn MultiViewTransform>,
    ) -> Result<TrainOutcome<M::Model>> {
        self.run_with(method, transform, |trainer| Ok(trainer.init_model()))
    }

    /// As [`run`](Self::run), starting from the model `initial` builds (on the trainer's
    /// device) instead of a fresh one: fine-tuning.
    pub fn run_with<M: Method>(
        &self,
        method: M,
        transform: Arc<dyn MultiViewTransform>,
        initial: impl FnOnce(&Trainer<M>) -> Result<M::Model>,
    ) -> Result<TrainOutcome<M::Model>> {
        let device = self.device.device()?;
        let (train, indices) = self.data.train(self.seed)?;
        let mut trainer = Trainer::new(method, self.training_config(), &device)?
            .with_out_dir(&self.out_dir)
            .with_overwrite(self.overwrite)
            .with_progress(true)
            .with_run_info(serde_json::json!({
                "data_dir": self.data.data_dir,
                "limit": self.data.limit,
                "device": self.device.to_string(),
                "backbone": format!("{:?}", self.backbone),
                "transform": format!("{transform:?}"),
                "command": std::env::args().collect::<Vec<_>>(),
            }));
        if self.knn_every > 0 {
            let (test, test_indices) = self.data.test(Some(self.knn_test), self.seed)?;
            trainer = trainer.with_online_knn(OnlineKnn {
                train_indices: subset(train.as_ref(), Some(self.knn_train), self.seed)?,
                train: train.clone(),
                test,
                test_indices,
                normalize: Some(Normalize::cifar10()),
                config: KnnConfig::new(),
                every: self.knn_every,
            });
        }
        let data = TrainData::new(train, transform).with_indices(indices);
        println!(
            "{} on {}: {} images, backbone {:?}, outputs in {}",
            M::NAME,
            self.device,
            data.indices.as_ref().map_or(0, Vec::len),
            self.backbone,
            self.out_dir.display()
        );
        let outcome = match &self.resume {
            Some(checkpoint) => trainer.resume(checkpoint, &data)?,
            None => trainer.fit(initial(&trainer)?, &data)?,
        };
        summarize(&outcome, &self.out_dir);
        Ok(outcome)
    }
}

/// Prints the end of a run.
pub fn summarize<Model>(outcome: &TrainOutcome<Model>, out_dir: &Path) {
    let epochs = &outcome.history.epochs;
    if let (Some(first), Some(last)) = (epochs.first(), epochs.last()) {
        let seconds: f64 = epochs.iter().map(|e| e.seconds).sum();
        let images: usize = epochs.iter().map(|e| e.images).sum();
        println!(
            "done: {} steps, loss {:.4} → {:.4}, {:.1} s, {:.1} img/s; checkpoint {}",
            last.steps,
            first.loss,
            last.loss,
            seconds,
            images as f64 / seconds.max(1e-9),
            out_dir.join("checkpoint.ckpt").display()
        );
    }
}

/// Which backbone to evaluate: a run's checkpoint, or a random initialisation.
#[derive(Args, Debug, Clone)]
pub struct BackboneArgs {
    /// A checkpoint written by the simclr, simsiam, baseline or pretext example.
    #[arg(
        long,
        required_unless_present = "random_init",
        conflicts_with = "random_init"
    )]
    pub checkpoint: Option<PathBuf>,
    /// Evaluate an untrained backbone instead: the baseline of the same protocol.
    #[arg(long)]
    pub random_init: bool,
    /// Encoder of `--random-init`.
    #[arg(long, value_enum, default_value_t = BackboneKind::Resnet18)]
    pub backbone: BackboneKind,
}

impl BackboneArgs {
    /// The backbone and a description of it.
    pub fn load(
        &self,
        device: &selfsup::burn::tensor::Device,
        seed: u64,
    ) -> Result<(selfsup::models::Backbone, String)> {
        match &self.checkpoint {
            Some(path) => {
                let loaded = selfsup::train::load_backbone(path, device)?;
                Ok((
                    loaded.backbone,
                    format!("{} checkpoint {}", loaded.method, path.display()),
                ))
            }
            None => {
                device.seed(seed);
                Ok((
                    self.backbone.config().init(device),
                    format!("random-init {:?} (seed {seed})", self.backbone),
                ))
            }
        }
    }
}

/// The flags of the evaluation examples (linear probe, kNN).
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub backbone: BackboneArgs,
    /// Backend: flex, tch, tch-cuda:N, wgpu or cuda:N (among those compiled in).
    #[arg(long, value_parser = parse_device, default_value_t = default_device_spec())]
    pub device: DeviceSpec,
    /// Test images (class-balanced; default all 10 000).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Images per forward pass of the backbone.
    #[arg(long, default_value_t = 256)]
    pub eval_batch_size: usize,
    /// Seed of the subsets, the random init and the classifier.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// What an evaluation runs on: the backbone, the device and the two subsets.
pub struct Evaluation {
    pub device: selfsup::burn::tensor::Device,
    pub backbone: selfsup::models::Backbone,
    /// Where the backbone comes from, for the report.
    pub what: String,
    pub train: Arc<CifarDataset>,
    pub train_indices: Vec<usize>,
    pub test: Arc<CifarDataset>,
    pub test_indices: Vec<usize>,
    pub normalize: Normalize,
    pub batch_size: usize,
}

impl EvalArgs {
    /// Loads the backbone and the subsets: `train_limit` train images (default `--limit`,
    /// or all), `--test-limit` test images.
    pub fn prepare(&self, train_limit: Option<usize>) -> Result<Evaluation> {
        let device = self.device.device()?;
        let (backbone, what) = self.backbone.load(&device, self.seed)?;
        let limit = train_limit.or(self.data.limit);
        let (train, train_indices) = self.data.split(Split::Train, limit, self.seed)?;
        let (test, test_indices) = self.data.test(self.test_limit, self.seed)?;
        Ok(Evaluation {
            device,
            backbone,
            what,
            train,
            train_indices,
            test,
            test_indices,
            normalize: Normalize::cifar10(),
            batch_size: self.eval_batch_size,
        })
    }
}

impl Evaluation {
    /// The subsets as the evaluation functions take them.
    pub fn splits(&self) -> selfsup::train::EvalSplits<'_> {
        selfsup::train::EvalSplits {
            train: self.train.as_ref(),
            train_indices: &self.train_indices,
            test: self.test.as_ref(),
            test_indices: &self.test_indices,
            normalize: Some(&self.normalize),
            batch_size: self.batch_size,
        }
    }
}

/// Tests a trained classifier on `--test-limit` test images and prints the per-class table and
/// `accuracy: NN.NN%`.
pub fn report_test_accuracy(
    classifier: &selfsup::train::Classifier,
    train: &TrainArgs,
    test_limit: Option<usize>,
) -> Result<()> {
    let (test, test_indices) = train.data.test(test_limit, train.seed)?;
    let report = selfsup::train::evaluate_classifier(
        classifier,
        test.as_ref(),
        &test_indices,
        Some(&Normalize::cifar10()),
        256,
        &train.device.device()?,
    )?;
    println!("{report}");
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
