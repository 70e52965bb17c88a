//! Ready-made two-view pipelines with the same transform for both views: [`SimClrTransform`],
//! [`SimSiamTransform`], [`VicRegTransform`] and [`MocoV2Transform`], configured by
//! [`TwoViewConfig`].

use rand::RngCore;

use super::Transform;
use super::blur::GaussianBlur;
use super::color::{ColorJitter, RandomGrayscale, RandomSolarize};
use super::compose::{Compose, MultiViewTransform, RandomApply, TwoViews};
use super::crop::RandomResizedCrop;
use super::error::TransformError;
use super::flip::RandomHorizontalFlip;
use super::image::Image;
use super::normalize::Normalize;

/// Optional Gaussian blur of a [`TwoViewConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlurConfig {
    /// Odd kernel side in pixels.
    pub kernel_size: usize,
    /// Sigma range.
    pub sigma: (f32, f32),
    /// Probability of blurring a view.
    pub p: f32,
}

impl BlurConfig {
    /// The sigma range of SimCLR, BYOL, DINO, SwAV and torchvision's default: `(0.1, 2.0)`.
    pub const SIGMA: (f32, f32) = (0.1, 2.0);

    /// BYOL's blur for 224-pixel crops (Grill et al., 2020, Table 6: a 23 × 23 kernel, σ drawn
    /// from `U(0.1, 2.0)`), applied with probability `p`. DINO and SwAV blur with PIL's
    /// `GaussianBlur(radius=σ)`, which has no kernel size; 23 pixels cover ±5.5σ at σ = 2, so
    /// the truncation changes nothing visible.
    pub fn imagenet(p: f32) -> Self {
        Self {
            kernel_size: 23,
            sigma: Self::SIGMA,
            p,
        }
    }

    /// The same σ range for 32-pixel crops, applied with probability `p`: solo-learn blurs
    /// CIFAR crops with PIL's untruncated `GaussianBlur(radius=σ)`; a 13 × 13 kernel covers
    /// ±3σ at σ = 2.
    pub fn cifar10(p: f32) -> Self {
        Self {
            kernel_size: 13,
            sigma: Self::SIGMA,
            p,
        }
    }
}

/// Optional solarization of a [`TwoViewConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct SolarizeConfig {
    /// Values at or above it are inverted.
    pub threshold: f32,
    /// Probability of solarizing a view.
    pub p: f32,
}

impl SolarizeConfig {
    /// Solarization at 0.5 (PIL's and lightly's 128 of 255) with probability `p`, as BYOL,
    /// DINO and solo-learn use it.
    pub fn new(p: f32) -> Self {
        Self { threshold: 0.5, p }
    }
}

/// Every knob of the SimCLR-style view pipeline
/// `RandomResizedCrop → RandomHorizontalFlip → RandomApply(ColorJitter) → RandomGrayscale →
/// [RandomApply(GaussianBlur)] → [RandomSolarize] → [Normalize]`.
///
/// [`TwoViewConfig::cifar10`] (also `Default`) is SimCLR's and SimSiam's CIFAR-10
/// recipe. Change knobs with the `with_*` methods; validation happens when
/// the transform is built ([`SimClrTransform::new`]), through each transform's constructor.
///
/// ```
/// use selfsup_data::transforms::{SimClrTransform, TwoViewConfig};
/// let t = SimClrTransform::new(TwoViewConfig::cifar10().with_grayscale_prob(0.1))?;
/// assert_eq!(t.config().grayscale_prob, 0.1);
/// assert!(SimClrTransform::new(TwoViewConfig::cifar10().with_crop_scale(0.5, 0.2)).is_err());
/// # Ok::<(), selfsup_data::transforms::TransformError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TwoViewConfig {
    /// Output side of the crop. Default 32.
    pub input_size: usize,
    /// Crop area fraction range. Default `(0.2, 1.0)` (SimCLR's CIFAR setting; torchvision's
    /// default is `(0.08, 1.0)`).
    pub crop_scale: (f32, f32),
    /// Crop aspect-ratio range. Default `(3/4, 4/3)`.
    pub crop_ratio: (f32, f32),
    /// Horizontal flip probability. Default 0.5.
    pub hflip_prob: f32,
    /// Colour jitter strengths `(brightness, contrast, saturation, hue)`. Default
    /// `(0.4, 0.4, 0.4, 0.1)` (SimCLR's strength 0.5 CIFAR setting).
    pub color_jitter: (f32, f32, f32, f32),
    /// Probability of applying the colour jitter. Default 0.8.
    pub color_jitter_prob: f32,
    /// Random grayscale probability. Default 0.2.
    pub grayscale_prob: f32,
    /// Gaussian blur. Default `None` (SimCLR leaves it out on CIFAR).
    pub blur: Option<BlurConfig>,
    /// Solarization. Default `None`.
    pub solarize: Option<SolarizeConfig>,
    /// Normalization `(mean, std)`. Default CIFAR-10's
    /// `((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))`; `None` leaves values in `[0, 1]`.
    pub normalize: Option<(Vec<f32>, Vec<f32>)>,
}

