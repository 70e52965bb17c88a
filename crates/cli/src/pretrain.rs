//! `selfsup pretrain <method>`: every method of the library with its CIFAR-10 preset (heads,
//! loss parameters, momentum schedule, augmentations from solo-learn's / lightly's CIFAR-10
//! configurations), adapted to the dataset's image size and statistics.

use std::sync::Arc;

use clap::{Args, ValueEnum};
use selfsup::data::transforms::{BlurConfig, TwoViewConfig};
use selfsup::data::{
    ByolTransform, MocoV2Transform, MultiCropTransform, MultiViewTransform, PretextViews,
    SimClrTransform, SimSiamTransform, VicRegTransform,
};
use selfsup::models::{SimClrConfig, SimClrProjectionHeadConfig, SimSiamConfig};
use selfsup::train::{
    BarlowTwinsMethod, ByolConfig, ByolMethod, DinoMethod, Method, MocoMethod, PretextMethod,
    PretextModelConfig, SimClrMethod, SimSiamMethod, SwavMethod, VicRegMethod,
};

use crate::Result;
use crate::data::{DataArgs, Part};
use crate::train::TrainArgs;

/// A self-supervised method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodKind {
    /// SimCLR (Chen et al. 2020): NT-Xent over two views.
    Simclr,
    /// SimSiam (Chen & He 2021): a predictor and a stop-gradient.
    Simsiam,
    /// BYOL (Grill et al. 2020): an EMA target network.
    Byol,
    /// MoCo v2 with a queue of 4096 keys, symmetric (solo-learn's MoCo v2+).
    Moco,
    /// MoCo v3 (Chen, Xie & He 2021): predictor, no queue.
    MocoV3,
    /// Barlow Twins (Zbontar et al. 2021): cross-correlation towards the identity.
    BarlowTwins,
    /// VICReg (Bardes et al. 2022): variance, invariance, covariance.
    Vicreg,
    /// DINO (Caron et al. 2021): self-distillation with a centred, sharpened teacher.
    Dino,
    /// SwAV (Caron et al. 2020): swapped prototype assignments (Sinkhorn-Knopp).
    Swav,
    /// Rotation, shear and colour prediction (Gidaris et al. 2018 style multi-task pretext).
    Pretext,
}

/// `selfsup pretrain`.
#[derive(Args, Debug)]
pub struct PretrainArgs {
    /// The method.
    #[arg(value_enum)]
    pub method: MethodKind,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Local crops per image for DINO and SwAV (multi-crop); 0: the two global views only, as
    /// solo-learn's CIFAR-10 configurations.
    #[arg(long, default_value_t = 0)]
    pub local_views: usize,
    /// Side of the local crops (default: 16 for 32-pixel images, else 96/224 of the image size).
    #[arg(long)]
    pub local_size: Option<usize>,
    /// Epochs in which DINO's last layer and SwAV's prototypes get no update (their papers: 1).
    #[arg(long, default_value_t = 1)]
    pub freeze_epochs: usize,
}

/// Runs `selfsup pretrain`.
pub fn run(args: PretrainArgs) -> Result<()> {
    let data = &args.train.data;
    let backbone = args.train.backbone.config(data.image_size());
    let features = backbone.feature_dim();
    let transform = transform_for(args.method, data, args.local_views, args.local_size)?;
    let name = args.method.to_possible_value().expect("not skipped");
    let name = name.get_name();
    match args.method {
        MethodKind::Simclr => {
            let model = SimClrConfig::new(backbone)
                .with_projector(SimClrProjectionHeadConfig::new().with_input_dim(features));
            train(&args, name, SimClrMethod::new(model), transform)
        }
        MethodKind::Simsiam => {
            let method = SimSiamMethod::new(SimSiamConfig::paper(backbone));
            train(&args, name, method, transform)
        }
        MethodKind::Byol => train(
            &args,
            name,
            ByolMethod::new(ByolConfig::paper(backbone)),
            transform,
        ),
        MethodKind::Moco => train(&args, name, MocoMethod::v2_cifar10(backbone), transform),
        MethodKind::MocoV3 => train(&args, name, MocoMethod::v3_cifar10(backbone), transform),
        MethodKind::BarlowTwins => {
            train(&args, name, BarlowTwinsMethod::cifar10(backbone), transform)
        }
        MethodKind::Vicreg => train(&args, name, VicRegMethod::cifar10(backbone), transform),
        MethodKind::Dino => {
            let mut method = DinoMethod::cifar10(backbone);
            method.freeze_last_layer_epochs = args.freeze_epochs;
            train(&args, name, method, transform)
        }
        MethodKind::Swav => {
            let mut method = SwavMethod::cifar10(backbone);
            method.freeze_prototypes_epochs = args.freeze_epochs;
            train(&args, name, method, transform)
        }
        MethodKind::Pretext => {
            let method = PretextMethod::new(PretextModelConfig::new(backbone));
            train(&args, name, method, transform)
        }
    }
}

