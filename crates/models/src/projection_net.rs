//! [`ProjectionNet`]: an encoder and a projection head, the network of the methods that compare
//! two views' projections with one shared network.

use burn::prelude::*;

use crate::backbone::Backbone;
use crate::encoder::{Encoder, EncoderConfig};
use crate::mlp::{Mlp, MlpConfig};

/// An encoder `f` and a projection head `g`, `z = g(f(x))`: the network of SimCLR
/// ([`SimClr`](crate::SimClr)), Barlow Twins and VICReg, whose methods differ only in the loss
/// on `z` and the head's shape.
#[derive(Module, Debug)]
pub struct ProjectionNet<E: Module = Backbone> {
    /// The encoder `f`, the one evaluated.
    pub backbone: E,
    /// The projection head `g`.
    pub projector: Mlp,
}

impl<E: Encoder> ProjectionNet<E> {
    /// Builds the encoder of `backbone` and the projector of `projector` on `device`; `config`
    /// names the method's config in the panic message.
    ///
    /// # Panics
    /// If the projector's input is not the encoder's feature dimension, or a part's config is
    /// invalid.
    pub fn init<C: EncoderConfig<Encoder = E>>(
        config: &str,
        backbone: &C,
        projector: &MlpConfig,
        device: &Device,
    ) -> Self {
        let features = backbone.feature_dim();
        assert_eq!(
            projector.input_dim(),
            features,
            "{config}: the projector takes {} features but the backbone outputs {features}",
            projector.input_dim()
        );
        Self {
            backbone: backbone.init(device),
            projector: projector.init(device),
        }
    }

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
    /// as when a PyTorch training loop calls the model once per view).
    ///
    /// # Shapes
    /// - `x1`, `x2`: `[B, C_in, H, W]`
    /// - output `(z1, z2)`: `[B, projector.output_dim]` each
    pub fn forward(&self, x1: Tensor<4>, x2: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        (self.project(x1), self.project(x2))
    }
}
