//! SimSiam: symmetric negative cosine between predictions and stop-gradient projections.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::simsiam_loss;
use selfsup_models::{BackboneConfig, EncoderConfig, EncoderOf, SimSiam, SimSiamConfig};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, sgd};
use crate::schedule::ParamGroupLr;

/// SimSiam (Chen & He 2021): the model of a [`SimSiamConfig`] and
/// [`simsiam_loss`] (whose `detach` of `z` is the stop-gradient).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimSiamMethod<C = BackboneConfig> {
    /// Backbone, projector and predictor.
    pub model: SimSiamConfig<C>,
    /// Keep the predictor's LR at the base LR while the rest decays (the paper's `--fix-pred-lr`).
    /// Default `false`.
    #[serde(default)]
    pub fix_predictor_lr: bool,
}

impl<C: EncoderConfig> SimSiamMethod<C> {
    /// SimSiam with the network `model`, the predictor's LR following the schedule.
    pub fn new(model: SimSiamConfig<C>) -> Self {
        Self {
            model,
            fix_predictor_lr: false,
        }
    }

    /// Keeps the predictor's LR fixed (the paper's `--fix-pred-lr`) or not.
    pub fn with_fix_predictor_lr(mut self, fix: bool) -> Self {
        self.fix_predictor_lr = fix;
        self
    }
}

impl<C: EncoderConfig> Method for SimSiamMethod<C> {
    type EncoderConfig = C;
    type Model = SimSiam<EncoderOf<C>>;
    const NAME: &'static str = "simsiam";

    fn required_views(&self) -> usize {
        2
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
        let out = model.forward(batch.view(0, device), batch.view(1, device));
        Ok(StepOutput {
            loss: simsiam_loss(out.p1, out.p2, out.z1.clone(), out.z2),
            embeddings: Some(out.z1),
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
        ParamGroups {
            lr: if self.fix_predictor_lr {
                vec![ParamGroupLr::new("predictor".into())]
            } else {
                Vec::new()
            },
            ..ParamGroups::default()
        }
    }
}

impl SimSiamMethod {
    /// SimSiam as solo-learn trains it, per [`Scale`] (ImageNet takes the ImageNet-100 file):
    /// the paper's network (projector `f → 2048 → 2048`, predictor `2048 → 512 → 2048`), the
    /// predictor on a fixed LR (solo-learn's `static_lr`, the paper's `--fix-pred-lr`), SGD with
    /// momentum 0.9 and weight decay 10⁻⁵ at LR 0.5 × B/256, batch 256; 1000 epochs
    /// (`cifar/simsiam.yaml`) or 400 (`imagenet-100/simsiam.yaml`, 128 × 2 GPUs). Views:
    /// SimSiam's CIFAR augmentation at the data's size and statistics.
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (file, epochs) = match setup.scale {
            Scale::Cifar => ("cifar/simsiam.yaml", 1000),
            Scale::ImageNet100 | Scale::ImageNet => ("imagenet-100/simsiam.yaml", 400),
        };
        let recipe = SoloLearn {
            file,
            batch_size: 256,
            lr: 0.5,
            classifier_lr: 0.1,
            optimizer: sgd(1e-5),
            epochs,
        };
        let method =
            Self::new(SimSiamConfig::paper(setup.backbone.clone())).with_fix_predictor_lr(true);
        let views = setup.adapt(selfsup_data::SimSiamTransform::cifar10().config().clone());
        Ok(recipe.publish(
            method,
            std::sync::Arc::new(selfsup_data::SimSiamTransform::new(views)?),
        ))
    }
}
