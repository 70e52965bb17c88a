//! The [`Method`] trait: what a training method tells the generic [`Trainer`](crate::Trainer).
//!
//! A method owns its hyper-parameters and the config of its model; the trainer owns the loop,
//! the optimizer, the schedule, checkpoints and logs. SimCLR, SimSiam, the supervised baseline
//! and the pretext model are each one file under [`methods`](crate::methods); a new method is
//! one more file implementing this trait (and, to be loadable by
//! [`load_backbone`](crate::load_backbone), one line there).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use selfsup_data::ViewBatch;
use selfsup_models::{Backbone, BackboneConfig};
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
    /// method's accuracy.
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
}

/// A training method: a model to build, and how a batch of views becomes a loss.
///
/// The method value is serialised into every checkpoint and `config.json`, so that
/// [`load_backbone`](crate::load_backbone) can rebuild the model of a run from its file alone.
pub trait Method: Serialize + DeserializeOwned + Send + Sync {
    /// The model it trains (with a backbone inside).
    type Model: Module;

    /// A short stable name (`"simsiam"`), written into checkpoints.
    const NAME: &'static str;

    /// Builds a freshly initialised model on `device` (the trainer passes an autodiff device).
    fn init_model(&self, device: &Device) -> Self::Model;

    /// The loss (and monitoring values) of one batch. `device` is the model's (autodiff) device,
    /// on which the views become tensors.
    ///
    /// # Errors
    /// [`Error::Data`](crate::Error::Data) when the batch lacks what the method needs (labels
    /// for a supervised method, two views for a siamese one).
    fn step(&self, model: &Self::Model, batch: &ViewBatch, device: &Device) -> Result<StepOutput>;

    /// The backbone inside `model`, which the linear probe and kNN evaluate.
    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m Backbone;

    /// The config of that backbone.
    fn backbone_config(&self) -> &BackboneConfig;

    /// Parameter groups whose LR stays fixed while the rest follows the schedule (SimSiam's
    /// predictor). Empty by default.
    fn fixed_lr_groups(&self) -> Vec<ParamGroupLr> {
        Vec::new()
    }
}

/// Checks that a batch has at least `n` views, for methods that compare views.
pub(crate) fn require_views(method: &str, batch: &ViewBatch, n: usize) -> Result<()> {
    if batch.views.len() < n {
        return Err(crate::Error::Data(format!(
            "{method} needs {n} views per image, the loader's transform makes {}",
            batch.views.len()
        )));
    }
    Ok(())
}
