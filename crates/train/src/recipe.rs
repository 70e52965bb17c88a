//! Each method's published recipe: the network, loss parameters, views, optimizer and schedule
//! its reference configuration trains with, per dataset scale.
//!
//! A method's file holds everything that makes it that method; its `published` constructor
//! (e.g. [`ByolMethod::published`](crate::ByolMethod::published)) takes a [`Setup`] (the
//! encoder, the [`Scale`] of the data, its image size and statistics) and returns a
//! [`Published`]: the method, its [`TrainingConfig`] and its views, every value cited to the
//! configuration it comes from. The command line lists each method once and calls that
//! constructor; `crates/train/tests/recipes.rs` checks every published recipe, value by value,
//! against solo-learn's configuration files (transcribed by `tools/solo_learn_recipes.py`).
//!
//! The reference is solo-learn (da Costa et al., JMLR 2022), whose results tables (ResNet-18 on
//! CIFAR-10/100 and ImageNet-100, online and offline linear accuracy) are the ones users compare
//! against: `scripts/pretrain/cifar/<method>.yaml`, `scripts/pretrain/imagenet-100/<method>.yaml`
//! and, where it has one, `scripts/pretrain/imagenet/<method>.yaml`. What solo-learn fills in
//! for keys a file leaves out is part of the recipe (`solo/args/pretrain.py`,
//! `solo/methods/base.py`): 10 warm-up epochs from 3·10⁻⁵, then cosine to 0, per step; the LR
//! scaled by the total batch / 256 (`batch_size` per device × devices); SGD and LARS momentum
//! 0.9.

use std::sync::Arc;

use selfsup_data::transforms::{BlurConfig, Normalize, TwoViewConfig};
use selfsup_data::{ByolTransform, MultiCropTransform, MultiViewTransform};
use selfsup_models::BackboneConfig;
use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::error::Result;
use crate::optim::OptimizerConfig;
use crate::schedule::LrScaling;

/// The scale of a dataset, which picks the recipe a method trains it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// CIFAR-sized images (32 pixels; up to 64): solo-learn's `scripts/pretrain/cifar/`.
    Cifar,
    /// STL-10 and ImageNet-100-sized data (96 to 224 pixels, about 100 000 images):
    /// solo-learn's `scripts/pretrain/imagenet-100/`.
    ImageNet100,
    /// ImageNet (1.28 M images at 224): solo-learn's `scripts/pretrain/imagenet/` where it has a
    /// configuration of the method (BYOL, Barlow Twins, MoCo v2+), else its ImageNet-100 one.
    ImageNet,
}

impl Scale {
    /// solo-learn's folder of configurations for this scale.
    pub fn solo_learn_folder(self) -> &'static str {
        match self {
            Self::Cifar => "cifar",
            Self::ImageNet100 => "imagenet-100",
            Self::ImageNet => "imagenet",
        }
    }
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cifar => "CIFAR",
            Self::ImageNet100 => "ImageNet-100",
            Self::ImageNet => "ImageNet",
        })
    }
}

/// What a method's published preset is built for: the encoder, the data's scale, size and
/// statistics, and the command line's multi-crop and freezing overrides.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The encoder.
    pub backbone: BackboneConfig,
    /// The data's scale (which configuration file).
    pub scale: Scale,
    /// The side of the (global) views.
    pub image_size: usize,
    /// The data's per-channel statistics.
    pub normalize: Normalize,
    /// Local crops per image for multi-crop methods (DINO, SwAV); `None`: the configuration's
    /// (0 in solo-learn's, which train on the two global views).
    pub local_views: Option<usize>,
    /// Side of the local crops; `None`: 16 for 32-pixel images, else 96/224 of the image size.
    pub local_size: Option<usize>,
    /// Epochs in which DINO's last layer and SwAV's prototypes get no update; `None`: the
    /// configuration's.
    pub freeze_epochs: Option<usize>,
    /// DINO's per-parameter gradient clipping norm; `None`: the configuration's (none in
    /// solo-learn's).
    pub clip_grad: Option<f64>,
    /// MAE's decoder width (heads of 32 features); `None`: the configuration's 512.
    pub decoder_width: Option<usize>,
    /// MAE's decoder blocks; `None`: the configuration's 8.
    pub decoder_depth: Option<usize>,
}

impl Setup {
    /// A setup for `backbone` at `scale`, `image_size` and `normalize`, no overrides.
    pub fn new(
        backbone: BackboneConfig,
        scale: Scale,
        image_size: usize,
        normalize: Normalize,
    ) -> Self {
        Self {
            backbone,
            scale,
            image_size,
            normalize,
            local_views: None,
            local_size: None,
            freeze_epochs: None,
            clip_grad: None,
            decoder_width: None,
            decoder_depth: None,
        }
    }

    /// The preset's view at the data's image size and statistics. Above 32 pixels a view
    /// without blur gets SimCLR's ImageNet blur (kernel 10 % of the side, σ ∈ [0.1, 2],
    /// p = 0.5).
    pub fn adapt(&self, config: TwoViewConfig) -> TwoViewConfig {
        let blur = match (&config.blur, self.image_size > 32) {
            (None, true) => Some(BlurConfig {
                kernel_size: (self.image_size / 10) | 1,
                sigma: (0.1, 2.0),
                p: 0.5,
            }),
            (blur, _) => blur.clone(),
        };
        self.at_size(config).with_blur(blur)
    }

    /// An ImageNet preset's view at the data's size and statistics, otherwise unchanged.
    pub fn at_size(&self, config: TwoViewConfig) -> TwoViewConfig {
        config
            .with_input_size(self.image_size)
            .with_normalize(Some((
                self.normalize.mean().to_vec(),
                self.normalize.std().to_vec(),
            )))
    }

