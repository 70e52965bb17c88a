//! [`TrainingConfig`]: epochs, batch, optimizer, LR schedule, seed, checkpoint cadence.

use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};
use crate::optim::OptimizerConfig;
use crate::schedule::{CosineScheduleConfig, GroupedSchedule, LrScaling, ParamGroupLr};

const TRAINING: &str = "training config";

/// How to train: epochs, batch, optimizer, LR schedule, seed, checkpoint cadence.
///
/// Serialised into `config.json` and every checkpoint. Presets, each named by its source:
///
/// | preset | optimizer | LR | weight decay | schedule | batch | epochs |
/// |---|---|---|---|---|---|---|
/// | [`simsiam_cifar10`](Self::simsiam_cifar10) (= [`paper`](Self::paper)) | SGD, momentum 0.9 | 0.03 × B/256 | 5·10⁻⁴ | cosine | 512 | 800 |
/// | [`simsiam_imagenet`](Self::simsiam_imagenet) | SGD, momentum 0.9 | 0.05 × B/256 | 10⁻⁴ | cosine | 512 | 100 |
/// | [`adam_constant`](Self::adam_constant) | Adam | 10⁻³ | 0 | constant | 128 | 10 |
///
/// Each method's published recipe (solo-learn's configuration for CIFAR, ImageNet-100 and
/// ImageNet) is built by the method itself, see [`recipe`](crate::recipe).
///
/// The SimSiam rows are Chen & He 2021 ("Exploring Simple Siamese Representation Learning"):
/// §3 ("Baseline settings") and Appendix A for ImageNet, Appendix D ("CIFAR Experiments") for
/// CIFAR-10. Other CIFAR-10
/// recipes of SimSiam differ: lightly's CIFAR-10 benchmark
/// (`docs/source/getting_started/benchmarks/cifar10_benchmark.py`) uses SGD at 0.06 without
/// batch scaling, momentum 0.9, weight decay 5·10⁻⁴, cosine over 800 epochs of batch 512, and
/// solo-learn's `scripts/pretrain/cifar/simsiam.yaml` uses SGD at 0.5 × B/256 with weight decay
/// 10⁻⁵, a warm-up cosine, batch 256 and 1000 epochs (its predictor on a fixed LR).
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
    /// Epochs of linear warm-up (only with `cosine`).
    #[serde(default)]
    pub warmup_epochs: usize,
    /// The LR of the warm-up's first step (solo-learn's `warmup_start_lr`, 3·10⁻⁵); 0 by
    /// default. Not batch-scaled.
    #[serde(default)]
    pub warmup_start_lr: f64,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// The weight decay's end value: from the optimizer's `weight_decay` it follows a cosine to
    /// this one over the run, per step (the DINO paper's ViT recipe: 0.04 → 0.4,
    /// `weight_decay_end` of its `main_dino.py`). `None` (the default): constant. AdamW only,
    /// whose decay is decoupled (`w ← w·(1 − lr·wd_t)` before the update).
    #[serde(default)]
    pub weight_decay_end: Option<f64>,
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
    /// Where these values come from, e.g. "solo-learn's scripts/pretrain/cifar/byol.yaml"
    /// (written into `config.json` and the log), `None` for a hand-made config.
    #[serde(default)]
    pub source: Option<String>,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl TrainingConfig {
    /// A quick setting for short CPU runs: Adam (PyTorch's defaults) at 10⁻³, constant LR,
    /// batch 128, 10 epochs. In a few hundred steps it moves faster than the published SGD and
    /// LARS recipes, which are tuned for hundreds of epochs.
    pub fn adam_constant() -> Self {
        Self {
            epochs: 10,
            max_steps: None,
            batch_size: 128,
            lr: 1e-3,
            lr_scaling: LrScaling::None,
            cosine: false,
            warmup_epochs: 0,
            optimizer: OptimizerConfig::adam(),
            weight_decay_end: None,
            warmup_start_lr: 0.0,
            seed: 0,
            num_workers: default_workers(),
            checkpoint_every: None,
            source: None,
        }
    }

    /// The SimSiam paper's CIFAR-10 recipe (Chen & He 2021, Appendix D, "CIFAR Experiments"):
    /// SGD with base LR 0.03 × B/256, momentum 0.9, weight decay 5·10⁻⁴, cosine decay, batch
    /// 512, 800 epochs, no warm-up.
    pub fn simsiam_cifar10() -> Self {
        Self {
            epochs: 800,
            batch_size: 512,
            lr: 0.03,
            lr_scaling: LrScaling::Linear,
            cosine: true,
            optimizer: OptimizerConfig::sgd(0.9, 5e-4),
            source: Some("the SimSiam paper's CIFAR-10 recipe (Chen & He 2021, appendix D)".into()),
            ..Self::adam_constant()
        }
    }

    /// The SimSiam paper's ImageNet recipe (Chen & He 2021, §3 and Appendix A): SGD with base
    /// LR 0.05 × B/256, momentum 0.9, weight decay 10⁻⁴, cosine decay, batch 512, 100 epochs.
    pub fn simsiam_imagenet() -> Self {
        Self {
            epochs: 100,
            lr: 0.05,
            optimizer: OptimizerConfig::sgd(0.9, 1e-4),
            source: Some("the SimSiam paper's ImageNet recipe (Chen & He 2021, §3)".into()),
            ..Self::simsiam_cifar10()
        }
    }

    /// [`simsiam_cifar10`](Self::simsiam_cifar10), under its earlier name: "the paper" is the
    /// SimSiam paper, and its CIFAR-10 setting. Before this was checked against the paper it held
    /// the ImageNet base LR (0.05) with the CIFAR weight decay (5·10⁻⁴) at batch 128 and 10
    /// epochs, a mix of no published recipe. Prefer the explicit name.
    pub fn paper() -> Self {
        Self::simsiam_cifar10()
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
        error::non_negative(TRAINING, "warmup_start_lr", self.warmup_start_lr)?;
        if let Some(end) = self.weight_decay_end {
            error::non_negative(TRAINING, "weight_decay_end", end)?;
            if !matches!(self.optimizer, OptimizerConfig::AdamW { .. }) {
                return Err(Error::invalid(
                    TRAINING,
                    "weight_decay_end",
                    end,
                    format!(
                        "schedules AdamW's decoupled decay; the optimizer is {}",
                        self.optimizer.name()
                    ),
                ));
            }
        }
        self.optimizer.validate()
    }

    /// The weight decay at `step` of a run of `total_steps` under
    /// [`weight_decay_end`](Self::weight_decay_end): DINO's `cosine_scheduler(weight_decay,
    /// weight_decay_end, …)`, `end + (start − end)·(1 + cos(π·step / total))/2`. `None` without
    /// a schedule.
    pub fn weight_decay_at(&self, step: usize, total_steps: usize) -> Option<f64> {
        let end = self.weight_decay_end?;
        let start = self.optimizer.weight_decay();
        let progress = step as f64 / total_steps.max(1) as f64;
        Some(end + (start - end) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
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
        fixed_groups: Vec<ParamGroupLr>,
    ) -> Result<GroupedSchedule> {
        let total = self.total_steps(num_images);
        let lr = self.lr_scaling.apply(self.lr, self.batch_size);
        let config = if self.cosine {
            CosineScheduleConfig::new(lr, total)
                .with_warmup_steps(self.warmup_epochs * self.steps_per_epoch(num_images))
                .with_warmup_start_factor((self.warmup_start_lr / lr).min(1.0))
        } else {
            CosineScheduleConfig::constant(lr, total)
        };
        GroupedSchedule::new(config.init()?, fixed_groups)
    }

    /// The config minus what may change between a run and its resumption.
    pub(crate) fn resumable(&self) -> Self {
        Self {
            num_workers: 0,
            checkpoint_every: None,
            // A description of where the values come from, not a value.
            source: None,
            ..self.clone()
        }
    }
}
