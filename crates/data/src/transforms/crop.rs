//! [`RandomResizedCrop`], [`ResizeCenterCrop`] and the antialiased bilinear resize behind them.

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_ordered, check_positive_size};
use super::image::Image;
use super::rng::{below, uniform};

/// A crop rectangle in pixels: rows `top..top + height`, columns `left..left + width`
/// (torchvision's `(i, j, h, w)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CropBox {
    /// First row (torchvision's `i`).
    pub top: usize,
    /// First column (torchvision's `j`).
    pub left: usize,
    /// Number of rows (`h`).
    pub height: usize,
    /// Number of columns (`w`).
    pub width: usize,
}

/// Crops a random rectangle and resizes it to a fixed size: torchvision's
/// `RandomResizedCrop(size, scale, ratio, interpolation=BILINEAR, antialias=True)` on tensors.
///
/// The rectangle is drawn by [`random_resized_crop_params`] (torchvision's `get_params`,
/// including its ten attempts and central-crop fallback); it is resized by [`resized_crop`]
/// (bilinear, `align_corners=False`, antialiased when shrinking).
///
/// Defaults (torchvision's): `scale = (0.08, 1.0)`, `ratio = (3/4, 4/3)`.
///
/// ```
/// use selfsup_data::transforms::RandomResizedCrop;
/// let crop = RandomResizedCrop::new(32)?.with_scale(0.2, 1.0)?;
/// assert_eq!(crop.scale(), (0.2, 1.0));
/// assert!(RandomResizedCrop::new(32)?.with_scale(0.0, 1.0).is_err());
/// # Ok::<(), selfsup_data::transforms::TransformError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomResizedCrop {
    height: usize,
    width: usize,
    scale: (f32, f32),
    ratio: (f32, f32),
}

impl RandomResizedCrop {
    /// torchvision's default area-fraction range, `(0.08, 1.0)`.
    pub const DEFAULT_SCALE: (f32, f32) = (0.08, 1.0);
    /// torchvision's default aspect-ratio (width / height) range, `(3/4, 4/3)`.
    pub const DEFAULT_RATIO: (f32, f32) = (3.0 / 4.0, 4.0 / 3.0);

    /// A square `size × size` output with the default scale and ratio.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] naming `size` when it is 0.
    pub fn new(size: usize) -> Result<Self, TransformError> {
        check_positive_size("size", size)?;
        Self::with_output(size, size)
    }

    /// A `height × width` output with the default scale and ratio.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] naming `height` or `width` when one is 0.
    pub fn with_output(height: usize, width: usize) -> Result<Self, TransformError> {
        check_positive_size("height", height)?;
        check_positive_size("width", width)?;
        Ok(Self {
            height,
            width,
            scale: Self::DEFAULT_SCALE,
            ratio: Self::DEFAULT_RATIO,
        })
    }

    /// Sets the range of the crop's area as a fraction of the image's.
    ///
    /// # Errors
    /// `scale` outside `(0, 1]` ([`TransformError::OutOfRange`]) or `min > max`
    /// ([`TransformError::InvertedRange`]).
    pub fn with_scale(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        for v in [min, max] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(TransformError::OutOfRange {
                    name: "scale",
                    value: v,
                    expected: "an area fraction in (0, 1]",
                });
            }
        }
        check_ordered("scale", min, max)?;
        self.scale = (min, max);
        Ok(self)
    }

    /// Sets the range of the crop's aspect ratio (width / height), sampled log-uniformly.
    ///
    /// # Errors
    /// A non-positive or non-finite bound ([`TransformError::OutOfRange`]) or `min > max`
    /// ([`TransformError::InvertedRange`]).
    pub fn with_ratio(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        for v in [min, max] {
            if !(v.is_finite() && v > 0.0) {
                return Err(TransformError::OutOfRange {
                    name: "ratio",
                    value: v,
                    expected: "a positive, finite aspect ratio",
                });
            }
        }
        check_ordered("ratio", min, max)?;
        self.ratio = (min, max);
        Ok(self)
    }

    /// Output `(height, width)`.
    pub fn size(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// The area-fraction range.
    pub fn scale(&self) -> (f32, f32) {
        self.scale
    }

    /// The aspect-ratio range.
    pub fn ratio(&self) -> (f32, f32) {
        self.ratio
    }

    /// Draws the crop for an image of `height × width` (see [`random_resized_crop_params`]).
    pub fn sample_params(&self, height: usize, width: usize, rng: &mut dyn RngCore) -> CropBox {
        random_resized_crop_params(
            height,
            width,
            (self.scale.0.into(), self.scale.1.into()),
            (self.ratio.0.into(), self.ratio.1.into()),
            rng,
        )
    }
}

