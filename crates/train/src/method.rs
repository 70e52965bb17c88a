//! The [`Method`] trait: what a training method tells the generic [`Trainer`](crate::Trainer).
//!
//! A method owns its hyper-parameters and the config of its model; the trainer owns the loop,
//! the optimizer, the schedule, checkpoints and logs. Like solo-learn's `BaseMethod`, the trait
//! has a hook for every point of the step where a method differs from the others:
//!
//! ```text
//! for each batch:
//!     out   = method.step(&model, batch, ctx)          // the loss; may update RunningState
//!     grads = backward(out.loss)
//!     grads = method.on_gradients(&model, grads, ctx)  // clipping, frozen layers
//!     model = optimizer.step(lr, model, grads)         // param_groups(): fixed LR, no decay
//!     model = method.after_step(model, ctx)            // EMA target / teacher
//! ```
//!
//! Every method is one file (see [`methods`](crate::methods)); a user's method is one more
//! implementation of this trait, anywhere, and nothing in selfsup lists the methods: a run's
//! backbone is loaded for evaluation by [`load_encoder`](crate::load_encoder) from its
//! checkpoint alone.
//!
//! # State outside the gradient
//! Everything a method keeps between steps lives in its model, so that checkpoints save and
//! restore it exactly: an EMA target is a sub-module whose parameters require no gradient
//! ([`momentum_copy`](selfsup_models::momentum_copy)), updated in
//! [`after_step`](Method::after_step); a queue of negatives or a centre is a
//! [`RunningState`](burn::module::RunningState), updated in [`step`](Method::step) as batch norm
//! updates its statistics.
//!
//! # The backbone
//! The encoder that the evaluation protocols use must be the model's field named `backbone`
//! (as in lightly's and solo-learn's methods), and [`Method::backbone`] returns it.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use selfsup_data::ViewBatch;
use selfsup_models::{EncoderConfig, EncoderOf};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::schedule::ParamGroupLr;

/// What one training step of a [`Method`] produces.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The scalar loss to minimise.
    ///
    /// # Shapes
    /// `[1]`, on the autodiff device.
    pub loss: Tensor<1>,
    /// Embeddings for the collapse monitor (SimSiam's `z`, SimCLR's projections), `None` when
    /// the method has none. The trainer detaches them.
    ///
    /// # Shapes
    /// `[B, D]`
    pub embeddings: Option<Tensor<2>>,
    /// Extra named scalars (each `[1]`), averaged per epoch into the history, e.g. a supervised
    /// method's accuracy or an EMA momentum.
    pub metrics: Vec<(String, Tensor<1>)>,
}

impl StepOutput {
    /// A step output with only a loss.
    pub fn loss(loss: Tensor<1>) -> Self {
        Self {
            loss,
            embeddings: None,
            metrics: Vec::new(),
        }
    }

    /// Adds a named scalar metric.
    pub fn with_metric(mut self, name: impl Into<String>, value: f64) -> Self {
        let device = self.loss.device();
        self.metrics
            .push((name.into(), Tensor::from_floats([value as f32], &device)));
        self
    }
}

/// Where the run is, for a method's schedules (EMA momentum, DINO's teacher temperature, frozen
/// layers in the first epoch).
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The model's (autodiff) device, on which the views become tensors.
    pub device: &'a Device,
    /// Optimizer steps taken before this one (from 0).
    pub step: usize,
    /// Steps of the whole run.
    pub total_steps: usize,
    /// The epoch in progress (from 0).
    pub epoch: usize,
    /// Epochs of the run.
    pub epochs: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// The run's seed: a method that draws its own randomness (MAE's masks) draws it from
    /// `(seed, step)`, so that a resumed run draws what an uninterrupted one would.
    pub seed: u64,
}

impl StepContext<'_> {
    /// The fraction of the run done before this step, in `[0, 1)`.
    pub fn progress(&self) -> f64 {
        self.step as f64 / self.total_steps.max(1) as f64
    }
}

