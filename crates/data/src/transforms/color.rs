//! Photometric transforms: [`ColorJitter`], [`RandomGrayscale`], [`RandomSolarize`], and the
//! torchvision tensor ops behind them ([`adjust_brightness`], [`adjust_contrast`],
//! [`adjust_saturation`], [`adjust_hue`], [`rgb_to_grayscale`], [`invert`], [`solarize`]).
//!
//! The ops work in place on `f32` and reproduce torchvision's `_functional_tensor` arithmetic
//! operation for operation (factors are cast to `f32` the way PyTorch casts a Python scalar),
//! so they agree with it to float rounding.

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_closed, check_ordered, check_probability};
use super::image::Image;
use super::rng::{bernoulli, permutation, uniform};
use super::simd::avx2_dispatch;

/// ITU-R 601-2 luma weights used by torchvision's `rgb_to_grayscale`.
pub const GRAY_WEIGHTS: [f32; 3] = [0.2989, 0.587, 0.114];

/// `0.2989 R + 0.587 G + 0.114 B` (torchvision's order of operations).
#[inline]
fn luma(r: f32, g: f32, b: f32) -> f32 {
    GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b
}

/// The single-channel luma plane of an RGB image: torchvision's `rgb_to_grayscale(img, 1)`.
///
/// # Panics
/// If the image does not have 3 channels.
pub fn grayscale_plane(img: &Image) -> Vec<f32> {
    img.assert_rgb("rgb_to_grayscale");
    let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
    r.iter()
        .zip(g)
        .zip(b)
        .map(|((&r, &g), &b)| luma(r, g, b))
        .collect()
}

/// Replaces every channel of an RGB image by its luma: torchvision's
/// `rgb_to_grayscale(img, num_output_channels=3)`. A 1-channel image is left as is.
///
/// # Panics
/// If the image has neither 1 nor 3 channels.
pub fn rgb_to_grayscale(img: &mut Image) {
    if img.channels() == 1 {
        return;
    }
    img.assert_rgb("rgb_to_grayscale");
    let (r, g, b) = img.rgb_planes_mut();
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let l = luma(*r, *g, *b);
        (*r, *g, *b) = (l, l, l);
    }
}

/// `(a·x + b·y).clamp(0, 1)` with `a = f32(ratio)`, `b = f32(1 − ratio)`: torchvision's `_blend`.
#[inline]
fn blend_coefficients(ratio: f64) -> (f32, f32) {
    (ratio as f32, (1.0 - ratio) as f32)
}

/// Multiplies by `factor` and clamps to `[0, 1]`: torchvision's `adjust_brightness`
/// (`_blend(img, 0, factor)`).
pub fn adjust_brightness(img: &mut Image, factor: f64) {
    let (a, b) = blend_coefficients(factor);
    for v in img.data_mut() {
        *v = (a * *v + b * 0.0).clamp(0.0, 1.0);
    }
}

/// Blends with the mean luma of the whole image: torchvision's `adjust_contrast`
/// (`_blend(img, mean(rgb_to_grayscale(img)), factor)`; for 1 channel the plain mean).
///
/// # Panics
/// If the image has neither 1 nor 3 channels.
pub fn adjust_contrast(img: &mut Image, factor: f64) {
    let mean = if img.channels() == 1 {
        img.data().iter().map(|&v| f64::from(v)).sum::<f64>() / img.data().len().max(1) as f64
    } else {
        img.assert_rgb("adjust_contrast");
        let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
        let sum: f64 = r
            .iter()
            .zip(g)
            .zip(b)
            .map(|((&r, &g), &b)| f64::from(luma(r, g, b)))
            .sum();
        sum / r.len().max(1) as f64
    } as f32;
    let (a, b) = blend_coefficients(factor);
    let m = b * mean;
    for v in img.data_mut() {
        *v = (a * *v + m).clamp(0.0, 1.0);
    }
}

/// Blends each pixel with its own luma: torchvision's `adjust_saturation`
/// (`_blend(img, rgb_to_grayscale(img), factor)`); a 1-channel image is left as is.
///
/// # Panics
/// If the image has neither 1 nor 3 channels.
pub fn adjust_saturation(img: &mut Image, factor: f64) {
    if img.channels() == 1 {
        return;
    }
    img.assert_rgb("adjust_saturation");
    let (a, b) = blend_coefficients(factor);
    let (r, g, bl) = img.rgb_planes_mut();
    for ((r, g), bl) in r.iter_mut().zip(g.iter_mut()).zip(bl.iter_mut()) {
        let m = b * luma(*r, *g, *bl);
        *r = (a * *r + m).clamp(0.0, 1.0);
        *g = (a * *g + m).clamp(0.0, 1.0);
        *bl = (a * *bl + m).clamp(0.0, 1.0);
    }
}

