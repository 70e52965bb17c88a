//! The generic training loop: one [`Trainer`] for every [`Method`].
//!
//! Per step: the method turns a batch of views into a loss, the trainer checks it is finite,
//! back-propagates, lets the method change the gradients, steps the optimizer at the schedule's
//! LR (with the method's parameter groups) and lets the method change the model (its EMA
//! target); see [`Method`]. Per epoch: a line of log (`train.log` and [`tracing`]),
//! `history.json`, the collapse monitor, the optional online kNN accuracy, and an atomic
//! checkpoint, written only from finite weights. [`Trainer::with_progress`] reports every step
//! and epoch to a callback (the `selfsup` command line draws its progress bar and plots from
//! it). [`Trainer::resume`] continues from a checkpoint and, with the same config, reproduces the
//! loss sequence of an uninterrupted run.
//!
//! # Stopping cleanly
//! [`Trainer::with_stop_signal`] takes a flag that another thread (a Ctrl-C or SIGTERM handler)
//! sets: the trainer finishes the step in progress, writes a checkpoint at that exact position
//! (mid-epoch if need be), logs a line and returns a [`TrainOutcome`] whose
//! [`stopped_at_step`](TrainOutcome::stopped_at_step) says where; resuming from that checkpoint
//! gives the losses and weights of an uninterrupted run.
//!
//! # Refused before any work
//! [`Trainer::new`] checks the training config and the method's hyper-parameters
//! ([`Error::InvalidConfig`] naming the field, see [`Error::config_field`]); [`Trainer::fit`]
//! and [`Trainer::resume`] check that the transform makes the views the method needs
//! ([`Method::required_views`]) and that the images make one batch, before they write anything.
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
//! let trainer = Trainer::new(method, TrainingConfig::simsiam_cifar10(), &Device::flex())?
//!     .with_out_dir("runs/simsiam");
//! let data = TrainData::new(Arc::new(train), Arc::new(SimSiamTransform::cifar10()));
//! let outcome = trainer.fit(trainer.init_model(), &data)?;
//! println!("final loss {:?}", outcome.history.epochs.last().map(|e| e.loss));
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use selfsup_data::{ImageDataset, Loader, LoaderConfig, MultiViewTransform};
use selfsup_models::{Encoder, EncoderConfig};

use crate::checkpoint::{Checkpoint, CheckpointState, first_non_finite_parameter};
use crate::config::TrainingConfig;
use crate::error::{Error, Result};
use crate::fingerprint::DataFingerprint;
use crate::history::{EpochRecord, History};
use crate::method::{Method, StepContext};
use crate::monitor::{OnlineKnn, embedding_std};
use crate::online_linear::{
    LinearClassifier, ONLINE_LINEAR_MOMENTUM, OnlineLinear, OnlineLinearState,
};
use crate::progress::{Progress, ProgressFn, StepProgress};
use crate::run_dir::{RunDir, epoch_line};

pub use crate::run_dir::files;

/// The training images and how to make views of them.
#[derive(Clone)]
pub struct TrainData {
    /// The images.
    pub dataset: Arc<dyn ImageDataset>,
    /// The view pipeline (e.g. [`SimSiamTransform`](selfsup_data::SimSiamTransform)).
    pub transform: Arc<dyn MultiViewTransform>,
    /// Train on these images only (`None`: all).
    pub indices: Option<Vec<usize>>,
    /// Leave out of its batch an image that cannot be loaded when the batch is built (a
    /// streamed file deleted or corrupted since it was indexed), with a warning in the log,
    /// instead of stopping the run with an error naming it (the default).
    pub skip_unreadable: bool,
}

impl TrainData {
    /// Every image of `dataset`.
    pub fn new(dataset: Arc<dyn ImageDataset>, transform: Arc<dyn MultiViewTransform>) -> Self {
        Self {
            dataset,
            transform,
            indices: None,
            skip_unreadable: false,
        }
    }

