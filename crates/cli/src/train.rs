//! The flags of every training command and the run of a method through the trainer: progress,
//! plots, online kNN, resume.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use selfsup::data::MultiViewTransform;
use selfsup::train::{
    KnnConfig, Method, OnlineKnn, OnlineLinear, Progress, TrainData, TrainOutcome, Trainer,
    TrainingConfig,
};

use crate::Result;
use crate::args::{BackboneArgs, DeviceArgs, Recipe, checkpoint_path};
use crate::data::{DataArgs, Part, subset, subset_or_default};
use crate::logging::TrainProgress;
use crate::plots;

/// The flags of every training command.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub backbone: BackboneArgs,
    /// Where the run writes config.json, history.json, train.log, loss.png, metrics.png and
    /// checkpoint.ckpt (default: runs/<command or method>).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Passes over the training images (default: the recipe's for a method's published recipe,
    /// else 10). A shorter run than the recipe's keeps the same share of warm-up, rounded up
    /// (at least one epoch when the recipe warms up and the run has more than one).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after this many optimizer steps (the schedule spans them).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Images per batch (default: the recipe's for a method's published recipe, else 128).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Optimizer and schedule (default: `published` for `pretrain`, `simsiam-cifar` for the
    /// supervised commands, where `published` is MAE's fine-tuning recipe for a ViT).
    #[arg(long, value_enum)]
    pub recipe: Option<Recipe>,
    /// Base LR, overriding the recipe's (before its batch-size scaling).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Epochs of linear warm-up, overriding the recipe's (with `--max-steps` the default is no
    /// warm-up, since the run's length in epochs is not known).
    #[arg(long)]
    pub warmup_epochs: Option<usize>,
    /// Weight decay, overriding the recipe's.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Cosine the weight decay from the recipe's (or `--weight-decay`) to this value over the
    /// run, per step: the DINO paper's ViT recipe is `--weight-decay 0.04 --weight-decay-end
    /// 0.4`. AdamW recipes only.
    #[arg(long)]
    pub weight_decay_end: Option<f64>,
    /// Seed of the weights, the order, the subsets and the augmentations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on this many of the images, at most all of them: a class-balanced subset when every
    /// image is labelled, else a random one drawn from all of them (STL-10's pre-training images
    /// mix 5 000 labelled and 100 000 unlabelled ones: `--limit` draws from the 105 000).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Loader threads (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Also checkpoint every N steps (always at each epoch's end).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue the run in this directory (or checkpoint): `--resume RUN` alone continues it
    /// with its own flags, read from its config.json. Only --device (not bit for bit across
    /// backends), --workers, --data-dir, --test-dir, --offline, --verify-md5, --storage,
    /// --memory-limit and --checkpoint-every may differ from the run's; any other flag that
    /// contradicts the run is refused. The data is checked against the run's fingerprint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Start afresh even if the output directory already holds a run (it is replaced).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Log the kNN accuracy of the encoder every N epochs on held-out images (0: off).
    #[arg(long, default_value_t = 0)]
    pub knn_every: usize,
    /// Memory-bank images of the online kNN (class-balanced from the labelled train images;
    /// default 5000, or all of them when there are fewer; at most the images there are).
    #[arg(long)]
    pub knn_train: Option<usize>,
    /// Held-out images of the online kNN and the online linear evaluation (class-balanced from
    /// the test images; default 1000, or all of them when there are fewer; at most the images
    /// there are).
    #[arg(long)]
    pub knn_test: Option<usize>,
    /// Train a linear classifier on the encoder's features alongside pre-training (solo-learn's
    /// online linear evaluation, "Acc@1 (online)") and log its accuracy on the held-out images
    /// after every epoch. Needs labelled training images.
    #[arg(long)]
    pub online_linear: bool,
    /// The command that started the run, as `config.json` records it (this one, unless it
    /// resumes a run: then the run's own).
    #[arg(skip)]
    pub command: Option<Vec<String>>,
}

