//! [`GaussianBlur`] and [`gaussian_blur`].

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_ordered};
use super::image::Image;
use super::rng::uniform;

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
    let xs: Vec<Vec<usize>> = (0..w)
        .map(|x| {
            (0..kx as isize)
                .map(|j| reflect(x as isize + j - rx, w))
                .collect()
        })
        .collect();
    let ys: Vec<usize> = (0..h as isize + 2 * ry)
        .map(|y| reflect(y - ry, h))
        .collect();
    let plane = h * w;
    let mut tmp = vec![0.0f32; plane];
    let mut out = vec![0.0f32; c * plane];
    for k in 0..c {
        let src = img.plane(k);
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for (x, t) in tmp[y * w..(y + 1) * w].iter_mut().enumerate() {
                *t = xs[x].iter().zip(&wx).map(|(&s, &wt)| row[s] * wt).sum();
            }
        }
        let dst = &mut out[k * plane..(k + 1) * plane];
        for y in 0..h {
            let d = &mut dst[y * w..(y + 1) * w];
            for (j, &wt) in wy.iter().enumerate() {
                let sy = ys[y + j];
                for (o, &v) in d.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]) {
                    *o += v * wt;
                }
            }
        }
    }
    Image::new(c, h, w, out).expect("blur keeps the shape")
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
