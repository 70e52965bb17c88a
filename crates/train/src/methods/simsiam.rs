//! SimSiam: symmetric negative cosine between predictions and stop-gradient projections.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::simsiam_loss;
use selfsup_models::{Backbone, BackboneConfig, SimSiam, SimSiamConfig};

use crate::error::Result;
use crate::method::{Method, StepOutput, require_views};
use crate::schedule::ParamGroupLr;

/// SimSiam (Chen & He 2021): the model of a [`SimSiamConfig`] and
/// [`simsiam_loss`] (whose `detach` of `z` is the stop-gradient).
#[derive(Config, Debug)]
pub struct SimSiamMethod {
    /// Backbone, projector and predictor.
    pub model: SimSiamConfig,
    /// Keep the predictor's LR at the base LR while the rest decays (the paper's `--fix-pred-lr`).
    /// Default `false`.
    #[config(default = false)]
    pub fix_predictor_lr: bool,
}

impl Method for SimSiamMethod {
    type Model = SimSiam;
    const NAME: &'static str = "simsiam";

    fn init_model(&self, device: &Device) -> SimSiam {
        self.model.init(device)
    }

    fn step(&self, model: &SimSiam, batch: &ViewBatch, device: &Device) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 2)?;
        let out = model.forward(batch.view(0, device), batch.view(1, device));
        Ok(StepOutput {
            loss: simsiam_loss(out.p1, out.p2, out.z1.clone(), out.z2),
            embeddings: Some(out.z1),
            metrics: Vec::new(),
        })
    }

    fn backbone<'m>(&self, model: &'m SimSiam) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        &self.model.backbone
    }

    fn fixed_lr_groups(&self) -> Vec<ParamGroupLr> {
        if self.fix_predictor_lr {
            vec![ParamGroupLr::new("predictor".into())]
        } else {
            Vec::new()
        }
    }
}
