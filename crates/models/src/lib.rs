//! # selfsup-models
//!
//! Encoders, heads and the SimCLR / SimSiam networks, as Burn Config/Module/init trios.
//!
//! ## Crate map
//! - [`resnet`]: ResNet-18/34/50 after torchvision, with a [`Stem`] choice (CIFAR 3×3/s1 without
//!   max-pool, or ImageNet 7×7/s2 with max-pool); blocks in [`resnet::block`].
//! - [`small_cnn`]: a four-block CNN encoder (64-128-256-512 channels), for quick CPU
//!   experiments.
//! - [`encoder`]: the [`Encoder`] / [`EncoderConfig`] traits every method network is generic
//!   over: bring your own encoder by implementing them.
//! - [`vit`]: the Vision Transformer ([`Vit`]) in timm's layout: tiny, small and base widths,
//!   any patch size, learnt or sine-cosine position embeddings (interpolated to other image
//!   sizes), register tokens; the last block's attention maps.
//! - [`mae`]: MAE's random patch masking ([`MaskPlan`]), decoder ([`MaeDecoder`]) and pixel
//!   targets ([`patchify`]).
//! - [`backbone`]: [`Backbone`], the built-in encoders (a ResNet, a ViT or the small CNN)
//!   behind one `forward_features`, the default [`Encoder`].
//! - [`mlp`]: the generic [`Mlp`] built from [`MlpBlockConfig`]s (`Linear → norm? → ReLU?`).
//!   A block may end in GELU instead of ReLU (DINO's head).
//! - [`norm`]: [`NonAffineBatchNorm`], batch norm without scale and shift.
//! - [`heads`]: SimCLR's and SimSiam's projection / prediction heads with paper defaults.
//!   BYOL's, MoCo's, Barlow Twins', VICReg's and SwAV's heads too, each with solo-learn's CIFAR-10
//!   widths (`cifar10`), and NNCLR's (whose paper widths are solo-learn's).
//! - [`dino_head`]: [`DinoHead`], DINO's MLP (GELU) + L2 norm + weight-normalised last layer.
//! - [`swav_prototypes`]: [`SwavPrototypes`], SwAV's unit-norm prototypes.
//! - [`weight_norm`]: [`WeightNormLinear`], a weight-normalised linear layer (norm fixed or
//!   learnable).
//! - [`momentum`]: momentum (EMA) copies of a network ([`momentum_copy`], [`update_momentum`],
//!   [`cosine_momentum`]) for BYOL's and MoCo's targets and DINO's teacher.
//! - [`projection_net`]: [`ProjectionNet`] = encoder + projection head, the network of SimCLR,
//!   Barlow Twins and VICReg.
//! - [`simclr`]: [`SimClr`] = backbone + projection head.
//! - [`simsiam`]: [`SimSiam`] = backbone + projection MLP + prediction MLP.
//! - [`pretrained`]: [`ResNet::load_safetensors`], a torchvision-layout state dict saved by
//!   PyTorch into a [`ResNet`], through Burn's store; typed [`LoadError`]s.
//! - [`export`]: [`ResNet::save_torchvision_safetensors`], the reverse: a [`ResNet`] as a
//!   torchvision state dict (safetensors) that PyTorch loads with `strict=True`;
//!   [`Vit::save_timm_safetensors`] and [`Vit::load_timm_safetensors`] do the same for a ViT in
//!   timm's layout.
//! - [`ops`]: the native convolution and batch-norm kernels every model's `forward` goes
//!   through, the `selfsup-kernels` crate re-exported.
//!
//! ## Feature flags
//! `flex` and `tch` turn on `selfsup-kernels`' native kernels for those backends.
//!
//! This crate enables no Burn backend: every constructor takes the `&Device` to build on.
//!
//! ## PyTorch names
//! ResNet parameters are named as in a torchvision state dict (`conv1.weight`,
//! `layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`, `fc.bias`, …) once enum variant
//! levels (`layer1.0.Basic.conv1`) are skipped and batch-norm `gamma`/`beta` are read as
//! `weight`/`bias`; [`pretrained`] loads such a state dict (safetensors) through Burn's store.
//!
//! ## Parameter counts
//! Burn's `Module::num_params` counts batch-norm running statistics too (they are visited as
//! float tensors), so it exceeds PyTorch's `sum(p.numel() for p in model.parameters())` by two
//! numbers per batch-norm feature: ResNet-18 with the CIFAR stem and no classifier has
//! 11 168 832 parameters and 9 600 running statistics, `num_params` = 11 178 432.
//!
//! ## Example
//! ```
//! use burn::prelude::*;
//! use selfsup_models::{BackboneConfig, SimSiamConfig, SmallCnnConfig};
//!
//! let device = Device::flex();
//! let backbone = BackboneConfig::from(SmallCnnConfig::new().with_channels(vec![8, 16]));
//! let model = SimSiamConfig::paper(backbone).init(&device);
//! let x = Tensor::<4>::zeros([2, 3, 8, 8], &device);
//! let out = model.forward(x.clone(), x);
//! assert_eq!(out.p1.dims(), [2, 2048]);
//! assert_eq!(model.backbone.feature_dim(), 16);
//! ```
#![warn(missing_docs)]

