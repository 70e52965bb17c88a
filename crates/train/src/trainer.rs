//! The generic training loop: one [`Trainer`] for every [`Method`].
//!
//! Per step: the method turns a batch of views into a loss, the trainer checks it is finite,
//! back-propagates and steps the optimizer at the schedule's LR. Per epoch: a line of log
//! (console and `train.log`), `history.json`, `loss.png`, the collapse monitor, the optional
//! online kNN accuracy, and an atomic checkpoint. [`Trainer::resume`] continues from a
//! checkpoint and, with the same config, reproduces the loss sequence of an uninterrupted run.
//!
//! ```no_run
//! use std::sync::Arc;
//! use burn::tensor::Device;
//! use selfsup_data::{CifarDataset, SimSiamTransform, Split};
//! use selfsup_models::{BackboneConfig, SimSiamConfig, SmallCnnConfig};
//! use selfsup_train::{SimSiamMethod, TrainData, Trainer, TrainingConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let train = CifarDataset::cifar10("cifar-10-batches-bin", Split::Train)?;
//! let method = SimSiamMethod::new(SimSiamConfig::paper(BackboneConfig::SmallCnn(
//!     SmallCnnConfig::new(),
//! )));
//! let trainer = Trainer::new(method, TrainingConfig::paper(), &Device::flex())?
//!     .with_out_dir("runs/simsiam");
//! let data = TrainData::new(Arc::new(train), Arc::new(SimSiamTransform::cifar10()));
//! let outcome = trainer.fit(trainer.init_model(), &data)?;
//! println!("final loss {:?}", outcome.history.epochs.last().map(|e| e.loss));
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use selfsup_data::transforms::Normalize;
use selfsup_data::{ImageDataset, Loader, LoaderConfig, MultiViewTransform};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointState};
use crate::error::{self, Error, Result};
use crate::evaluate::{EvalSplits, knn_backbone};
use crate::knn::{KnnConfig, l2_normalize};
use crate::method::Method;
use crate::optim::OptimizerConfig;
use crate::plot::plot_losses;
use crate::schedule::{CosineScheduleConfig, GroupedSchedule, LrScaling};

const TRAINING: &str = "training config";

/// File names inside a run's output directory.
pub mod files {
    /// The latest checkpoint.
    pub const CHECKPOINT: &str = "checkpoint.ckpt";
    /// Per-epoch history (and every step's loss).
    pub const HISTORY: &str = "history.json";
    /// The loss curve.
    pub const LOSS_PLOT: &str = "loss.png";
    /// Method, training config and run information.
    pub const CONFIG: &str = "config.json";
    /// The log, one line per epoch and event.
    pub const LOG: &str = "train.log";
}

