//! Flags shared by several commands: the backend, the encoder, the recipe, a run to read.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use selfsup::burn::tensor::Device;
use selfsup::device::{DeviceSpec, default_device_spec, parse_device};
use selfsup::models::{Backbone, BackboneConfig, ResNetConfig, SmallCnnConfig, Stem, VitConfig};
use selfsup::train::{TrainingConfig, files, load_backbone};

use crate::Result;

/// `--device`.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Backend: flex, tch, tch-cuda:N, wgpu or cuda:N (among those compiled in).
    #[arg(long, value_parser = parse_device, default_value_t = default_device_spec())]
    pub device: DeviceSpec,
}

impl DeviceArgs {
    /// The device.
    pub fn device(&self) -> Result<Device> {
        Ok(self.device.device()?)
    }
}

/// The encoder to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackboneKind {
    /// ResNet-18 (He et al. 2016): 512-d features.
    Resnet18,
    /// ResNet-34: 512-d features.
    Resnet34,
    /// ResNet-50: 2048-d features.
    Resnet50,
    /// A 4-block CNN (64-128-256-512 channels): about 9× faster than ResNet-18.
    SmallCnn,
    /// ViT-Tiny (DeiT-Ti, timm's vit_tiny): 192-d features, 12 blocks of 3 heads.
    VitTiny,
    /// ViT-Small (DeiT-S, timm's vit_small): 384-d features, 12 blocks of 6 heads.
    VitSmall,
    /// ViT-Base (ViT-B, timm's vit_base): 768-d features, 12 blocks of 12 heads.
    VitBase,
}

/// The ResNet stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StemKind {
    /// 3×3 convolution, no max-pool: for 32×32 images (solo-learn's and lightly's CIFAR ResNets).
    Cifar,
    /// torchvision's 7×7 stride-2 convolution and max-pool.
    Imagenet,
}

/// `--backbone` and `--stem`.
#[derive(Args, Debug, Clone)]
pub struct BackboneArgs {
    /// Encoder.
    #[arg(long, value_enum, default_value_t = BackboneKind::Resnet18)]
    pub backbone: BackboneKind,
    /// ResNet stem (default: cifar for images of 64 pixels or fewer, imagenet above).
    #[arg(long, value_enum)]
    pub stem: Option<StemKind>,
    /// ViT patch side (default: 4 for images of 64 pixels or fewer, as for CIFAR's 32; 16
    /// above, as for ImageNet's 224). The image size must be a multiple of it.
    #[arg(long)]
    pub patch_size: Option<usize>,
    /// ViT blocks (default: the size's 12), for a shallower ViT.
    #[arg(long)]
    pub vit_depth: Option<usize>,
    /// ViT token features (default: the size's), a multiple of 64: heads of 64 features, as in
    /// ViT-Tiny, -Small and -Base.
    #[arg(long)]
    pub vit_width: Option<usize>,
    /// ViT register tokens (Darcet et al. 2024, "Vision Transformers Need Registers"; timm's
    /// `reg_tokens`), e.g. 4; with registers the position embedding covers the patches only,
    /// as in timm's `*_reg4` models (`no_embed_class=True`). Default 0.
    #[arg(long)]
    pub vit_registers: Option<usize>,
}

impl BackboneArgs {
    /// `--backbone` alone, the other flags at their defaults.
    pub fn of(backbone: BackboneKind) -> Self {
        Self {
            backbone,
            stem: None,
            patch_size: None,
            vit_depth: None,
            vit_width: None,
            vit_registers: None,
        }
    }

    /// The encoder's config for images of side `image_size`.
    ///
    /// # Errors
    /// When `--stem` or `--patch-size` is given for an encoder that has none, or a ViT's patch
    /// size does not divide the image size.
    pub fn config(&self, image_size: usize) -> Result<BackboneConfig> {
        let vit = matches!(
            self.backbone,
            BackboneKind::VitTiny | BackboneKind::VitSmall | BackboneKind::VitBase
        );
        if self.stem.is_some()
            && !matches!(
                self.backbone,
                BackboneKind::Resnet18 | BackboneKind::Resnet34 | BackboneKind::Resnet50
            )
        {
            return Err(format!(
                "--stem is a ResNet's; the {:?} encoder has none",
                self.backbone
            )
            .into());
        }
        for (flag, given) in [
            ("--patch-size", self.patch_size.is_some()),
            ("--vit-depth", self.vit_depth.is_some()),
            ("--vit-width", self.vit_width.is_some()),
            ("--vit-registers", self.vit_registers.is_some()),
        ] {
            if given && !vit {
                return Err(format!(
                    "{flag} is a ViT's; the {:?} encoder has none",
                    self.backbone
                )
                .into());
            }
        }
        let stem = match self.stem {
            Some(StemKind::Cifar) => Stem::Cifar,
            Some(StemKind::Imagenet) => Stem::ImageNet,
            None if image_size <= 64 => Stem::Cifar,
            None => Stem::ImageNet,
        };
        let patch = self
            .patch_size
            .unwrap_or(if image_size <= 64 { 4 } else { 16 });
        let mut config = match self.backbone {
            BackboneKind::Resnet18 => BackboneConfig::ResNet(ResNetConfig::resnet18(stem)),
            BackboneKind::Resnet34 => BackboneConfig::ResNet(ResNetConfig::resnet34(stem)),
            BackboneKind::Resnet50 => BackboneConfig::ResNet(ResNetConfig::resnet50(stem)),
            BackboneKind::SmallCnn => BackboneConfig::SmallCnn(SmallCnnConfig::new()),
            BackboneKind::VitTiny => BackboneConfig::Vit(VitConfig::tiny(image_size, patch)),
            BackboneKind::VitSmall => BackboneConfig::Vit(VitConfig::small(image_size, patch)),
            BackboneKind::VitBase => BackboneConfig::Vit(VitConfig::base(image_size, patch)),
        };
        if let BackboneConfig::Vit(vit) = &mut config {
            if let Some(depth) = self.vit_depth {
                if depth == 0 {
                    return Err("--vit-depth: at least one block".into());
                }
                vit.depth = depth;
            }
            if let Some(width) = self.vit_width {
                if width == 0 || !width.is_multiple_of(64) {
                    return Err(format!(
                        "--vit-width {width}: a positive multiple of 64 (heads of 64 features)"
                    )
                    .into());
                }
                vit.dim = width;
                vit.heads = width / 64;
            }
            if let Some(registers) = self.vit_registers.filter(|&r| r > 0) {
                vit.registers = registers;
                vit.class_position = false;
            }
            vit.check()
                .map_err(|e| format!("--patch-size {patch}: {e}"))?;
        }
        Ok(config)
    }
}