impl TrainArgs {
    /// The training config these flags describe, over the method's `published` one where the
    /// command has one.
    ///
    /// # Errors
    /// `--recipe published` for a command without a published recipe.
    pub fn training_config(&self, published: Option<&TrainingConfig>) -> Result<TrainingConfig> {
        let mut config = match (self.recipe, published) {
            (None | Some(Recipe::Published), Some(published)) => published.clone(),
            (Some(Recipe::Published), None) => {
                return Err(
                    "--recipe published: only `selfsup pretrain <method>` and the fine-tuning \
                     of a ViT have a published recipe; use simsiam-cifar or adam-constant"
                        .into(),
                );
            }
            (recipe, _) => {
                let mut config = recipe.unwrap_or(Recipe::SimsiamCifar).config();
                // The command line's quick default for the recipes that are not a method's.
                config.epochs = 10;
                config.batch_size = 128;
                config
            }
        };
        if let Some(epochs) = self.epochs {
            // A shorter (or longer) run keeps the recipe's share of warm-up, and at least one
            // epoch of it when it has one and the run has more than one epoch: without it, a
            // large random queue (MoCo's) or LARS at full LR can collapse the first steps.
            let share = (config.warmup_epochs * epochs).div_ceil(config.epochs.max(1));
            config.warmup_epochs = share.min(epochs.saturating_sub(1));
            config.epochs = epochs;
        }
        if self.max_steps.is_some() {
            config.warmup_epochs = 0;
        }
        if let Some(warmup) = self.warmup_epochs {
            config.warmup_epochs = warmup;
        }
        config.max_steps = self.max_steps;
        if let Some(batch_size) = self.batch_size {
            config.batch_size = batch_size;
        }
        config.seed = self.seed;
        config.checkpoint_every = self.checkpoint_every;
        if let Some(lr) = self.lr {
            config.lr = lr;
        }
        if let Some(workers) = self.workers {
            config.num_workers = workers;
        }
        if let Some(weight_decay) = self.weight_decay {
            config.optimizer = config.optimizer.with_weight_decay(weight_decay);
        }
        if self.weight_decay_end.is_some() {
            config.weight_decay_end = self.weight_decay_end;
        }
        let overrides: Vec<String> = [
            ("--epochs", self.epochs.map(|v| v.to_string())),
            ("--max-steps", self.max_steps.map(|v| v.to_string())),
            ("--batch-size", self.batch_size.map(|v| v.to_string())),
            ("--lr", self.lr.map(|v| v.to_string())),
            ("--warmup-epochs", self.warmup_epochs.map(|v| v.to_string())),
            ("--weight-decay", self.weight_decay.map(|v| v.to_string())),
            (
                "--weight-decay-end",
                self.weight_decay_end.map(|v| v.to_string()),
            ),
        ]
        .into_iter()
        .filter_map(|(flag, value)| value.map(|v| format!("{flag} {v}")))
        .collect();
        if !overrides.is_empty() {
            let source = config.source.take().unwrap_or_else(|| "set by hand".into());
            config.source = Some(format!("{source}, with {}", overrides.join(", ")));
        }
        Ok(config)
    }

    /// The output directory: `--out-dir`, else the run `--resume` continues, else
    /// `runs/<name>`.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        let resumed = self.resume.as_deref().map(crate::resume::run_dir);
        self.out_dir
            .clone()
            .or(resumed)
            .unwrap_or_else(|| PathBuf::from("runs").join(name))
    }

    /// Trains `method` on `part` of the data with views from `transform`, fresh or resumed
    /// (`--resume`), starting from the model `initial` builds; draws progress and plots. The
    /// method's published training config and online classifier LR are used where it has them
    /// (`published`), else the `--recipe` flags'.
    pub fn run_published<M: Method>(
        &self,
        method: M,
        part: Part,
        transform: Arc<dyn MultiViewTransform>,
        out_name: &str,
        published: Option<(TrainingConfig, f64)>,
        initial: impl FnOnce(&Trainer<M>) -> Result<M::Model>,
    ) -> Result<TrainOutcome<M::Model>> {
        let device = self.device.device()?;
        let out_dir = self.out_dir(out_name);
        let config = self.training_config(published.as_ref().map(|(config, _)| config))?;
        // The hyper-parameters are checked before any data is read.
        let trainer =
            Trainer::new(method, config, &device).map_err(|err| explain(err, &out_dir))?;
        log_recipe(trainer.config());
        let train = self.data.open(part)?;
        let indices = subset(
            train.dataset.as_ref(),
            self.limit,
            self.seed,
            "--limit",
            "training images",
        )?;
        let progress = Arc::new(TrainProgress::new());
        let reporter = progress.clone();
        let plot_dir = out_dir.clone();
        let method_name = M::NAME;
        let mut trainer = trainer
            .with_stop_signal(crate::stop::install())
            .with_out_dir(&out_dir)
            .with_overwrite(self.overwrite)
            .with_progress(move |event| {
                reporter.event(&event);
                if let Progress::Epoch { history, .. } = event
                    && let Err(err) = plots::draw_run(&plot_dir, method_name, history)
                {
                    tracing::warn!("could not draw the plots: {err}");
                }
            })
            .with_run_info(serde_json::json!({
                "data": train.what,
                "dataset": format!("{:?}", self.data.dataset),
                "image_size": self.data.image_size(),
                "limit": self.limit,
                "device": self.device.device.to_string(),
                "transform": format!("{transform:?}"),
                "command": self.command.clone().unwrap_or_else(|| std::env::args().collect()),
            }));
        // The held-out images of the online kNN and the online linear evaluation: one subset.
        let held_out = if self.online_linear || self.knn_every > 0 {
            let test = self.data.open(Part::Test)?;
            let indices = subset_or_default(
                test.dataset.as_ref(),
                self.knn_test,
                1000,
                self.seed,
                "--knn-test",
                "test images",
            )?;
            Some((test.dataset, indices))
        } else {
            None
        };
        if let (true, Some((test, test_indices))) = (self.online_linear, &held_out) {
            let classes = train.dataset.num_classes();
            if classes == 0 {
                return Err(
                    "--online-linear needs labelled training images; these have none".into(),
                );
            }
            trainer = trainer.with_online_linear(OnlineLinear {
                num_classes: classes,
                lr: published.as_ref().map_or(0.1, |(_, lr)| *lr),
                test: test.clone(),
                test_indices: test_indices.clone(),
                normalize: Some(self.data.normalize()),
            });
        }
        if let (true, Some((test, test_indices))) = (self.knn_every > 0, held_out) {
            let bank = self.data.open(Part::Train)?;
            trainer = trainer.with_online_knn(OnlineKnn {
                train_indices: subset_or_default(
                    bank.dataset.as_ref(),
                    self.knn_train,
                    5000,
                    self.seed,
                    "--knn-train",
                    "training images",
                )?,
                train: bank.dataset,
                test,
                test_indices,
                normalize: Some(self.data.normalize()),
                config: KnnConfig::new(),
                every: self.knn_every,
            });
        }
        tracing::info!(
            "{} on {}: {} of {}, encoder {:?}, outputs in {}",
            M::NAME,
            self.device.device,
            indices.len(),
            train.what,
            self.backbone.backbone,
            out_dir.display()
        );
        let data = TrainData::new(train.dataset, transform)
            .with_indices(indices)
            .with_skip_unreadable(self.data.skip_unreadable);
        let outcome = match &self.resume {
            Some(run) => trainer.resume(&checkpoint_path(run)?, &data),
            None => trainer.fit(initial(&trainer)?, &data),
        };
        progress.finish();
        let outcome = outcome.map_err(|err| explain(err, &out_dir))?;
        if let Some(step) = outcome.stopped_at_step {
            tracing::warn!(
                "stopped after step {step}; the run is saved in {}. Continue it with:\n  {}",
                out_dir.display(),
                crate::stop::resume_command(&out_dir)
            );
            return Err(Interrupted.into());
        }
        summarize(&outcome, &out_dir);
        Ok(outcome)
    }
}

