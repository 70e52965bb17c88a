//! Learning-rate schedules: pure functions of the step number.
//!
//! - [`CosineSchedule`]: linear warm-up then cosine decay, per optimizer step. Built from a
//!   [`CosineScheduleConfig`] (which is what a training config saves); a constant LR is the
//!   special case `final_lr = base_lr` without warm-up.
//! - [`LrScaling`]: the batch-size rule for the base LR (`lr × B / 256`, or `lr × √B`).
//! - [`GroupedSchedule`] + [`ParamGroupLr`]: a schedule for the whole model except some
//!   parameter groups that keep a fixed LR — SimSiam's predictor. It produces Burn's
//!   [`ModuleLearningRate`], which `ModuleOptimizer::step` takes in place of a plain `f64`, so one
//!   optimizer serves every group.
//!
//! A schedule holds no state: the trainer passes the number of optimizer steps already taken,
//! so resuming from a checkpoint needs only that number.

use burn::config::Config;
use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::module::ParamGroup;
use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};

const COSINE: &str = "cosine schedule";

/// The batch size at which a base LR is quoted by [`LrScaling::Linear`] (Goyal et al. 2017).
pub const REFERENCE_BATCH_SIZE: usize = 256;

/// Configuration of a [`CosineSchedule`].
///
/// With `s` the number of optimizer steps already taken, `W = warmup_steps`, `T = total_steps`,
/// `f = warmup_start_factor`:
///
/// ```text
/// s < W:       lr = base_lr · (f + (1 − f) · s / W)                  linear, f·base_lr at s = 0
/// W ≤ s ≤ T:   lr = final_lr + (base_lr − final_lr) · (1 + cos(π (s − W) / (T − W))) / 2
/// s > T:       lr = final_lr
/// ```
///
/// so `lr(0) = f·base_lr`, `lr(W) = base_lr`, `lr(T) = final_lr`, and the last step a run takes
/// (`s = T − 1`) is just above `final_lr` — as SimSiam's per-epoch
/// `lr · 0.5 · (1 + cos(π · epoch / epochs))`, which is this schedule with `W = 0`,
/// `final_lr = 0` and steps counted in epochs.
#[derive(Config, Debug, PartialEq)]
pub struct CosineScheduleConfig {
    /// The peak LR, reached at the end of the warm-up (already batch-scaled, see
    /// [`LrScaling`]). Positive and finite.
    pub base_lr: f64,
    /// Steps of the whole run, warm-up included. Positive.
    pub total_steps: usize,
    /// Steps of linear warm-up; fewer than `total_steps`.
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// The warm-up starts at `warmup_start_factor · base_lr`; in `[0, 1]`.
    #[config(default = 0.0)]
    pub warmup_start_factor: f64,
    /// The LR at `total_steps`; in `[0, base_lr]`.
    #[config(default = 0.0)]
    pub final_lr: f64,
}

impl CosineScheduleConfig {
    /// A constant LR for `total_steps` steps.
    pub fn constant(lr: f64, total_steps: usize) -> Self {
        Self::new(lr, total_steps).with_final_lr(lr)
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        error::positive(COSINE, "base_lr", self.base_lr)?;
        if self.total_steps == 0 {
            return Err(Error::invalid(COSINE, "total_steps", 0, "must be positive"));
        }
        if self.warmup_steps >= self.total_steps {
            return Err(Error::invalid(
                COSINE,
                "warmup_steps",
                self.warmup_steps,
                format!("must be below total_steps ({})", self.total_steps),
            ));
        }
        if !(0.0..=1.0).contains(&self.warmup_start_factor) {
            return Err(Error::invalid(
                COSINE,
                "warmup_start_factor",
                self.warmup_start_factor,
                "must be in [0, 1]",
            ));
        }
        if !(self.final_lr.is_finite() && (0.0..=self.base_lr).contains(&self.final_lr)) {
            return Err(Error::invalid(
                COSINE,
                "final_lr",
                self.final_lr,
                format!("must be in [0, base_lr = {}]", self.base_lr),
            ));
        }
        Ok(())
    }

