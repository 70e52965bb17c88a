//! Residual blocks of [`ResNet`](super::ResNet): the basic block (ResNet-18/34) and the
//! bottleneck block (ResNet-50), after torchvision's `BasicBlock` and `Bottleneck`.
//!
//! Field names are torchvision's (`conv1`, `bn1`, `conv2`, `bn2`, `conv3`, `bn3`, `downsample`)
//! and the shortcut projection is a `(conv, batch-norm)` pair, whose entries are named `0` and
//! `1` like torchvision's `downsample` `nn.Sequential`; with enum variants skipped (the default
//! of Burn's PyTorch store), a block's parameters are named exactly as in a torchvision state dict.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Slice;
use burn::tensor::ops::ConvOptions;
use selfsup_kernels::{batch_norm, batch_norm_relu, conv2d, conv2d_forward};

/// The shortcut projection `(1×1 conv with stride s and no bias, batch norm)`, used when a block
/// changes the resolution or the channel count. Its entries are named `0` and `1`, like
/// torchvision's `downsample = nn.Sequential(conv1x1, BatchNorm2d)`.
pub type Downsample = (Conv2d, BatchNorm);

/// Kaiming-normal initialisation with `mode="fan_out"` and ReLU gain, torchvision's choice for
/// every ResNet convolution.
pub(crate) fn conv_initializer() -> Initializer {
    Initializer::KaimingNormal {
        gain: core::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// A bias-free `k×k` convolution with stride `stride` and padding `k / 2`, torchvision's
/// `conv3x3` / `conv1x1`.
pub(crate) fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    device: &Device,
) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(conv_initializer())
        .init(device)
}

/// torchvision's rule: project the shortcut when the stride is not 1 or the channels change.
fn downsample(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    device: &Device,
) -> Option<Downsample> {
    (stride != 1 || in_channels != out_channels).then(|| {
        (
            conv(in_channels, out_channels, 1, stride, device),
            BatchNormConfig::new(out_channels).init(device),
        )
    })
}

fn shortcut(downsample: &Option<Downsample>, x: Tensor<4>) -> Tensor<4> {
    match downsample {
        Some((conv, bn)) => batch_norm(bn, project(conv, x)),
        None => x,
    }
}

/// The shortcut's `1×1` projection (torchvision's `conv1x1(stride=s)`, no padding).
///
/// A strided `1×1` convolution reads every `s`-th pixel, so taking those pixels first and
/// convolving with stride 1 gives the same values; its backward is then a plain matrix product
/// instead of Burn's generic strided-convolution backward (forward + backward 2.5× faster on
/// flex, 1.3× on tch at ResNet-18's first downsample; see docs/benchmarks.md). Where
/// [`selfsup_kernels`] has a native kernel, whose backward is already a matrix product, the
/// convolution goes there directly.
pub fn project(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [sh, sw] = conv.stride;
    let plain = [sh, sw] == [1, 1] || conv.kernel_size != [1, 1];
    if plain
        || selfsup_kernels::native_conv2d_applies(
            &x.device(),
            &ConvOptions::new(conv.stride, [0, 0], conv.dilation, conv.groups),
        )
    {
        return conv2d_forward(conv, x);
    }
    let [_, _, h, w] = x.dims();
    let x = x.slice([
        Slice::full(),
        Slice::full(),
        Slice::new(0, Some(h as isize), sh as isize),
        Slice::new(0, Some(w as isize), sw as isize),
    ]);
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        ConvOptions::new([1, 1], [0, 0], conv.dilation, conv.groups),
    )
}

/// Configuration of a [`BasicBlock`]: `conv3×3 (stride s) → BN → ReLU → conv3×3 → BN`, plus the
/// shortcut, then ReLU. Output channels = `planes` (expansion 1).
#[derive(Config, Debug)]
pub struct BasicBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels of both convolutions.
    pub planes: usize,
    /// Stride of the first convolution (and of the shortcut projection). Default 1.
    #[config(default = 1)]
    pub stride: usize,
}

/// The two-convolution residual block of ResNet-18/34 (torchvision's `BasicBlock`).
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3×3 convolution, carries the stride.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// Second 3×3 convolution.
    pub conv2: Conv2d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// Shortcut projection, present when the stride is not 1 or the channels change.
    pub downsample: Option<Downsample>,
}

impl BasicBlockConfig {
    /// The channel multiplier of the block's output over `planes`.
    pub const EXPANSION: usize = 1;

    /// Builds the block on `device`.
    ///
    /// # Panics
    ///
    /// If a channel count or the stride is zero.
    pub fn init(&self, device: &Device) -> BasicBlock {
        assert!(
            self.in_channels > 0 && self.planes > 0 && self.stride > 0,
            "BasicBlockConfig: channels and stride must be positive, got {self:?}"
        );
        BasicBlock {
            conv1: conv(self.in_channels, self.planes, 3, self.stride, device),
            bn1: BatchNormConfig::new(self.planes).init(device),
            conv2: conv(self.planes, self.planes, 3, 1, device),
            bn2: BatchNormConfig::new(self.planes).init(device),
            downsample: downsample(self.in_channels, self.planes, self.stride, device),
        }
    }
}