    /// Whether to leave unreadable images out of their batch (see
    /// [`skip_unreadable`](Self::skip_unreadable)).
    pub fn with_skip_unreadable(mut self, skip: bool) -> Self {
        self.skip_unreadable = skip;
        self
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

/// How a run ended.
#[derive(Debug, Clone)]
pub struct TrainOutcome<Model> {
    /// The trained model.
    pub model: Model,
    /// What was logged.
    pub history: History,
    /// `false` when the run was cut short: by its stop signal
    /// ([`stopped_at_step`](Self::stopped_at_step) is then set) or by
    /// [`Trainer::stop_after_steps`].
    pub finished: bool,
    /// The optimizer steps taken when the stop signal ([`Trainer::with_stop_signal`]) ended
    /// the run; the checkpoint then holds exactly that position. `None` otherwise.
    pub stopped_at_step: Option<usize>,
    /// The last checkpoint this run wrote (`None` without an output directory, or when it wrote
    /// none): what to resume from.
    pub checkpoint: Option<PathBuf>,
}

/// The training loop of any [`Method`]. Build with [`new`](Self::new), add outputs with
/// [`with_out_dir`](Self::with_out_dir), then [`fit`](Self::fit) or [`resume`](Self::resume).
pub struct Trainer<M: Method> {
    method: M,
    config: TrainingConfig,
    device: Device,
    run_dir: RunDir,
    knn: Option<OnlineKnn>,
    online_linear: Option<OnlineLinear>,
    progress: Option<ProgressFn>,
    run_info: serde_json::Value,
    stop_after: Option<usize>,
    stop_signal: Option<Arc<AtomicBool>>,
    overwrite: bool,
}

impl<M: Method> std::fmt::Debug for Trainer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("method", &M::NAME)
            .field("config", &self.config)
            .field("out_dir", &self.run_dir.dir)
            .finish()
    }
}

impl<M: Method> Trainer<M> {
    /// A trainer of `method` on `device` (made autodiff here).
    ///
    /// # Errors
    /// When `config` or the method's hyper-parameters are invalid.
    pub fn new(method: M, config: TrainingConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        method.validate()?;
        Ok(Self {
            method,
            config,
            device: device.clone().autodiff(),
            run_dir: RunDir::default(),
            knn: None,
            online_linear: None,
            progress: None,
            run_info: serde_json::Value::Null,
            stop_after: None,
            stop_signal: None,
            overwrite: false,
        })
    }

