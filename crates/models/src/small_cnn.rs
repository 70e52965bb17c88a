//! A small CNN encoder: four `conv3×3 → (BN) → ReLU → max-pool 2×2` blocks of 64, 128, 256
//! and 512 channels.
//!
//! About ten times cheaper than ResNet-18 on CIFAR, which makes it the encoder for quick CPU
//! experiments and for tests.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of a [`SmallCnn`].
#[derive(Config, Debug)]
pub struct SmallCnnConfig {
    /// Output channels of each block; the feature dimension is the last one.
    /// Default `[64, 128, 256, 512]`.
    #[config(default = "vec![64, 128, 256, 512]")]
    pub channels: Vec<usize>,
    /// Input image channels. Default 3.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Batch normalisation after each convolution. Without it self-supervised training is far
    /// less stable, so it is on by default.
    #[config(default = true)]
    pub batch_norm: bool,
}

/// One `conv3×3 (pad 1) → BN? → ReLU → max-pool 2×2` block.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The 3×3 convolution.
    pub conv: Conv2d,
    /// Optional batch normalisation.
    pub bn: Option<BatchNorm>,
    /// The 2×2 max-pool.
    pub pool: MaxPool2d,
}

impl ConvBlock {
    /// # Shapes
    /// - `x`: `[B, C_in, H, W]`
    /// - output: `[B, C_out, H/2, W/2]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = selfsup_kernels::conv2d_forward(&self.conv, x);
        let x = match &self.bn {
            Some(bn) => selfsup_kernels::batch_norm_relu(bn, x, None),
            None => relu(x),
        };
        self.pool.forward(x)
    }
}

/// A stack of [`ConvBlock`]s followed by global average pooling.
#[derive(Module, Debug)]
pub struct SmallCnn {
    /// The convolution blocks, in order.
    pub blocks: Vec<ConvBlock>,
}

impl SmallCnnConfig {
    /// Builds the encoder on `device`.
    ///
    /// # Panics
    ///
    /// If `channels` is empty or holds a zero.
    pub fn init(&self, device: &Device) -> SmallCnn {
        assert!(
            !self.channels.is_empty() && self.channels.iter().all(|&c| c > 0),
            "SmallCnnConfig: channels must be non-empty and positive, got {:?}",
            self.channels
        );
        let mut in_ch = self.in_channels;
        let blocks = self
            .channels
            .iter()
            .map(|&out_ch| {
                let conv = Conv2dConfig::new([in_ch, out_ch], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                let bn = self
                    .batch_norm
                    .then(|| BatchNormConfig::new(out_ch).init(device));
                in_ch = out_ch;
                ConvBlock {
                    conv,
                    bn,
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                }
            })
            .collect();
        SmallCnn { blocks }
    }

    /// The dimension of the features [`SmallCnn::forward_features`] returns.
    pub fn feature_dim(&self) -> usize {
        *self.channels.last().expect("channels is non-empty")
    }
}

impl SmallCnn {
    /// Encodes images into one feature vector each (global average pool of the last block).
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`, with `H` and `W` divisible by `2^blocks`
    /// - output: `[B, C]`, `C` = the last entry of `channels`
    pub fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(images, |x, b| b.forward(x));
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
    }

    /// The dimension of the features [`SmallCnn::forward_features`] returns.
    pub fn feature_dim(&self) -> usize {
        let last = self
            .blocks
            .last()
            .expect("a SmallCnn has at least one block");
        last.conv.weight.lazy_shape().dims::<4>()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_shape_follows_the_last_channel() {
        let device = Device::flex();
        let cfg = SmallCnnConfig::new().with_channels(vec![4, 8]);
        let net = cfg.init(&device);
        let x = Tensor::<4>::ones([2, 3, 8, 8], &device);
        assert_eq!(net.forward_features(x).dims(), [2, cfg.feature_dim()]);
        assert_eq!(net.feature_dim(), cfg.feature_dim());
    }

    #[test]
    #[should_panic(expected = "channels must be non-empty")]
    fn empty_channels_are_rejected() {
        SmallCnnConfig::new()
            .with_channels(vec![])
            .init(&Device::flex());
    }
}