/// How to train: epochs, batch, optimizer, LR schedule, seed, checkpoint cadence.
///
/// Serialised into `config.json` and every checkpoint. Two presets follow the seeds:
/// [`tutorial`](Self::tutorial) (Adam 10⁻³, constant) and [`paper`](Self::paper) (SGD
/// 0.05 × B/256, momentum 0.9, weight decay 5·10⁻⁴, cosine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training images.
    pub epochs: usize,
    /// Stop after this many optimizer steps (the schedule then spans these steps), `None` to
    /// run every epoch.
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Images per batch (the last, smaller batch of an epoch is dropped).
    pub batch_size: usize,
    /// Base learning rate, before [`lr_scaling`](Self::lr_scaling).
    pub lr: f64,
    /// How the LR grows with the batch size.
    #[serde(default)]
    pub lr_scaling: LrScaling,
    /// Cosine decay to 0 over the run (`false`: constant LR).
    #[serde(default)]
    pub cosine: bool,
    /// Epochs of linear warm-up from 0 (only with `cosine`).
    #[serde(default)]
    pub warmup_epochs: usize,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Seed of the weights, the data order and every augmentation.
    #[serde(default)]
    pub seed: u64,
    /// Loader threads (results do not depend on it).
    #[serde(default = "default_workers")]
    pub num_workers: usize,
    /// Also checkpoint every this many steps (a checkpoint is always written at each epoch's
    /// end).
    #[serde(default)]
    pub checkpoint_every: Option<usize>,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl TrainingConfig {
    /// Seed 000's tutorial recipe: Adam at 10⁻³, constant LR, batch 128.
    pub fn tutorial() -> Self {
        Self {
            epochs: 10,
            max_steps: None,
            batch_size: 128,
            lr: 1e-3,
            lr_scaling: LrScaling::None,
            cosine: false,
            warmup_epochs: 0,
            optimizer: OptimizerConfig::adam(),
            seed: 0,
            num_workers: default_workers(),
            checkpoint_every: None,
        }
    }

    /// The SimSiam paper's CIFAR recipe: SGD, LR 0.05 × B/256, momentum 0.9, weight decay
    /// 5·10⁻⁴, cosine decay; batch 128 here (the paper uses 512).
    pub fn paper() -> Self {
        Self {
            lr: 0.05,
            lr_scaling: LrScaling::Linear,
            cosine: true,
            optimizer: OptimizerConfig::sgd(0.9, 5e-4),
            ..Self::tutorial()
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::invalid(TRAINING, "epochs", 0, "must be positive"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid(
                TRAINING,
                "batch_size",
                0,
                "must be positive",
            ));
        }
        if self.max_steps == Some(0) {
            return Err(Error::invalid(TRAINING, "max_steps", 0, "must be positive"));
        }
        if self.checkpoint_every == Some(0) {
            return Err(Error::invalid(
                TRAINING,
                "checkpoint_every",
                0,
                "must be positive",
            ));
        }
        if self.warmup_epochs > 0 && !self.cosine {
            return Err(Error::invalid(
                TRAINING,
                "warmup_epochs",
                self.warmup_epochs,
                "needs cosine = true",
            ));
        }
        error::positive(TRAINING, "lr", self.lr)?;
        self.optimizer.validate()
    }

    /// Steps per epoch over `num_images` images (the last partial batch is dropped).
    pub fn steps_per_epoch(&self, num_images: usize) -> usize {
        num_images / self.batch_size
    }

    /// Steps of the whole run over `num_images` images.
    pub fn total_steps(&self, num_images: usize) -> usize {
        let all = self.epochs * self.steps_per_epoch(num_images);
        self.max_steps.map_or(all, |max| max.min(all))
    }

    /// The LR schedule of a run over `num_images` images, with `fixed_groups` exceptions.
    ///
    /// # Errors
    /// When the warm-up is not shorter than the run.
    pub fn schedule(
        &self,
        num_images: usize,
        fixed_groups: Vec<crate::schedule::ParamGroupLr>,
    ) -> Result<GroupedSchedule> {
        let total = self.total_steps(num_images);
        let lr = self.lr_scaling.apply(self.lr, self.batch_size);
        let config = if self.cosine {
            CosineScheduleConfig::new(lr, total)
                .with_warmup_steps(self.warmup_epochs * self.steps_per_epoch(num_images))
        } else {
            CosineScheduleConfig::constant(lr, total)
        };
        GroupedSchedule::new(config.init()?, fixed_groups)
    }

    /// The config minus what may change between a run and its resumption.
    fn resumable(&self) -> Self {
        Self {
            num_workers: 0,
            checkpoint_every: None,
            ..self.clone()
        }
    }
}

/// One epoch of a run, as logged in `history.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Optimizer steps taken at the end of the epoch (over the whole run).
    pub steps: usize,
    /// Mean loss over the epoch's steps.
    pub loss: f64,
    /// The LR of the epoch's last step.
    pub lr: f64,
    /// Images trained on in this epoch.
    pub images: usize,
    /// Wall time of the epoch's steps, seconds (of this process only, after a resume).
    pub seconds: f64,
    /// Training throughput, images per second.
    pub images_per_second: f64,
    /// Collapse monitor: the mean over dimensions of the std of the ℓ2-normalised embeddings,
    /// times √d — about 1 for well-spread embeddings, → 0 when they collapse to a point.
    pub embedding_std: Option<f64>,
    /// Online kNN top-1 accuracy on the held-out subset, when enabled.
    pub knn_top1: Option<f64>,
    /// The method's own metrics, averaged over the epoch.
    pub metrics: BTreeMap<String, f64>,
}

