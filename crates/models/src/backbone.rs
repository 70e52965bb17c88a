//! The encoder choice of the method models: a [`ResNet`], a [`Vit`] or the [`SmallCnn`].

use burn::prelude::*;

use crate::encoder::{Encoder, EncoderConfig};
use crate::resnet::{ResNet, ResNetConfig};
use crate::small_cnn::{SmallCnn, SmallCnnConfig};
use crate::vit::{DropPath, Vit, VitConfig};

/// Which built-in encoder to build: the [`EncoderConfig`] of [`Backbone`], the default encoder of
/// every method. A user's own encoder implements [`EncoderConfig`] instead of extending this enum.
#[derive(Config, Debug)]
pub enum BackboneConfig {
    /// A ResNet-18/34/50 ([`ResNetConfig`]).
    ResNet(ResNetConfig),
    /// The small four-block CNN ([`SmallCnnConfig`]), for quick CPU experiments.
    SmallCnn(SmallCnnConfig),
    /// A Vision Transformer ([`VitConfig`]).
    Vit(VitConfig),
}

impl BackboneConfig {
    /// The dimension of [`Backbone::forward_features`]' output.
    pub fn feature_dim(&self) -> usize {
        match self {
            BackboneConfig::ResNet(config) => config.feature_dim(),
            BackboneConfig::SmallCnn(config) => config.feature_dim(),
            BackboneConfig::Vit(config) => config.feature_dim(),
        }
    }

    /// Builds the encoder on `device`.
    ///
    /// # Panics
    ///
    /// If the wrapped config is invalid (see [`ResNetConfig::init`], [`SmallCnnConfig::init`],
    /// [`VitConfig::init`]).
    pub fn init(&self, device: &Device) -> Backbone {
        match self {
            BackboneConfig::ResNet(config) => Backbone::ResNet(config.init(device)),
            BackboneConfig::SmallCnn(config) => Backbone::SmallCnn(config.init(device)),
            BackboneConfig::Vit(config) => Backbone::Vit(config.init(device)),
        }
    }
}

impl From<ResNetConfig> for BackboneConfig {
    fn from(config: ResNetConfig) -> Self {
        BackboneConfig::ResNet(config)
    }
}

impl From<VitConfig> for BackboneConfig {
    fn from(config: VitConfig) -> Self {
        BackboneConfig::Vit(config)
    }
}

impl From<SmallCnnConfig> for BackboneConfig {
    fn from(config: SmallCnnConfig) -> Self {
        BackboneConfig::SmallCnn(config)
    }
}

/// An image encoder: images in, one feature vector per image out.
///
/// The variant name is a level of the module path (`backbone.ResNet.layer1…`) that Burn's PyTorch
/// store skips by default.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Backbone {
    /// A [`ResNet`].
    ResNet(ResNet),
    /// A [`SmallCnn`].
    SmallCnn(SmallCnn),
    /// A [`Vit`].
    Vit(Vit),
}

impl Backbone {
    /// Encodes images into one feature vector each (after global average pooling).
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`
    /// - output: `[B, feature_dim]`
    pub fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Backbone::ResNet(net) => net.forward_features(images),
            Backbone::SmallCnn(net) => net.forward_features(images),
            Backbone::Vit(net) => net.forward_features(images),
        }
    }

    /// The dimension of [`Backbone::forward_features`]' output.
    pub fn feature_dim(&self) -> usize {
        match self {
            Backbone::ResNet(net) => net.feature_dim(),
            Backbone::SmallCnn(net) => net.feature_dim(),
            Backbone::Vit(net) => net.feature_dim(),
        }
    }
}

impl Encoder for Backbone {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        Backbone::forward_features(self, images)
    }

    fn feature_dim(&self) -> usize {
        Backbone::feature_dim(self)
    }

    fn forward_features_drop_path(
        &self,
        images: Tensor<4>,
        rate: f64,
        uniform: &mut dyn FnMut() -> f64,
    ) -> Tensor<2> {
        match self {
            Self::Vit(vit) => {
                let plan = DropPath::draw(images.dims()[0], vit.blocks.len(), rate, uniform);
                vit.forward_features_drop_path(images, &plan)
            }
            _ => self.forward_features(images),
        }
    }
}

impl EncoderConfig for BackboneConfig {
    type Encoder = Backbone;

    fn init(&self, device: &Device) -> Backbone {
        BackboneConfig::init(self, device)
    }

    fn feature_dim(&self) -> usize {
        BackboneConfig::feature_dim(self)
    }

    fn layers(&self) -> Option<Vec<Vec<String>>> {
        match self {
            Self::Vit(config) => Some(config.layers()),
            _ => None,
        }
    }

    fn has_drop_path(&self) -> bool {
        matches!(self, Self::Vit(_))
    }
}
