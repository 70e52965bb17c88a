//! [`Cutout`] (DeVries & Taylor, 2017).

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_positive_size};
use super::image::Image;
use super::rng::below;

/// Zeroes `n_holes` squares of side `length`: Cutout as in DeVries & Taylor's reference code
/// (`uoguelph-mlrg/Cutout`, `util/cutout.py`).
///
/// Each hole's centre `(y, x)` is uniform over the image's pixels; the square
/// `[y − ⌊length/2⌋, y + ⌊length/2⌋) × [x − ⌊length/2⌋, x + ⌊length/2⌋)` is clipped at the
/// borders, so holes near an edge are partly outside (and, as in the reference, an odd `length`
/// gives a side of `length − 1`). Holes may overlap. In the reference
/// code it runs after normalization, so 0 is the dataset mean. Paper's CIFAR-10 setting:
/// `n_holes = 1`, `length = 16`. Draws `2 · n_holes` numbers per call.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutout {
    n_holes: usize,
    length: usize,
}

impl Cutout {
    /// `n_holes` squares of side `length`.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] naming `n_holes` or `length` when it is 0.
    pub fn new(n_holes: usize, length: usize) -> Result<Self, TransformError> {
        check_positive_size("n_holes", n_holes)?;
        check_positive_size("length", length)?;
        Ok(Self { n_holes, length })
    }

    /// Number of holes.
    pub fn n_holes(&self) -> usize {
        self.n_holes
    }

    /// Side of each hole.
    pub fn length(&self) -> usize {
        self.length
    }

    /// The hole centres `(y, x)` for an image of `height × width`, in drawing order
    /// (`y` then `x` per hole, like the reference's `np.random.randint(h)` then `randint(w)`).
    pub fn sample_params(
        &self,
        height: usize,
        width: usize,
        rng: &mut dyn RngCore,
    ) -> Vec<(usize, usize)> {
        (0..self.n_holes)
            .map(|_| {
                let y = below(rng, height);
                let x = below(rng, width);
                (y, x)
            })
            .collect()
    }
}

/// Zeroes, in every channel, the square of side `length` centred at `(cy, cx)`, clipped to the
/// image: rows `clip(cy − length/2) .. clip(cy + length/2)`, same for columns.
pub fn cutout_at(img: &mut Image, cy: usize, cx: usize, length: usize) {
    let (h, w) = (img.height(), img.width());
    let half = length / 2;
    let (y1, y2) = (cy.saturating_sub(half).min(h), (cy + half).min(h));
    let (x1, x2) = (cx.saturating_sub(half).min(w), (cx + half).min(w));
    for c in 0..img.channels() {
        let plane = img.plane_mut(c);
        for y in y1..y2 {
            plane[y * w + x1..y * w + x2].fill(0.0);
        }
    }
}

impl Transform for Cutout {
    fn apply(&self, mut img: Image, rng: &mut dyn RngCore) -> Image {
        if img.height() == 0 || img.width() == 0 {
            return img;
        }
        for (y, x) in self.sample_params(img.height(), img.width(), rng) {
            cutout_at(&mut img, y, x, self.length);
        }
        img
    }
}