/// `fmod(x, 1)` for `|x| < 2³¹`: `x − trunc(x)`, which is exact (so bit-identical to `fmod`)
/// and avoids the slow software `fmodf` and `floorf` calls of baseline x86-64.
#[inline(always)]
fn fmod1(x: f32) -> f32 {
    x - (x as i32) as f32
}

/// One pixel RGB → HSV → hue shift → RGB, transcribing torchvision's `_rgb2hsv`, the
/// `(h + factor) % 1.0` shift, and `_hsv2rgb`, in `f32`.
#[inline(always)]
fn shift_hue_pixel(r: f32, g: f32, b: f32, factor: f32) -> (f32, f32, f32) {
    // _rgb2hsv
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if eqc { 1.0 } else { maxc };
    let cr_divisor = if eqc { 1.0 } else { cr };
    let rc = (maxc - r) / cr_divisor;
    let gc = (maxc - g) / cr_divisor;
    let bc = (maxc - b) / cr_divisor;
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    let h = fmod1(h / 6.0 + 1.0);
    let v = maxc;
    // (h + factor) % 1.0, PyTorch's float remainder: fmod, then + 1 if negative.
    let mut h = fmod1(h + factor);
    if h < 0.0 {
        h += 1.0;
    }
    // _hsv2rgb. h * 6 is in [0, 6], where floor is truncation.
    let i = (h * 6.0) as i32;
    let f = h * 6.0 - i as f32;
    let i = if i >= 6 { i - 6 } else { i };
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    // The sextant table (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q) as selects, not a
    // jump, so the pixel loop vectorises.
    let r = if i == 0 || i == 5 {
        v
    } else if i == 1 {
        q
    } else if i <= 3 {
        p
    } else {
        t
    };
    let g = if i == 0 {
        t
    } else if i <= 2 {
        v
    } else if i == 3 {
        q
    } else {
        p
    };
    let b = if i <= 1 {
        p
    } else if i == 2 {
        t
    } else if i <= 4 {
        v
    } else {
        q
    };
    (r, g, b)
}

/// Rotates the hue by `factor` turns (in `[-0.5, 0.5]`): torchvision's `adjust_hue`
/// (RGB → HSV, `h = (h + factor) mod 1`, HSV → RGB). A 1-channel image is left as is.
///
/// # Panics
/// If `factor` is outside `[-0.5, 0.5]` or the image has neither 1 nor 3 channels.
pub fn adjust_hue(img: &mut Image, factor: f64) {
    assert!(
        (-0.5..=0.5).contains(&factor),
        "hue factor {factor} is not in [-0.5, 0.5]"
    );
    if img.channels() == 1 {
        return;
    }
    img.assert_rgb("adjust_hue");
    let (r, g, b) = img.rgb_planes_mut();
    shift_hue(r, g, b, factor as f32);
}

avx2_dispatch! {
    /// [`shift_hue_pixel`] over three planes.
    fn shift_hue(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) => shift_hue_body
}

#[inline(always)]
fn shift_hue_body(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) {
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        (*r, *g, *b) = shift_hue_pixel(*r, *g, *b, factor);
    }
}

/// `1 − x` for every value: torchvision's `invert` on float images.
pub fn invert(img: &mut Image) {
    for v in img.data_mut() {
        *v = 1.0 - *v;
    }
}

/// `x ≥ threshold ? 1 − x : x`: torchvision's `solarize` on float images.
pub fn solarize(img: &mut Image, threshold: f32) {
    for v in img.data_mut() {
        if *v >= threshold {
            *v = 1.0 - *v;
        }
    }
}

/// One draw of [`ColorJitter`]: the order of the four ops and their factors (`None` = op off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorJitterParams {
    /// Op order, a permutation of `0..4`: 0 brightness, 1 contrast, 2 saturation, 3 hue
    /// (torchvision's `fn_idx`).
    pub order: [usize; 4],
    /// Brightness factor.
    pub brightness: Option<f64>,
    /// Contrast factor.
    pub contrast: Option<f64>,
    /// Saturation factor.
    pub saturation: Option<f64>,
    /// Hue shift, in turns.
    pub hue: Option<f64>,
}

