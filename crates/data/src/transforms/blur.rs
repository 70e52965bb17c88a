//! [`GaussianBlur`] and [`gaussian_blur`].

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_ordered};
use super::image::Image;
use super::rng::uniform;
use super::simd::avx2_dispatch;

/// torchvision's `_get_gaussian_kernel1d`: `exp(−½ (x/σ)²)` at
/// `x = −(k−1)/2 … (k−1)/2`, normalised to sum 1, in `f32`.
pub fn gaussian_kernel1d(kernel_size: usize, sigma: f32) -> Vec<f32> {
    let half = (kernel_size as f32 - 1.0) * 0.5;
    let pdf: Vec<f32> = (0..kernel_size)
        .map(|i| {
            let x = -half + i as f32;
            (-0.5 * (x / sigma).powi(2)).exp()
        })
        .collect();
    let sum: f32 = pdf.iter().sum();
    pdf.into_iter().map(|p| p / sum).collect()
}

/// Reflect-pads index `i` (which may be negative or past the end) into `0..n`, mirroring about
/// the edge pixels without repeating them (`torch.nn.functional.pad(mode="reflect")`:
/// `-1 → 1`, `n → n − 2`). Periodic for pads wider than the image, where PyTorch refuses.
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m < n as isize { m } else { period - m }) as usize
}

/// Blurs with a separable Gaussian: torchvision's `F.gaussian_blur(img, [kx, ky], [sx, sy])`
/// on float tensors (reflect padding by `k/2`, then a `kx × ky` kernel that is the outer
/// product of two [`gaussian_kernel1d`]s). Computed as a horizontal then a vertical 1-D pass,
/// which equals the 2-D convolution up to float rounding (≈1e-7).
///
/// # Panics
/// If a kernel size is even or 0, or a sigma is not positive.
pub fn gaussian_blur(img: &Image, kernel: (usize, usize), sigma: (f32, f32)) -> Image {
    let (kx, ky) = kernel;
    assert!(
        kx % 2 == 1 && ky % 2 == 1,
        "gaussian kernel sizes must be odd and positive, got {kx}×{ky}"
    );
    assert!(
        sigma.0 > 0.0 && sigma.1 > 0.0,
        "gaussian sigmas must be positive, got {sigma:?}"
    );
    let (c, h, w) = (img.channels(), img.height(), img.width());
    let wx = gaussian_kernel1d(kx, sigma.0);
    let wy = gaussian_kernel1d(ky, sigma.1);
    let (rx, ry) = ((kx / 2) as isize, (ky / 2) as isize);
    // Column `x + j` of a reflect-padded row is the input column `xs[x + j]`.
    let xs: Vec<usize> = (0..w as isize + 2 * rx)
        .map(|x| reflect(x - rx, w))
        .collect();
    let ys: Vec<usize> = (0..h as isize + 2 * ry)
        .map(|y| reflect(y - ry, h))
        .collect();
    // Taps whose weight is 0 in f32 (σ small: exp(−½ (x/σ)²) underflows) add exactly nothing.
    let taps = |weights: &[f32]| -> Vec<(usize, f32)> {
        weights
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, wt)| wt != 0.0)
            .collect()
    };
    let (tx, ty) = (taps(&wx), taps(&wy));
    let plane = h * w;
    let mut padded = vec![0.0f32; xs.len()];
    let mut tmp = vec![0.0f32; plane];
    let mut out = vec![0.0f32; c * plane];
    let horizontal: Vec<usize> = tx.iter().map(|&(j, _)| j).collect();
    let mut vertical: Vec<usize> = Vec::with_capacity(ty.len());
    for k in 0..c {
        let src = img.plane(k);
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for (p, &s) in padded.iter_mut().zip(&xs) {
                *p = row[s];
            }
            weighted_rows(&mut tmp[y * w..(y + 1) * w], &padded, &horizontal, &tx);
        }
        let dst = &mut out[k * plane..(k + 1) * plane];
        for y in 0..h {
            vertical.clear();
            vertical.extend(ty.iter().map(|&(j, _)| ys[y + j] * w));
            weighted_rows(&mut dst[y * w..(y + 1) * w], &tmp, &vertical, &ty);
        }
    }
    Image::new(c, h, w, out).expect("blur keeps the shape")
}

avx2_dispatch! {
    /// `out[x] = Σ_t src[starts[t] + x] · taps[t].1`, each output summed in tap order from the
    /// first: the horizontal pass (`src` the padded row, a start per tap) and the vertical one
    /// (`src` the horizontally blurred plane, the start of the row under each tap). Thirty-two
    /// outputs at a time stay in registers across the taps.
    fn weighted_rows(out: &mut [f32], src: &[f32], starts: &[usize], taps: &[(usize, f32)])
        => weighted_rows_body
}

