//! [`ByolTransform`]: two views from two different pipelines, BYOL's asymmetric augmentation.

use rand::RngCore;

use super::Transform;
use super::compose::{Compose, MultiViewTransform};
use super::error::TransformError;
use super::image::Image;
use super::normalize::Normalize;
use super::presets::{BlurConfig, SolarizeConfig, TwoViewConfig};

/// BYOL's asymmetric pair of views (Grill et al. 2020, Table 6; lightly's `BYOLTransform`):
/// view 1 from one [`TwoViewConfig`], view 2 from another, drawn in that order from the same
/// stream.
///
/// BYOL's two pipelines share the crop, flip, colour jitter and grayscale and differ in blur and
/// solarization: view 1 is always blurred and never solarized, view 2 is blurred with
/// probability 0.1 and solarized with probability 0.2.
///
/// - [`ByolTransform::imagenet`]: BYOL's ImageNet recipe, lightly's `BYOLTransform` defaults.
/// - [`ByolTransform::cifar10`]: solo-learn's CIFAR-10 recipe
///   (`scripts/pretrain/cifar/augmentations/asymmetric.yaml`), which solo-learn also uses for
///   **Barlow Twins** (`barlow.yaml`), **MoCo v3** (`mocov3.yaml`) and **DINO** without local
///   crops (`dino.yaml`): use it for those methods on CIFAR-10 too.
///
/// ```
/// use selfsup_data::transforms::{ByolTransform, Image, MultiViewTransform, rng_for};
/// let t = ByolTransform::cifar10();
/// assert_eq!(t.view2_config().solarize.as_ref().map(|s| s.p), Some(0.2));
/// let img = Image::from_chw_u8(&[128u8; 3072], 3, 32, 32)?;
/// let views = t.views(&img, &mut rng_for(0, 0, 0));
/// assert_eq!(views.len(), 2);
/// # Ok::<(), selfsup_data::transforms::TransformError>(())
/// ```
#[derive(Debug)]
pub struct ByolTransform {
    view1: TwoViewConfig,
    view2: TwoViewConfig,
    t1: Compose,
    t2: Compose,
}

impl ByolTransform {
    /// View 1 from `view1`, view 2 from `view2`.
    ///
    /// # Errors
    /// The first rejected knob of either pipeline (see [`TwoViewConfig::build_view`]).
    pub fn new(view1: TwoViewConfig, view2: TwoViewConfig) -> Result<Self, TransformError> {
        let t1 = view1.build_view()?;
        let t2 = view2.build_view()?;
        Ok(Self {
            view1,
            view2,
            t1,
            t2,
        })
    }

    /// BYOL's ImageNet augmentation (Table 6), as lightly's `BYOLTransform()`:
    /// `RandomResizedCrop(224, scale=(0.08, 1.0))`, `RandomHorizontalFlip()`,
    /// `RandomApply([ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8)`, `RandomGrayscale(p=0.2)`, then
    /// Gaussian blur ([`BlurConfig::imagenet`]) with `p` 1.0 / 0.1 and solarization with `p`
    /// 0.0 / 0.2 on views 1 / 2, ImageNet `Normalize`.
    pub fn imagenet() -> Self {
        let base = TwoViewConfig::cifar10()
            .with_input_size(224)
            .with_crop_scale(0.08, 1.0)
            .with_color_jitter(0.4, 0.4, 0.2, 0.1)
            .with_normalize(Some((
                Normalize::IMAGENET_MEAN.to_vec(),
                Normalize::IMAGENET_STD.to_vec(),
            )));
        Self::new(
            base.clone().with_blur(Some(BlurConfig::imagenet(1.0))),
            base.with_blur(Some(BlurConfig::imagenet(0.1)))
                .with_solarize(Some(SolarizeConfig::new(0.2))),
        )
        .expect("the ImageNet preset is valid")
    }

    /// solo-learn's CIFAR-10 augmentation (`augmentations/asymmetric.yaml`, used by `byol.yaml`,
    /// `barlow.yaml`, `mocov3.yaml` and `dino.yaml`): `RandomResizedCrop(32, scale=(0.08, 1.0))`,
    /// `RandomHorizontalFlip()`, `RandomApply([ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8)`,
    /// `RandomGrayscale(p=0.2)`, no blur on 32 × 32 images, solarization with `p` 0.0 / 0.2 on
    /// views 1 / 2, CIFAR-10 `Normalize`.
    pub fn cifar10() -> Self {
        let base = TwoViewConfig::cifar10()
            .with_crop_scale(0.08, 1.0)
            .with_color_jitter(0.4, 0.4, 0.2, 0.1);
        Self::new(
            base.clone(),
            base.with_solarize(Some(SolarizeConfig::new(0.2))),
        )
        .expect("the CIFAR-10 preset is valid")
    }

    /// The configuration of view 1.
    pub fn view1_config(&self) -> &TwoViewConfig {
        &self.view1
    }

    /// The configuration of view 2.
    pub fn view2_config(&self) -> &TwoViewConfig {
        &self.view2
    }

    /// The pipeline of view 1.
    pub fn view1_transform(&self) -> &Compose {
        &self.t1
    }

    /// The pipeline of view 2.
    pub fn view2_transform(&self) -> &Compose {
        &self.t2
    }

    /// The two views of `img` (view 1 drawn first).
    pub fn pair(&self, img: &Image, rng: &mut dyn RngCore) -> (Image, Image) {
        let a = self.t1.apply_ref(img, rng);
        let b = self.t2.apply_ref(img, rng);
        (a, b)
    }
}

impl MultiViewTransform for ByolTransform {
    fn num_views(&self) -> usize {
        2
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        let (a, b) = self.pair(img, rng);
        vec![a, b]
    }
}
