//! `selfsup pretrain <method>`: every method of the library with its published recipe for the
//! dataset's scale (network, loss parameters, views, optimizer and schedule, from solo-learn's
//! configuration files, see `selfsup::train::recipe`).
//!
//! [`METHODS`] lists them, one line each: a name, a sentence, and the method's `published`
//! constructor. Adding a method to the command line is one more line.

use std::sync::Arc;

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser};
use selfsup::data::MultiViewTransform;
use selfsup::train::{
    BarlowTwinsMethod, ByolMethod, DinoMethod, MaeMethod, Method, MocoMethod, NnclrMethod,
    PretextMethod, Published, Scale, Setup, SimClrMethod, SimSiamMethod, SwavMethod, VicRegMethod,
};

use crate::Result;
use crate::args::BackboneArgs;
use crate::data::{DataArgs, DatasetKind, Part};
use crate::train::TrainArgs;

/// A method of the command line: its name, what it is, and how to train it or show its views.
pub struct MethodEntry {
    /// The name on the command line (`pretrain <name>`).
    pub name: &'static str,
    /// One sentence: the method and its paper.
    pub about: &'static str,
    /// Builds the published preset and trains it.
    pub pretrain: fn(&PretrainArgs, &Setup) -> Result<()>,
    /// Builds the published preset's views only.
    pub views: fn(&Setup) -> Result<Arc<dyn MultiViewTransform>>,
}

/// One line of [`METHODS`]: `method!(name, about, published constructor)`.
macro_rules! method {
    ($name:literal, $about:literal, $published:path) => {
        MethodEntry {
            name: $name,
            about: $about,
            pretrain: |args, setup| train(args, $name, $published(setup)?),
            views: |setup| Ok($published(setup)?.views),
        }
    };
}

/// Every method `selfsup pretrain` trains.
pub const METHODS: &[MethodEntry] = &[
    method!(
        "simclr",
        "SimCLR (Chen et al. 2020): NT-Xent over two views",
        SimClrMethod::published
    ),
    method!(
        "simsiam",
        "SimSiam (Chen & He 2021): a predictor and a stop-gradient",
        SimSiamMethod::published
    ),
    method!(
        "byol",
        "BYOL (Grill et al. 2020): an EMA target network",
        ByolMethod::published
    ),
    method!(
        "moco",
        "MoCo v2+ (Chen et al. 2020, solo-learn's symmetric variant): a queue of keys",
        MocoMethod::published_v2
    ),
    method!(
        "moco-v3",
        "MoCo v3 (Chen, Xie & He 2021): predictor, no queue",
        MocoMethod::published_v3
    ),
    method!(
        "barlow-twins",
        "Barlow Twins (Zbontar et al. 2021): cross-correlation towards the identity",
        BarlowTwinsMethod::published
    ),
    method!(
        "vicreg",
        "VICReg (Bardes et al. 2022): variance, invariance, covariance",
        VicRegMethod::published
    ),
    method!(
        "dino",
        "DINO (Caron et al. 2021): self-distillation with a centred, sharpened teacher",
        DinoMethod::published
    ),
    method!(
        "swav",
        "SwAV (Caron et al. 2020): swapped prototype assignments (Sinkhorn-Knopp)",
        SwavMethod::published
    ),
    method!(
        "nnclr",
        "NNCLR (Dwibedi et al. 2021): the nearest neighbour in a queue of embeddings as the positive",
        NnclrMethod::published
    ),
    method!(
        "mae",
        "MAE (He et al. 2022): a ViT sees a quarter of the patches, a decoder predicts the rest",
        MaeMethod::published
    ),
    method!(
        "pretext",
        "Rotation, shear and colour prediction (Gidaris et al. 2018 style multi-task pretext)",
        PretextMethod::published
    ),
];

/// The entry of `name`.
///
/// # Panics
/// If `name` is not in [`METHODS`] (clap only accepts names from it).
pub fn method(name: &str) -> &'static MethodEntry {
    METHODS
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not a method of METHODS"))
}

/// clap's parser of a method name, with each method's sentence in `--help`.
pub fn method_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(
        METHODS
            .iter()
            .map(|m| PossibleValue::new(m.name).help(m.about)),
    )
}

