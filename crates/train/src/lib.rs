//! # selfsup-train
//!
//! Training and evaluation for selfsup: a generic trainer that every method goes through,
//! optimizers (with LARS, which Burn lacks), learning-rate schedules, and the two standard
//! evaluations of frozen features (weighted kNN and the linear probe). Everything takes a Burn
//! [`Device`](burn::prelude::Device); no backend is chosen here.
//!
//! ## Crate map
//! - [`trainer`]: [`Trainer`] (the loop: progress, `train.log`, `history.json`, `loss.png`,
//!   `config.json`, atomic checkpoints and [`resume`](Trainer::resume), non-finite guard,
//!   collapse monitor, online kNN) configured by a serialisable [`TrainingConfig`].
//! - [`method`]: the [`Method`] trait a method implements; [`methods`]: [`SimClrMethod`],
//!   [`SimSiamMethod`], [`SupervisedMethod`] (baseline and fine-tuning) and [`PretextMethod`],
//!   one file each.
//! - [`Checkpoint`] and [`load_backbone`]: a run's file, and the backbone of any run for
//!   evaluation.
//! - [`extract_features`]: a frozen backbone (eval mode) over un-augmented images;
//!   [`linear_probe_backbone`], [`knn_backbone`] and [`evaluate_classifier`]: the evaluation
//!   protocols on [`EvalSplits`].
//! - [`optim`]: [`OptimizerConfig`] (serialisable, PyTorch-named: SGD, Adam, AdamW, LARS) →
//!   Burn `ModuleOptimizer`; [`Lars`] / [`LarsConfig`], a Burn `Optimizer` following lightly's
//!   LARS, checked against PyTorch (`tools/golden_train.py`).
//! - [`schedule`]: [`CosineSchedule`] (linear warm-up + cosine, `lr_at(step)`), [`LrScaling`]
//!   (`lr × B / 256`), and [`GroupedSchedule`] / [`ParamGroupLr`] for parameter groups on a fixed
//!   LR (SimSiam's predictor) through Burn's `ModuleLearningRate`.
//! - [`knn`]: the InstDisc / SimSiam weighted kNN monitor ([`knn_evaluate`]), chunked over test
//!   rows.
//! - [`probe`]: [`linear_probe`], a linear classifier trained on frozen features.
//! - [`metrics`]: [`ClassificationReport`], top-1 accuracy and a per-class table.
//! - [`Error`] / [`Result`]: invalid configs, unreadable checkpoints, non-finite losses, data
//!   that does not fit. Tensor shape and label contracts are assertions.
#![warn(missing_docs)]

mod checkpoint;
mod error;
mod evaluate;
mod features;
pub mod knn;
pub mod method;
pub mod methods;
pub mod metrics;
pub mod optim;
mod plot;
pub mod probe;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{Checkpoint, CheckpointState, LoadedBackbone, load_backbone};
pub use error::{Error, Result};
pub use evaluate::{EvalSplits, evaluate_classifier, knn_backbone, linear_probe_backbone};
pub use features::{LabeledFeatures, extract_features};
pub use knn::{KnnConfig, knn_evaluate, knn_predict, knn_scores};
pub use method::{Method, StepOutput};
pub use methods::{
    Classifier, ClassifierConfig, PretextMethod, PretextModel, PretextModelConfig, SimClrMethod,
    SimSiamMethod, SupervisedMethod,
};
pub use metrics::{ClassCount, ClassificationReport};
pub use optim::{Lars, LarsConfig, LarsState, OptimizerConfig};
pub use plot::plot_losses;
pub use probe::{LinearProbeConfig, ProbeReport, linear_probe};
pub use schedule::{
    CosineSchedule, CosineScheduleConfig, GroupedSchedule, LrScaling, ParamGroupLr,
    REFERENCE_BATCH_SIZE,
};
pub use trainer::{
    EpochRecord, History, OnlineKnn, TrainData, TrainOutcome, Trainer, TrainingConfig,
    embedding_std,
};