/// Logs the recipe in full: where it comes from and every value that sets the optimizer's step.
fn log_recipe(config: &TrainingConfig) {
    let lr = config.lr_scaling.apply(config.lr, config.batch_size);
    tracing::info!(
        "recipe: {}: {:?}, LR {} ({:?} scaling at batch {} → {lr}), {}{} epochs{}",
        config.source.as_deref().unwrap_or("set by hand"),
        config.optimizer,
        config.lr,
        config.lr_scaling,
        config.batch_size,
        match (config.cosine, config.warmup_epochs) {
            (false, _) => "constant LR, ".to_string(),
            (true, 0) => "cosine, ".to_string(),
            (true, w) => format!(
                "{w} warm-up epochs from {}, cosine, ",
                config.warmup_start_lr
            ),
        },
        config.epochs,
        config
            .max_steps
            .map_or(String::new(), |s| format!(", at most {s} steps")),
    );
}

/// A run stopped by Ctrl-C / SIGTERM, saved: the command ends with status 130, as an
/// interrupted program does.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted (the run is saved and can be resumed)")
    }
}

impl std::error::Error for Interrupted {}

/// A library error in the command line's words: the flag to change, where there is one.
fn explain(err: selfsup::train::Error, out_dir: &Path) -> Box<dyn std::error::Error + Send + Sync> {
    match err {
        selfsup::train::Error::RunExists { .. } => format!(
            "{} already holds a run: continue it with --resume {}, write elsewhere with \
             --out-dir, or replace it with --overwrite",
            out_dir.display(),
            out_dir.display()
        )
        .into(),
        err => match err.config_field().and_then(flag_of) {
            Some(flag) => format!("{flag}: {err}").into(),
            None => err.into(),
        },
    }
}

/// The flag that sets a training config field, for error messages.
fn flag_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "epochs" => "--epochs",
        "batch_size" => "--batch-size",
        "max_steps" => "--max-steps",
        "warmup_epochs" | "warmup_steps" => "--warmup-epochs",
        "checkpoint_every" => "--checkpoint-every",
        "lr" => "--lr",
        "num_workers" => "--workers",
        "seed" => "--seed",
        _ => return None,
    })
}

/// Logs the end of a run.
fn summarize<Model>(outcome: &TrainOutcome<Model>, out_dir: &Path) {
    let epochs = &outcome.history.epochs;
    if let (Some(first), Some(last)) = (epochs.first(), epochs.last()) {
        let seconds: f64 = epochs.iter().map(|e| e.seconds).sum();
        let images: usize = epochs.iter().map(|e| e.images).sum();
        tracing::info!(
            "done: {} steps, loss {:.4} → {:.4}, {:.1} s, {:.1} img/s; run in {}",
            last.steps,
            first.loss,
            last.loss,
            seconds,
            images as f64 / seconds.max(1e-9),
            out_dir.display()
        );
    }
}