/// What a run logged: one record per finished epoch and every step's loss.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per finished epoch.
    pub epochs: Vec<EpochRecord>,
    /// The loss of every optimizer step, in order (`f32`, the loss tensor's precision, which
    /// JSON round-trips exactly).
    pub step_losses: Vec<f32>,
    /// Sums of the epoch in progress (kept so a resumed epoch logs the same means).
    #[serde(default)]
    pub current: EpochSums,
}

/// Running sums of the epoch in progress. The sums are saved as raw `f64` bits, so a resumed
/// epoch's means are bit-identical to an uninterrupted one's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochSums {
    /// Steps summed.
    pub steps: usize,
    /// Σ loss.
    #[serde(with = "f64_bits")]
    pub loss: f64,
    /// Σ embedding std.
    #[serde(with = "f64_bits")]
    pub embedding_std: f64,
    /// Steps with an embedding std.
    pub embedding_std_steps: usize,
    /// Σ of each metric, as raw bits.
    pub metrics: BTreeMap<String, u64>,
    /// Images trained on.
    pub images: usize,
}

/// `f64` as its bit pattern: serde_json's parser may miss the last bit of a decimal.
mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}

/// The training images and how to make views of them.
#[derive(Clone)]
pub struct TrainData {
    /// The images.
    pub dataset: Arc<dyn ImageDataset>,
    /// The view pipeline (e.g. [`SimSiamTransform`](selfsup_data::SimSiamTransform)).
    pub transform: Arc<dyn MultiViewTransform>,
    /// Train on these images only (`None`: all).
    pub indices: Option<Vec<usize>>,
}

impl TrainData {
    /// Every image of `dataset`.
    pub fn new(dataset: Arc<dyn ImageDataset>, transform: Arc<dyn MultiViewTransform>) -> Self {
        Self {
            dataset,
            transform,
            indices: None,
        }
    }

    /// Only the images `indices` (a `--limit`, a label budget).
    pub fn with_indices(mut self, indices: Vec<usize>) -> Self {
        self.indices = Some(indices);
        self
    }

    fn num_images(&self) -> usize {
        self.indices
            .as_ref()
            .map_or(self.dataset.len(), |indices| indices.len())
    }
}

impl std::fmt::Debug for TrainData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainData")
            .field("images", &self.num_images())
            .field("transform", &self.transform)
            .finish()
    }
}

/// Online kNN monitoring: after every `every` epochs, the backbone (in eval mode) encodes a
/// train subset and a held-out subset, and kNN accuracy is logged.
#[derive(Clone)]
pub struct OnlineKnn {
    /// The memory bank's images (labelled).
    pub train: Arc<dyn ImageDataset>,
    /// Which of them.
    pub train_indices: Vec<usize>,
    /// The held-out images (labelled).
    pub test: Arc<dyn ImageDataset>,
    /// Which of them.
    pub test_indices: Vec<usize>,
    /// The normalization of the training views (no augmentation).
    pub normalize: Option<Normalize>,
    /// k and τ.
    pub config: KnnConfig,
    /// Evaluate every this many epochs (and after the last).
    pub every: usize,
}

impl std::fmt::Debug for OnlineKnn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKnn")
            .field("train", &self.train_indices.len())
            .field("test", &self.test_indices.len())
            .field("config", &self.config)
            .field("every", &self.every)
            .finish()
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct TrainOutcome<Model> {
    /// The trained model.
    pub model: Model,
    /// What was logged.
    pub history: History,
    /// `false` when [`Trainer::stop_after_steps`] cut the run short.
    pub finished: bool,
}

