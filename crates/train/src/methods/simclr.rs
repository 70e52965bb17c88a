//! SimCLR: NT-Xent between the projections of two views.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::nt_xent;
use selfsup_models::{Backbone, BackboneConfig, SimClr, SimClrConfig};

use crate::error::Result;
use crate::method::{Method, StepOutput, require_views};

/// SimCLR (Chen et al. 2020): the model of a [`SimClrConfig`] and NT-Xent at `temperature`.
#[derive(Config, Debug)]
pub struct SimClrMethod {
    /// Backbone and projection head.
    pub model: SimClrConfig,
    /// NT-Xent temperature τ. Default 0.5 (seed 000, cs231n).
    #[config(default = 0.5)]
    pub temperature: f64,
}

impl Method for SimClrMethod {
    type Model = SimClr;
    const NAME: &'static str = "simclr";

    fn init_model(&self, device: &Device) -> SimClr {
        self.model.init(device)
    }

    fn step(&self, model: &SimClr, batch: &ViewBatch, device: &Device) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 2)?;
        let (z_a, z_b) = model.forward(batch.view(0, device), batch.view(1, device));
        Ok(StepOutput {
            loss: nt_xent(z_a.clone(), z_b, self.temperature),
            embeddings: Some(z_a),
            metrics: Vec::new(),
        })
    }

    fn backbone<'m>(&self, model: &'m SimClr) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        &self.model.backbone
    }
}