    /// Validates the config and builds the schedule.
    pub fn init(&self) -> Result<CosineSchedule> {
        self.validate()?;
        Ok(CosineSchedule {
            config: self.clone(),
        })
    }
}

/// Linear warm-up then cosine decay, a validated [`CosineScheduleConfig`]; see there for the
/// formula.
///
/// Serialises as its config; deserialising validates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CosineScheduleConfig", into = "CosineScheduleConfig")]
pub struct CosineSchedule {
    config: CosineScheduleConfig,
}

impl TryFrom<CosineScheduleConfig> for CosineSchedule {
    type Error = Error;

    fn try_from(config: CosineScheduleConfig) -> Result<Self> {
        config.init()
    }
}

impl From<CosineSchedule> for CosineScheduleConfig {
    fn from(schedule: CosineSchedule) -> Self {
        schedule.config
    }
}

impl CosineSchedule {
    /// The config this schedule was built from.
    pub fn config(&self) -> &CosineScheduleConfig {
        &self.config
    }

    /// The peak LR.
    pub fn base_lr(&self) -> f64 {
        self.config.base_lr
    }

    /// The LR for the optimizer step that follows `step` steps already taken.
    pub fn lr_at(&self, step: usize) -> f64 {
        let c = &self.config;
        if step < c.warmup_steps {
            let f = c.warmup_start_factor;
            return c.base_lr * (f + (1.0 - f) * step as f64 / c.warmup_steps as f64);
        }
        if step >= c.total_steps {
            return c.final_lr;
        }
        let progress = (step - c.warmup_steps) as f64 / (c.total_steps - c.warmup_steps) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        c.final_lr + (c.base_lr - c.final_lr) * cosine
    }
}

/// How the base LR grows with the batch size `B`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrScaling {
    /// The LR as given.
    #[default]
    None,
    /// `lr × B / 256` (Goyal et al. 2017; SimSiam's `lr = 0.05 × B / 256`, SimCLR's
    /// `0.3 × B / 256` with LARS).
    Linear,
    /// `lr × √B` (SimCLR appendix B.1's alternative, `0.075 × √B`).
    Sqrt,
}

impl LrScaling {
    /// The LR to use at batch size `batch_size` for a base LR `lr`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn apply(self, lr: f64, batch_size: usize) -> f64 {
        assert!(
            batch_size > 0,
            "LrScaling::apply: batch_size must be positive"
        );
        match self {
            Self::None => lr,
            Self::Linear => lr * batch_size as f64 / REFERENCE_BATCH_SIZE as f64,
            Self::Sqrt => lr * (batch_size as f64).sqrt(),
        }
    }
}

/// The LR rule of one parameter group inside a [`GroupedSchedule`].
#[derive(Config, Debug, PartialEq)]
pub struct ParamGroupLr {
    /// Selects the parameters whose module path contains this string, e.g. `"predictor"` for
    /// SimSiam's `predictor.*` (Burn's `ParamGroup::from_predicate`). Not empty.
    pub path_contains: String,
    /// `true`: the group keeps the schedule's base LR at every step (SimSiam's `fix_lr`, "the
    /// predictor's learning rate is not decayed"); `false`: it follows the schedule.
    #[config(default = true)]
    pub fixed: bool,
    /// The group's LR is the rule's LR times this factor: 1 by default; below 1 for the early
    /// layers under layer-wise LR decay (BEiT, MAE's fine-tuning: `lr_scale`). Positive.
    #[config(default = 1.0)]
    pub scale: f64,
}

