//! [`MultiCropTransform`]: SwAV's and DINO's multi-crop, a few large global views and several
//! small local ones.

use rand::RngCore;

use super::Transform;
use super::compose::{Compose, MultiViewTransform};
use super::error::TransformError;
use super::image::Image;
use super::normalize::Normalize;
use super::presets::{BlurConfig, SolarizeConfig, TwoViewConfig};

/// Multi-crop (Caron et al. 2020, SwAV §3.2; used by DINO): `n_global` global views, each from
/// its own [`TwoViewConfig`], then `n_local` local views of a smaller size from one shared
/// [`TwoViewConfig`]. Every view has the full pipeline (crop, flip, colour jitter, grayscale,
/// blur, solarization, normalisation) of its config; its crop size and crop scale are the
/// config's `input_size` and `crop_scale`.
///
/// Views `0..n_global` are the global ones, views `n_global..n_global + n_local` the local ones;
/// all are drawn one after the other from the stream passed in, so `(seed, epoch, index)` fixes
/// every view.
///
/// - [`MultiCropTransform::dino`]: lightly's `DINOTransform()` defaults.
/// - [`MultiCropTransform::swav`]: lightly's `SwaVTransform()` defaults.
/// - [`MultiCropTransform::dino_cifar10`], [`MultiCropTransform::swav_cifar10`]: solo-learn's
///   CIFAR-10 recipes, which use **no local crops** (two 32 × 32 global views); add local views
///   with [`MultiCropTransform::with_local_views`].
///
/// Crops are resized bilinearly with antialiasing, as elsewhere in this crate; DINO's reference
/// code and lightly resize DINO's crops bicubically.
///
/// ```
/// use selfsup_data::transforms::{Image, MultiCropTransform, MultiViewTransform, rng_for};
/// let t = MultiCropTransform::dino_cifar10().with_local_views(4, 16, (0.05, 0.4))?;
/// assert_eq!((t.n_global(), t.n_local()), (2, 4));
/// let img = Image::from_chw_u8(&[128u8; 3072], 3, 32, 32)?;
/// let views = t.views(&img, &mut rng_for(0, 0, 0));
/// assert_eq!(views[1].shape(), [3, 32, 32]); // global
/// assert_eq!(views[2].shape(), [3, 16, 16]); // local
/// # Ok::<(), selfsup_data::transforms::TransformError>(())
/// ```
#[derive(Debug)]
pub struct MultiCropTransform {
    global: Vec<TwoViewConfig>,
    local: TwoViewConfig,
    n_local: usize,
    global_views: Vec<Compose>,
    local_view: Compose,
}

impl MultiCropTransform {
    /// One global view per config of `global`, then `n_local` local views from `local`.
    ///
    /// # Errors
    /// [`TransformError::Empty`] naming `global` when there is no global view, else the first
    /// rejected knob of a pipeline (see [`TwoViewConfig::build_view`]).
    pub fn new(
        global: Vec<TwoViewConfig>,
        local: TwoViewConfig,
        n_local: usize,
    ) -> Result<Self, TransformError> {
        if global.is_empty() {
            return Err(TransformError::Empty { name: "global" });
        }
        let global_views = global
            .iter()
            .map(TwoViewConfig::build_view)
            .collect::<Result<Vec<_>, _>>()?;
        let local_view = local.build_view()?;
        Ok(Self {
            global,
            local,
            n_local,
            global_views,
            local_view,
        })
    }

    /// DINO's multi-crop (Caron et al. 2021), as lightly's `DINOTransform()`: two global views
    /// `RandomResizedCrop(224, scale=(0.4, 1.0))` and six local views
    /// `RandomResizedCrop(96, scale=(0.05, 0.4))`, each followed by `RandomHorizontalFlip()`,
    /// `RandomApply([ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8)`, `RandomGrayscale(p=0.2)`,
    /// Gaussian blur ([`BlurConfig::imagenet`]) and ImageNet `Normalize`. Blur and
    /// solarization are asymmetric: global view 0 is always blurred, global view 1 is blurred
    /// with `p=0.1` and solarized with `p=0.2`, local views are blurred with `p=0.5`.
    pub fn dino() -> Self {
        let base = TwoViewConfig::cifar10()
            .with_input_size(224)
            .with_crop_scale(0.4, 1.0)
            .with_color_jitter(0.4, 0.4, 0.2, 0.1)
            .with_normalize(Some(imagenet_normalize()));
        let global0 = base.clone().with_blur(Some(BlurConfig::imagenet(1.0)));
        let global1 = base
            .clone()
            .with_blur(Some(BlurConfig::imagenet(0.1)))
            .with_solarize(Some(SolarizeConfig::new(0.2)));
        let local = base
            .with_input_size(96)
            .with_crop_scale(0.05, 0.4)
            .with_blur(Some(BlurConfig::imagenet(0.5)));
        Self::new(vec![global0, global1], local, 6).expect("the DINO preset is valid")
    }