#[inline(always)]
fn weighted_rows_body(out: &mut [f32], src: &[f32], starts: &[usize], taps: &[(usize, f32)]) {
    const LANES: usize = 32;
    let n = out.len();
    let row = |t: usize| &src[starts[t]..starts[t] + n];
    let (first, w0) = (row(0), taps[0].1);
    let mut x = 0;
    while x + LANES <= n {
        let mut acc = [0.0f32; LANES];
        for (a, &v) in acc.iter_mut().zip(&first[x..x + LANES]) {
            *a = v * w0;
        }
        for (t, &(_, wt)) in taps.iter().enumerate().skip(1) {
            for (a, &v) in acc.iter_mut().zip(&row(t)[x..x + LANES]) {
                *a += v * wt;
            }
        }
        out[x..x + LANES].copy_from_slice(&acc);
        x += LANES;
    }
    for (i, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = first[i] * w0;
        for (t, &(_, wt)) in taps.iter().enumerate().skip(1) {
            a += row(t)[i] * wt;
        }
        *o = a;
    }
}

/// Gaussian blur with a random sigma: torchvision's `GaussianBlur(kernel_size, sigma)`.
///
/// Each call draws one `σ ~ U(sigma.0, sigma.1)` used for both axes. Default
/// `sigma = (0.1, 2.0)` (torchvision's and SimCLR's). SimCLR's ImageNet setting is a kernel of
/// 10 % of the image side (made odd) applied with `p = 0.5` through
/// [`RandomApply`](super::RandomApply); on CIFAR it is usually left out.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBlur {
    kernel: (usize, usize),
    sigma: (f32, f32),
}

impl GaussianBlur {
    /// torchvision's default sigma range.
    pub const DEFAULT_SIGMA: (f32, f32) = (0.1, 2.0);

    /// A square `kernel_size × kernel_size` kernel.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] or [`TransformError::EvenKernel`] naming `kernel_size`.
    pub fn new(kernel_size: usize) -> Result<Self, TransformError> {
        Self::with_kernel(kernel_size, kernel_size)
    }

    /// A `kernel_x` (width) × `kernel_y` (height) kernel.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] or [`TransformError::EvenKernel`] naming `kernel_size`.
    pub fn with_kernel(kernel_x: usize, kernel_y: usize) -> Result<Self, TransformError> {
        for k in [kernel_x, kernel_y] {
            if k == 0 {
                return Err(TransformError::ZeroSize {
                    name: "kernel_size",
                });
            }
            if k % 2 == 0 {
                return Err(TransformError::EvenKernel {
                    name: "kernel_size",
                    value: k,
                });
            }
        }
        Ok(Self {
            kernel: (kernel_x, kernel_y),
            sigma: Self::DEFAULT_SIGMA,
        })
    }

    /// Sets the sigma range.
    ///
    /// # Errors
    /// A non-positive or non-finite bound, or `min > max`, naming `sigma`.
    pub fn with_sigma(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        for v in [min, max] {
            if !(v.is_finite() && v > 0.0) {
                return Err(TransformError::OutOfRange {
                    name: "sigma",
                    value: v,
                    expected: "a positive, finite standard deviation",
                });
            }
        }
        check_ordered("sigma", min, max)?;
        self.sigma = (min, max);
        Ok(self)
    }

    /// Kernel `(x, y)` sizes.
    pub fn kernel_size(&self) -> (usize, usize) {
        self.kernel
    }

    /// The sigma range.
    pub fn sigma(&self) -> (f32, f32) {
        self.sigma
    }

    /// Draws one sigma.
    pub fn sample_params(&self, rng: &mut dyn RngCore) -> f32 {
        uniform(rng, self.sigma.0.into(), self.sigma.1.into()) as f32
    }
}

impl Transform for GaussianBlur {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        let s = self.sample_params(rng);
        gaussian_blur(&img, self.kernel, (s, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 copy of the row kernel (taken on CPUs that have it) and the baseline one agree
    /// bit for bit, on every length around the 32-lane blocks.
    #[test]
    fn the_dispatched_row_kernel_equals_the_baseline_bit_for_bit() {
        let src: Vec<f32> = (0..300).map(|i| ((i * 37 % 101) as f32) / 101.0).collect();
        let weights = gaussian_kernel1d(23, 1.3);
        let taps: Vec<(usize, f32)> = weights.iter().copied().enumerate().collect();
        let starts: Vec<usize> = (0..23).collect();
        for n in [1, 15, 31, 32, 33, 64, 100, 224, 277] {
            let (mut fast, mut plain) = (vec![0.0; n], vec![0.0; n]);
            weighted_rows(&mut fast, &src, &starts, &taps);
            weighted_rows_body(&mut plain, &src, &starts, &taps);
            assert_eq!(
                fast.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                plain.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{n} outputs"
            );
        }
    }
}