/// Layer-wise LR decay (BEiT; MAE's fine-tuning, `util/lr_decay.py`; solo-learn's
/// `param_groups_layer_decay`): the parameters of layer `i` of `layers` (an encoder's
/// [`layers`](selfsup_models::EncoderConfig::layers), from the input up) follow the schedule at
/// `decay^(L − i)` times its LR, where `L = layers.len()`; the parameters in no layer (the final
/// norm, the head) keep the full LR.
///
/// # Errors
/// If `decay` is not in `(0, 1]`.
pub fn layer_decay_groups(layers: &[Vec<String>], decay: f64) -> Result<Vec<ParamGroupLr>> {
    if !(decay > 0.0 && decay <= 1.0) {
        return Err(Error::invalid(
            "layer decay",
            "layer_decay",
            decay,
            "must be in (0, 1]",
        ));
    }
    let top = layers.len() as i32;
    Ok(layers
        .iter()
        .enumerate()
        .flat_map(|(i, fragments)| {
            let scale = decay.powi(top - i as i32);
            fragments.iter().map(move |fragment| {
                ParamGroupLr::new(fragment.clone())
                    .with_fixed(false)
                    .with_scale(scale)
            })
        })
        .collect())
}

/// A [`CosineSchedule`] for the model plus per-group exceptions: what a trainer hands to Burn's
/// `ModuleOptimizer::step` each step.
///
/// ```ignore
/// let lr = schedule.lr_at(step); // ModuleLearningRate
/// model = optimizer.step(lr, model, grads);
/// ```
///
/// Parameters matching no group follow the schedule. When a parameter matches several groups,
/// the last one wins (Burn's rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupedSchedule {
    schedule: CosineSchedule,
    groups: Vec<ParamGroupLr>,
}

impl GroupedSchedule {
    /// The schedule with the given group exceptions.
    ///
    /// # Errors
    /// If a group's `path_contains` is empty (it would match every parameter) or its `scale` is
    /// not positive and finite.
    pub fn new(schedule: CosineSchedule, groups: Vec<ParamGroupLr>) -> Result<Self> {
        if let Some(index) = groups.iter().position(|g| g.path_contains.is_empty()) {
            return Err(Error::invalid(
                "grouped schedule",
                "path_contains",
                format!("\"\" (group {index})"),
                "must not be empty",
            ));
        }
        for group in &groups {
            if !(group.scale.is_finite() && group.scale > 0.0) {
                return Err(Error::invalid(
                    "grouped schedule",
                    "scale",
                    format!("{} (group \"{}\")", group.scale, group.path_contains),
                    "must be positive and finite",
                ));
            }
        }
        Ok(Self { schedule, groups })
    }

    /// SimSiam's rule: everything on `schedule` but the parameters under `predictor`, whose LR
    /// stays at the base LR.
    pub fn simsiam(schedule: CosineSchedule) -> Self {
        Self::new(schedule, vec![ParamGroupLr::new("predictor".into())])
            .expect("a non-empty group path")
    }

    /// The model-wide schedule.
    pub fn schedule(&self) -> &CosineSchedule {
        &self.schedule
    }

    /// The group exceptions.
    pub fn groups(&self) -> &[ParamGroupLr] {
        &self.groups
    }

    /// The LR of group `group` (`None`: the parameters in no group) after `step` steps.
    ///
    /// # Panics
    /// If `group` is out of range.
    pub fn group_lr_at(&self, group: Option<usize>, step: usize) -> f64 {
        match group {
            None => self.schedule.lr_at(step),
            Some(index) => {
                let rule = self.groups.get(index).unwrap_or_else(|| {
                    panic!(
                        "GroupedSchedule::group_lr_at: group {index} out of range ({} groups)",
                        self.groups.len()
                    )
                });
                let lr = if rule.fixed {
                    self.schedule.base_lr()
                } else {
                    self.schedule.lr_at(step)
                };
                rule.scale * lr
            }
        }
    }

    /// Burn's per-parameter LR after `step` steps, for `ModuleOptimizer::step`.
    pub fn lr_at(&self, step: usize) -> ModuleLearningRate {
        let mut scheduler = ModuleLrScheduler::new(self.group_lr_at(None, step));
        for (index, group) in self.groups.iter().enumerate() {
            scheduler = scheduler.with_group(
                ParamGroup::from_predicate(group.path_contains.clone()),
                self.group_lr_at(Some(index), step),
            );
        }
        scheduler.step()
    }
}