/// Applies the ops of `params` in `params.order`: the body of torchvision's `ColorJitter.forward`.
pub fn apply_color_jitter(img: &mut Image, params: &ColorJitterParams) {
    for &op in &params.order {
        match op {
            0 => {
                if let Some(f) = params.brightness {
                    adjust_brightness(img, f);
                }
            }
            1 => {
                if let Some(f) = params.contrast {
                    adjust_contrast(img, f);
                }
            }
            2 => {
                if let Some(f) = params.saturation {
                    adjust_saturation(img, f);
                }
            }
            3 => {
                if let Some(f) = params.hue {
                    adjust_hue(img, f);
                }
            }
            _ => panic!("color jitter op index {op} is not in 0..4"),
        }
    }
}

/// Randomly changes brightness, contrast, saturation and hue, in a random order: torchvision's
/// `ColorJitter(brightness, contrast, saturation, hue)`.
///
/// A strength `b` gives factors uniform in `[max(0, 1 − b), 1 + b]` (brightness, contrast,
/// saturation); a hue strength `h` gives a shift uniform in `[−h, h]`. A strength of 0 turns
/// the op off. Each call draws `torch.randperm(4)` then the enabled factors, in torchvision's
/// order. Defaults: every strength 0 (identity), as in torchvision; SimCLR's CIFAR setting is
/// `(0.4, 0.4, 0.4, 0.1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorJitter {
    brightness: Option<(f32, f32)>,
    contrast: Option<(f32, f32)>,
    saturation: Option<(f32, f32)>,
    hue: Option<(f32, f32)>,
}

fn factor_range(name: &'static str, strength: f32) -> Result<Option<(f32, f32)>, TransformError> {
    check_closed(
        name,
        strength,
        0.0,
        f32::MAX,
        "a non-negative, finite strength",
    )?;
    Ok((strength > 0.0).then(|| ((1.0 - strength).max(0.0), 1.0 + strength)))
}

fn checked_factor_range(
    name: &'static str,
    min: f32,
    max: f32,
) -> Result<Option<(f32, f32)>, TransformError> {
    for v in [min, max] {
        check_closed(name, v, 0.0, f32::MAX, "a non-negative, finite factor")?;
    }
    check_ordered(name, min, max)?;
    Ok((!(min == 1.0 && max == 1.0)).then_some((min, max)))
}

impl ColorJitter {
    /// Jitter strengths as torchvision takes them.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming the parameter when `brightness`, `contrast` or
    /// `saturation` is negative or not finite, or `hue` is outside `[0, 0.5]`.
    pub fn new(
        brightness: f32,
        contrast: f32,
        saturation: f32,
        hue: f32,
    ) -> Result<Self, TransformError> {
        check_closed("hue", hue, 0.0, 0.5, "a hue strength in [0, 0.5]")?;
        Ok(Self {
            brightness: factor_range("brightness", brightness)?,
            contrast: factor_range("contrast", contrast)?,
            saturation: factor_range("saturation", saturation)?,
            hue: (hue > 0.0).then_some((-hue, hue)),
        })
    }

    /// Sets an explicit brightness factor range (torchvision's `brightness=(min, max)`).
    ///
    /// # Errors
    /// A negative or non-finite bound, or `min > max`, naming `brightness`.
    pub fn with_brightness_range(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        self.brightness = checked_factor_range("brightness", min, max)?;
        Ok(self)
    }

    /// Sets an explicit contrast factor range.
    ///
    /// # Errors
    /// A negative or non-finite bound, or `min > max`, naming `contrast`.
    pub fn with_contrast_range(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        self.contrast = checked_factor_range("contrast", min, max)?;
        Ok(self)
    }

    /// Sets an explicit saturation factor range.
    ///
    /// # Errors
    /// A negative or non-finite bound, or `min > max`, naming `saturation`.
    pub fn with_saturation_range(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        self.saturation = checked_factor_range("saturation", min, max)?;
        Ok(self)
    }

    /// Sets an explicit hue shift range (torchvision's `hue=(min, max)`).
    ///
    /// # Errors
    /// A bound outside `[-0.5, 0.5]`, or `min > max`, naming `hue`.
    pub fn with_hue_range(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        for v in [min, max] {
            check_closed("hue", v, -0.5, 0.5, "a hue shift in [-0.5, 0.5]")?;
        }
        check_ordered("hue", min, max)?;
        self.hue = (!(min == 0.0 && max == 0.0)).then_some((min, max));
        Ok(self)
    }

    /// The brightness factor range (`None` when off).
    pub fn brightness(&self) -> Option<(f32, f32)> {
        self.brightness
    }

    /// The contrast factor range (`None` when off).
    pub fn contrast(&self) -> Option<(f32, f32)> {
        self.contrast
    }