pub mod backbone;
pub mod dino_head;
pub mod encoder;
pub mod export;
pub mod heads;
pub mod mae;
pub mod mlp;
pub mod momentum;
pub mod norm;
pub mod pretrained;
pub mod projection_net;
pub mod resnet;
pub mod simclr;
pub mod simsiam;
pub mod small_cnn;
pub mod swav_prototypes;
pub mod vit;
pub mod weight_norm;

/// The native convolution and batch-norm kernels the models call, under their former path:
/// the `selfsup-kernels` crate.
pub use selfsup_kernels as ops;

pub use backbone::{Backbone, BackboneConfig};
pub use dino_head::{DinoHead, DinoHeadConfig};
pub use encoder::{Encoder, EncoderConfig, EncoderOf};
pub use export::{ExportError, ExportErrorKind};
pub use heads::{
    BarlowTwinsProjectionHead, BarlowTwinsProjectionHeadConfig, ByolPredictionHead,
    ByolPredictionHeadConfig, ByolProjectionHead, ByolProjectionHeadConfig, MocoPredictionHead,
    MocoPredictionHeadConfig, MocoProjectionHead, MocoProjectionHeadConfig, NnclrPredictionHead,
    NnclrPredictionHeadConfig, NnclrProjectionHead, NnclrProjectionHeadConfig, SwavProjectionHead,
    SwavProjectionHeadConfig, VicRegProjectionHead, VicRegProjectionHeadConfig,
};
pub use heads::{
    SimClrProjectionHead, SimClrProjectionHeadConfig, SimSiamPredictionHead,
    SimSiamPredictionHeadConfig, SimSiamProjectionHead, SimSiamProjectionHeadConfig,
};
pub use mae::{MaeDecoder, MaeDecoderConfig, MaskPlan, patchify, unpatchify};
pub use mlp::{Mlp, MlpBlock, MlpBlockConfig, MlpConfig, MlpNorm};
pub use momentum::{MomentumSchedule, cosine_momentum, momentum_copy, update_momentum};
pub use norm::{NonAffineBatchNorm, NonAffineBatchNormConfig};
pub use pretrained::{LoadError, LoadErrorKind, LoadOptions};
pub use projection_net::ProjectionNet;
pub use resnet::{BlockKind, ResNet, ResNetConfig, Stem};
pub use simclr::{SimClr, SimClrConfig};
pub use simsiam::{SimSiam, SimSiamConfig, SimSiamOutput};
pub use small_cnn::{ConvBlock, SmallCnn, SmallCnnConfig};
pub use swav_prototypes::{SwavPrototypes, SwavPrototypesConfig};
pub use vit::{DropPath, PositionEmbedding, Vit, VitConfig};
pub use weight_norm::{WeightNormLinear, WeightNormLinearConfig};