    /// Write `config.json`, `history.json`, `train.log` and checkpoints into `dir`
    /// (created if missing).
    pub fn with_out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir.dir = Some(dir.into());
        self
    }

    /// Log online kNN accuracy.
    pub fn with_online_knn(mut self, knn: OnlineKnn) -> Self {
        self.knn = Some(knn);
        self
    }

    /// Train a linear classifier on the encoder's features alongside the run and log its
    /// held-out accuracy after every epoch (see [`OnlineLinear`]). Needs labelled training
    /// images; the classifier is saved in checkpoints and resumed with the run.
    pub fn with_online_linear(mut self, online: OnlineLinear) -> Self {
        self.online_linear = Some(online);
        self
    }

    /// Call `progress` when the run starts, after every step and after every epoch (see
    /// [`Progress`]). It runs on the training thread between steps: keep it quick.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// # use burn::tensor::Device;
    /// # use selfsup_models::{BackboneConfig, SimSiamConfig, SmallCnnConfig};
    /// use selfsup_train::{Progress, SimSiamMethod, Trainer, TrainingConfig};
    /// # let method = SimSiamMethod::new(SimSiamConfig::paper(BackboneConfig::SmallCnn(
    /// #     SmallCnnConfig::new(),
    /// # )));
    /// let steps = Arc::new(AtomicUsize::new(0));
    /// let seen = steps.clone();
    /// let trainer = Trainer::new(method, TrainingConfig::simsiam_cifar10(), &Device::flex())?
    ///     .with_progress(move |event: Progress<'_>| {
    ///         if let Progress::Step(step) = event {
    ///             seen.store(step.step, Ordering::Relaxed);
    ///         }
    ///     });
    /// # Ok::<(), selfsup_train::Error>(())
    /// ```
    pub fn with_progress(
        mut self,
        progress: impl Fn(Progress<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(std::sync::Arc::new(progress));
        self
    }

    fn report(&self, event: Progress<'_>) {
        if let Some(progress) = &self.progress {
            progress(event);
        }
    }

    /// Extra JSON saved under `"run"` in `config.json` (data directory, subset, transform…).
    pub fn with_run_info(mut self, info: serde_json::Value) -> Self {
        self.run_info = info;
        self
    }

    /// Let [`fit`](Self::fit) replace a run already in the output directory (by default it
    /// refuses, so that a repeated command does not destroy a finished run). The old run's files
    /// stay untouched until the new run has taken its first step; a new run that fails before
    /// (bad data, a non-finite first loss) leaves the old run whole.
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

    /// Stop cleanly when `stop` becomes `true` (set it from a Ctrl-C / SIGTERM handler, or any
    /// thread): the trainer finishes the step in progress, writes a checkpoint at that exact
    /// position (mid-epoch if need be; at an epoch's last step it first completes the epoch's
    /// record), logs `stopped on request after step N`, and returns
    /// `Ok(TrainOutcome { finished: false, stopped_at_step: Some(N), checkpoint, .. })`.
    /// [`resume`](Self::resume) from that checkpoint continues as if nothing happened. The flag
    /// is read once per step, never reset by the trainer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::AtomicBool;
    /// # use burn::tensor::Device;
    /// # use selfsup_models::{BackboneConfig, SimSiamConfig, SmallCnnConfig};
    /// use selfsup_train::{SimSiamMethod, Trainer, TrainingConfig};
    /// # let method = SimSiamMethod::new(SimSiamConfig::paper(BackboneConfig::SmallCnn(
    /// #     SmallCnnConfig::new(),
    /// # )));
    /// let stop = Arc::new(AtomicBool::new(false));
    /// // e.g. signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())
    /// let trainer = Trainer::new(method, TrainingConfig::simsiam_cifar10(), &Device::flex())?
    ///     .with_out_dir("runs/simsiam")
    ///     .with_stop_signal(stop.clone());
    /// # Ok::<(), selfsup_train::Error>(())
    /// ```
    pub fn with_stop_signal(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop_signal = Some(stop);
        self
    }

    fn stop_requested(&self) -> bool {
        self.stop_signal
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::SeqCst))
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
        self.run_dir.checkpoint_path()
    }

    /// A freshly initialised model, its weights drawn from the config's seed.
    ///
    /// Burn initialises parameters lazily, at first use; they are materialised here, in module
    /// order, right after seeding, so the weights depend on the seed alone. Concurrent calls
    /// (trainers on several threads of one process) take turns; a thread drawing from the same
    /// device's generator by other means meanwhile would still change the weights.
    pub fn init_model(&self) -> M::Model {
        static SEEDED_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = SEEDED_INIT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.device.seed(self.config.seed);
        let model = self.method.init_model(&self.device);
        model.visit(&mut Materialize);
        model
    }

    /// Trains `model` from the first step.
    ///
    /// # Errors
    /// Before any work: [`Error::Data`] when the transform makes fewer views than the method
    /// needs or the images do not make one batch, [`Error::RunExists`] when the output directory
    /// already holds a run's checkpoint (and [`with_overwrite`](Self::with_overwrite) was not
    /// asked for), [`Error::ForeignFile`] when it holds a file of a run's name that selfsup did
    /// not write. While training: [`Error::NonFiniteLoss`] when the loss stops being finite,
    /// [`Error::NonFiniteWeights`] when a checkpoint is due (or, without an output directory, the
    /// run ends) and the weights or batch-norm statistics are not finite,
    /// [`Error::Data`] when a batch does not fit the method, [`Error::Io`] when an output cannot
    /// be written. After a training error, the last checkpoint (named in the error) is a good one.
    pub fn fit(&self, model: M::Model, data: &TrainData) -> Result<TrainOutcome<M::Model>> {
        self.check_data(data)?;
        self.run_dir.check_owned()?;
        let replaces = self.checkpoint_path().filter(|p| p.exists());
        if let (Some(path), false) = (&replaces, self.overwrite) {
            return Err(Error::RunExists {
                checkpoint: path.clone(),
            });
        }
        // A run replacing another writes nothing before its first step: until then the old run
        // stays whole.
        self.run_dir.defer(replaces.is_some());
        let optimizer = self.optimizer(&model)?;
        self.run(
            model,
            optimizer,
            data,
            DataFingerprint::of(data),
            Position::default(),
            History::default(),
            None,
        )
    }

    /// Continues the run saved in `checkpoint` (same method and config; `num_workers` and
    /// `checkpoint_every` may differ).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the file is not a sound checkpoint (its
    /// [`CheckpointFault`](crate::CheckpointFault) says why) or not one of this method and
    /// config ([`Mismatch`](crate::CheckpointFault::Mismatch), naming both methods or configs),
    /// and as [`fit`](Self::fit).
    pub fn resume(&self, checkpoint: &Path, data: &TrainData) -> Result<TrainOutcome<M::Model>> {
        self.check_data(data)?;
        let saved = Checkpoint::read(checkpoint)?;
        let method: M = saved.method(checkpoint)?;
        let ours = serde_json::to_value(&self.method).expect("a method serialises");
        if serde_json::to_value(&method).expect("a method serialises") != ours {
            return Err(Error::checkpoint(
                checkpoint,
                crate::CheckpointFault::Mismatch,
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
                crate::CheckpointFault::Mismatch,
                format!(
                    "its training config differs from this run's: {:?} vs {:?}",
                    saved.state.training, self.config
                ),
            ));
        }
        self.run_dir.defer(false);
        let fingerprint = DataFingerprint::of(data);
        match &saved.state.data {
            Some(saved_data) => {
                let differences = saved_data.differences(&fingerprint);
                if !differences.is_empty() {
                    return Err(Error::checkpoint(
                        checkpoint,
                        crate::CheckpointFault::Mismatch,
                        format!(
                            "the run was trained on other data: {}",
                            differences.join("; ")
                        ),
                    ));
                }
            }
            None => self.run_dir.log_line(&format!(
                "warning: {} holds no fingerprint of its data (written before selfsup saved \
                 one): the data is not checked",
                checkpoint.display()
            ))?,
        }
        let model = saved.load_model(self.method.init_model(&self.device), checkpoint)?;
        let optimizer = saved.load_optimizer(self.optimizer(&model)?, checkpoint)?;
        let position = Position {
            epoch: saved.state.epoch,
            batch_in_epoch: saved.state.batch_in_epoch,
            step: saved.state.step,
        };
        self.run_dir.log_line(&format!(
            "resuming {} from {} at epoch {}, batch {}, step {}",
            M::NAME,
            checkpoint.display(),
            position.epoch,
            position.batch_in_epoch,
            position.step
        ))?;
        self.run(
            model,
            optimizer,
            data,
            fingerprint,
            position,
            saved.state.history,
            saved.state.online_linear,
        )
    }

    /// Refuses data that cannot train this method: a transform making fewer views than
    /// [`Method::required_views`], or fewer images than a batch.
    fn check_data(&self, data: &TrainData) -> Result<()> {
        let (needed, made) = (self.method.required_views(), data.transform.num_views());
        if made < needed {
            return Err(Error::Data(format!(
                "{} needs {needed} views per image, but the transform {} makes {made}",
                M::NAME,
                transform_name(data.transform.as_ref())
            )));
        }
        let num_images = data.num_images();
        if self.config.steps_per_epoch(num_images) == 0 {
            return Err(Error::Data(format!(
                "{num_images} training images do not make one batch of {} (batch_size)",
                self.config.batch_size
            )));
        }
        Ok(())
    }

    /// The optimizer of the config, with the method's no-weight-decay group. Under a
    /// weight-decay schedule it decays nothing itself: [`decoupled_decay`] does, each step.
    fn optimizer(&self, model: &M::Model) -> Result<ModuleOptimizer> {
        if self.config.weight_decay_end.is_some() {
            return self
                .config
                .optimizer
                .without_weight_decay()
                .init_with_groups(None);
        }
        self.config
            .optimizer
            .init_with_groups(self.no_weight_decay(model))
    }

    /// The parameters the method exempts from weight decay, if any.
    fn no_weight_decay(&self, model: &M::Model) -> Option<ParamGroup> {
        let groups = self.method.param_groups();
        let by_rank = groups
            .no_weight_decay_on_bias_and_norm
            .then(|| ParamGroup::from_ids(rank_one_parameters(model)));
        let by_path = (!groups.no_weight_decay_paths.is_empty())
            .then(|| ParamGroup::from_any_predicates(groups.no_weight_decay_paths.clone()));
        match (by_rank, by_path) {
            (Some(rank), Some(path)) => Some(rank.fuse(&path)),
            (rank, path) => rank.or(path),
        }
    }

    // The run's whole state passes through here once: bundling it would only rename it.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        mut model: M::Model,
        mut optimizer: ModuleOptimizer,
        data: &TrainData,
        fingerprint: DataFingerprint,
        start: Position,
        mut history: History,
        online_state: Option<OnlineLinearState>,
    ) -> Result<TrainOutcome<M::Model>> {
        let num_images = data.num_images();
        let mut classifier = match (&self.online_linear, online_state) {
            (None, _) => None,
            (Some(_), Some(state)) => Some(LinearClassifier::from_state(&state, &self.device)?),
            (Some(online), None) => Some(LinearClassifier::zeros(
                self.method.backbone_config().feature_dim(),
                online.num_classes,
                &self.device,
            )),
        };
        let steps_per_epoch = self.config.steps_per_epoch(num_images);
        let total_steps = self.config.total_steps(num_images);
        let schedule = self
            .config
            .schedule(num_images, self.method.param_groups().lr)?;
        let loader = self.loader(data)?;
        let no_decay = self.no_weight_decay(&model);
        self.run_dir.create()?;
        self.run_dir
            .write_config(&self.config_json(num_images, total_steps))?;
        let mut last_checkpoint = self
            .checkpoint_path()
            .filter(|p| start.step > 0 && p.exists());
        if start.step == 0 {
            self.run_dir.log_line(&format!(
                "training {} on {num_images} images: {} epochs × {steps_per_epoch} steps \
                 (run of {total_steps} steps), batch {}",
                M::NAME,
                self.config.epochs,
                self.config.batch_size
            ))?;
        }

        self.report(Progress::Start {
            method: M::NAME,
            images: num_images,
            epochs: self.config.epochs,
            steps_per_epoch,
            total_steps,
            step: start.step,
        });
        let mut step = start.step;
        let mut epoch = start.epoch;
        let mut skip = start.batch_in_epoch;
        // Set when the stop signal came at an epoch's last step: the epoch is completed first.
        let mut stop_at_epoch_end = false;
        while epoch < self.config.epochs && step < total_steps {
            let started = Instant::now();
            let mut images_here = 0usize;
            let mut lr = schedule.group_lr_at(None, step);
            let mut batches = loader.epoch_from(epoch as u64, skip);
            for (offset, batch) in (&mut batches).enumerate() {
                let batch_index = skip + offset;
                if step >= total_steps {
                    break;
                }
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(err) => {
                        // Nothing of this batch was trained on: the position before it is
                        // consistent, so it is checkpointed and the run resumes from it.
                        let position = Position {
                            epoch,
                            batch_in_epoch: batch_index,
                            step,
                        };
                        if step > start.step {
                            last_checkpoint = self.checkpoint(
                                &model,
                                &optimizer,
                                classifier.as_ref(),
                                &fingerprint,
                                position,
                                &history,
                                &last_checkpoint,
                            )?;
                        }
                        self.run_dir.save_history(&history)?;
                        let err = Error::Data(format!(
                            "epoch {}, batch {}: {err}{}",
                            epoch + 1,
                            batch_index + 1,
                            match &last_checkpoint {
                                Some(path) => format!(
                                    "; checkpoint {} holds the run up to this batch: replace or \
                                     remove the file (or skip unreadable images) and resume",
                                    path.display()
                                ),
                                None => String::new(),
                            }
                        ));
                        self.run_dir.log_line(&format!("error: {err}"))?;
                        return Err(err);
                    }
                };
                for (index, reason) in &batch.skipped {
                    self.run_dir
                        .log_line(&format!("warning: left out image {index}: {reason}"))?;
                }
                lr = schedule.group_lr_at(None, step);
                let ctx = StepContext {
                    device: &self.device,
                    step,
                    total_steps,
                    epoch,
                    epochs: self.config.epochs,
                    steps_per_epoch,
                    seed: self.config.seed,
                };
                let out = self.method.step(&model, &batch, &ctx)?;
                if let (Some(online), Some(classifier)) = (&self.online_linear, &mut classifier) {
                    // solo-learn's classifier_lr × B/256, on the run's warm-up and cosine.
                    let lr = crate::schedule::LrScaling::Linear
                        .apply(online.lr, self.config.batch_size)
                        * schedule.group_lr_at(None, step)
                        / schedule.schedule().base_lr();
                    self.online_linear_step(&model, &batch, classifier, lr, online.num_classes)?;
                }
                let loss = out.loss.clone().into_scalar::<f32>();
                if !loss.is_finite() {
                    self.run_dir.save_history(&history)?;
                    let err = Error::NonFiniteLoss {
                        epoch,
                        step,
                        loss: f64::from(loss),
                        checkpoint: last_checkpoint.clone(),
                    };
                    self.run_dir.log_line(&format!("error: {err}"))?;
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
                let grads = self.method.on_gradients(&model, grads, &ctx);
                let step_lr = schedule.lr_at(step);
                if let Some(weight_decay) = self.config.weight_decay_at(step, total_steps) {
                    model =
                        decoupled_decay(model, &grads, &step_lr, weight_decay, no_decay.as_ref());
                }
                model = optimizer.step(step_lr, model, grads);
                model = self.method.after_step(model, &ctx);
                step += 1;
                if step == start.step + 1 {
                    // The first step is taken: a run replacing another replaces it now.
                    self.run_dir.commit()?;
                }
                images_here += batch.len();

                self.report(Progress::Step(StepProgress {
                    epoch,
                    epochs: self.config.epochs,
                    batch: batch_index + 1,
                    steps_per_epoch,
                    step,
                    total_steps,
                    loss,
                    lr,
                    images_per_second: images_here as f64
                        / started.elapsed().as_secs_f64().max(1e-9),
                }));
                if self.stop_after.is_some_and(|stop| step >= stop) {
                    self.run_dir
                        .log_line(&format!("stopped after step {step} (as if killed)"))?;
                    return Ok(TrainOutcome {
                        model,
                        history,
                        finished: false,
                        stopped_at_step: None,
                        checkpoint: last_checkpoint,
                    });
                }
                let position = Position {
                    epoch,
                    batch_in_epoch: batch_index + 1,
                    step,
                };
                let mid_epoch = batch_index + 1 < steps_per_epoch;
                if step < total_steps && self.stop_requested() {
                    if !mid_epoch {
                        stop_at_epoch_end = true;
                        break;
                    }
                    last_checkpoint = self.checkpoint(
                        &model,
                        &optimizer,
                        classifier.as_ref(),
                        &fingerprint,
                        position,
                        &history,
                        &last_checkpoint,
                    )?;
                    return self.stopped(model, history, position, last_checkpoint);
                }
                if mid_epoch
                    && self
                        .config
                        .checkpoint_every
                        .is_some_and(|every| step.is_multiple_of(every))
                {
                    last_checkpoint = self.checkpoint(
                        &model,
                        &optimizer,
                        classifier.as_ref(),
                        &fingerprint,
                        position,
                        &history,
                        &last_checkpoint,
                    )?;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            let data_wait_seconds = batches.waited().as_secs_f64();
            drop(batches);
            let sums = std::mem::take(&mut history.current);
            let knn_top1 = match &self.knn {
                Some(knn) => knn.evaluate(
                    self.method.backbone(&model),
                    epoch,
                    step >= total_steps,
                    self.config.batch_size.max(64),
                    &self.device,
                )?,
                None => None,
            };
            let online_linear_top1 = match (&self.online_linear, &classifier) {
                (Some(online), Some(classifier)) => Some(online.evaluate(
                    self.method.backbone(&model),
                    classifier,
                    self.config.batch_size.max(64),
                    &self.device,
                )?),
                _ => None,
            };
            let record = EpochRecord {
                epoch,
                steps: step,
                loss: sums.loss / sums.steps.max(1) as f64,
                lr,
                images: sums.images,
                seconds,
                images_per_second: images_here as f64 / seconds.max(1e-9),
                data_wait_seconds,
                embedding_std: (sums.embedding_std_steps > 0)
                    .then(|| sums.embedding_std / sums.embedding_std_steps as f64),
                knn_top1,
                online_linear_top1,
                metrics: sums
                    .metrics
                    .into_iter()
                    .map(|(k, v)| (k, f64::from_bits(v) / sums.steps.max(1) as f64))
                    .collect(),
            };
            self.run_dir
                .log_line(&epoch_line(&record, self.config.epochs))?;
            history.epochs.push(record);
            self.run_dir.save_history(&history)?;
            self.report(Progress::Epoch {
                record: history.epochs.last().expect("just pushed"),
                history: &history,
            });
            epoch += 1;
            skip = 0;
            let position = Position {
                epoch,
                batch_in_epoch: 0,
                step,
            };
            last_checkpoint = self.checkpoint(
                &model,
                &optimizer,
                classifier.as_ref(),
                &fingerprint,
                position,
                &history,
                &last_checkpoint,
            )?;
            // A signal during the epoch's evaluations (online kNN, online linear) stops here,
            // with the epoch's checkpoint, not one step into the next epoch.
            let more = epoch < self.config.epochs && step < total_steps;
            if stop_at_epoch_end || (more && self.stop_requested()) {
                return self.stopped(model, history, position, last_checkpoint);
            }
        }
        // Without an output directory no checkpoint checked the weights: the final model is.
        if self.checkpoint_path().is_none()
            && let Some(parameter) = first_non_finite_parameter(&model)
        {
            let err = Error::NonFiniteWeights {
                epoch: epoch.saturating_sub(1),
                step,
                parameter,
                checkpoint: None,
            };
            self.run_dir.log_line(&format!("error: {err}"))?;
            return Err(err);
        }
        Ok(TrainOutcome {
            model,
            history,
            finished: true,
            stopped_at_step: None,
            checkpoint: last_checkpoint,
        })
    }

    /// The outcome of a run stopped by its signal at `position` (its checkpoint written).
    fn stopped(
        &self,
        model: M::Model,
        history: History,
        position: Position,
        checkpoint: Option<PathBuf>,
    ) -> Result<TrainOutcome<M::Model>> {
        self.run_dir.save_history(&history)?;
        self.run_dir.log_line(&format!(
            "stopped on request after step {} ({} batches into epoch {}): {}",
            position.step,
            position.batch_in_epoch,
            position.epoch + 1,
            match &checkpoint {
                Some(path) => format!("checkpoint {} holds this position", path.display()),
                None => "no output directory, no checkpoint".to_string(),
            }
        ))?;
        Ok(TrainOutcome {
            model,
            history,
            finished: false,
            stopped_at_step: Some(position.step),
            checkpoint,
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
            skip_unreadable: data.skip_unreadable,
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

    /// Writes a checkpoint at `position` when there is an output directory, after checking the
    /// weights are finite; otherwise returns [`Error::NonFiniteWeights`] naming `last` (left as
    /// it was).
    // Everything a checkpoint holds, borrowed from the loop that owns it.
    #[allow(clippy::too_many_arguments)]
    fn checkpoint(
        &self,
        model: &M::Model,
        optimizer: &ModuleOptimizer,
        classifier: Option<&LinearClassifier>,
        fingerprint: &DataFingerprint,
        position: Position,
        history: &History,
        last: &Option<PathBuf>,
    ) -> Result<Option<PathBuf>> {
        let Some(path) = self.checkpoint_path() else {
            return Ok(None);
        };
        if let Some(parameter) = first_non_finite_parameter(model) {
            self.run_dir.save_history(history)?;
            let err = Error::NonFiniteWeights {
                // The epoch of the last step: an epoch-end position already names the next one.
                epoch: if position.batch_in_epoch == 0 {
                    position.epoch.saturating_sub(1)
                } else {
                    position.epoch
                },
                step: position.step,
                parameter,
                checkpoint: last.clone(),
            };
            self.run_dir.log_line(&format!("error: {err}"))?;
            return Err(err);
        }
        let state = CheckpointState {
            method: M::NAME.to_string(),
            method_config: serde_json::to_value(&self.method).expect("a method serialises"),
            encoder_config: Some(
                serde_json::to_value(self.method.backbone_config())
                    .expect("an encoder config serialises"),
            ),
            training: self.config.clone(),
            epoch: position.epoch,
            batch_in_epoch: position.batch_in_epoch,
            step: position.step,
            history: history.clone(),
            online_linear: classifier.map(LinearClassifier::state),
            data: Some(fingerprint.clone()),
        };
        Checkpoint::capture(state, model, optimizer)?.write(&path)?;
        Ok(Some(path))
    }

    /// One step of the online classifier on the batch's first view, through the encoder in
    /// eval mode, on its labelled images.
    fn online_linear_step(
        &self,
        model: &M::Model,
        batch: &selfsup_data::ViewBatch,
        classifier: &mut LinearClassifier,
        lr: f64,
        classes: usize,
    ) -> Result<()> {
        let labelled: Vec<(usize, usize)> = batch
            .targets
            .iter()
            .enumerate()
            .filter_map(|(row, t)| t.map(|t| (row, t)))
            .collect();
        if labelled.is_empty() {
            return Ok(());
        }
        if let Some(&(_, bad)) = labelled.iter().find(|(_, t)| *t >= classes) {
            return Err(Error::Data(format!(
                "online linear evaluation: label {bad} is out of range for its {classes} classes"
            )));
        }
        let inner = self.device.clone().inner();
        let features = self
            .method
            .backbone(model)
            .valid()
            .forward_features(batch.view(0, &inner));
        let (rows, labels): (Vec<usize>, Vec<usize>) = labelled.into_iter().unzip();
        let features = if rows.len() == batch.len() {
            features
        } else {
            let rows = Tensor::<1, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(
                    rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                    [rows.len()],
                ),
                &inner,
            );
            features.select(0, rows)
        };
        classifier.step(features, &labels, lr, ONLINE_LINEAR_MOMENTUM);
        Ok(())
    }

    fn config_json(&self, num_images: usize, total_steps: usize) -> serde_json::Value {
        serde_json::json!({
            "method": M::NAME,
            "method_config": self.method,
            "encoder_config": self.method.backbone_config(),
            "training": self.config,
            "images": num_images,
            "total_steps": total_steps,
            "run": self.run_info,
        })
    }
}

/// The name of a transform for messages: its type, without its (long) fields.
fn transform_name(transform: &dyn MultiViewTransform) -> String {
    let debug = format!("{transform:?}");
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    debug[..end].to_string()
}

/// Touches every parameter, which initialises the lazy ones.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// AdamW's decoupled weight decay at a scheduled value, before the optimizer's step (which
/// then decays nothing): `w ← w·(1 − lr_w·weight_decay)` for every parameter with a gradient
/// (PyTorch's AdamW skips the others, as DINO's frozen last layer) outside `exempt`, `lr_w`
/// the parameter's LR under the schedule's groups.
fn decoupled_decay<M: Module>(
    model: M,
    grads: &GradientsParams,
    lr: &ModuleLearningRate,
    weight_decay: f64,
    exempt: Option<&ParamGroup>,
) -> M {
    struct Decay<'a> {
        path: Vec<String>,
        grads: &'a GradientsParams,
        lr: &'a ModuleLearningRate,
        weight_decay: f64,
        exempt: Option<&'a ParamGroup>,
    }
    impl ModuleMapper for Decay<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let path = self.path.join(".");
            let id = param.id;
            if self.grads.get::<D>(id).is_none()
                || self.exempt.is_some_and(|g| g.matches(&id, Some(&path)))
            {
                return param;
            }
            let factor = 1.0 - self.lr.lr_from_param(id, Some(&path)) * self.weight_decay;
            param.map(|w| Tensor::from_inner(w.inner().mul_scalar(factor)).require_grad())
        }
    }
    model.map(&mut Decay {
        path: Vec::new(),
        grads,
        lr,
        weight_decay,
        exempt,
    })
}

/// The ids of a model's trainable rank-1 parameters: biases and normalisation scales / shifts.
fn rank_one_parameters<M: Module>(model: &M) -> Vec<ParamId> {
    struct RankOne(Vec<ParamId>);
    impl ModuleVisitor for RankOne {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D == 1 && param.val().is_require_grad() {
                self.0.push(param.id);
            }
        }
    }
    let mut visitor = RankOne(Vec::new());
    model.visit(&mut visitor);
    visitor.0
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default)]
struct Position {
    epoch: usize,
    batch_in_epoch: usize,
    step: usize,
}
