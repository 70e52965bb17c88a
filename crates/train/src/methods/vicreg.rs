//! VICReg: variance, invariance and covariance regularisation of the two views' projections.
//!
//! Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
//! Self-Supervised Learning", ICLR 2022. The two views go through the same encoder and a 3-layer
//! expander; the loss ([`vicreg`]) keeps each embedding dimension's standard deviation above 1
//! (variance), matches the two views (invariance) and decorrelates the dimensions (covariance),
//! weighted 25 / 25 / 1.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::{VicRegConfig as VicRegLossConfig, vicreg};
use selfsup_models::{
    BackboneConfig, EncoderConfig, EncoderOf, ProjectionNet, VicRegProjectionHeadConfig,
};
use serde::{Deserialize, Serialize};

use crate::error::{self, Result};
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, lars};

const VICREG: &str = "vicreg";

/// Configuration of the network: an encoder (any [`EncoderConfig`]) and its expander.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VicRegConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The expander (projector).
    pub projector: VicRegProjectionHeadConfig,
}

impl<C: EncoderConfig> VicRegConfig<C> {
    /// The paper's expander on `backbone`: three linear layers of 8192 units, batch norm and
    /// ReLU after the first two (VICReg §4.2).
    pub fn paper(backbone: C) -> Self {
        let projector = VicRegProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
        }
    }

    /// The CIFAR-10 expander of solo-learn's `vicreg.yaml`: 2048 units.
    pub fn cifar10(backbone: C) -> Self {
        let projector = VicRegProjectionHeadConfig::cifar10(backbone.feature_dim());
        Self {
            backbone,
            projector,
        }
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If the expander's input is not the encoder's feature dimension.
    pub fn init(&self, device: &Device) -> ProjectionNet<EncoderOf<C>> {
        ProjectionNet::init(
            "VicRegConfig",
            &self.backbone,
            &self.projector.mlp(),
            device,
        )
    }
}

/// VICReg (Bardes et al. 2022) on a [`VicRegConfig`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VicRegMethod<C = BackboneConfig> {
    /// The network.
    pub model: VicRegConfig<C>,
    /// The loss coefficients (λ = 25, μ = 25, ν = 1, ε = 10⁻⁴ by default).
    #[serde(default = "VicRegLossConfig::new")]
    pub loss: VicRegLossConfig,
    /// No weight decay on biases and normalisation parameters. Default `true` (the paper trains
    /// with LARS and excludes them).
    #[serde(default = "default_true")]
    pub exclude_bias_and_norm: bool,
}

fn default_true() -> bool {
    true
}

impl<C: EncoderConfig> VicRegMethod<C> {
    /// VICReg on the network `model` with the paper's coefficients.
    pub fn new(model: VicRegConfig<C>) -> Self {
        Self {
            model,
            loss: VicRegLossConfig::new(),
            exclude_bias_and_norm: true,
        }
    }

    /// solo-learn's CIFAR-10 recipe (`vicreg.yaml`): the 2048-wide expander, coefficients
    /// 25 / 25 / 1.
    pub fn cifar10(backbone: C) -> Self {
        Self::new(VicRegConfig::cifar10(backbone))
    }
}

impl<C: EncoderConfig> Method for VicRegMethod<C> {
    type EncoderConfig = C;
    type Model = ProjectionNet<EncoderOf<C>>;
    const NAME: &'static str = "vicreg";

    fn required_views(&self) -> usize {
        2
    }

    fn validate(&self) -> Result<()> {
        error::non_negative(VICREG, "invariance", self.loss.invariance)?;
        error::non_negative(VICREG, "variance", self.loss.variance)?;
        error::non_negative(VICREG, "covariance", self.loss.covariance)?;
        error::positive(VICREG, "eps", self.loss.eps)
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
        Ok(StepOutput {
            loss: vicreg(z1.clone(), z2, &self.loss),
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

impl VicRegMethod {
    /// VICReg as solo-learn trains it: a 2048-wide three-layer expander, coefficients 25 / 25 /
    /// 1, LARS (η 0.02, `clip_lr`, weight decay 10⁻⁴) at 0.3 × B/256, batch 256; 1000 epochs
    /// (`cifar/vicreg.yaml`) or 400 (`imagenet-100/vicreg.yaml`, which ImageNet also takes).
    /// Views: VICReg's augmentation at the data's size and statistics.
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (file, epochs) = match setup.scale {
            Scale::Cifar => ("cifar/vicreg.yaml", 1000),
            Scale::ImageNet100 | Scale::ImageNet => ("imagenet-100/vicreg.yaml", 400),
        };
        let recipe = SoloLearn {
            file,
            batch_size: 256,
            lr: 0.3,
            classifier_lr: 0.1,
            optimizer: lars(1e-4, 0.02, true),
            epochs,
        };
        let mut method = Self::cifar10(setup.backbone.clone());
        method.loss = VicRegLossConfig::new()
            .with_invariance(25.0)
            .with_variance(25.0)
            .with_covariance(1.0);
        let views = setup.adapt(selfsup_data::VicRegTransform::cifar10().config().clone());
        Ok(recipe.publish(
            method,
            std::sync::Arc::new(selfsup_data::VicRegTransform::new(views)?),
        ))
    }
}
