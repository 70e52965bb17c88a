//! [`RandomAffine`], the affine warp behind it ([`affine`]), and exact quarter-turn rotations
//! ([`rotate_quarter_turns`]).

use rand::RngCore;

use super::Transform;
use super::error::{TransformError, check_closed, check_ordered};
use super::image::Image;
use super::rng::uniform;

/// How [`affine`] reads the source image between pixel centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interpolation {
    /// The nearest pixel (round half to even, as `grid_sample`); torchvision's default for
    /// `RandomAffine`.
    #[default]
    Nearest,
    /// Bilinear between the four neighbours.
    Bilinear,
}

/// The parameters of one affine warp, in torchvision's `F.affine` convention: rotate by
/// `angle` degrees *clockwise* (as `F.affine`; `F.rotate` is counter-clockwise) about the image
/// centre, scale by `scale`, shear by
/// `shear = (x, y)` degrees, then translate by `translate = (x, y)` pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineParams {
    /// Rotation in degrees, clockwise (torchvision's `F.affine` convention).
    pub angle: f64,
    /// Translation in pixels `(x, y)` (torchvision samples whole pixels).
    pub translate: (f64, f64),
    /// Isotropic scale factor.
    pub scale: f64,
    /// Shear angles in degrees `(x, y)`.
    pub shear: (f64, f64),
}

impl AffineParams {
    /// The identity warp.
    pub const IDENTITY: Self = Self {
        angle: 0.0,
        translate: (0.0, 0.0),
        scale: 1.0,
        shear: (0.0, 0.0),
    };
}

/// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale, shear)`: the
/// 2×3 matrix mapping an output pixel (relative to `center`) to its source position.
///
/// `M = T · C · R(a) · S(s) · SHy(sy) · SHx(sx) · C⁻¹`, returned inverted, row-major
/// `[a, b, c, d, e, f]`.
pub fn inverse_affine_matrix(
    center: (f64, f64),
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: (f64, f64),
) -> [f64; 6] {
    let rot = angle.to_radians();
    let sx = shear.0.to_radians();
    let sy = shear.1.to_radians();
    let (cx, cy) = center;
    let (tx, ty) = translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0].map(|x| x / scale);
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// Warps the image: torchvision's `F.affine(img, angle, translate, scale, shear,
/// interpolation, fill=[fill] * C)` on a float tensor.
///
/// Like torchvision: the inverse matrix is cast to `f32`; each output pixel centre, relative to
/// the image centre, is mapped through it and normalised for `grid_sample(align_corners=False)`,
/// in `f32`. Source positions outside the image read 0; with a fill, torchvision also warps a
/// ones mask `m` and returns `v · m + (1 − m) · fill` (bilinear) or `fill` where `m < 0.5`
/// (nearest) — reproduced here, including the bilinear darkening of border pixels it implies.
pub fn affine(
    img: &Image,
    params: &AffineParams,
    interpolation: Interpolation,
    fill: f32,
) -> Image {
    let (c, h, w) = (img.channels(), img.height(), img.width());
    let m = inverse_affine_matrix(
        (0.0, 0.0),
        params.angle,
        params.translate,
        params.scale,
        params.shear,
    )
    .map(|v| v as f32);
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    // theta.T / [0.5 w, 0.5 h], as _gen_affine_grid.
    let (r00, r10, r20) = (m[0] / hw, m[1] / hw, m[2] / hw);
    let (r01, r11, r21) = (m[3] / hh, m[4] / hh, m[5] / hh);
    let (wf, hf) = (w as f32, h as f32);
    let mut out = vec![0.0f32; c * h * w];
    let plane = h * w;
    let src = img.data();
    for oy in 0..h {
        let yc = oy as f32 - h as f32 * 0.5 + 0.5;
        for ox in 0..w {
            let xc = ox as f32 - w as f32 * 0.5 + 0.5;
            let gx = xc * r00 + yc * r10 + r20;
            let gy = xc * r01 + yc * r11 + r21;
            // grid_sample's unnormalisation, align_corners=False, written as PyTorch's
            // vectorised CPU kernel does: (g + 1) · size/2 − 0.5.
            let ix = (gx + 1.0) * (wf / 2.0) - 0.5;
            let iy = (gy + 1.0) * (hf / 2.0) - 0.5;
            let o = oy * w + ox;
            match interpolation {
                Interpolation::Nearest => {
                    let (nx, ny) = (ix.round_ties_even(), iy.round_ties_even());
                    if nx >= 0.0 && nx < wf && ny >= 0.0 && ny < hf {
                        let s = ny as usize * w + nx as usize;
                        for k in 0..c {
                            out[k * plane + o] = src[k * plane + s];
                        }
                    } else {
                        for k in 0..c {
                            out[k * plane + o] = fill;
                        }
                    }
                }
                Interpolation::Bilinear => {
                    let (x0, y0) = (ix.floor(), iy.floor());
                    let (x1, y1) = (x0 + 1.0, y0 + 1.0);
                    let taps = [
                        (x0, y0, (x1 - ix) * (y1 - iy)),
                        (x1, y0, (ix - x0) * (y1 - iy)),
                        (x0, y1, (x1 - ix) * (iy - y0)),
                        (x1, y1, (ix - x0) * (iy - y0)),
                    ];
                    let mut mask = 0.0f32;
                    let mut idx = [(0usize, 0.0f32); 4];
                    let mut n = 0;
                    for (x, y, wt) in taps {
                        if x >= 0.0 && x < wf && y >= 0.0 && y < hf {
                            idx[n] = (y as usize * w + x as usize, wt);
                            n += 1;
                            mask += wt;
                        }
                    }
                    for k in 0..c {
                        let p = &src[k * plane..(k + 1) * plane];
                        let mut v = 0.0f32;
                        for &(s, wt) in &idx[..n] {
                            v += p[s] * wt;
                        }
                        out[k * plane + o] = v * mask + (1.0 - mask) * fill;
                    }
                }
            }
        }
    }
    Image::new(c, h, w, out).expect("affine keeps the shape")
}

