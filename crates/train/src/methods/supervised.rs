//! The supervised baseline and fine-tuning: cross-entropy of a linear head on the
//! backbone, trained end to end on the labelled images.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_models::{Backbone, BackboneConfig, Encoder, EncoderConfig, EncoderOf};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::method::{Method, StepContext, StepOutput, require_views};

/// Configuration of a [`Classifier`]: any [`EncoderConfig`], the built-in [`BackboneConfig`] by
/// default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// Number of classes of the linear head.
    pub num_classes: usize,
}

impl<C: EncoderConfig> ClassifierConfig<C> {
    /// A classifier of `backbone` into `num_classes` classes.
    pub fn new(backbone: C, num_classes: usize) -> Self {
        Self {
            backbone,
            num_classes,
        }
    }

    /// A classifier with a fresh backbone and head on `device`.
    pub fn init(&self, device: &Device) -> Classifier<EncoderOf<C>> {
        self.init_with_backbone(self.backbone.init(device), device)
    }

    /// A classifier over an existing (e.g. pre-trained) `backbone` with a fresh head: the
    /// starting point of fine-tuning.
    ///
    /// # Panics
    /// If the backbone's feature dimension differs from the config's.
    pub fn init_with_backbone(
        &self,
        backbone: EncoderOf<C>,
        device: &Device,
    ) -> Classifier<EncoderOf<C>> {
        assert_eq!(
            backbone.feature_dim(),
            self.backbone.feature_dim(),
            "ClassifierConfig: the backbone has {} features, the config says {}",
            backbone.feature_dim(),
            self.backbone.feature_dim()
        );
        Classifier {
            head: LinearConfig::new(backbone.feature_dim(), self.num_classes).init(device),
            backbone,
        }
    }
}

/// A backbone and a linear classification head.
#[derive(Module, Debug)]
pub struct Classifier<E: Module = Backbone> {
    /// The encoder.
    pub backbone: E,
    /// `features → logits`.
    pub head: Linear,
}

impl<E: Encoder> Classifier<E> {
    /// Class logits.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.backbone.forward_features(images))
    }
}

/// Supervised training of a [`Classifier`] on view 0 of each batch and the dataset's labels:
/// the supervised baseline from scratch, or fine-tuning when the classifier starts from a
/// pre-trained backbone ([`ClassifierConfig::init_with_backbone`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisedMethod<C = BackboneConfig> {
    /// The classifier.
    pub model: ClassifierConfig<C>,
}

impl<C: EncoderConfig> SupervisedMethod<C> {
    /// Supervised training of the classifier `model`.
    pub fn new(model: ClassifierConfig<C>) -> Self {
        Self { model }
    }
}

impl<C: EncoderConfig> Method for SupervisedMethod<C> {
    type EncoderConfig = C;
    type Model = Classifier<EncoderOf<C>>;
    const NAME: &'static str = "supervised";

    fn init_model(&self, device: &Device) -> Self::Model {
        self.model.init(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> Result<StepOutput> {
        let device = ctx.device;
        require_views(Self::NAME, batch, 1)?;
        let targets = batch.targets(device).ok_or_else(|| {
            Error::Data("supervised training needs labelled images; the dataset has none".into())
        })?;
        if let Some(&bad) = batch
            .targets
            .iter()
            .flatten()
            .find(|&&t| t >= self.model.num_classes)
        {
            return Err(Error::Data(format!(
                "label {bad} is out of range for a classifier of {} classes",
                self.model.num_classes
            )));
        }
        let logits = model.forward(batch.view(0, device));
        let loss = CrossEntropyLossConfig::new()
            .init(device)
            .forward(logits.clone(), targets.clone());
        Ok(StepOutput {
            loss,
            embeddings: None,
            metrics: vec![("accuracy".into(), accuracy(logits, targets))],
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }
}

/// Fraction of rows whose arg-max equals the target, as a `[1]` tensor.
pub(crate) fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let predicted = logits.detach().argmax(1).squeeze_dim::<1>(1);
    predicted.equal(targets).float().mean()
}