impl Default for TwoViewConfig {
    /// [`TwoViewConfig::cifar10`].
    fn default() -> Self {
        Self::cifar10()
    }
}

impl TwoViewConfig {
    /// SimCLR's CIFAR-10 augmentation (Chen et al. 2020, appendix B.9: crop scale 0.2-1, flip,
    /// colour jitter of strength 0.5 at p = 0.8, grayscale p = 0.2, no blur; see the field docs).
    pub fn cifar10() -> Self {
        Self {
            input_size: 32,
            crop_scale: (0.2, 1.0),
            crop_ratio: RandomResizedCrop::DEFAULT_RATIO,
            hflip_prob: 0.5,
            color_jitter: (0.4, 0.4, 0.4, 0.1),
            color_jitter_prob: 0.8,
            grayscale_prob: 0.2,
            blur: None,
            solarize: None,
            normalize: Some((
                Normalize::CIFAR10_MEAN.to_vec(),
                Normalize::CIFAR10_STD.to_vec(),
            )),
        }
    }

    /// Sets [`input_size`](Self::input_size).
    pub fn with_input_size(mut self, size: usize) -> Self {
        self.input_size = size;
        self
    }

    /// Sets [`crop_scale`](Self::crop_scale).
    pub fn with_crop_scale(mut self, min: f32, max: f32) -> Self {
        self.crop_scale = (min, max);
        self
    }

    /// Sets [`crop_ratio`](Self::crop_ratio).
    pub fn with_crop_ratio(mut self, min: f32, max: f32) -> Self {
        self.crop_ratio = (min, max);
        self
    }

    /// Sets [`hflip_prob`](Self::hflip_prob).
    pub fn with_hflip_prob(mut self, p: f32) -> Self {
        self.hflip_prob = p;
        self
    }

    /// Sets [`color_jitter`](Self::color_jitter).
    pub fn with_color_jitter(
        mut self,
        brightness: f32,
        contrast: f32,
        saturation: f32,
        hue: f32,
    ) -> Self {
        self.color_jitter = (brightness, contrast, saturation, hue);
        self
    }

    /// Sets [`color_jitter_prob`](Self::color_jitter_prob).
    pub fn with_color_jitter_prob(mut self, p: f32) -> Self {
        self.color_jitter_prob = p;
        self
    }

    /// Sets [`grayscale_prob`](Self::grayscale_prob).
    pub fn with_grayscale_prob(mut self, p: f32) -> Self {
        self.grayscale_prob = p;
        self
    }

    /// Sets [`blur`](Self::blur).
    pub fn with_blur(mut self, blur: Option<BlurConfig>) -> Self {
        self.blur = blur;
        self
    }

    /// Sets [`solarize`](Self::solarize).
    pub fn with_solarize(mut self, solarize: Option<SolarizeConfig>) -> Self {
        self.solarize = solarize;
        self
    }

    /// Sets [`normalize`](Self::normalize).
    pub fn with_normalize(mut self, normalize: Option<(Vec<f32>, Vec<f32>)>) -> Self {
        self.normalize = normalize;
        self
    }

    /// Builds the single-view pipeline.
    ///
    /// # Errors
    /// The first rejected knob, named as the underlying transform names it (`size`, `scale`,
    /// `ratio`, `p`, `brightness`, …).
    pub fn build_view(&self) -> Result<Compose, TransformError> {
        let (b, c, s, h) = self.color_jitter;
        let mut t = Compose::new()
            .then(
                RandomResizedCrop::new(self.input_size)?
                    .with_scale(self.crop_scale.0, self.crop_scale.1)?
                    .with_ratio(self.crop_ratio.0, self.crop_ratio.1)?,
            )
            .then(RandomHorizontalFlip::new(self.hflip_prob)?)
            .then(RandomApply::new(
                ColorJitter::new(b, c, s, h)?,
                self.color_jitter_prob,
            )?)
            .then(RandomGrayscale::new(self.grayscale_prob)?);
        if let Some(blur) = &self.blur {
            let g = GaussianBlur::new(blur.kernel_size)?.with_sigma(blur.sigma.0, blur.sigma.1)?;
            t = t.then(RandomApply::new(g, blur.p)?);
        }
        if let Some(sol) = &self.solarize {
            t = t.then(RandomSolarize::new(sol.threshold, sol.p)?);
        }
        if let Some((mean, std)) = &self.normalize {
            t = t.then(Normalize::new(mean.clone(), std.clone())?);
        }
        Ok(t)
    }
}

