//! ResNet-18/34/50 encoders after torchvision's `ResNet`, with a choice of stem.
//!
//! The module tree mirrors torchvision (`conv1`, `bn1`, `layer1`..`layer4`, `fc`; blocks in
//! [`block`]), so a torchvision state dict maps by name (`layer1.0.conv1.weight`, …) once enum
//! variants are skipped and batch-norm `weight`/`bias` are read as `gamma`/`beta`, which is what
//! Burn's PyTorch store does by default. Initialisation follows torchvision too: Kaiming-normal
//! (`fan_out`, ReLU) convolutions, batch norms at (1, 0), PyTorch's default `Linear` init.

pub mod block;

use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use selfsup_kernels::{batch_norm_relu, conv2d_forward};

pub use block::{
    BasicBlock, BasicBlockConfig, BlockKind, Bottleneck, BottleneckConfig, Downsample,
    ResidualBlock,
};

/// Residual blocks per stage of ResNet-18.
pub const RESNET18_DEPTHS: [usize; 4] = [2, 2, 2, 2];
/// Residual blocks per stage of ResNet-34.
pub const RESNET34_DEPTHS: [usize; 4] = [3, 4, 6, 3];
/// Residual blocks per stage of ResNet-50.
pub const RESNET50_DEPTHS: [usize; 4] = [3, 4, 6, 3];
/// torchvision's stage widths (`planes`): the stem outputs the first one.
pub const RESNET_WIDTHS: [usize; 4] = [64, 128, 256, 512];

/// The first layers of a [`ResNet`], before `layer1`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Stem {
    /// `conv 3×3, stride 1, padding 1, no bias → BN → ReLU`, no max-pool: the usual swap for
    /// 32×32 CIFAR images (solo-learn's and lightly's CIFAR ResNets: `conv1 = nn.Conv2d(3, 64,
    /// kernel_size=3, stride=1, padding=1, bias=False)`, `maxpool = nn.Identity()`). The encoder downsamples 8×.
    Cifar,
    /// torchvision's `conv 7×7, stride 2, padding 3, no bias → BN → ReLU → max-pool 3×3, stride 2,
    /// padding 1` for ImageNet-sized images. The encoder downsamples 32×.
    ImageNet,
}

/// Configuration of a [`ResNet`]. Start from [`ResNetConfig::resnet18`], [`resnet34`] or
/// [`resnet50`].
///
/// [`resnet34`]: ResNetConfig::resnet34
/// [`resnet50`]: ResNetConfig::resnet50
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Residual blocks in each of the four stages, e.g. [`RESNET18_DEPTHS`].
    pub depths: [usize; 4],
    /// The residual block: basic (ResNet-18/34) or bottleneck (ResNet-50).
    pub block: BlockKind,
    /// The stem: [`Stem::Cifar`] for 32×32 images, [`Stem::ImageNet`] for 224×224 ones.
    pub stem: Stem,
    /// `planes` of the four stages; the stem outputs `widths[0]` channels and the features have
    /// `widths[3] · expansion` dimensions. Default torchvision's `[64, 128, 256, 512]`
    /// ([`RESNET_WIDTHS`]); narrower values make small test models.
    #[config(default = "RESNET_WIDTHS")]
    pub widths: [usize; 4],
    /// Input image channels. Default 3.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Classes of the optional linear classifier `fc` on the pooled features. Default `None`:
    /// no classifier, as self-supervised pre-training wants.
    pub num_classes: Option<usize>,
}

impl ResNetConfig {
    /// ResNet-18: basic blocks, depths [`RESNET18_DEPTHS`], 512-d features.
    pub fn resnet18(stem: Stem) -> Self {
        Self::new(RESNET18_DEPTHS, BlockKind::Basic, stem)
    }

    /// ResNet-34: basic blocks, depths [`RESNET34_DEPTHS`], 512-d features.
    pub fn resnet34(stem: Stem) -> Self {
        Self::new(RESNET34_DEPTHS, BlockKind::Basic, stem)
    }

    /// ResNet-50: bottleneck blocks, depths [`RESNET50_DEPTHS`], 2048-d features.
    pub fn resnet50(stem: Stem) -> Self {
        Self::new(RESNET50_DEPTHS, BlockKind::Bottleneck, stem)
    }