/// How a method's parameters are grouped for the optimizer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamGroups {
    /// Groups whose LR stays fixed at the base LR (or follows the schedule), e.g. SimSiam's
    /// predictor.
    pub lr: Vec<ParamGroupLr>,
    /// Exempt biases and normalisation parameters (every rank-1 parameter) from weight decay, as
    /// lightly's `get_weight_decay_parameters` and solo-learn's `exclude_bias_n_norm_wd` do; LARS
    /// exempts them from its adaptation too (its `exclude_bias_and_norm`).
    pub no_weight_decay_on_bias_and_norm: bool,
    /// Also exempt the parameters whose module path contains one of these from weight decay:
    /// a ViT's tokens and position embedding (timm's `no_weight_decay()`: `cls_token`,
    /// `pos_embed`), as MAE's and solo-learn's fine-tuning do.
    pub no_weight_decay_paths: Vec<String>,
}

impl ParamGroups {
    /// One group with the schedule's LR; biases and normalisation parameters without weight
    /// decay when `exclude_bias_and_norm`.
    pub fn bias_and_norm_without_weight_decay(exclude_bias_and_norm: bool) -> Self {
        Self {
            no_weight_decay_on_bias_and_norm: exclude_bias_and_norm,
            ..Self::default()
        }
    }
}

/// A training method: a model to build, how a batch of views becomes a loss, and the hooks
/// around the optimizer step (see the [module docs](self)).
///
/// The method value is serialised into every checkpoint and `config.json`.
pub trait Method: Serialize + DeserializeOwned + Send + Sync {
    /// The config of the encoder it trains ([`BackboneConfig`](selfsup_models::BackboneConfig)
    /// for the built-in ones, or a user's own [`EncoderConfig`]).
    type EncoderConfig: EncoderConfig;

    /// The model it trains, with the encoder as its field `backbone`.
    type Model: Module;

    /// A short stable name (`"simsiam"`), written into checkpoints.
    const NAME: &'static str;

    /// Checks the method's hyper-parameters; the [`Trainer`](crate::Trainer) calls it before any
    /// work starts. Default: nothing to check.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming the field.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The views per image [`step`](Method::step) needs; the [`Trainer`](crate::Trainer) refuses,
    /// before any work, a transform that makes fewer
    /// ([`MultiViewTransform::num_views`](selfsup_data::MultiViewTransform::num_views)).
    /// Default 1; 2 for the siamese methods, the global views for multi-crop ones.
    fn required_views(&self) -> usize {
        1
    }

    /// Builds a freshly initialised model on `device` (the trainer passes an autodiff device).
    fn init_model(&self, device: &Device) -> Self::Model;

    /// The loss (and monitoring values) of one batch.
    ///
    /// # Errors
    /// [`Error::Data`](crate::Error::Data) when the batch lacks what the method needs (labels
    /// for a supervised method, two views for a siamese one).
    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> Result<StepOutput>;

    /// The encoder inside `model` (its field `backbone`), which the linear probe, kNN and
    /// fine-tuning use.
    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<Self::EncoderConfig>;

    /// The config of that encoder.
    fn backbone_config(&self) -> &Self::EncoderConfig;

    /// How the optimizer treats groups of parameters. Default: one group, weight decay on all.
    fn param_groups(&self) -> ParamGroups {
        ParamGroups::default()
    }

    /// Changes the gradients between the backward pass and the optimizer step (clipping, or
    /// dropping a layer's gradients to freeze it, see [`crate::gradients`]). Default: unchanged.
    fn on_gradients(
        &self,
        model: &Self::Model,
        grads: GradientsParams,
        ctx: &StepContext<'_>,
    ) -> GradientsParams {
        let _ = (model, ctx);
        grads
    }

    /// Changes the model after the optimizer step, e.g. the EMA update of a momentum target
    /// ([`update_momentum`](selfsup_models::update_momentum)). Default: unchanged.
    fn after_step(&self, model: Self::Model, ctx: &StepContext<'_>) -> Self::Model {
        let _ = ctx;
        model
    }
}

/// Checks that a batch has at least `n` views, for methods that compare views.
///
/// # Errors
/// [`Error::Data`](crate::Error::Data) naming the method.
pub fn require_views(method: &str, batch: &ViewBatch, n: usize) -> Result<()> {
    if batch.views.len() < n {
        return Err(crate::Error::Data(format!(
            "{method} needs {n} views per image, the loader's transform makes {}",
            batch.views.len()
        )));
    }
    Ok(())
}
