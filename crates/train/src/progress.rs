//! What a run reports while it trains, for whatever draws progress: a progress bar, a plot
//! refreshed every epoch, a notebook. The library itself prints nothing; its log lines go to
//! the run's `train.log` and to [`tracing`] (target `selfsup_train`).

use std::sync::Arc;

use crate::history::{EpochRecord, History};

/// One optimizer step, done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepProgress {
    /// Epoch of the step, from 0.
    pub epoch: usize,
    /// Epochs of the run.
    pub epochs: usize,
    /// Batches of this epoch done so far (1 after its first step).
    pub batch: usize,
    /// Batches per epoch.
    pub steps_per_epoch: usize,
    /// Optimizer steps of the run done so far.
    pub step: usize,
    /// Optimizer steps of the whole run.
    pub total_steps: usize,
    /// The step's loss.
    pub loss: f32,
    /// The learning rate of the step.
    pub lr: f64,
    /// Images per second since the epoch started (or resumed).
    pub images_per_second: f64,
}

/// An event of a run, passed to the callback of
/// [`Trainer::with_progress`](crate::Trainer::with_progress).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The run starts (or resumes at `step`).
    Start {
        /// The method's name.
        method: &'static str,
        /// Training images.
        images: usize,
        /// Epochs of the run.
        epochs: usize,
        /// Batches per epoch.
        steps_per_epoch: usize,
        /// Optimizer steps of the whole run.
        total_steps: usize,
        /// Steps already done (0 unless resuming).
        step: usize,
    },
    /// An optimizer step is done.
    Step(StepProgress),
    /// An epoch is done: its record is also the last of `history.epochs`.
    Epoch {
        /// The epoch's record.
        record: &'a EpochRecord,
        /// Everything logged so far (every step's loss included).
        history: &'a History,
    },
}

/// A progress callback: shared, and callable from the training thread.
pub type ProgressFn = Arc<dyn Fn(Progress<'_>) + Send + Sync>;
