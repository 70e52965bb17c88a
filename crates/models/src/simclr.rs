//! SimCLR's network: a backbone `f` and a projection head `g`.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backbone::{Backbone, BackboneConfig};
use crate::encoder::{EncoderConfig, EncoderOf};
use crate::heads::SimClrProjectionHeadConfig;
use crate::projection_net::ProjectionNet;

/// Configuration of a [`SimClr`] network. The encoder is any [`EncoderConfig`], the built-in
/// [`BackboneConfig`] by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimClrConfig<C = BackboneConfig> {
    /// The encoder `f`.
    pub backbone: C,
    /// The projection head `g`; its `input_dim` must be the backbone's feature dimension.
    /// Default `512 → 512 → 128`, a small CIFAR head for a ResNet-18.
    #[serde(default = "SimClrProjectionHeadConfig::new")]
    pub projector: SimClrProjectionHeadConfig,
}

impl<C: EncoderConfig> SimClrConfig<C> {
    /// A network of `backbone` with the default projection head.
    pub fn new(backbone: C) -> Self {
        Self {
            backbone,
            projector: SimClrProjectionHeadConfig::new(),
        }
    }

    /// The same network with another projection head.
    pub fn with_projector(mut self, projector: SimClrProjectionHeadConfig) -> Self {
        self.projector = projector;
        self
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    ///
    /// If the projector's `input_dim` is not the backbone's feature dimension, or a part's
    /// config is invalid.
    pub fn init(&self, device: &Device) -> SimClr<EncoderOf<C>> {
        ProjectionNet::init(
            "SimClrConfig",
            &self.backbone,
            &self.projector.mlp(),
            device,
        )
    }
}

/// SimCLR's network `z = g(f(x))`, built by [`SimClrConfig::init`]: a [`ProjectionNet`].
///
/// The contrastive loss is applied to `z`; downstream tasks (the linear probe) use the
/// backbone's features `h = f(x)`, reachable as its `backbone`.
pub type SimClr<E = Backbone> = ProjectionNet<E>;