/// The training loop of any [`Method`]. Build with [`new`](Self::new), add outputs with
/// [`with_out_dir`](Self::with_out_dir), then [`fit`](Self::fit) or [`resume`](Self::resume).
pub struct Trainer<M: Method> {
    method: M,
    config: TrainingConfig,
    device: Device,
    out_dir: Option<PathBuf>,
    knn: Option<OnlineKnn>,
    progress: bool,
    run_info: serde_json::Value,
    stop_after: Option<usize>,
    overwrite: bool,
}

impl<M: Method> std::fmt::Debug for Trainer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("method", &M::NAME)
            .field("config", &self.config)
            .field("out_dir", &self.out_dir)
            .finish()
    }
}

impl<M: Method> Trainer<M> {
    /// A trainer of `method` on `device` (made autodiff here).
    ///
    /// # Errors
    /// When `config` is invalid.
    pub fn new(method: M, config: TrainingConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            method,
            config,
            device: device.clone().autodiff(),
            out_dir: None,
            knn: None,
            progress: false,
            run_info: serde_json::Value::Null,
            stop_after: None,
            overwrite: false,
        })
    }

    /// Write `config.json`, `history.json`, `loss.png`, `train.log` and checkpoints into `dir`
    /// (created if missing).
    pub fn with_out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Log online kNN accuracy.
    pub fn with_online_knn(mut self, knn: OnlineKnn) -> Self {
        self.knn = Some(knn);
        self
    }

    /// Print each epoch's line (and events) on stdout, and, when stderr is a terminal, a
    /// progress line there (loss, LR, img/s, ETA).
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Extra JSON saved under `"run"` in `config.json` (data directory, subset, transform…).
    pub fn with_run_info(mut self, info: serde_json::Value) -> Self {
        self.run_info = info;
        self
    }

    /// Let [`fit`](Self::fit) replace a run already in the output directory (by default it
    /// refuses, so that a repeated command does not destroy a finished run).
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Stop (as if killed) after this many optimizer steps of the run, without a final
    /// checkpoint: what the resume test and a time-boxed job use.
    pub fn stop_after_steps(mut self, steps: usize) -> Self {
        self.stop_after = Some(steps);
        self
    }

    /// The method.
    pub fn method(&self) -> &M {
        &self.method
    }

    /// The training config.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The autodiff device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The checkpoint path inside the output directory, if there is one.
    pub fn checkpoint_path(&self) -> Option<PathBuf> {
        self.out_dir.as_ref().map(|d| d.join(files::CHECKPOINT))
    }

    /// A freshly initialised model, its weights drawn from the config's seed.
    ///
    /// Burn initialises parameters lazily, at first use; they are materialised here, in module
    /// order, right after seeding, so the weights depend on the seed alone (as long as no other
    /// thread draws from the same device's generator meanwhile).
    pub fn init_model(&self) -> M::Model {
        self.device.seed(self.config.seed);
        let model = self.method.init_model(&self.device);
        model.visit(&mut Materialize);
        model
    }

    /// Trains `model` from the first step.
    ///
    /// # Errors
    /// [`Error::RunExists`] when the output directory already holds a run's checkpoint (and
    /// [`with_overwrite`](Self::with_overwrite) was not asked for), [`Error::NonFiniteLoss`] when
    /// the loss stops being finite, [`Error::Data`] when the data does not fit the method,
    /// [`Error::Io`] when an output cannot be written.
    pub fn fit(&self, model: M::Model, data: &TrainData) -> Result<TrainOutcome<M::Model>> {
        if let Some(path) = self
            .checkpoint_path()
            .filter(|p| p.exists() && !self.overwrite)
        {
            return Err(Error::RunExists { checkpoint: path });
        }
        let optimizer = self.config.optimizer.init()?;
        self.run(
            model,
            optimizer,
            data,
            Position::default(),
            History::default(),
        )
    }

    /// Continues the run saved in `checkpoint` (same method and config; `num_workers` and
    /// `checkpoint_every` may differ).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the file is not a checkpoint of this method and config, and
    /// as [`fit`](Self::fit).
    pub fn resume(&self, checkpoint: &Path, data: &TrainData) -> Result<TrainOutcome<M::Model>> {
        let saved = Checkpoint::read(checkpoint)?;
        let method: M = saved.method(checkpoint)?;
        let ours = serde_json::to_value(&self.method).expect("a method serialises");
        if serde_json::to_value(&method).expect("a method serialises") != ours {
            return Err(Error::checkpoint(
                checkpoint,
                format!(
                    "its {} config differs from this run's: {} vs {ours}",
                    M::NAME,
                    saved.state.method_config
                ),
            ));
        }
        if saved.state.training.resumable() != self.config.resumable() {
            return Err(Error::checkpoint(
                checkpoint,
                format!(
                    "its training config differs from this run's: {:?} vs {:?}",
                    saved.state.training, self.config
                ),
            ));
        }
        let model = saved.load_model(self.method.init_model(&self.device), checkpoint)?;
        let optimizer = saved.load_optimizer(self.config.optimizer.init()?, checkpoint)?;
        let position = Position {
            epoch: saved.state.epoch,
            batch_in_epoch: saved.state.batch_in_epoch,
            step: saved.state.step,
        };
        self.log_line(&format!(
            "resuming {} from {} at epoch {}, batch {}, step {}",
            M::NAME,
            checkpoint.display(),
            position.epoch,
            position.batch_in_epoch,
            position.step
        ))?;
        self.run(model, optimizer, data, position, saved.state.history)
    }

    fn run(
        &self,
        mut model: M::Model,
        mut optimizer: ModuleOptimizer,
        data: &TrainData,
        start: Position,
        mut history: History,
    ) -> Result<TrainOutcome<M::Model>> {
        let num_images = data.num_images();
        let steps_per_epoch = self.config.steps_per_epoch(num_images);
        if steps_per_epoch == 0 {
            return Err(Error::Data(format!(
                "{num_images} training images do not make one batch of {}",
                self.config.batch_size
            )));
        }
        let total_steps = self.config.total_steps(num_images);
        let schedule = self
            .config
            .schedule(num_images, self.method.fixed_lr_groups())?;
        let loader = self.loader(data)?;
        if let Some(dir) = &self.out_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
            self.write_config(dir, num_images, total_steps)?;
        }
        let mut last_checkpoint = self
            .checkpoint_path()
            .filter(|p| start.step > 0 && p.exists());
        if start.step == 0 {
            self.log_line(&format!(
                "training {} on {num_images} images: {} epochs × {steps_per_epoch} steps \
                 (run of {total_steps} steps), batch {}",
                M::NAME,
                self.config.epochs,
                self.config.batch_size
            ))?;
        }

        let progress_line = self.progress && std::io::stderr().is_terminal();
        let mut step = start.step;
        let mut epoch = start.epoch;
        let mut skip = start.batch_in_epoch;
        while epoch < self.config.epochs && step < total_steps {
            let started = Instant::now();
            let mut images_here = 0usize;
            let mut lr = schedule.group_lr_at(None, step);
            for (batch_index, batch) in loader.epoch(epoch as u64).enumerate().skip(skip) {
                if step >= total_steps {
                    break;
                }
                lr = schedule.group_lr_at(None, step);
                let out = self.method.step(&model, &batch, &self.device)?;
                let loss = out.loss.clone().into_scalar::<f32>();
                if !loss.is_finite() {
                    self.save_history(&history)?;
                    let err = Error::NonFiniteLoss {
                        epoch,
                        step,
                        loss: f64::from(loss),
                        checkpoint: last_checkpoint.clone(),
                    };
                    self.log_line(&format!("error: {err}"))?;
                    return Err(err);
                }
                let sums = &mut history.current;
                sums.steps += 1;
                sums.loss += f64::from(loss);
                sums.images += batch.len();
                if let Some(std) = out.embeddings.and_then(embedding_std) {
                    sums.embedding_std += std;
                    sums.embedding_std_steps += 1;
                }
                for (name, value) in out.metrics {
                    let sum = sums.metrics.entry(name).or_default();
                    *sum = (f64::from_bits(*sum) + value.into_scalar::<f64>()).to_bits();
                }
                history.step_losses.push(loss);

                let grads = GradientsParams::from_grads(out.loss.backward(), &model);
                model = optimizer.step(schedule.lr_at(step), model, grads);
                step += 1;
                images_here += batch.len();

                if progress_line {
                    let elapsed = started.elapsed().as_secs_f64();
                    let done = batch_index + 1 - skip;
                    let left = (steps_per_epoch - (batch_index + 1)).min(total_steps - step);
                    eprint!(
                        "\repoch {}/{} [{}/{}] loss {loss:.4} lr {lr:.2e} {:.1} img/s ETA {}   ",
                        epoch + 1,
                        self.config.epochs,
                        batch_index + 1,
                        steps_per_epoch,
                        images_here as f64 / elapsed.max(1e-9),
                        format_eta(elapsed / done as f64 * left as f64),
                    );
                }
                if self.stop_after.is_some_and(|stop| step >= stop) {
                    if progress_line {
                        eprintln!();
                    }
                    self.log_line(&format!("stopped after step {step} (as if killed)"))?;
                    return Ok(TrainOutcome {
                        model,
                        history,
                        finished: false,
                    });
                }
                let position = Position {
                    epoch,
                    batch_in_epoch: batch_index + 1,
                    step,
                };
                if self
                    .config
                    .checkpoint_every
                    .is_some_and(|every| step.is_multiple_of(every))
                    && batch_index + 1 < steps_per_epoch
                {
                    last_checkpoint = self.checkpoint(&model, &optimizer, position, &history)?;
                }
            }
            if progress_line {
                eprintln!();
            }
            let seconds = started.elapsed().as_secs_f64();
            let sums = std::mem::take(&mut history.current);
            let knn_top1 = self.online_knn(&model, epoch, step >= total_steps)?;
            let record = EpochRecord {
                epoch,
                steps: step,
                loss: sums.loss / sums.steps.max(1) as f64,
                lr,
                images: sums.images,
                seconds,
                images_per_second: images_here as f64 / seconds.max(1e-9),
                embedding_std: (sums.embedding_std_steps > 0)
                    .then(|| sums.embedding_std / sums.embedding_std_steps as f64),
                knn_top1,
                metrics: sums
                    .metrics
                    .into_iter()
                    .map(|(k, v)| (k, f64::from_bits(v) / sums.steps.max(1) as f64))
                    .collect(),
            };
            self.log_line(&epoch_line(&record, self.config.epochs))?;
            history.epochs.push(record);
            epoch += 1;
            skip = 0;
            let position = Position {
                epoch,
                batch_in_epoch: 0,
                step,
            };
            self.save_history(&history)?;
            last_checkpoint = self.checkpoint(&model, &optimizer, position, &history)?;
        }
        Ok(TrainOutcome {
            model,
            history,
            finished: true,
        })
    }

    fn loader(&self, data: &TrainData) -> Result<Loader> {
        let config = LoaderConfig {
            batch_size: self.config.batch_size,
            shuffle: true,
            drop_last: true,
            seed: self.config.seed,
            num_workers: self.config.num_workers,
            prefetch: 2,
        };
        let indices = data
            .indices
            .clone()
            .unwrap_or_else(|| (0..data.dataset.len()).collect());
        Loader::with_indices(
            data.dataset.clone(),
            data.transform.clone(),
            config,
            indices,
        )
        .map_err(|e| Error::Data(e.to_string()))
    }

    fn online_knn(&self, model: &M::Model, epoch: usize, last: bool) -> Result<Option<f64>> {
        let Some(knn) = &self.knn else {
            return Ok(None);
        };
        if !(last || (epoch + 1).is_multiple_of(knn.every.max(1))) {
            return Ok(None);
        }
        let splits = EvalSplits {
            train: knn.train.as_ref(),
            train_indices: &knn.train_indices,
            test: knn.test.as_ref(),
            test_indices: &knn.test_indices,
            normalize: knn.normalize.as_ref(),
            batch_size: self.config.batch_size.max(64),
        };
        let report = knn_backbone(
            self.method.backbone(model),
            splits,
            &knn.config,
            &self.device,
        )?;
        Ok(Some(report.top1()))
    }

    fn checkpoint(
        &self,
        model: &M::Model,
        optimizer: &ModuleOptimizer,
        position: Position,
        history: &History,
    ) -> Result<Option<PathBuf>> {
        let Some(path) = self.checkpoint_path() else {
            return Ok(None);
        };
        let state = CheckpointState {
            method: M::NAME.to_string(),
            method_config: serde_json::to_value(&self.method).expect("a method serialises"),
            training: self.config.clone(),
            epoch: position.epoch,
            batch_in_epoch: position.batch_in_epoch,
            step: position.step,
            history: history.clone(),
        };
        Checkpoint::capture(state, model, optimizer)?.write(&path)?;
        Ok(Some(path))
    }

    fn write_config(&self, dir: &Path, num_images: usize, total_steps: usize) -> Result<()> {
        let config = serde_json::json!({
            "method": M::NAME,
            "method_config": self.method,
            "training": self.config,
            "images": num_images,
            "total_steps": total_steps,
            "run": self.run_info,
        });
        write_json(&dir.join(files::CONFIG), &config)
    }

    fn save_history(&self, history: &History) -> Result<()> {
        let Some(dir) = &self.out_dir else {
            return Ok(());
        };
        write_json(&dir.join(files::HISTORY), history)?;
        let epoch_ends: Vec<(usize, f64)> = history
            .epochs
            .iter()
            .map(|e| (e.steps.saturating_sub(1), e.loss))
            .collect();
        plot_losses(
            &dir.join(files::LOSS_PLOT),
            &history.step_losses,
            &epoch_ends,
        )
    }

    fn log_line(&self, line: &str) -> Result<()> {
        if self.progress {
            println!("{line}");
        }
        let Some(dir) = &self.out_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let path = dir.join(files::LOG);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"))
            .map_err(|e| Error::io("cannot write", &path, e))
    }
}