    /// The dimension of [`ResNet::forward_features`]' output: `widths[3] · expansion`
    /// (512 for ResNet-18/34, 2048 for ResNet-50).
    pub fn feature_dim(&self) -> usize {
        self.widths[3] * self.block.expansion()
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    ///
    /// If a depth, a width, `in_channels` or `num_classes` is zero.
    pub fn init(&self, device: &Device) -> ResNet {
        assert!(
            self.depths.iter().all(|&d| d > 0),
            "ResNetConfig: every stage needs at least one block, got depths {:?}",
            self.depths
        );
        assert!(
            self.widths.iter().all(|&w| w > 0) && self.in_channels > 0,
            "ResNetConfig: widths and in_channels must be positive, got widths {:?}, in_channels {}",
            self.widths,
            self.in_channels
        );
        assert!(
            self.num_classes != Some(0),
            "ResNetConfig: num_classes must be positive (or None for no classifier)"
        );

        let stem_channels = self.widths[0];
        let (conv1, maxpool) = match self.stem {
            Stem::Cifar => (
                block::conv(self.in_channels, stem_channels, 3, 1, device),
                None,
            ),
            Stem::ImageNet => (
                block::conv(self.in_channels, stem_channels, 7, 2, device),
                Some(
                    MaxPool2dConfig::new([3, 3])
                        .with_strides([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(),
                ),
            ),
        };

        let mut in_channels = stem_channels;
        let mut stage = |i: usize| -> Vec<ResidualBlock> {
            let stride = if i == 0 { 1 } else { 2 };
            (0..self.depths[i])
                .map(|j| {
                    let block = self.block.init(
                        in_channels,
                        self.widths[i],
                        if j == 0 { stride } else { 1 },
                        device,
                    );
                    in_channels = self.widths[i] * self.block.expansion();
                    block
                })
                .collect()
        };
        let (layer1, layer2, layer3, layer4) = (stage(0), stage(1), stage(2), stage(3));

        ResNet {
            conv1,
            bn1: BatchNormConfig::new(stem_channels).init(device),
            maxpool,
            layer1,
            layer2,
            layer3,
            layer4,
            fc: self
                .num_classes
                .map(|n| LinearConfig::new(self.feature_dim(), n).init(device)),
        }
    }
}

/// A ResNet encoder (torchvision's `ResNet`), with an optional classifier.
///
/// Built by [`ResNetConfig::init`]. The stem is `conv1 → bn1 → ReLU → maxpool` (no max-pool with
/// [`Stem::Cifar`]); global average pooling follows `layer4`.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution: 3×3/s1 ([`Stem::Cifar`]) or 7×7/s2 ([`Stem::ImageNet`]), no bias.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// The stem's 3×3/s2 max-pool ([`Stem::ImageNet`] only).
    pub maxpool: Option<MaxPool2d>,
    /// Stage 1 (stride 1).
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3 (stride 2).
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4 (stride 2).
    pub layer4: Vec<ResidualBlock>,
    /// Optional linear classifier on the pooled features (`num_classes` in the config).
    pub fc: Option<Linear>,
}

impl ResNet {
    /// Encodes images into one feature vector each: stem, four stages, global average pool.
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`
    /// - output: `[B, C]`, `C` = [`ResNet::feature_dim`] (512 for ResNet-18/34, 2048 for
    ///   ResNet-50)
    ///
    /// # Panics
    ///
    /// If the input's channel count is not the configured `in_channels`.
    pub fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let [_, c_in, _, _] = images.dims();
        let expected = self.conv1.weight.lazy_shape().dims::<4>()[1];
        assert_eq!(
            c_in, expected,
            "ResNet::forward_features: expected images [B, {expected}, H, W], got {c_in} channels"
        );
        let x = batch_norm_relu(&self.bn1, conv2d_forward(&self.conv1, images), None);
        let x = match &self.maxpool {
            Some(pool) => pool.forward(x),
            None => x,
        };
        let x = [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
            .fold(x, |x, block| block.forward(x));
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c])
    }

    /// Classifies images: [`forward_features`](ResNet::forward_features) then `fc`.
    ///
    /// # Shapes
    /// - `images`: `[B, C_in, H, W]`
    /// - output: `[B, num_classes]`
    ///
    /// # Panics
    ///
    /// If the network has no classifier (`num_classes` was `None`).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let fc = self.fc.as_ref().expect(
            "ResNet::forward: this network has no classifier (num_classes is None); \
             use forward_features",
        );
        fc.forward(self.forward_features(images))
    }

    /// The dimension of [`ResNet::forward_features`]' output.
    pub fn feature_dim(&self) -> usize {
        self.layer4
            .last()
            .expect("a ResNet stage has at least one block")
            .out_channels()
    }
}