impl BasicBlock {
    /// # Shapes
    /// - `x`: `[B, C_in, H, W]`
    /// - output: `[B, planes, ⌈H/s⌉, ⌈W/s⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = shortcut(&self.downsample, x.clone());
        let out = batch_norm_relu(&self.bn1, conv2d_forward(&self.conv1, x), None);
        batch_norm_relu(&self.bn2, conv2d_forward(&self.conv2, out), Some(identity))
    }
}

/// Configuration of a [`Bottleneck`]: `conv1×1 → BN → ReLU → conv3×3 (stride s) → BN → ReLU →
/// conv1×1 → BN`, plus the shortcut, then ReLU. Output channels = `4 · planes`.
///
/// The stride sits on the 3×3 convolution, as in torchvision ("ResNet v1.5"), not on the first
/// 1×1 convolution as in the original paper.
#[derive(Config, Debug)]
pub struct BottleneckConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Channels of the two inner convolutions; the block outputs `4 · planes`.
    pub planes: usize,
    /// Stride of the 3×3 convolution (and of the shortcut projection). Default 1.
    #[config(default = 1)]
    pub stride: usize,
}

/// The three-convolution residual block of ResNet-50 (torchvision's `Bottleneck`).
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1×1 reduction to `planes` channels.
    pub conv1: Conv2d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3×3 convolution, carries the stride.
    pub conv2: Conv2d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// 1×1 expansion to `4 · planes` channels.
    pub conv3: Conv2d,
    /// Batch norm after `conv3`.
    pub bn3: BatchNorm,
    /// Shortcut projection, present when the stride is not 1 or the channels change.
    pub downsample: Option<Downsample>,
}

impl BottleneckConfig {
    /// The channel multiplier of the block's output over `planes`.
    pub const EXPANSION: usize = 4;

    /// Builds the block on `device`.
    ///
    /// # Panics
    ///
    /// If a channel count or the stride is zero.
    pub fn init(&self, device: &Device) -> Bottleneck {
        assert!(
            self.in_channels > 0 && self.planes > 0 && self.stride > 0,
            "BottleneckConfig: channels and stride must be positive, got {self:?}"
        );
        let out_channels = self.planes * Self::EXPANSION;
        Bottleneck {
            conv1: conv(self.in_channels, self.planes, 1, 1, device),
            bn1: BatchNormConfig::new(self.planes).init(device),
            conv2: conv(self.planes, self.planes, 3, self.stride, device),
            bn2: BatchNormConfig::new(self.planes).init(device),
            conv3: conv(self.planes, out_channels, 1, 1, device),
            bn3: BatchNormConfig::new(out_channels).init(device),
            downsample: downsample(self.in_channels, out_channels, self.stride, device),
        }
    }
}

impl Bottleneck {
    /// # Shapes
    /// - `x`: `[B, C_in, H, W]`
    /// - output: `[B, 4·planes, ⌈H/s⌉, ⌈W/s⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = shortcut(&self.downsample, x.clone());
        let out = batch_norm_relu(&self.bn1, conv2d_forward(&self.conv1, x), None);
        let out = batch_norm_relu(&self.bn2, conv2d_forward(&self.conv2, out), None);
        batch_norm_relu(&self.bn3, conv2d_forward(&self.conv3, out), Some(identity))
    }
}

/// Which residual block a [`ResNet`](super::ResNet) stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// [`BasicBlock`] (expansion 1): ResNet-18 and ResNet-34.
    Basic,
    /// [`Bottleneck`] (expansion 4): ResNet-50 and deeper.
    Bottleneck,
}

impl BlockKind {
    /// Output channels over `planes`: 1 for [`BlockKind::Basic`], 4 for [`BlockKind::Bottleneck`].
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => BasicBlockConfig::EXPANSION,
            BlockKind::Bottleneck => BottleneckConfig::EXPANSION,
        }
    }

    /// Builds one block of this kind on `device`.
    pub fn init(
        self,
        in_channels: usize,
        planes: usize,
        stride: usize,
        device: &Device,
    ) -> ResidualBlock {
        match self {
            BlockKind::Basic => ResidualBlock::Basic(
                BasicBlockConfig::new(in_channels, planes)
                    .with_stride(stride)
                    .init(device),
            ),
            BlockKind::Bottleneck => ResidualBlock::Bottleneck(
                BottleneckConfig::new(in_channels, planes)
                    .with_stride(stride)
                    .init(device),
            ),
        }
    }
}

/// One residual block of either kind. The variant name is a level of the module path
/// (`layer1.0.Basic.conv1.weight`) that Burn's PyTorch store skips by default.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ResidualBlock {
    /// A [`BasicBlock`].
    Basic(BasicBlock),
    /// A [`Bottleneck`].
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    /// # Shapes
    /// - `x`: `[B, C_in, H, W]`
    /// - output: `[B, C_out, ⌈H/s⌉, ⌈W/s⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            ResidualBlock::Basic(block) => block.forward(x),
            ResidualBlock::Bottleneck(block) => block.forward(x),
        }
    }

    /// The channels this block outputs.
    pub fn out_channels(&self) -> usize {
        let bn = match self {
            ResidualBlock::Basic(block) => &block.bn2,
            ResidualBlock::Bottleneck(block) => &block.bn3,
        };
        bn.gamma.lazy_shape().dims::<1>()[0]
    }
}
