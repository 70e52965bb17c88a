//! # selfsup-train
//!
//! Training and evaluation for selfsup: a generic trainer that every method goes through,
//! optimizers (with LARS, which Burn lacks), learning-rate schedules, and the two standard
//! evaluations of frozen features (weighted kNN and the linear probe). Everything takes a Burn
//! [`Device`](burn::prelude::Device); no backend is chosen here.
//!
//! ## Crate map
//! - [`trainer`]: [`Trainer`], the loop (progress, atomic checkpoints and
//!   [`resume`](Trainer::resume), non-finite guard), configured by a serialisable
//!   [`TrainingConfig`]; it logs a [`History`] of [`EpochRecord`]s, writes the run directory's
//!   [`files`], and runs the monitors ([`embedding_std`], the collapse monitor, and
//!   [`OnlineKnn`], [`OnlineLinear`]: solo-learn's online linear accuracy).
//! - [`method`]: the [`Method`] trait a method implements, with its hooks ([`StepContext`],
//!   [`ParamGroups`], gradients, after-step); [`methods`]: every method, one file each;
//!   [`gradients`]: freezing and clipping helpers for the gradient hook.
//! - [`Checkpoint`], [`load_encoder`] and [`load_backbone`]: a run's file, and the encoder of
//!   any run (whatever its method) for evaluation.
//! - [`extract_features`]: a frozen backbone (eval mode) over un-augmented images;
//!   [`linear_probe_backbone`], [`knn_backbone`] and [`evaluate_classifier`]: the evaluation
//!   protocols on [`EvalSplits`].
//! - [`optim`]: [`OptimizerConfig`] (serialisable, PyTorch-named: SGD, Adam, AdamW, LARS) →
//!   Burn `ModuleOptimizer`; [`Lars`] / [`LarsConfig`], a Burn `Optimizer` following lightly's
//!   LARS, checked against PyTorch (`tools/golden_train.py`).
//! - [`recipe`]: each method's published recipe per dataset [`Scale`] ([`Setup`] →
//!   [`Published`]: the method, its [`TrainingConfig`] and its views), from solo-learn's
//!   configuration files.
//! - [`schedule`]: [`CosineSchedule`] (linear warm-up + cosine, `lr_at(step)`), [`LrScaling`]
//!   (`lr × B / 256`), and [`GroupedSchedule`] / [`ParamGroupLr`] for parameter groups on a fixed
//!   or scaled LR (SimSiam's predictor, [`layer_decay_groups`] for a ViT's fine-tuning) through
//!   Burn's `ModuleLearningRate`.
//! - [`mixup`]: Mixup and CutMix with label smoothing (timm's `Mixup`), for fine-tuning.
//! - [`knn`]: the InstDisc / SimSiam weighted kNN monitor ([`knn_evaluate`]), chunked over test
//!   rows.
//! - [`probe`]: [`linear_probe`], a linear classifier trained on frozen features.
//! - [`metrics`]: [`ClassificationReport`], top-1 accuracy and a per-class table.
//! - [`memory`]: [`keep_freed_memory`](memory::keep_freed_memory), the allocator setting a
//!   training process wants (each step's large blocks reused, not handed back to the system).
//! - [`Progress`]: what [`Trainer::with_progress`] reports (start, every step, every epoch).
//! - [`Error`] / [`Result`]: invalid configs, unreadable checkpoints, non-finite losses, data
//!   that does not fit. Tensor shape and label contracts are assertions.
#![warn(missing_docs)]

mod checkpoint;
mod config;
mod error;
mod evaluate;
mod features;
mod fingerprint;
pub mod gradients;
mod history;
mod json_float;
pub mod knn;
pub mod memory;
pub mod method;
pub mod methods;
pub mod metrics;
pub mod mixup;
mod monitor;
pub mod online_linear;
pub mod optim;
pub mod probe;
mod progress;
pub mod recipe;
mod run_dir;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{
    CHECKPOINT_FORMAT, Checkpoint, CheckpointState, LoadedBackbone, LoadedEncoder,
    first_non_finite_parameter, load_backbone, load_encoder,
};
pub use config::TrainingConfig;
pub use error::{CheckpointFault, Error, Result};
pub use evaluate::{EvalSplits, evaluate_classifier, knn_backbone, linear_probe_backbone};
pub use features::{LabeledFeatures, extract_features};
pub use fingerprint::DataFingerprint;
pub use history::{EpochRecord, EpochSums, History};
pub use knn::{KnnConfig, knn_evaluate, knn_predict, knn_scores};
pub use method::{Method, ParamGroups, StepContext, StepOutput, require_views};
pub use methods::*;
pub use metrics::{ClassCount, ClassificationReport, NamedReport};
pub use monitor::{OnlineKnn, embedding_std};
pub use online_linear::{LinearClassifier, OnlineLinear, OnlineLinearState};
pub use optim::{Lars, LarsConfig, LarsState, OptimizerConfig};
pub use probe::{LinearProbeConfig, ProbeReport, linear_probe};
pub use progress::{Progress, ProgressFn, StepProgress};
pub use recipe::{Published, Scale, Setup};
pub use run_dir::files;
pub use schedule::{
    CosineSchedule, CosineScheduleConfig, GroupedSchedule, LrScaling, ParamGroupLr,
    REFERENCE_BATCH_SIZE, layer_decay_groups,
};
pub use trainer::{TrainData, TrainOutcome, Trainer};