impl Transform for RandomResizedCrop {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        self.apply_ref(&img, rng)
    }

    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        let crop = self.sample_params(img.height(), img.width(), rng);
        resized_crop(img, crop, self.height, self.width)
    }
}

/// torchvision's `RandomResizedCrop.get_params`, step for step.
///
/// Up to ten attempts: `area = H·W·U(scale)`, `r = exp(U(ln ratio.0, ln ratio.1))`,
/// `w = round(√(area·r))`, `h = round(√(area/r))` (round half to even, as Python's `round`);
/// the first attempt with `0 < w ≤ W` and `0 < h ≤ H` is placed at `top = randint(0, H−h)`,
/// `left = randint(0, W−w)` (both inclusive). When all ten fail, the central crop whose ratio is
/// `W/H` clamped into `ratio` (the whole image if `W/H` is in range).
///
/// The one deviation: where torchvision's fallback would produce an empty crop (a side rounding
/// to 0, e.g. `W/H ≪ ratio.0`), the side is taken as 1 pixel.
///
/// # Panics
/// If `height` or `width` is 0.
pub fn random_resized_crop_params(
    height: usize,
    width: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut dyn RngCore,
) -> CropBox {
    assert!(
        height > 0 && width > 0,
        "cannot crop an empty {height}×{width} image"
    );
    let area = (height * width) as f64;
    let (log_lo, log_hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target_area = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, log_lo, log_hi).exp();
        let w = (target_area * aspect).sqrt().round_ties_even();
        let h = (target_area / aspect).sqrt().round_ties_even();
        if w > 0.0 && w <= width as f64 && h > 0.0 && h <= height as f64 {
            let (w, h) = (w as usize, h as usize);
            let top = below(rng, height - h + 1);
            let left = below(rng, width - w + 1);
            return CropBox {
                top,
                left,
                height: h,
                width: w,
            };
        }
    }
    central_crop_fallback(height, width, ratio)
}

/// The fallback of [`random_resized_crop_params`]: the central crop with the image's aspect
/// ratio clamped into `ratio`.
pub fn central_crop_fallback(height: usize, width: usize, ratio: (f64, f64)) -> CropBox {
    let in_ratio = width as f64 / height as f64;
    let (min_r, max_r) = (ratio.0.min(ratio.1), ratio.0.max(ratio.1));
    let (h, w) = if in_ratio < min_r {
        let h = (width as f64 / min_r).round_ties_even() as usize;
        (h.clamp(1, height), width)
    } else if in_ratio > max_r {
        let w = (height as f64 * max_r).round_ties_even() as usize;
        (height, w.clamp(1, width))
    } else {
        (height, width)
    };
    CropBox {
        top: (height - h) / 2,
        left: (width - w) / 2,
        height: h,
        width: w,
    }
}

/// Precomputed separable resampling weights along one axis: output `i` reads the `taps`
/// inputs `start[i] .. start[i] + taps` with weights `weights[i * taps ..][.. taps]`.
///
/// Every output has the same number of taps (the largest needed, so the inner loops have a
/// fixed length): shorter filters are padded with zero weights, and windows that would run past
/// the end are shifted left, the zeros first. Adding `0 · x` before the first real tap leaves
/// every sum bit-identical to the unpadded one.
#[derive(Debug, Clone)]
struct AxisWeights {
    start: Vec<usize>,
    weights: Vec<f32>,
    taps: usize,
}

