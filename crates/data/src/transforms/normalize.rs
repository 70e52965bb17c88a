//! [`Normalize`]: per-channel standardisation.

use rand::RngCore;

use super::Transform;
use super::error::TransformError;
use super::image::Image;

/// `(x − mean[c]) / std[c]` per channel: torchvision's `Normalize(mean, std)`. Draws nothing.
///
/// ```
/// use selfsup_data::transforms::Normalize;
/// let n = Normalize::cifar10();
/// assert_eq!(n.mean(), &[0.4914, 0.4822, 0.4465]);
/// assert!(Normalize::new(vec![0.5], vec![0.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// The CIFAR-10 channel means used by most CIFAR SSL code.
    pub const CIFAR10_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
    /// The CIFAR-10 channel standard deviations used by most CIFAR SSL code. (These are the widespread
    /// values from `kuangliu/pytorch-cifar`; the true per-pixel stds are about `0.247, 0.243,
    /// 0.261`.)
    pub const CIFAR10_STD: [f32; 3] = [0.2023, 0.1994, 0.2010];
    /// The ImageNet channel means.
    pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    /// The ImageNet channel standard deviations.
    pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

    /// One mean and one standard deviation per channel.
    ///
    /// # Errors
    /// - [`TransformError::Empty`] naming `mean` when no channel is given;
    /// - [`TransformError::LengthMismatch`] naming `std` when its length differs from `mean`'s;
    /// - [`TransformError::OutOfRange`] naming `mean` (not finite) or `std` (not finite and > 0).
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self, TransformError> {
        if mean.is_empty() {
            return Err(TransformError::Empty { name: "mean" });
        }
        if std.len() != mean.len() {
            return Err(TransformError::LengthMismatch {
                name: "std",
                expected: mean.len(),
                found: std.len(),
            });
        }
        if let Some(&m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(TransformError::OutOfRange {
                name: "mean",
                value: m,
                expected: "a finite value",
            });
        }
        if let Some(&s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(TransformError::OutOfRange {
                name: "std",
                value: s,
                expected: "a positive, finite standard deviation",
            });
        }
        Ok(Self { mean, std })
    }

    /// CIFAR-10's [`CIFAR10_MEAN`](Self::CIFAR10_MEAN) and [`CIFAR10_STD`](Self::CIFAR10_STD).
    pub fn cifar10() -> Self {
        Self {
            mean: Self::CIFAR10_MEAN.to_vec(),
            std: Self::CIFAR10_STD.to_vec(),
        }
    }

    /// ImageNet's means and standard deviations.
    pub fn imagenet() -> Self {
        Self {
            mean: Self::IMAGENET_MEAN.to_vec(),
            std: Self::IMAGENET_STD.to_vec(),
        }
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The per-channel standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    fn assert_channels(&self, img: &Image) {
        assert!(
            img.channels() == self.mean.len(),
            "normalize has {} channel statistics but the image has {} channels",
            self.mean.len(),
            img.channels()
        );
    }

    /// Normalizes in place: `x = (x − mean) / std`, PyTorch's `sub_` then `div_`.
    ///
    /// # Panics
    /// If the image's channel count differs from the number of means.
    pub fn normalize_in_place(&self, img: &mut Image) {
        self.assert_channels(img);
        for (c, (&m, &s)) in self.mean.iter().zip(&self.std).enumerate() {
            for v in img.plane_mut(c) {
                *v = (*v - m) / s;
            }
        }
    }

    /// Undoes the normalization in place (`x = x · std + mean`), e.g. before
    /// [`Image::to_chw_u8`] for visualisation.
    ///
    /// # Panics
    /// If the image's channel count differs from the number of means.
    pub fn denormalize(&self, img: &mut Image) {
        self.assert_channels(img);
        for (c, (&m, &s)) in self.mean.iter().zip(&self.std).enumerate() {
            for v in img.plane_mut(c) {
                *v = *v * s + m;
            }
        }
    }
}

impl Transform for Normalize {
    fn apply(&self, mut img: Image, _rng: &mut dyn RngCore) -> Image {
        self.normalize_in_place(&mut img);
        img
    }
}
