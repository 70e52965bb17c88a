//! SimCLR's network: a backbone `f` and a projection head `g`.

use burn::prelude::*;

use crate::backbone::{Backbone, BackboneConfig};
use crate::heads::{SimClrProjectionHead, SimClrProjectionHeadConfig};

/// Configuration of a [`SimClr`] network.
#[derive(Config, Debug)]
pub struct SimClrConfig {
    /// The encoder `f`.
    pub backbone: BackboneConfig,
    /// The projection head `g`; its `input_dim` must be the backbone's feature dimension.
    /// Default seed 000's `512 → 512 → 128`.
    #[config(default = "SimClrProjectionHeadConfig::new()")]
    pub projector: SimClrProjectionHeadConfig,
}

impl SimClrConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    ///
    /// If the projector's `input_dim` is not the backbone's feature dimension, or a part's
    /// config is invalid.
    pub fn init(&self, device: &Device) -> SimClr {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.projector.input_dim, features,
            "SimClrConfig: the projector takes {} features but the backbone outputs {features}",
            self.projector.input_dim
        );
        SimClr {
            backbone: self.backbone.init(device),
            projector: self.projector.init(device),
        }
    }
}

/// SimCLR's network `z = g(f(x))`, built by [`SimClrConfig::init`].
///
/// The contrastive loss is applied to `z`; downstream tasks (the linear probe) use the
/// backbone's features `h = f(x)`, reachable as [`SimClr::backbone`].
#[derive(Module, Debug)]
pub struct SimClr {
    /// The encoder `f`.
    pub backbone: Backbone,
    /// The projection head `g`.
    pub projector: SimClrProjectionHead,
}

impl SimClr {
    /// Projects one batch of views: `z = g(f(x))`.
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`
    /// - output: `[B, projector.output_dim]`
    pub fn project(&self, images: Tensor<4>) -> Tensor<2> {
        self.projector
            .forward(self.backbone.forward_features(images))
    }

    /// Projects the two views of a batch, each on its own (batch-norm statistics are per view,
    /// as when seed 000 calls the model once per view).
    ///
    /// # Shapes
    /// - `x1`, `x2`: `[B, C_in, H, W]`
    /// - output `(z1, z2)`: `[B, projector.output_dim]` each
    pub fn forward(&self, x1: Tensor<4>, x2: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        (self.project(x1), self.project(x2))
    }
}
