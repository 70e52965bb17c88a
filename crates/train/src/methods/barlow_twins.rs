//! Barlow Twins: make the cross-correlation of the two views' projections the identity.
//!
//! Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML 2021.
//! The two views go through the same encoder and a 3-layer projector with batch norm; the loss
//! ([`barlow_twins`]) pulls the diagonal of their batch-standardised cross-correlation matrix to
//! 1 (invariance) and its off-diagonal terms to 0, weighted by λ (redundancy reduction).

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::barlow_twins;
use selfsup_models::{
    BackboneConfig, BarlowTwinsProjectionHeadConfig, EncoderConfig, EncoderOf, ProjectionNet,
};
use serde::{Deserialize, Serialize};

use crate::error::{self, Result};
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, lars};

const BARLOW: &str = "barlow_twins";

/// Configuration of the network: an encoder (any [`EncoderConfig`]) and its
/// projector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BarlowTwinsConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The projector.
    pub projector: BarlowTwinsProjectionHeadConfig,
}

impl<C: EncoderConfig> BarlowTwinsConfig<C> {
    /// The paper's projector on `backbone`: three linear layers of 8192 units, batch norm and
    /// ReLU after the first two (Barlow Twins §3).
    pub fn paper(backbone: C) -> Self {
        let projector =
            BarlowTwinsProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
        }
    }

    /// The CIFAR-10 projector of solo-learn's `barlow.yaml`: 2048 units.
    pub fn cifar10(backbone: C) -> Self {
        let projector = BarlowTwinsProjectionHeadConfig::cifar10(backbone.feature_dim());
        Self {
            backbone,
            projector,
        }
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If the projector's input is not the encoder's feature dimension.
    pub fn init(&self, device: &Device) -> ProjectionNet<EncoderOf<C>> {
        ProjectionNet::init(
            "BarlowTwinsConfig",
            &self.backbone,
            &self.projector.mlp(),
            device,
        )
    }
}

/// Barlow Twins (Zbontar et al. 2021) on a [`BarlowTwinsConfig`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BarlowTwinsMethod<C = BackboneConfig> {
    /// The network.
    pub model: BarlowTwinsConfig<C>,
    /// λ, the weight of the redundancy-reduction term. Default 5·10⁻³ (the paper; lightly's
    /// `BarlowTwinsLoss`).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// A factor on the whole loss. Default 1; solo-learn's CIFAR-10 `barlow.yaml` uses 0.1
    /// (`scale_loss`).
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// No weight decay on biases and normalisation parameters. Default `true` (the paper trains
    /// with LARS and excludes them).
    #[serde(default = "default_true")]
    pub exclude_bias_and_norm: bool,
}

fn default_lambda() -> f64 {
    5e-3
}
fn default_scale() -> f64 {
    1.0
}
fn default_true() -> bool {
    true
}

impl<C: EncoderConfig> BarlowTwinsMethod<C> {
    /// Barlow Twins on the network `model` with the paper's λ = 5·10⁻³.
    pub fn new(model: BarlowTwinsConfig<C>) -> Self {
        Self {
            model,
            lambda: default_lambda(),
            scale: default_scale(),
            exclude_bias_and_norm: true,
        }
    }

    /// solo-learn's CIFAR-10 recipe (`barlow.yaml`): the 2048-wide projector, λ = 0.0051, the
    /// loss scaled by 0.1.
    pub fn cifar10(backbone: C) -> Self {
        Self {
            lambda: 0.0051,
            scale: 0.1,
            ..Self::new(BarlowTwinsConfig::cifar10(backbone))
        }
    }
}

impl<C: EncoderConfig> Method for BarlowTwinsMethod<C> {
    type EncoderConfig = C;
    type Model = ProjectionNet<EncoderOf<C>>;
    const NAME: &'static str = "barlow_twins";

    fn required_views(&self) -> usize {
        2
    }

    fn validate(&self) -> Result<()> {
        error::non_negative(BARLOW, "lambda", self.lambda)?;
        error::positive(BARLOW, "scale", self.scale)
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
        let z1 = model.project(batch.view(0, ctx.device));
        let z2 = model.project(batch.view(1, ctx.device));
        let loss = barlow_twins(z1.clone(), z2, self.lambda).mul_scalar(self.scale);
        Ok(StepOutput {
            loss,
            embeddings: Some(z1),
            metrics: Vec::new(),
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }

    fn param_groups(&self) -> ParamGroups {
        ParamGroups::bias_and_norm_without_weight_decay(self.exclude_bias_and_norm)
    }
}

impl BarlowTwinsMethod {
    /// Barlow Twins as solo-learn trains it (λ = 0.0051 throughout):
    ///
    /// | | `cifar/barlow.yaml` | `imagenet-100/barlow.yaml` | `imagenet/barlow.yaml` |
    /// |---|---|---|---|
    /// | projector | 2048 wide | 2048 wide | 4096 wide |
    /// | loss scale | 0.1 | 0.1 | 0.048 |
    /// | LARS | η 0.02, `clip_lr`, wd 10⁻⁴ | the same | η 0.001, wd 1.5·10⁻⁶ |
    /// | LR × B/256, batch, epochs | 0.3, 256, 1000 | 0.3, 256, 400 | 0.8, 256 (64 × 4), 100 |
    ///
    /// Views: BYOL's asymmetric pair ([`Setup::asymmetric_views`]).
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (recipe, width, scale) = match setup.scale {
            Scale::Cifar => (
                SoloLearn {
                    file: "cifar/barlow.yaml",
                    batch_size: 256,
                    lr: 0.3,
                    classifier_lr: 0.1,
                    optimizer: lars(1e-4, 0.02, true),
                    epochs: 1000,
                },
                2048,
                0.1,
            ),
            Scale::ImageNet100 => (
                SoloLearn {
                    file: "imagenet-100/barlow.yaml",
                    batch_size: 256,
                    lr: 0.3,
                    classifier_lr: 0.1,
                    optimizer: lars(1e-4, 0.02, true),
                    epochs: 400,
                },
                2048,
                0.1,
            ),
            Scale::ImageNet => (
                SoloLearn {
                    file: "imagenet/barlow.yaml",
                    batch_size: 256,
                    lr: 0.8,
                    classifier_lr: 0.1,
                    optimizer: lars(1.5e-6, 0.001, false),
                    epochs: 100,
                },
                4096,
                0.048,
            ),
        };
        let mut model = BarlowTwinsConfig::cifar10(setup.backbone.clone());
        model.projector.hidden_dim = width;
        model.projector.output_dim = width;
        let method = Self {
            lambda: 0.0051,
            scale,
            ..Self::new(model)
        };
        Ok(recipe.publish(method, setup.asymmetric_views()?))
    }
}