/// Touches every parameter, which initialises the lazy ones.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default)]
struct Position {
    epoch: usize,
    batch_in_epoch: usize,
    step: usize,
}

/// The collapse monitor of one batch (see [`EpochRecord::embedding_std`]); `None` for a batch
/// of one.
///
/// # Shapes
/// - `z`: `[B, D]`
pub fn embedding_std(z: Tensor<2>) -> Option<f64> {
    let [b, d] = z.dims();
    if b < 2 {
        return None;
    }
    let z = l2_normalize(z.detach());
    let std = z.var(0).sqrt().mean().into_scalar::<f64>();
    Some(std * (d as f64).sqrt())
}

fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let mut line = format!(
        "epoch {}/{epochs}: loss {:.4}, lr {:.3e}, {:.1} img/s, {:.1} s",
        r.epoch + 1,
        r.loss,
        r.lr,
        r.images_per_second,
        r.seconds
    );
    if let Some(std) = r.embedding_std {
        line += &format!(", embedding std×√d {std:.3}");
    }
    if let Some(top1) = r.knn_top1 {
        line += &format!(", kNN top-1 {:.2}%", 100.0 * top1);
    }
    for (name, value) in &r.metrics {
        line += &format!(", {name} {value:.4}");
    }
    line
}

fn format_eta(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io("cannot write", path, e))
}