/// The bilinear (triangle) filter.
fn triangle(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

impl AxisWeights {
    /// PyTorch's antialiased bilinear weights (`_upsample_bilinear2d_aa`, the path torchvision
    /// takes with `antialias=True`), in `f32` like PyTorch's `float` kernel (see
    /// [`resized_crop`]).
    fn antialiased_bilinear(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f32 / out_size as f32;
        let (support, invscale) = if scale >= 1.0 {
            (scale, 1.0 / scale)
        } else {
            (1.0, 1.0)
        };
        let max_taps = (support.ceil() as usize) * 2 + 1;
        let mut ranges = Vec::with_capacity(out_size);
        let mut raw = vec![0.0f32; out_size * max_taps];
        let mut taps = 1;
        for i in 0..out_size {
            let center = scale * (i as f32 + 0.5);
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
            let n = (xmax - xmin).max(0) as usize;
            assert!(
                n <= max_taps,
                "resize weights overflow ({n} taps > {max_taps})"
            );
            let w = &mut raw[i * max_taps..i * max_taps + n];
            let mut total = 0.0f32;
            for (j, wj) in w.iter_mut().enumerate() {
                *wj = triangle((j as f32 + xmin as f32 - center + 0.5) * invscale);
                total += *wj;
            }
            if total != 0.0 {
                for wj in w.iter_mut() {
                    *wj /= total;
                }
            }
            ranges.push((xmin as usize, n));
            taps = taps.max(n);
        }
        let mut start = Vec::with_capacity(out_size);
        let mut weights = vec![0.0f32; out_size * taps];
        for (i, &(xmin, n)) in ranges.iter().enumerate() {
            let s = xmin.min(in_size - taps);
            let offset = xmin - s;
            weights[i * taps + offset..i * taps + offset + n]
                .copy_from_slice(&raw[i * max_taps..i * max_taps + n]);
            start.push(s);
        }
        Self {
            start,
            weights,
            taps,
        }
    }

    /// `out[i] = Σ_j row[start[i] + j] · w[i][j]`, accumulated in tap order.
    fn resample_row(&self, row: &[f32], out: &mut [f32]) {
        macro_rules! fixed {
            ($k:literal) => {{
                for ((o, &s), w) in out
                    .iter_mut()
                    .zip(&self.start)
                    .zip(self.weights.chunks_exact($k))
                {
                    let x: &[f32; $k] = row[s..s + $k].try_into().expect("window");
                    let w: &[f32; $k] = w.try_into().expect("weights");
                    let mut acc = 0.0f32;
                    for j in 0..$k {
                        acc += x[j] * w[j];
                    }
                    *o = acc;
                }
            }};
        }
        match self.taps {
            1 => fixed!(1),
            2 => fixed!(2),
            3 => fixed!(3),
            4 => fixed!(4),
            5 => fixed!(5),
            6 => fixed!(6),
            k => {
                for ((o, &s), w) in out
                    .iter_mut()
                    .zip(&self.start)
                    .zip(self.weights.chunks_exact(k))
                {
                    let mut acc = 0.0f32;
                    for (&x, &w) in row[s..s + k].iter().zip(w) {
                        acc += x * w;
                    }
                    *o = acc;
                }
            }
        }
    }
}

/// Crops `crop` out of `img` and resizes it to `out_height × out_width`: torchvision's
/// `F.resized_crop(img, i, j, h, w, size, InterpolationMode.BILINEAR, antialias=True)` on a float
/// tensor.
///
/// Separable: a horizontal pass then a vertical one (PyTorch's order), each with weights
/// precomputed once per axis: PyTorch's antialiased bilinear (`_upsample_bilinear2d_aa`), in
/// `f32` like its `float` kernel — `scale = in/out`, support `max(scale, 1)`, centre
/// `scale·(i + ½)`, taps `trunc(centre − support + ½) .. trunc(centre + support + ½)` clipped to
/// the input, weights `triangle((j − centre + ½) / max(scale, 1))` normalised to sum 1. When
/// upsampling this is exactly `align_corners=False` bilinear with edge clamping; when
/// downsampling it is PIL's triangle filter widened by the shrink factor. An axis whose size
/// does not change is copied. Matches PyTorch to float rounding (the goldens agree within 2e-7).
///
/// # Panics
/// If the crop is empty or extends past the image, or an output side is 0.
pub fn resized_crop(img: &Image, crop: CropBox, out_height: usize, out_width: usize) -> Image {
    let CropBox {
        top,
        left,
        height: ch,
        width: cw,
    } = crop;
    assert!(
        ch > 0 && cw > 0 && top + ch <= img.height() && left + cw <= img.width(),
        "crop {crop:?} is empty or outside the {}×{} image",
        img.height(),
        img.width()
    );
    assert!(
        out_height > 0 && out_width > 0,
        "cannot resize to an empty {out_height}×{out_width} image"
    );
    let (c, w_in) = (img.channels(), img.width());
    let src = img.data();
    let plane_in = img.height() * w_in;

    // Horizontal pass: crop rows -> tmp [c, ch, out_width].
    let mut tmp = vec![0.0f32; c * ch * out_width];
    if cw == out_width {
        for k in 0..c {
            for y in 0..ch {
                let s = k * plane_in + (top + y) * w_in + left;
                let d = (k * ch + y) * out_width;
                tmp[d..d + cw].copy_from_slice(&src[s..s + cw]);
            }
        }
    } else {
        let wx = AxisWeights::antialiased_bilinear(cw, out_width);
        for k in 0..c {
            for y in 0..ch {
                let s = k * plane_in + (top + y) * w_in + left;
                let d = (k * ch + y) * out_width;
                wx.resample_row(&src[s..s + cw], &mut tmp[d..d + out_width]);
            }
        }
    }
    if ch == out_height {
        return Image::new(c, out_height, out_width, tmp).expect("resize keeps the shape");
    }

    // Vertical pass: tmp -> out [c, out_height, out_width], accumulating whole rows.
    let wy = AxisWeights::antialiased_bilinear(ch, out_height);
    let mut out = vec![0.0f32; c * out_height * out_width];
    for k in 0..c {
        for oy in 0..out_height {
            let start = wy.start[oy];
            let w = &wy.weights[oy * wy.taps..(oy + 1) * wy.taps];
            let d = (k * out_height + oy) * out_width;
            let dst = &mut out[d..d + out_width];
            for (j, &wj) in w.iter().enumerate() {
                let s = (k * ch + start + j) * out_width;
                for (o, &v) in dst.iter_mut().zip(&tmp[s..s + out_width]) {
                    *o += v * wj;
                }
            }
        }
    }
    Image::new(c, out_height, out_width, out).expect("resize keeps the shape")
}

/// Resizes the whole image (see [`resized_crop`]); torchvision's
/// `F.resize(img, [out_height, out_width], BILINEAR, antialias=True)`.
pub fn resize(img: &Image, out_height: usize, out_width: usize) -> Image {
    let whole = CropBox {
        top: 0,
        left: 0,
        height: img.height(),
        width: img.width(),
    };
    resized_crop(img, whole, out_height, out_width)
}

/// Resizes the shorter side to `size` and crops the centre `size × size`: torchvision's
/// `Compose([Resize(size), CenterCrop(size)])` (bilinear, antialiased), the evaluation
/// transform, and the views of methods that must see whole images of one size (the pretext
/// tasks). Draws no randomness. See [`resize_center_crop`].
///
/// ```
/// use selfsup_data::transforms::{Image, ResizeCenterCrop, Transform, TransformRng};
/// let crop = ResizeCenterCrop::new(32)?;
/// let photo = Image::zeros(3, 48, 80);
/// let view = crop.apply(photo, &mut TransformRng::from_u64(0));
/// assert_eq!(view.shape(), [3, 32, 32]);
/// # Ok::<(), selfsup_data::transforms::TransformError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeCenterCrop {
    size: usize,
}