/// `selfsup pretrain`.
#[derive(Args, Debug)]
pub struct PretrainArgs {
    /// The method (with `--resume`, the run's).
    #[arg(value_parser = method_parser(), required_unless_present = "resume")]
    pub method: Option<String>,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Local crops per image for DINO and SwAV (multi-crop); default 0: the two global views
    /// only, as solo-learn's CIFAR and ImageNet-100 configurations.
    #[arg(long)]
    pub local_views: Option<usize>,
    /// Side of the local crops (default: 16 for 32-pixel images, else 96/224 of the image size).
    #[arg(long)]
    pub local_size: Option<usize>,
    /// Epochs in which DINO's last layer and SwAV's prototypes get no update (default: the
    /// recipe's, 1 for DINO and 2 for SwAV).
    #[arg(long)]
    pub freeze_epochs: Option<usize>,
    /// Clip each parameter's gradient to this norm, DINO's `clip_grad` (3.0 in the DINO paper's
    /// recipe; default: the configuration's, none in solo-learn's). DINO only.
    #[arg(long)]
    pub clip_grad: Option<f64>,
    /// MAE's decoder width (default 512, the paper's), a multiple of 32: heads of 32 features.
    #[arg(long)]
    pub decoder_width: Option<usize>,
    /// MAE's decoder blocks (default 8, the paper's).
    #[arg(long)]
    pub decoder_depth: Option<usize>,
}

/// The recipe scale of the data: CIFAR for CIFAR-10/100 (and folders of 64 pixels or less),
/// ImageNet-100 for STL-10, ImageNet-100 and other folders, ImageNet for ImageNet.
pub fn scale_of(data: &DataArgs) -> Scale {
    match data.dataset {
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => Scale::Cifar,
        DatasetKind::Folder if data.image_size() <= 64 => Scale::Cifar,
        DatasetKind::Stl10 | DatasetKind::Folder | DatasetKind::Imagenet100 => Scale::ImageNet100,
        DatasetKind::Imagenet => Scale::ImageNet,
    }
}

/// What the published presets are built for: the encoder of `backbone` at the data's scale,
/// size and statistics.
///
/// # Errors
/// When the encoder flags do not fit the encoder or the image size ([`BackboneArgs::config`]).
pub fn setup(data: &DataArgs, backbone: &BackboneArgs) -> Result<Setup> {
    let size = data.image_size();
    Ok(Setup::new(
        backbone.config(size)?,
        scale_of(data),
        size,
        data.normalize(),
    ))
}

/// Runs `selfsup pretrain`.
pub fn run(args: PretrainArgs) -> Result<()> {
    let mut setup = setup(&args.train.data, &args.train.backbone)?;
    setup.local_views = args.local_views;
    setup.local_size = args.local_size;
    setup.freeze_epochs = args.freeze_epochs;
    if let Some(width) = args.decoder_width
        && (width == 0 || !width.is_multiple_of(32))
    {
        return Err(format!("--decoder-width {width}: a positive multiple of 32").into());
    }
    if args.decoder_depth == Some(0) {
        return Err("--decoder-depth: at least one block".into());
    }
    setup.decoder_width = args.decoder_width;
    setup.decoder_depth = args.decoder_depth;
    let Some(name) = &args.method else {
        return Err("name the method: this run records no command to resume it from".into());
    };
    if let Some(clip) = args.clip_grad {
        if name != "dino" {
            return Err(format!("--clip-grad is DINO's; {name} does not clip").into());
        }
        if !(clip.is_finite() && clip > 0.0) {
            return Err(format!("--clip-grad {clip}: a positive norm").into());
        }
    }
    setup.clip_grad = args.clip_grad;
    if name != "mae" && (args.decoder_width.is_some() || args.decoder_depth.is_some()) {
        return Err(format!(
            "--decoder-width and --decoder-depth are MAE's; {name} has no decoder"
        )
        .into());
    }
    (method(name).pretrain)(&args, &setup)
}

/// The views `name` trains on for `setup`.
///
/// # Errors
/// When they do not fit the image size.
pub fn views_of(name: &str, setup: &Setup) -> Result<Arc<dyn MultiViewTransform>> {
    (method(name).views)(setup)
}

fn train<M: Method>(args: &PretrainArgs, name: &str, published: Published<M>) -> Result<()> {
    let Published {
        method,
        training,
        classifier_lr,
        views,
    } = published;
    args.train.run_published(
        method,
        Part::Pretrain,
        views,
        name,
        Some((training, classifier_lr)),
        |trainer| Ok(trainer.init_model()),
    )?;
    Ok(())
}