    /// The saturation factor range (`None` when off).
    pub fn saturation(&self) -> Option<(f32, f32)> {
        self.saturation
    }

    /// The hue shift range (`None` when off).
    pub fn hue(&self) -> Option<(f32, f32)> {
        self.hue
    }

    /// One draw: `randperm(4)`, then brightness, contrast, saturation, hue factors (each only
    /// if enabled) — torchvision's `ColorJitter.get_params`.
    pub fn sample_params(&self, rng: &mut dyn RngCore) -> ColorJitterParams {
        let order = permutation::<4>(rng);
        let mut draw =
            |range: Option<(f32, f32)>| range.map(|(lo, hi)| uniform(rng, lo.into(), hi.into()));
        let brightness = draw(self.brightness);
        let contrast = draw(self.contrast);
        let saturation = draw(self.saturation);
        let hue = draw(self.hue);
        ColorJitterParams {
            order,
            brightness,
            contrast,
            saturation,
            hue,
        }
    }
}

impl Transform for ColorJitter {
    fn apply(&self, mut img: Image, rng: &mut dyn RngCore) -> Image {
        let params = self.sample_params(rng);
        apply_color_jitter(&mut img, &params);
        img
    }
}

/// Converts to 3-channel grayscale with probability `p`: torchvision's `RandomGrayscale(p)`.
///
/// Default `p = 0.1` (torchvision's); SimCLR uses 0.2. Draws one number per call.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomGrayscale {
    p: f32,
}

impl RandomGrayscale {
    /// torchvision's default probability.
    pub const DEFAULT_P: f32 = 0.1;

    /// Grayscale with probability `p`.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `p` when it is not in `[0, 1]`.
    pub fn new(p: f32) -> Result<Self, TransformError> {
        check_probability("p", p)?;
        Ok(Self { p })
    }

    /// The probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Default for RandomGrayscale {
    /// `p = 0.1`.
    fn default() -> Self {
        Self { p: Self::DEFAULT_P }
    }
}

impl Transform for RandomGrayscale {
    fn apply(&self, mut img: Image, rng: &mut dyn RngCore) -> Image {
        if bernoulli(rng, self.p.into()) {
            rgb_to_grayscale(&mut img);
        }
        img
    }
}

/// Inverts every value at or above `threshold` with probability `p`: torchvision's
/// `RandomSolarize(threshold, p)` on float images. BYOL uses `threshold = 0.5`, `p = 0.2` on
/// its second view. Draws one number per call.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomSolarize {
    threshold: f32,
    p: f32,
}

impl RandomSolarize {
    /// Solarizes at `threshold` (in `[0, 1]`) with probability `p`.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `threshold` or `p`.
    pub fn new(threshold: f32, p: f32) -> Result<Self, TransformError> {
        check_closed("threshold", threshold, 0.0, 1.0, "a threshold in [0, 1]")?;
        check_probability("p", p)?;
        Ok(Self { threshold, p })
    }

    /// The threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Transform for RandomSolarize {
    fn apply(&self, mut img: Image, rng: &mut dyn RngCore) -> Image {
        if bernoulli(rng, self.p.into()) {
            solarize(&mut img, self.threshold);
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 copy of the hue loop (taken on CPUs that have it) and the baseline one agree
    /// bit for bit, grey and saturated pixels included.
    #[test]
    fn the_dispatched_hue_loop_equals_the_baseline_bit_for_bit() {
        let n = 1000;
        let plane = |k: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * (7 + 6 * k) + 3 * k) % 257) as f32 / 256.0)
                .collect()
        };
        let (r0, g0, mut b0) = (plane(0), plane(1), plane(2));
        b0[10] = r0[10]; // some equal channels, some grey
        let grey = r0[20];
        let (mut r0, mut g0) = (r0, g0);
        (r0[20], g0[20], b0[20]) = (grey, grey, grey);
        for factor in [-0.5f32, -0.13, 0.0, 0.07, 0.5] {
            let (mut r1, mut g1, mut b1) = (r0.clone(), g0.clone(), b0.clone());
            let (mut r2, mut g2, mut b2) = (r0.clone(), g0.clone(), b0.clone());
            shift_hue(&mut r1, &mut g1, &mut b1, factor);
            shift_hue_body(&mut r2, &mut g2, &mut b2, factor);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&r1), bits(&r2), "{factor}");
            assert_eq!(bits(&g1), bits(&g2), "{factor}");
            assert_eq!(bits(&b1), bits(&b2), "{factor}");
        }
    }
}