impl ResizeCenterCrop {
    /// A square `size × size` output.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] naming `size` when it is 0.
    pub fn new(size: usize) -> Result<Self, TransformError> {
        check_positive_size("size", size)?;
        Ok(Self { size })
    }

    /// The side of the output.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl Transform for ResizeCenterCrop {
    fn apply(&self, img: Image, _rng: &mut dyn RngCore) -> Image {
        if [img.height(), img.width()] == [self.size, self.size] {
            return img;
        }
        resize_center_crop(&img, self.size)
    }

    fn apply_ref(&self, img: &Image, _rng: &mut dyn RngCore) -> Image {
        resize_center_crop(img, self.size)
    }
}

/// torchvision's `Resize(size)` then `CenterCrop(size)`: the shorter side becomes `size` and the
/// longer `⌊size · long / short⌋` ([`resize`]), then the centre `size × size` is cut out,
/// starting at `round((side − size) / 2)` (ties to even, like Python's `round`). An image already
/// `size × size` is copied unchanged.
///
/// # Panics
/// If `size` is 0.
pub fn resize_center_crop(img: &Image, size: usize) -> Image {
    assert!(size > 0, "cannot resize to an empty image");
    let (h, w) = (img.height(), img.width());
    if [h, w] == [size, size] {
        return img.clone();
    }
    let (short, long) = (h.min(w), h.max(w));
    let new_long = (size * long / short).max(size);
    let (rh, rw) = if h <= w {
        (size, new_long)
    } else {
        (new_long, size)
    };
    let resized = resize(img, rh, rw);
    let (top, left) = (centre_offset(rh, size), centre_offset(rw, size));
    let mut out = Vec::with_capacity(img.channels() * size * size);
    for c in 0..img.channels() {
        let plane = resized.plane(c);
        for y in top..top + size {
            out.extend_from_slice(&plane[y * rw + left..y * rw + left + size]);
        }
    }
    Image::new(img.channels(), size, size, out).expect("the crop has the output's shape")
}

/// torchvision's `CenterCrop` offset `int(round((side - size) / 2.0))`, ties to even.
fn centre_offset(side: usize, size: usize) -> usize {
    let (half, odd) = ((side - size) / 2, !(side - size).is_multiple_of(2));
    // An odd difference is a tie: round to the even neighbour.
    if odd && !half.is_multiple_of(2) {
        half + 1
    } else {
        half
    }
}
