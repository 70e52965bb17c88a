//! What an encoder is to selfsup: the [`Encoder`] and [`EncoderConfig`] traits.
//!
//! Every method network ([`SimSiam`](crate::SimSiam), [`SimClr`](crate::SimClr), and those of
//! `selfsup-train`) is generic over its encoder, so a user's own Burn module trains with every
//! method and is evaluated by the linear probe, kNN and fine-tuning without a change to
//! selfsup: implement [`Encoder`] for the module (images in, one feature vector per image out)
//! and [`EncoderConfig`] for its config (serialisable, so that a checkpoint can rebuild it).
//! The built-in encoders are [`Backbone`](crate::Backbone) / [`BackboneConfig`](crate::BackboneConfig)
//! (the ResNets and the small CNN), the default of every generic parameter.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//! use selfsup_models::{Encoder, EncoderConfig, SimSiamConfig};
//! use serde::{Deserialize, Serialize};
//!
//! /// Global average pooling, then one linear layer.
//! #[derive(Module, Debug)]
//! struct PoolLinear {
//!     linear: Linear,
//! }
//!
//! impl Encoder for PoolLinear {
//!     fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
//!         let pooled: Tensor<2> = images.mean_dim(3).mean_dim(2).flatten(1, 3);
//!         self.linear.forward(pooled)
//!     }
//!     fn feature_dim(&self) -> usize {
//!         self.linear.weight.dims()[1]
//!     }
//! }
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! struct PoolLinearConfig {
//!     features: usize,
//! }
//!
//! impl EncoderConfig for PoolLinearConfig {
//!     type Encoder = PoolLinear;
//!     fn init(&self, device: &Device) -> PoolLinear {
//!         PoolLinear { linear: LinearConfig::new(3, self.features).init(device) }
//!     }
//!     fn feature_dim(&self) -> usize {
//!         self.features
//!     }
//! }
//!
//! let device = Device::flex();
//! let model = SimSiamConfig::paper(PoolLinearConfig { features: 16 }).init(&device);
//! let x = Tensor::<4>::zeros([2, 3, 8, 8], &device);
//! assert_eq!(model.forward(x.clone(), x).p1.dims(), [2, 2048]);
//! ```

use burn::module::{Module, ModuleDisplay};
use burn::tensor::{Device, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An image encoder: a Burn module mapping images to one feature vector each
/// (`#[derive(Module)]` provides the supertraits).
///
/// Methods put a projection head on its output; the evaluation protocols (linear probe, kNN,
/// fine-tuning) use the output itself.
pub trait Encoder: Module + ModuleDisplay {
    /// Encodes images into one feature vector each.
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`
    /// - output: `[B, feature_dim]`
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2>;

    /// The dimension of [`forward_features`](Self::forward_features)' output.
    fn feature_dim(&self) -> usize;

    /// [`forward_features`](Self::forward_features) under stochastic depth (Huang et al. 2016;
    /// timm's `drop_path_rate`): each image's residual branches are dropped at random, `rate`
    /// the drop probability of the last block's; `uniform` draws the masks from `[0, 1)`, so
    /// a run reproduces them from its seed. The default, for encoders without residual
    /// branches to drop ([`EncoderConfig::has_drop_path`] is `false`), ignores both.
    fn forward_features_drop_path(
        &self,
        images: Tensor<4>,
        rate: f64,
        uniform: &mut dyn FnMut() -> f64,
    ) -> Tensor<2> {
        let _ = (rate, uniform);
        self.forward_features(images)
    }
}

/// The config of an [`Encoder`]: serialisable, so that every run's `config.json` and checkpoint
/// hold it and the encoder can be rebuilt from the file alone.
pub trait EncoderConfig:
    Clone + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The encoder it builds.
    type Encoder: Encoder;

    /// Builds a freshly initialised encoder on `device`.
    fn init(&self, device: &Device) -> Self::Encoder;

    /// The dimension of the built encoder's features (known before building it, to size the
    /// heads).
    fn feature_dim(&self) -> usize;

    /// The encoder's layers from the input up, for layer-wise learning-rate decay (BEiT's and
    /// MAE's fine-tuning): layer `i` is the parameters whose module path contains one of
    /// `layers[i]`'s fragments; parameters in none of them (the final norm, a head) form the
    /// layer above the last. `None` (the default) for an encoder without such an order, which
    /// layer-wise decay then refuses.
    fn layers(&self) -> Option<Vec<Vec<String>>> {
        None
    }

    /// Whether the encoder drops residual branches in
    /// [`Encoder::forward_features_drop_path`] (a ViT does); `false` by default.
    fn has_drop_path(&self) -> bool {
        false
    }
}

/// The encoder an [`EncoderConfig`] builds.
pub type EncoderOf<C> = <C as EncoderConfig>::Encoder;