/// Rotates by `k` quarter turns counter-clockwise, exactly (a pixel permutation):
/// `torch.rot90(img, k, dims=(-2, -1))`, which for square images equals torchvision's
/// `F.rotate(img, 90·k)`. The output is `width × height` for odd `k`.
pub fn rotate_quarter_turns(img: &Image, k: u8) -> Image {
    let (c, h, w) = (img.channels(), img.height(), img.width());
    let k = k % 4;
    if k == 0 {
        return img.clone();
    }
    let (oh, ow) = if k % 2 == 1 { (w, h) } else { (h, w) };
    let mut out = vec![0.0f32; c * h * w];
    let plane = h * w;
    for ch in 0..c {
        let src = img.plane(ch);
        let dst = &mut out[ch * plane..(ch + 1) * plane];
        for y in 0..oh {
            for x in 0..ow {
                let (sy, sx) = match k {
                    1 => (x, w - 1 - y),
                    2 => (h - 1 - y, w - 1 - x),
                    _ => (h - 1 - x, y),
                };
                dst[y * ow + x] = src[sy * w + sx];
            }
        }
    }
    Image::new(c, oh, ow, out).expect("rotation keeps the size")
}

/// A random affine warp: torchvision's `RandomAffine(degrees, translate, scale, shear,
/// interpolation=NEAREST, fill=0)` on tensors.
///
/// Defaults: no translation, scale or shear; nearest interpolation; fill 0. Each call draws, in
/// torchvision's order: `angle ~ U(degrees)`; if translating,
/// `tx = round(U(−t_x·W, t_x·W))` and `ty = round(U(−t_y·H, t_y·H))`; if scaling,
/// `s ~ U(scale)`; if shearing, `shear_x ~ U(shear_x range)` and, when a y range is set,
/// `shear_y ~ U(shear_y range)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomAffine {
    degrees: (f32, f32),
    translate: Option<(f32, f32)>,
    scale: Option<(f32, f32)>,
    shear_x: Option<(f32, f32)>,
    shear_y: Option<(f32, f32)>,
    interpolation: Interpolation,
    fill: f32,
}

impl RandomAffine {
    /// Rotation angles uniform in `[−degrees, degrees]`.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `degrees` when it is negative or not finite.
    pub fn new(degrees: f32) -> Result<Self, TransformError> {
        check_closed(
            "degrees",
            degrees,
            0.0,
            f32::MAX,
            "a non-negative angle in degrees",
        )?;
        Ok(Self {
            degrees: (-degrees, degrees),
            translate: None,
            scale: None,
            shear_x: None,
            shear_y: None,
            interpolation: Interpolation::Nearest,
            fill: 0.0,
        })
    }