    /// Whether the views are ImageNet-sized (above 96 pixels), where the methods' ImageNet
    /// augmentations apply.
    pub fn imagenet_sized(&self) -> bool {
        self.image_size > 96
    }

    /// The asymmetric pair of BYOL, MoCo v3 and Barlow Twins: solo-learn's CIFAR
    /// `augmentations/asymmetric.yaml` adapted to the size, or, for ImageNet-sized views, BYOL's
    /// ImageNet augmentation (lightly's `BYOLTransform`: blur 1.0 / 0.1, solarization 0 / 0.2).
    ///
    /// # Errors
    /// When the adapted views are invalid (a size too small for the crop).
    pub fn asymmetric_views(&self) -> Result<Arc<dyn MultiViewTransform>> {
        let (preset, adapt): (_, fn(&Self, TwoViewConfig) -> TwoViewConfig) =
            if self.imagenet_sized() {
                (ByolTransform::imagenet(), Self::at_size)
            } else {
                (ByolTransform::cifar10(), Self::adapt)
            };
        Ok(Arc::new(ByolTransform::new(
            adapt(self, preset.view1_config().clone()),
            adapt(self, preset.view2_config().clone()),
        )?))
    }

    /// Multi-crop views (DINO, SwAV) with [`local_views`](Self::local_views) local crops: the
    /// CIFAR preset adapted to the size, or, for ImageNet-sized views, the method's ImageNet
    /// multi-crop (with its local crops' scale) at the size.
    ///
    /// # Errors
    /// When the views are invalid.
    pub fn multi_crop_views(
        &self,
        cifar: MultiCropTransform,
        imagenet: MultiCropTransform,
    ) -> Result<Arc<dyn MultiViewTransform>> {
        let local_size = self.local_size.unwrap_or(if self.image_size <= 32 {
            16
        } else {
            self.image_size * 96 / 224
        });
        let (global, local, local_scale) = if self.imagenet_sized() {
            (
                imagenet
                    .global_configs()
                    .iter()
                    .map(|c| self.at_size(c.clone()))
                    .collect(),
                self.at_size(imagenet.local_config().clone()),
                imagenet.local_config().crop_scale,
            )
        } else {
            (
                cifar
                    .global_configs()
                    .iter()
                    .map(|c| self.adapt(c.clone()))
                    .collect(),
                self.adapt(cifar.local_config().clone()),
                (0.05, 0.4),
            )
        };
        let transform = MultiCropTransform::new(global, local, 0)?.with_local_views(
            self.local_views.unwrap_or(0),
            local_size,
            local_scale,
        )?;
        Ok(Arc::new(transform))
    }
}

/// A method with its published recipe for a [`Setup`].
#[derive(Debug, Clone)]
pub struct Published<M> {
    /// The method: network, loss parameters, momentum schedule.
    pub method: M,
    /// The optimizer, LR, schedule, batch and epochs.
    pub training: TrainingConfig,
    /// The base LR of the online linear classifier (solo-learn's `classifier_lr`, scaled by the
    /// batch like the LR).
    pub classifier_lr: f64,
    /// The views it trains on.
    pub views: Arc<dyn MultiViewTransform>,
}

/// The optimizer section of a solo-learn configuration file, and its defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SoloLearn {
    /// The file under `scripts/pretrain/`, e.g. `"cifar/byol.yaml"`.
    pub file: &'static str,
    /// The total batch: `optimizer.batch_size` × devices.
    pub batch_size: usize,
    /// `optimizer.lr`, before scaling by the batch.
    pub lr: f64,
    /// `optimizer.classifier_lr`.
    pub classifier_lr: f64,
    /// `optimizer.name`, `weight_decay` and `kwargs`.
    pub optimizer: OptimizerConfig,
    /// `max_epochs`.
    pub epochs: usize,
}

impl SoloLearn {
    /// The training config: the file's optimizer, batch and epochs, with solo-learn's defaults
    /// (`warmup_cosine`: 10 warm-up epochs from 3·10⁻⁵, cosine to 0, per step; linear LR
    /// scaling by the batch).
    pub fn training(&self) -> TrainingConfig {
        TrainingConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            lr_scaling: LrScaling::Linear,
            cosine: true,
            warmup_epochs: 10,
            warmup_start_lr: 3e-5,
            optimizer: self.optimizer.clone(),
            source: Some(format!(
                "solo-learn's scripts/pretrain/{} (LR × batch / 256, 10 warm-up epochs, cosine)",
                self.file
            )),
            ..TrainingConfig::adam_constant()
        }
    }

    /// The method, this recipe and the views, as a [`Published`].
    pub fn publish<M>(&self, method: M, views: Arc<dyn MultiViewTransform>) -> Published<M> {
        Published {
            method,
            training: self.training(),
            classifier_lr: self.classifier_lr,
            views,
        }
    }
}

/// solo-learn's LARS: momentum 0.9, biases and norms excluded, with the file's weight decay, η
/// and `clip_lr`.
pub(crate) fn lars(weight_decay: f64, eta: f64, clip_lr: bool) -> OptimizerConfig {
    OptimizerConfig::lars_solo_learn(weight_decay, eta, clip_lr)
}

/// solo-learn's AdamW: β = (0.9, 0.999) and ε = 10⁻⁸ (torch's defaults, which solo-learn
/// keeps unless the file gives `betas`), the file's weight decay.
pub(crate) fn adamw(weight_decay: f64) -> OptimizerConfig {
    OptimizerConfig::AdamW {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-8,
        weight_decay,
    }
}

/// solo-learn's SGD: momentum 0.9 (its default), the file's weight decay.
pub(crate) fn sgd(weight_decay: f64) -> OptimizerConfig {
    OptimizerConfig::sgd(0.9, weight_decay)
}
