//! SimSiam: symmetric negative cosine between predictions and stop-gradient projections.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::simsiam_loss;
use selfsup_models::{BackboneConfig, EncoderConfig, EncoderOf, SimSiam, SimSiamConfig};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
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