macro_rules! two_view_preset {
    ($(#[$doc:meta])* $name:ident, $(#[$cifar_doc:meta])* cifar10 = $cifar:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            config: TwoViewConfig,
            views: TwoViews<Compose>,
        }

        impl $name {
            /// Builds the pipeline from `config`.
            ///
            /// # Errors
            /// The first rejected knob (see [`TwoViewConfig::build_view`]).
            pub fn new(config: TwoViewConfig) -> Result<Self, TransformError> {
                let views = TwoViews(config.build_view()?);
                Ok(Self { config, views })
            }

            $(#[$cifar_doc])*
            pub fn cifar10() -> Self {
                Self::new($cifar).expect("the CIFAR-10 preset is valid")
            }

            /// The configuration it was built from.
            pub fn config(&self) -> &TwoViewConfig {
                &self.config
            }

            /// The single-view pipeline.
            pub fn view_transform(&self) -> &Compose {
                &self.views.0
            }

            /// The two views of `img` (view 1 drawn first).
            pub fn pair(&self, img: &Image, rng: &mut dyn RngCore) -> (Image, Image) {
                self.views.pair(img, rng)
            }
        }

        impl MultiViewTransform for $name {
            fn num_views(&self) -> usize {
                2
            }

            fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
                self.views.views(img, rng)
            }
        }

        impl Transform for $name {
            /// One view (the single-view pipeline).
            fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
                self.views.0.apply(img, rng)
            }

            fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
                self.views.0.apply_ref(img, rng)
            }
        }
    };
}

two_view_preset!(
    /// SimCLR's two-view augmentation (Chen et al. 2020; lightly's `SimCLRTransform`), by
    /// default on CIFAR-10: `RandomResizedCrop(32, scale=(0.2, 1.0))`,
    /// `RandomHorizontalFlip()`, `RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8)`,
    /// `RandomGrayscale(p=0.2)`, CIFAR-10 `Normalize`.
    ///
    /// ```
    /// use selfsup_data::transforms::{Image, SimClrTransform, rng_for};
    /// let t = SimClrTransform::cifar10();
    /// let img = Image::from_chw_u8(&[128u8; 3072], 3, 32, 32)?;
    /// let (a, b) = t.pair(&img, &mut rng_for(0, 0, 0));
    /// assert_eq!(a.shape(), [3, 32, 32]);
    /// assert_eq!(b.shape(), [3, 32, 32]);
    /// # Ok::<(), selfsup_data::transforms::TransformError>(())
    /// ```
    SimClrTransform,
    /// SimCLR's CIFAR-10 pipeline ([`TwoViewConfig::cifar10`]).
    cifar10 = TwoViewConfig::cifar10()
);

two_view_preset!(
    /// SimSiam's two-view augmentation (Chen & He 2021). On CIFAR-10 the SimSiam paper uses
    /// SimCLR's recipe unchanged; [`SimSiamTransform::cifar10`] therefore
    /// has exactly [`SimClrTransform::cifar10`]'s knobs ([`TwoViewConfig::cifar10`]).
    SimSiamTransform,
    /// SimCLR's CIFAR-10 pipeline ([`TwoViewConfig::cifar10`]).
    cifar10 = TwoViewConfig::cifar10()
);

two_view_preset!(
    /// VICReg's two-view augmentation (Bardes et al. 2022; lightly's `VICRegTransform`). Both
    /// views go through the same pipeline.
    VicRegTransform,
    /// solo-learn's CIFAR-10 recipe (`scripts/pretrain/cifar/vicreg.yaml`):
    /// `RandomResizedCrop(32, scale=(0.2, 1.0))`, `RandomHorizontalFlip()`,
    /// `RandomApply([ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8)`, `RandomGrayscale(p=0.2)`, no
    /// blur, `RandomSolarize(0.5, p=0.1)`, CIFAR-10 `Normalize`.
    cifar10 = TwoViewConfig::cifar10()
        .with_crop_scale(0.2, 1.0)
        .with_color_jitter(0.4, 0.4, 0.2, 0.1)
        .with_solarize(Some(SolarizeConfig::new(0.1)))
);

two_view_preset!(
    /// MoCo v2's two-view augmentation (Chen et al. 2020, "Improved Baselines with Momentum
    /// Contrastive Learning"; lightly's `MoCoV2Transform`): SimCLR's pipeline with blur. Both
    /// views go through the same pipeline.
    MocoV2Transform,
    /// solo-learn's CIFAR-10 recipe for MoCo v2+ (`scripts/pretrain/cifar/mocov2plus.yaml`,
    /// `augmentations/symmetric_weak.yaml`): `RandomResizedCrop(32, scale=(0.08, 1.0))`,
    /// `RandomHorizontalFlip()`, `RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8)`,
    /// `RandomGrayscale(p=0.2)`, Gaussian blur with `p=0.5` ([`BlurConfig::cifar10`]), no
    /// solarization, CIFAR-10 `Normalize`.
    cifar10 = TwoViewConfig::cifar10()
        .with_crop_scale(0.08, 1.0)
        .with_color_jitter(0.4, 0.4, 0.4, 0.1)
        .with_blur(Some(BlurConfig::cifar10(0.5)))
);
