//! SimSiam's network: a backbone and a projection MLP (the encoder `f`), and a prediction MLP
//! `h`.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backbone::{Backbone, BackboneConfig};
use crate::encoder::{Encoder, EncoderConfig, EncoderOf};
use crate::heads::{
    SimSiamPredictionHead, SimSiamPredictionHeadConfig, SimSiamProjectionHead,
    SimSiamProjectionHeadConfig,
};

/// Configuration of a [`SimSiam`] network.
///
/// The dimensions must chain: projector `input_dim` = the backbone's feature dimension, and
/// predictor `input_dim` = predictor `output_dim` = projector `output_dim`. The heads' defaults
/// do not chain with each other (the projector's are the paper's, the predictor's a small CIFAR one):
/// set them together, e.g. [`SimSiamPredictionHeadConfig::paper`] after the default projector.
///
/// The encoder is any [`EncoderConfig`], the built-in [`BackboneConfig`] by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimSiamConfig<C = BackboneConfig> {
    /// The backbone.
    pub backbone: C,
    /// The projection MLP (the end of the encoder `f`).
    pub projector: SimSiamProjectionHeadConfig,
    /// The prediction MLP `h`.
    pub predictor: SimSiamPredictionHeadConfig,
}

impl<C: EncoderConfig> SimSiamConfig<C> {
    /// A network of `backbone` with these heads.
    pub fn new(
        backbone: C,
        projector: SimSiamProjectionHeadConfig,
        predictor: SimSiamPredictionHeadConfig,
    ) -> Self {
        Self {
            backbone,
            projector,
            predictor,
        }
    }

    /// The paper's heads on `backbone`: projection `feature_dim → 2048 → 2048 → 2048`, prediction
    /// `2048 → 512 → 2048`.
    pub fn paper(backbone: C) -> Self {
        let projector = SimSiamProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self::new(backbone, projector, SimSiamPredictionHeadConfig::paper())
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    ///
    /// If the dimensions do not chain (see [`SimSiamConfig`]) or a part's config is invalid.
    pub fn init(&self, device: &Device) -> SimSiam<EncoderOf<C>> {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.projector.input_dim, features,
            "SimSiamConfig: the projector takes {} features but the backbone outputs {features}",
            self.projector.input_dim
        );
        let z = self.projector.output_dim;
        assert!(
            self.predictor.input_dim == z && self.predictor.output_dim == z,
            "SimSiamConfig: the predictor must map the projection's {z} features to {z}, got {} → {}",
            self.predictor.input_dim,
            self.predictor.output_dim
        );
        SimSiam {
            backbone: self.backbone.init(device),
            projector: self.projector.init(device),
            predictor: self.predictor.init(device),
        }
    }
}

/// SimSiam's network, built by [`SimSiamConfig::init`].
///
/// The backbone is reachable on its own ([`SimSiam::backbone`]) for the linear probe.
#[derive(Module, Debug)]
pub struct SimSiam<E: Module = Backbone> {
    /// The backbone.
    pub backbone: E,
    /// The projection MLP.
    pub projector: SimSiamProjectionHead,
    /// The prediction MLP `h`.
    pub predictor: SimSiamPredictionHead,
}

/// What [`SimSiam::forward`] returns for the two views of a batch.
///
/// `z1` and `z2` are **not** detached: the stop-gradient belongs to the loss, which detaches
/// them where it compares them with `p2` and `p1` (`selfsup-losses`).
#[derive(Debug, Clone)]
pub struct SimSiamOutput {
    /// Prediction for view 1, `h(z1)`: `[B, d]`.
    pub p1: Tensor<2>,
    /// Prediction for view 2, `h(z2)`: `[B, d]`.
    pub p2: Tensor<2>,
    /// Projection of view 1, `f(x1)`: `[B, d]`, still attached to the graph.
    pub z1: Tensor<2>,
    /// Projection of view 2, `f(x2)`: `[B, d]`, still attached to the graph.
    pub z2: Tensor<2>,
}

impl<E: Encoder> SimSiam<E> {
    /// Projects one batch of views: `z = f(x)` (backbone then projection MLP).
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`
    /// - output: `[B, d]`, `d` = the projector's `output_dim`
    pub fn project(&self, images: Tensor<4>) -> Tensor<2> {
        self.projector
            .forward(self.backbone.forward_features(images))
    }

    /// Runs both views, each on its own (batch-norm statistics are per view, as in the reference
    /// code), and predicts each projection.
    ///
    /// # Shapes
    /// - `x1`, `x2`: `[B, C_in, H, W]`, `B ≥ 2` in training (batch norm)
    /// - output: `p1`, `p2`, `z1`, `z2`, each `[B, d]`
    pub fn forward(&self, x1: Tensor<4>, x2: Tensor<4>) -> SimSiamOutput {
        let z1 = self.project(x1);
        let z2 = self.project(x2);
        SimSiamOutput {
            p1: self.predictor.forward(z1.clone()),
            p2: self.predictor.forward(z2.clone()),
            z1,
            z2,
        }
    }
}
