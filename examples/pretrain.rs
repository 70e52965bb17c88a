//! Self-supervised pre-training on CIFAR-10 with any of selfsup's methods, each with its
//! CIFAR-10 preset (heads, loss parameters, momentum schedule, augmentations) from lightly's or
//! solo-learn's CIFAR-10 configuration (`scripts/pretrain/cifar/<method>.yaml`): BYOL, Barlow
//! Twins and MoCo v3 on solo-learn's asymmetric pair, MoCo v2+ on its weak symmetric one, VICReg
//! on its own, DINO and SwAV on two global crops (plus `--local-views` 16×16 local crops).
//!
//! ```text
//! cargo run --release --example pretrain -- --method byol \
//!     --data-dir ../shared/data/cifar-10-batches-bin --out-dir runs/byol --epochs 100
//! cargo run --release --example pretrain -- --method dino --local-views 4 ...
//! ```
//!
//! Takes the flags of the `simsiam` example; evaluate the result with `linear_probe` and `knn`.

mod common;

use std::sync::Arc;

use clap::{Parser, ValueEnum};
use common::{Result, TrainArgs, main_with};
use selfsup::data::{
    ByolTransform, MocoV2Transform, MultiCropTransform, MultiViewTransform, SimClrTransform,
    SimSiamTransform, VicRegTransform,
};
use selfsup::models::{SimClrConfig, SimClrProjectionHeadConfig, SimSiamConfig};
use selfsup::train::{
    BarlowTwinsMethod, ByolConfig, ByolMethod, DinoMethod, MocoMethod, SimClrMethod, SimSiamMethod,
    SwavMethod, VicRegMethod,
};

/// The method to pre-train with.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum MethodKind {
    /// SimCLR (Chen et al. 2020).
    Simclr,
    /// SimSiam (Chen & He 2021).
    Simsiam,
    /// BYOL (Grill et al. 2020).
    Byol,
    /// MoCo v2 with a queue of 4096 keys, symmetric (solo-learn's MoCo v2+).
    Moco,
    /// MoCo v3 (Chen, Xie & He 2021): predictor, no queue.
    MocoV3,
    /// Barlow Twins (Zbontar et al. 2021).
    BarlowTwins,
    /// VICReg (Bardes et al. 2022).
    Vicreg,
    /// DINO (Caron et al. 2021).
    Dino,
    /// SwAV (Caron et al. 2020).
    Swav,
}

/// Pre-train an encoder on CIFAR-10 with one of selfsup's methods.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The method.
    #[arg(long, value_enum)]
    method: MethodKind,
    #[command(flatten)]
    train: TrainArgs,
    /// Local 16×16 crops per image for DINO and SwAV (multi-crop); 0: the two global views only,
    /// as solo-learn's CIFAR-10 configurations.
    #[arg(long, default_value_t = 0)]
    local_views: usize,
    /// Epochs in which DINO's last layer and SwAV's prototypes get no update (their papers: 1).
    #[arg(long, default_value_t = 1)]
    freeze_epochs: usize,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn multi_crop(base: MultiCropTransform, local_views: usize) -> Result<Arc<dyn MultiViewTransform>> {
    Ok(Arc::new(base.with_local_views(
        local_views,
        16,
        (0.05, 0.4),
    )?))
}

fn run(args: Args) -> Result<()> {
    let backbone = args.train.backbone.config();
    let features = backbone.feature_dim();
    let asymmetric = || -> Arc<dyn MultiViewTransform> { Arc::new(ByolTransform::cifar10()) };
    match args.method {
        MethodKind::Simclr => {
            let model = SimClrConfig::new(backbone)
                .with_projector(SimClrProjectionHeadConfig::new().with_input_dim(features));
            args.train.run(
                SimClrMethod::new(model),
                Arc::new(SimClrTransform::cifar10()),
            )?;
        }
        MethodKind::Simsiam => {
            let method = SimSiamMethod::new(SimSiamConfig::paper(backbone));
            args.train
                .run(method, Arc::new(SimSiamTransform::cifar10()))?;
        }
        MethodKind::Byol => {
            let method = ByolMethod::new(ByolConfig::paper(backbone));
            args.train.run(method, asymmetric())?;
        }
        MethodKind::Moco => {
            args.train.run(
                MocoMethod::v2_cifar10(backbone),
                Arc::new(MocoV2Transform::cifar10()),
            )?;
        }
        MethodKind::MocoV3 => {
            args.train
                .run(MocoMethod::v3_cifar10(backbone), asymmetric())?;
        }
        MethodKind::BarlowTwins => {
            args.train
                .run(BarlowTwinsMethod::cifar10(backbone), asymmetric())?;
        }
        MethodKind::Vicreg => {
            args.train.run(
                VicRegMethod::cifar10(backbone),
                Arc::new(VicRegTransform::cifar10()),
            )?;
        }
        MethodKind::Dino => {
            let transform = multi_crop(MultiCropTransform::dino_cifar10(), args.local_views)?;
            let mut method = DinoMethod::cifar10(backbone);
            method.freeze_last_layer_epochs = args.freeze_epochs;
            args.train.run(method, transform)?;
        }
        MethodKind::Swav => {
            let transform = multi_crop(MultiCropTransform::swav_cifar10(), args.local_views)?;
            let mut method = SwavMethod::cifar10(backbone);
            method.freeze_prototypes_epochs = args.freeze_epochs;
            args.train.run(method, transform)?;
        }
    }
    Ok(())
}
