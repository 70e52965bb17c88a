//! [`RandomHorizontalFlip`] and [`hflip`].

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_probability};
use super::image::Image;
use super::rng::bernoulli;

/// Mirrors the image left–right with probability `p`: torchvision's `RandomHorizontalFlip(p)`.
///
/// Default `p = 0.5`. Draws one number per call.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomHorizontalFlip {
    p: f32,
}

impl RandomHorizontalFlip {
    /// torchvision's default flip probability.
    pub const DEFAULT_P: f32 = 0.5;

    /// Flips with probability `p`.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `p` when it is not in `[0, 1]`.
    pub fn new(p: f32) -> Result<Self, TransformError> {
        check_probability("p", p)?;
        Ok(Self { p })
    }

    /// The flip probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Default for RandomHorizontalFlip {
    /// `p = 0.5`.
    fn default() -> Self {
        Self { p: Self::DEFAULT_P }
    }
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, mut img: Image, rng: &mut dyn RngCore) -> Image {
        if bernoulli(rng, self.p.into()) {
            hflip_in_place(&mut img);
        }
        img
    }
}

/// Mirrors every row in place: torchvision's `F.hflip`.
pub fn hflip_in_place(img: &mut Image) {
    let w = img.width();
    if w > 1 {
        for row in img.data_mut().chunks_exact_mut(w) {
            row.reverse();
        }
    }
}

/// Returns the left–right mirror image: torchvision's `F.hflip`.
pub fn hflip(img: &Image) -> Image {
    let mut out = img.clone();
    hflip_in_place(&mut out);
    out
}
