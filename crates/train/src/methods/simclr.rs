//! SimCLR: NT-Xent between the projections of two views.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::nt_xent;
use selfsup_models::{BackboneConfig, EncoderConfig, EncoderOf, SimClr, SimClrConfig};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::method::{Method, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, lars};

/// SimCLR (Chen et al. 2020): the model of a [`SimClrConfig`] and NT-Xent at `temperature`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimClrMethod<C = BackboneConfig> {
    /// Backbone and projection head.
    pub model: SimClrConfig<C>,
    /// NT-Xent temperature τ. Default 0.5 (SimCLR's CIFAR-10 setting, appendix B.9;
    /// solo-learn's configurations use 0.2, see [`SimClrMethod::published`]).
    #[serde(default = "default_temperature")]
    pub temperature: f64,
}

fn default_temperature() -> f64 {
    0.5
}

impl<C: EncoderConfig> SimClrMethod<C> {
    /// SimCLR with the network `model` at τ = 0.5.
    pub fn new(model: SimClrConfig<C>) -> Self {
        Self {
            model,
            temperature: default_temperature(),
        }
    }

    /// The same method at temperature `temperature`.
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }
}

impl<C: EncoderConfig> Method for SimClrMethod<C> {
    type EncoderConfig = C;
    type Model = SimClr<EncoderOf<C>>;
    const NAME: &'static str = "simclr";

    fn required_views(&self) -> usize {
        2
    }

    fn validate(&self) -> Result<()> {
        crate::error::positive("simclr", "temperature", self.temperature)
    }

    fn init_model(&self, device: &Device) -> Self::Model {
        self.model.init(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 2)?;
        let device = ctx.device;
        let (z_a, z_b) = model.forward(batch.view(0, device), batch.view(1, device));
        Ok(StepOutput {
            loss: nt_xent(z_a.clone(), z_b, self.temperature),
            embeddings: Some(z_a),
            metrics: Vec::new(),
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }
}

impl SimClrMethod {
    /// SimCLR as solo-learn trains it, per [`Scale`] (the ImageNet scale takes the ImageNet-100
    /// file; solo-learn has no ImageNet SimCLR configuration):
    ///
    /// | | `cifar/simclr.yaml` | `imagenet-100/simclr.yaml` |
    /// |---|---|---|
    /// | projector | `f → 2048 → 256`, batch norm | `f → 4096 → 512`, batch norm |
    /// | τ | 0.2 | 0.2 |
    /// | optimizer | LARS, η 0.02, `clip_lr`, wd 10⁻⁴ | the same |
    /// | LR × B/256, batch, epochs | 0.4, 256, 1000 | 0.3, 256 (128 × 2 GPUs), 400 |
    ///
    /// Views: solo-learn's symmetric CIFAR augmentation (lightly's `SimCLRTransform` at 32
    /// pixels), at the data's size and statistics.
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (recipe, hidden, output) = match setup.scale {
            Scale::Cifar => (
                SoloLearn {
                    file: "cifar/simclr.yaml",
                    batch_size: 256,
                    lr: 0.4,
                    classifier_lr: 0.1,
                    optimizer: lars(1e-4, 0.02, true),
                    epochs: 1000,
                },
                2048,
                256,
            ),
            Scale::ImageNet100 | Scale::ImageNet => (
                SoloLearn {
                    file: "imagenet-100/simclr.yaml",
                    batch_size: 256,
                    lr: 0.3,
                    classifier_lr: 0.1,
                    optimizer: lars(1e-4, 0.02, true),
                    epochs: 400,
                },
                4096,
                512,
            ),
        };
        let projector = selfsup_models::SimClrProjectionHeadConfig::new()
            .with_input_dim(setup.backbone.feature_dim())
            .with_hidden_dim(hidden)
            .with_output_dim(output)
            .with_hidden_batch_norm(true);
        let method = Self::new(SimClrConfig::new(setup.backbone.clone()).with_projector(projector))
            .with_temperature(0.2);
        let views = setup.adapt(selfsup_data::SimClrTransform::cifar10().config().clone());
        Ok(recipe.publish(
            method,
            std::sync::Arc::new(selfsup_data::SimClrTransform::new(views)?),
        ))
    }
}
