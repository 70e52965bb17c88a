//! # selfsup-train
//!
//! The backend-free building blocks of training and evaluation: optimizers (with LARS, which
//! Burn lacks), learning-rate schedules, and the two standard evaluations of frozen features
//! (weighted kNN and the linear probe). Everything takes a Burn
//! [`Device`](burn::prelude::Device) through its tensors; no backend is chosen here.
//!
//! ## Crate map
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
//! - [`Error`] / [`Result`]: invalid configs. Tensor shape and label contracts are assertions.
#![warn(missing_docs)]

mod error;
pub mod knn;
pub mod metrics;
pub mod optim;
pub mod probe;
pub mod schedule;

pub use error::{Error, Result};
pub use knn::{KnnConfig, knn_evaluate, knn_predict, knn_scores};
pub use metrics::{ClassCount, ClassificationReport};
pub use optim::{Lars, LarsConfig, LarsState, OptimizerConfig};
pub use probe::{LinearProbeConfig, ProbeReport, linear_probe};
pub use schedule::{
    CosineSchedule, CosineScheduleConfig, GroupedSchedule, LrScaling, ParamGroupLr,
    REFERENCE_BATCH_SIZE,
};