    /// Rotation angles uniform in `[min, max]` degrees.
    ///
    /// # Errors
    /// A non-finite bound or `min > max`, naming `degrees`.
    pub fn with_degrees_range(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        for v in [min, max] {
            check_closed(
                "degrees",
                v,
                f32::MIN,
                f32::MAX,
                "a finite angle in degrees",
            )?;
        }
        check_ordered("degrees", min, max)?;
        self.degrees = (min, max);
        Ok(self)
    }

    /// Maximum translation as fractions of the width and height.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `translate` when a fraction is not in `[0, 1]`.
    pub fn with_translate(mut self, x: f32, y: f32) -> Result<Self, TransformError> {
        for v in [x, y] {
            check_closed(
                "translate",
                v,
                0.0,
                1.0,
                "a fraction of the image side in [0, 1]",
            )?;
        }
        self.translate = Some((x, y));
        Ok(self)
    }

    /// Scale factors uniform in `[min, max]`.
    ///
    /// # Errors
    /// A non-positive or non-finite bound, or `min > max`, naming `scale`.
    pub fn with_scale(mut self, min: f32, max: f32) -> Result<Self, TransformError> {
        for v in [min, max] {
            if !(v.is_finite() && v > 0.0) {
                return Err(TransformError::OutOfRange {
                    name: "scale",
                    value: v,
                    expected: "a positive, finite scale factor",
                });
            }
        }
        check_ordered("scale", min, max)?;
        self.scale = Some((min, max));
        Ok(self)
    }

    /// x-shear angles uniform in `[−shear, shear]` degrees (torchvision's `shear=number`).
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `shear` when it is negative or not below 90.
    pub fn with_shear(self, shear: f32) -> Result<Self, TransformError> {
        check_closed(
            "shear",
            shear,
            0.0,
            89.999,
            "a non-negative angle below 90 degrees",
        )?;
        self.with_shear_ranges((-shear, shear), None)
    }

    /// x-shear uniform in `x`, and y-shear uniform in `y` when given (torchvision's
    /// `shear=(x0, x1)` or `shear=(x0, x1, y0, y1)`), in degrees.
    ///
    /// # Errors
    /// A bound with magnitude 90 or more, or `min > max`, naming `shear`.
    pub fn with_shear_ranges(
        mut self,
        x: (f32, f32),
        y: Option<(f32, f32)>,
    ) -> Result<Self, TransformError> {
        for (lo, hi) in std::iter::once(x).chain(y) {
            for v in [lo, hi] {
                check_closed(
                    "shear",
                    v,
                    -89.999,
                    89.999,
                    "an angle strictly between -90 and 90 degrees",
                )?;
            }
            check_ordered("shear", lo, hi)?;
        }
        self.shear_x = Some(x);
        self.shear_y = y;
        Ok(self)
    }

    /// Sets the interpolation (default [`Interpolation::Nearest`]).
    pub fn with_interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// Sets the value of pixels that come from outside the image (default 0).
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `fill` when it is not finite.
    pub fn with_fill(mut self, fill: f32) -> Result<Self, TransformError> {
        check_closed("fill", fill, f32::MIN, f32::MAX, "a finite value")?;
        self.fill = fill;
        Ok(self)
    }

    /// Draws one warp for an image of `height × width` (torchvision's `RandomAffine.get_params`).
    pub fn sample_params(
        &self,
        height: usize,
        width: usize,
        rng: &mut dyn RngCore,
    ) -> AffineParams {
        let angle = uniform(rng, self.degrees.0.into(), self.degrees.1.into());
        let translate = match self.translate {
            Some((fx, fy)) => {
                let max_dx = f64::from(fx) * width as f64;
                let max_dy = f64::from(fy) * height as f64;
                let tx = uniform(rng, -max_dx, max_dx).round_ties_even();
                let ty = uniform(rng, -max_dy, max_dy).round_ties_even();
                (tx, ty)
            }
            None => (0.0, 0.0),
        };
        let scale = self
            .scale
            .map_or(1.0, |(lo, hi)| uniform(rng, lo.into(), hi.into()));
        let mut shear = (0.0, 0.0);
        if let Some((lo, hi)) = self.shear_x {
            shear.0 = uniform(rng, lo.into(), hi.into());
            if let Some((lo, hi)) = self.shear_y {
                shear.1 = uniform(rng, lo.into(), hi.into());
            }
        }
        AffineParams {
            angle,
            translate,
            scale,
            shear,
        }
    }
}

impl Transform for RandomAffine {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        let params = self.sample_params(img.height(), img.width(), rng);
        affine(&img, &params, self.interpolation, self.fill)
    }
}