/// The views `method` trains on: its CIFAR-10 preset at the dataset's size and statistics, with
/// `local_views` local crops of side `local_size` for DINO and SwAV.
pub fn transform_for(
    method: MethodKind,
    data: &DataArgs,
    local_views: usize,
    local_size: Option<usize>,
) -> Result<Arc<dyn MultiViewTransform>> {
    let views = Views {
        data,
        size: data.image_size(),
    };
    Ok(match method {
        MethodKind::Simclr => {
            let config = views.adapt(SimClrTransform::cifar10().config().clone());
            Arc::new(SimClrTransform::new(config)?)
        }
        MethodKind::Simsiam => {
            let config = views.adapt(SimSiamTransform::cifar10().config().clone());
            Arc::new(SimSiamTransform::new(config)?)
        }
        MethodKind::Byol | MethodKind::MocoV3 | MethodKind::BarlowTwins => views.asymmetric()?,
        MethodKind::Moco => {
            let config = views.adapt(MocoV2Transform::cifar10().config().clone());
            Arc::new(MocoV2Transform::new(config)?)
        }
        MethodKind::Vicreg => {
            let config = views.adapt(VicRegTransform::cifar10().config().clone());
            Arc::new(VicRegTransform::new(config)?)
        }
        MethodKind::Dino => views.multi_crop(
            MultiCropTransform::dino_cifar10(),
            MultiCropTransform::dino(),
            local_views,
            local_size,
        )?,
        MethodKind::Swav => views.multi_crop(
            MultiCropTransform::swav_cifar10(),
            MultiCropTransform::swav(),
            local_views,
            local_size,
        )?,
        MethodKind::Pretext => {
            let mut pretext = PretextViews::cifar10();
            pretext.normalize = Some(data.normalize());
            Arc::new(pretext)
        }
    })
}

fn train<M: Method>(
    args: &PretrainArgs,
    name: &str,
    method: M,
    transform: Arc<dyn MultiViewTransform>,
) -> Result<()> {
    args.train
        .run(method, Part::Pretrain, transform, name, |trainer| {
            Ok(trainer.init_model())
        })?;
    Ok(())
}

/// Adapts the CIFAR-10 presets to the dataset.
struct Views<'a> {
    data: &'a DataArgs,
    size: usize,
}

impl Views<'_> {
    /// The preset at the dataset's image size and statistics. Above 32 pixels a preset without
    /// blur gets SimCLR's ImageNet blur (kernel 10 % of the side, σ ∈ [0.1, 2], p = 0.5).
    fn adapt(&self, config: TwoViewConfig) -> TwoViewConfig {
        let normalize = self.data.normalize();
        let blur = match (&config.blur, self.size > 32) {
            (None, true) => Some(BlurConfig {
                kernel_size: (self.size / 10) | 1,
                sigma: (0.1, 2.0),
                p: 0.5,
            }),
            (blur, _) => blur.clone(),
        };
        config
            .with_input_size(self.size)
            .with_blur(blur)
            .with_normalize(Some((normalize.mean().to_vec(), normalize.std().to_vec())))
    }

    /// Whether the views are ImageNet-sized (above 96 pixels: ImageNet, ImageNet-100, a folder
    /// trained at 224), where the methods' ImageNet augmentations apply.
    fn imagenet_sized(&self) -> bool {
        self.size > 96
    }

    /// The asymmetric pair of BYOL, MoCo v3 and Barlow Twins: solo-learn's CIFAR
    /// `asymmetric.yaml` adapted to the size, or, for ImageNet-sized views, BYOL's ImageNet
    /// augmentation (lightly's `BYOLTransform`, blur 1.0 / 0.1, solarization 0 / 0.2) at the
    /// size.
    fn asymmetric(&self) -> Result<Arc<dyn MultiViewTransform>> {
        if self.imagenet_sized() {
            let preset = ByolTransform::imagenet();
            return Ok(Arc::new(ByolTransform::new(
                self.at_size(preset.view1_config().clone()),
                self.at_size(preset.view2_config().clone()),
            )?));
        }
        let preset = ByolTransform::cifar10();
        Ok(Arc::new(ByolTransform::new(
            self.adapt(preset.view1_config().clone()),
            self.adapt(preset.view2_config().clone()),
        )?))
    }

    /// An ImageNet preset's view at the size and statistics of the data.
    fn at_size(&self, config: TwoViewConfig) -> TwoViewConfig {
        let normalize = self.data.normalize();
        config
            .with_input_size(self.size)
            .with_normalize(Some((normalize.mean().to_vec(), normalize.std().to_vec())))
    }

    /// Multi-crop (DINO, SwAV) with `--local-views` local crops: the CIFAR preset adapted to
    /// the size, or, for ImageNet-sized views, the method's ImageNet multi-crop (`imagenet`, with
    /// its local crops' scale) at the size.
    fn multi_crop(
        &self,
        cifar: MultiCropTransform,
        imagenet: MultiCropTransform,
        local_views: usize,
        local_size: Option<usize>,
    ) -> Result<Arc<dyn MultiViewTransform>> {
        let local_size = local_size.unwrap_or(if self.size <= 32 {
            16
        } else {
            self.size * 96 / 224
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
            local_views,
            local_size,
            local_scale,
        )?;
        Ok(Arc::new(transform))
    }
}