/// Optimizer, LR and schedule presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Recipe {
    /// The method's published recipe for the dataset's scale (solo-learn's configuration:
    /// optimizer, LR × batch / 256, weight decay, warm-up then cosine, batch, epochs); for
    /// `finetune` and `baseline` of a ViT, MAE's fine-tuning recipe (solo-learn's
    /// `finetune/imagenet-100/mae.yaml`: AdamW, layer-wise LR decay 0.75, Mixup, CutMix, label
    /// smoothing).
    Published,
    /// The SimSiam paper's CIFAR-10 recipe (Chen & He 2021, appendix D): SGD, LR 0.03 × batch /
    /// 256, momentum 0.9, weight decay 5·10⁻⁴, cosine decay.
    #[value(alias = "paper")]
    SimsiamCifar,
    /// Adam at 10⁻³, constant LR: a quick setting for short CPU runs, which moves faster than
    /// the published recipes in a few hundred steps.
    AdamConstant,
}

impl Recipe {
    /// Its training config (not for [`Published`](Self::Published), which the method builds).
    pub fn config(self) -> TrainingConfig {
        match self {
            Self::Published | Self::SimsiamCifar => TrainingConfig::simsiam_cifar10(),
            Self::AdamConstant => TrainingConfig {
                source: Some("Adam 10⁻³, constant (--recipe adam-constant)".into()),
                ..TrainingConfig::adam_constant()
            },
        }
    }
}

/// A checkpoint file, or a run directory holding one.
pub fn checkpoint_path(run: &Path) -> Result<PathBuf> {
    let path = if run.is_dir() {
        run.join(files::CHECKPOINT)
    } else {
        run.to_path_buf()
    };
    if !path.is_file() {
        return Err(if run.is_dir() {
            format!(
                "{} holds no {} (is it a run directory?)",
                run.display(),
                files::CHECKPOINT
            )
        } else {
            format!("{}: no such checkpoint or run directory", run.display())
        }
        .into());
    }
    Ok(path)
}

/// The encoder of a run (or checkpoint), with a description for the report.
pub fn load_run_backbone(
    run: &Path,
    device: &Device,
) -> Result<(Backbone, BackboneConfig, String)> {
    let path = checkpoint_path(run)?;
    let loaded = load_backbone(&path, device)?;
    let what = format!("the {} encoder of {}", loaded.method, path.display());
    Ok((loaded.backbone, loaded.config, what))
}

/// `RUN` or `--random-init`: what an evaluation command evaluates.
#[derive(Args, Debug, Clone)]
pub struct EncoderSource {
    /// A run directory (or its checkpoint file) written by `selfsup pretrain`.
    #[arg(
        required_unless_present = "random_init",
        conflicts_with = "random_init"
    )]
    pub run: Option<PathBuf>,
    /// Evaluate an untrained encoder instead: the baseline of the same protocol.
    #[arg(long)]
    pub random_init: bool,
    /// Encoder of `--random-init`.
    #[command(flatten)]
    pub backbone: BackboneArgs,
}

impl EncoderSource {
    /// The encoder, its config and a description of it.
    pub fn load(
        &self,
        device: &Device,
        image_size: usize,
        seed: u64,
    ) -> Result<(Backbone, BackboneConfig, String)> {
        match &self.run {
            Some(run) => load_run_backbone(run, device),
            None => {
                device.seed(seed);
                let config = self.backbone.config(image_size)?;
                let what = format!("a random-init {:?} (seed {seed})", self.backbone.backbone);
                Ok((config.init(device), config, what))
            }
        }
    }
}
