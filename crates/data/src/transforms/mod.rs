//! Seeded image augmentations for self-supervised learning, matching torchvision.
//!
//! Everything works on an owned planar float [`Image`] (CHW, values in `[0, 1]` before
//! [`Normalize`], as after torchvision's `ToTensor`) in plain Rust — no Burn, no allocation per
//! pixel. Each transform is one struct with a fallible constructor that rejects bad
//! hyper-parameters with a [`TransformError`] naming the parameter, and implements
//! [`Transform`]. Randomness comes only from the `&mut dyn RngCore` passed in; [`rng_for`]
//! derives one stream per `(seed, epoch, index)`, so an image's augmentation does not depend on
//! thread count or order.
//!
//! Random transforms are split into a *sampling* step (`sample_params`, torchvision's
//! `get_params`) and a deterministic *functional* op taking the sampled parameters, which the
//! golden tests compare with torchvision (`tools/golden_transforms.py`).
//!
//! ## Map
//! | transform | torchvision | functional op |
//! |---|---|---|
//! | [`RandomResizedCrop`] | `RandomResizedCrop` (bilinear, antialias) | [`resized_crop`], [`resize`], [`random_resized_crop_params`] |
//! | [`RandomHorizontalFlip`] | `RandomHorizontalFlip` | [`hflip`] |
//! | [`ColorJitter`] | `ColorJitter` | [`adjust_brightness`], [`adjust_contrast`], [`adjust_saturation`], [`adjust_hue`], [`apply_color_jitter`] |
//! | [`RandomGrayscale`] | `RandomGrayscale` | [`rgb_to_grayscale`] |
//! | [`RandomSolarize`] | `RandomSolarize` | [`solarize`] |
//! | [`Normalize`] | `Normalize` | [`Normalize::normalize_in_place`] |
//! | [`RandomAffine`] | `RandomAffine` | [`affine`], [`inverse_affine_matrix`] |
//! | [`GaussianBlur`] | `GaussianBlur` | [`gaussian_blur`] |
//! | [`Cutout`] | — (DeVries & Taylor) | [`cutout_at`] |
//! | [`RandomApply`], [`Compose`] | `RandomApply`, `Compose` | |
//! | [`TwoViews`], [`MultiView`] | — (lightly's multi-view) | |
//! | [`SimClrTransform`], [`SimSiamTransform`] | lightly's `SimCLRTransform`, `SimSiamTransform`; SimCLR's CIFAR-10 recipe | |
//! | [`VicRegTransform`], [`MocoV2Transform`] | lightly's `VICRegTransform`, `MoCoV2Transform`; solo-learn's CIFAR recipes | |
//! | [`ByolTransform`] | lightly's `BYOLTransform` (asymmetric pair); solo-learn's CIFAR `asymmetric.yaml` (BYOL, Barlow Twins, MoCo v3) | |
//! | [`MultiCropTransform`] | lightly's `DINOTransform`, `SwaVTransform` (multi-crop); solo-learn's CIFAR recipes | |
//! | [`RotationPretext`], [`ShearPretext`], [`ColorPretext`], [`PretextTasks`] | rotation (Gidaris et al. 2018), shear and colour pretext tasks | [`rotate_quarter_turns`], [`shear_x`], [`invert`] |
//!
//! ```
//! use selfsup_data::transforms::{Image, SimClrTransform, rng_for};
//! let pipeline = SimClrTransform::cifar10();
//! let record = [0u8; 3072]; // one CIFAR image, CHW bytes
//! let img = Image::from_chw_u8(&record, 3, 32, 32)?;
//! let (v1, v2) = pipeline.pair(&img, &mut rng_for(42, 0, 7));
//! assert_eq!(v1.shape(), [3, 32, 32]);
//! # let _ = v2;
//! # Ok::<(), selfsup_data::transforms::TransformError>(())
//! ```

mod affine;
mod asymmetric;
mod blur;
mod color;
mod compose;
mod crop;
mod cutout;
mod error;
mod flip;
mod image;
mod multi_crop;
mod normalize;
mod presets;
mod pretext;
mod rng;
mod simd;

pub use affine::{
    AffineParams, Interpolation, RandomAffine, affine, inverse_affine_matrix, rotate_quarter_turns,
};
pub use asymmetric::ByolTransform;
pub use blur::{GaussianBlur, gaussian_blur, gaussian_kernel1d};
pub use color::{
    ColorJitter, ColorJitterParams, GRAY_WEIGHTS, RandomGrayscale, RandomSolarize,
    adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, apply_color_jitter,
    grayscale_plane, invert, rgb_to_grayscale, solarize,
};
pub use compose::{Compose, MultiView, MultiViewTransform, RandomApply, TwoViews};
pub use crop::{
    CropBox, RandomResizedCrop, ResizeCenterCrop, central_crop_fallback,
    random_resized_crop_params, resize, resize_center_crop, resized_crop,
};
pub use cutout::{Cutout, cutout_at};
pub use error::TransformError;
pub use flip::{RandomHorizontalFlip, hflip, hflip_in_place};
pub use image::Image;
pub use multi_crop::MultiCropTransform;
pub use normalize::Normalize;
pub use presets::{
    BlurConfig, MocoV2Transform, SimClrTransform, SimSiamTransform, SolarizeConfig, TwoViewConfig,
    VicRegTransform,
};
pub use pretext::{
    ColorPretext, PretextLabels, PretextTasks, PretextTransform, PretextViews, RotationPretext,
    ShearPretext, shear_x,
};
pub use rng::{
    TransformRng, below, bernoulli, permutation, rng_for, shuffle, splitmix64, uniform, unit_f64,
};

use rand::RngCore;

/// An image augmentation.
///
/// `apply` consumes the image (most ops work in place) and draws randomness only from `rng`.
/// Implementors are `Send + Sync` so one pipeline can serve every data-loading thread.
pub trait Transform: Send + Sync + std::fmt::Debug {
    /// Transforms `img`, drawing any randomness from `rng`.
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image;

    /// Transforms a borrowed image; the same result and the same draws as
    /// `apply(img.clone(), rng)`, which is the default. Transforms that build a new image anyway
    /// ([`RandomResizedCrop`], and [`Compose`] / [`RandomApply`] around one) override it to skip
    /// the copy — it is how [`TwoViews`] and [`MultiView`] make each view.
    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        self.apply(img.clone(), rng)
    }
}

/// A boxed, type-erased [`Transform`], the element type of [`Compose`] and [`MultiView`].
pub type BoxedTransform = Box<dyn Transform>;

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        (**self).apply(img, rng)
    }

    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        (**self).apply_ref(img, rng)
    }
}

impl<T: Transform + ?Sized> Transform for std::sync::Arc<T> {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        (**self).apply(img, rng)
    }

    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        (**self).apply_ref(img, rng)
    }
}

impl<T: Transform + ?Sized> Transform for &T {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        (**self).apply(img, rng)
    }

    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        (**self).apply_ref(img, rng)
    }
}