    /// SwAV's multi-crop (Caron et al. 2020), as lightly's `SwaVTransform()`: crop sizes
    /// (224, 96), counts (2, 6), min scales (0.14, 0.05), max scales (1.0, 0.14); every view
    /// then `RandomHorizontalFlip()`, `RandomApply([ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8)`,
    /// `RandomGrayscale(p=0.2)`, Gaussian blur with `p=0.5` ([`BlurConfig::imagenet`]), no
    /// solarization, ImageNet `Normalize`.
    pub fn swav() -> Self {
        let base = TwoViewConfig::cifar10()
            .with_color_jitter(0.8, 0.8, 0.8, 0.2)
            .with_blur(Some(BlurConfig::imagenet(0.5)))
            .with_normalize(Some(imagenet_normalize()));
        let global = base.clone().with_input_size(224).with_crop_scale(0.14, 1.0);
        let local = base.with_input_size(96).with_crop_scale(0.05, 0.14);
        Self::new(vec![global.clone(), global], local, 6).expect("the SwAV preset is valid")
    }

    /// solo-learn's DINO recipe on CIFAR-10 (`scripts/pretrain/cifar/dino.yaml`, which takes
    /// `augmentations/asymmetric.yaml`): two global 32 × 32 views and no local view, exactly
    /// [`ByolTransform::cifar10`](super::ByolTransform::cifar10)'s pair —
    /// `RandomResizedCrop(32, scale=(0.08, 1.0))`, `RandomHorizontalFlip()`,
    /// `RandomApply([ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8)`, `RandomGrayscale(p=0.2)`, no
    /// blur, solarization with `p` 0.0 / 0.2 on global views 0 / 1, CIFAR-10 `Normalize`.
    /// [`with_local_views`](Self::with_local_views) adds local views with global view 0's
    /// colour pipeline.
    pub fn dino_cifar10() -> Self {
        let base = TwoViewConfig::cifar10()
            .with_crop_scale(0.08, 1.0)
            .with_color_jitter(0.4, 0.4, 0.2, 0.1);
        let global1 = base.clone().with_solarize(Some(SolarizeConfig::new(0.2)));
        Self::new(vec![base.clone(), global1], base, 0).expect("the DINO CIFAR-10 preset is valid")
    }

    /// solo-learn's SwAV recipe on CIFAR-10 (`scripts/pretrain/cifar/swav.yaml`, which takes
    /// `augmentations/symmetric.yaml`): two global 32 × 32 views and no local view, each
    /// `RandomResizedCrop(32, scale=(0.08, 1.0))`, `RandomHorizontalFlip()`,
    /// `RandomApply([ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8)`, `RandomGrayscale(p=0.2)`,
    /// Gaussian blur with `p=0.5` ([`BlurConfig::cifar10`]), no solarization, CIFAR-10
    /// `Normalize`. [`with_local_views`](Self::with_local_views) adds local views with the
    /// same colour pipeline.
    pub fn swav_cifar10() -> Self {
        let base = TwoViewConfig::cifar10()
            .with_crop_scale(0.08, 1.0)
            .with_color_jitter(0.8, 0.8, 0.8, 0.2)
            .with_blur(Some(BlurConfig::cifar10(0.5)));
        Self::new(vec![base.clone(), base.clone()], base, 0)
            .expect("the SwAV CIFAR-10 preset is valid")
    }

    /// The same global views with `n` local views of side `size` cropped at `scale` (area
    /// fraction range); the local views keep the local pipeline's other knobs (for the CIFAR-10
    /// presets, global view 0's). `n = 0` removes the local views.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] naming `size`, or the rejected `scale`.
    pub fn with_local_views(
        self,
        n: usize,
        size: usize,
        scale: (f32, f32),
    ) -> Result<Self, TransformError> {
        let local = self
            .local
            .with_input_size(size)
            .with_crop_scale(scale.0, scale.1);
        let local_view = local.build_view()?;
        Ok(Self {
            local,
            n_local: n,
            local_view,
            ..self
        })
    }

    /// Number of global views (views `0..n_global`).
    pub fn n_global(&self) -> usize {
        self.global.len()
    }

    /// Number of local views (after the global ones).
    pub fn n_local(&self) -> usize {
        self.n_local
    }

    /// Side of global view 0.
    pub fn global_size(&self) -> usize {
        self.global[0].input_size
    }

    /// Side of the local views.
    pub fn local_size(&self) -> usize {
        self.local.input_size
    }

    /// The configuration of each global view.
    pub fn global_configs(&self) -> &[TwoViewConfig] {
        &self.global
    }

    /// The configuration shared by the local views.
    pub fn local_config(&self) -> &TwoViewConfig {
        &self.local
    }
}

impl MultiViewTransform for MultiCropTransform {
    fn num_views(&self) -> usize {
        self.global.len() + self.n_local
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        let mut views = Vec::with_capacity(self.num_views());
        for t in &self.global_views {
            views.push(t.apply_ref(img, rng));
        }
        for _ in 0..self.n_local {
            views.push(self.local_view.apply_ref(img, rng));
        }
        views
    }
}

fn imagenet_normalize() -> (Vec<f32>, Vec<f32>) {
    (
        Normalize::IMAGENET_MEAN.to_vec(),
        Normalize::IMAGENET_STD.to_vec(),
    )
}
