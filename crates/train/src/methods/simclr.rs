//! SimCLR: NT-Xent between the projections of two views.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::nt_xent;
use selfsup_models::{BackboneConfig, EncoderConfig, EncoderOf, SimClr, SimClrConfig};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::method::{Method, StepContext, StepOutput, require_views};

/// SimCLR (Chen et al. 2020): the model of a [`SimClrConfig`] and NT-Xent at `temperature`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimClrMethod<C = BackboneConfig> {
    /// Backbone and projection head.
    pub model: SimClrConfig<C>,
    /// NT-Xent temperature τ. Default 0.5 (the CS231n SimCLR exercise; SimCLR's CIFAR-10
    /// setting).
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
