//! [`Image`]: an owned planar float image, the currency of every transform.

use super::error::TransformError;

/// An owned float image in CHW (planar) layout: `data[(c * height + y) * width + x]`.
///
/// Before [`Normalize`](super::Normalize) the values are in `[0, 1]`, exactly like a torchvision
/// tensor after `ToTensor` (see [`Image::from_chw_u8`]). The buffer length always equals
/// `channels * height * width`: the fields are private so that no transform ever sees a
/// mismatched buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<f32>,
}

impl Image {
    /// Wraps a CHW buffer.
    ///
    /// # Errors
    /// [`TransformError::ImageSize`] when `data.len() != channels * height * width`.
    pub fn new(
        channels: usize,
        height: usize,
        width: usize,
        data: Vec<f32>,
    ) -> Result<Self, TransformError> {
        let expected = channels * height * width;
        if data.len() != expected {
            return Err(TransformError::ImageSize {
                channels,
                height,
                width,
                expected,
                found: data.len(),
            });
        }
        Ok(Self {
            channels,
            height,
            width,
            data,
        })
    }

    /// An all-zero (black) image.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
        }
    }

    /// Converts CHW `u8` pixels (e.g. one CIFAR record's 3 072 bytes) to floats `v / 255`,
    /// bit-for-bit what torchvision's `ToTensor` gives.
    ///
    /// # Errors
    /// [`TransformError::ImageSize`] when `bytes.len() != channels * height * width`.
    pub fn from_chw_u8(
        bytes: &[u8],
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, TransformError> {
        let data = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
        Self::new(channels, height, width, data)
    }

    /// Converts HWC (interleaved) `u8` pixels, the layout of most image decoders, to a CHW float
    /// image with values `v / 255`.
    ///
    /// # Errors
    /// [`TransformError::ImageSize`] when `bytes.len() != channels * height * width`.
    pub fn from_hwc_u8(
        bytes: &[u8],
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, TransformError> {
        let plane = height * width;
        if bytes.len() != channels * plane {
            return Err(TransformError::ImageSize {
                channels,
                height,
                width,
                expected: channels * plane,
                found: bytes.len(),
            });
        }
        let mut data = vec![0.0; channels * plane];
        for (p, px) in bytes.chunks_exact(channels.max(1)).enumerate() {
            for (c, &b) in px.iter().enumerate() {
                data[c * plane + p] = f32::from(b) / 255.0;
            }
        }
        Self::new(channels, height, width, data)
    }

    /// Converts back to CHW `u8` for visualisation: each value is clamped to `[0, 1]`, scaled by
    /// 255 and rounded to the nearest integer. (torchvision's `ToPILImage` truncates instead of
    /// rounding; rounding makes [`Image::from_chw_u8`] followed by this an exact round trip.)
    /// Call [`Normalize::denormalize`](super::Normalize::denormalize) first on a normalized image.
    pub fn to_chw_u8(&self) -> Vec<u8> {
        self.data
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect()
    }

    /// Number of channels (3 for RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `[channels, height, width]`, the shape torchvision would report.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// The CHW buffer.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The CHW buffer, mutably (its length cannot change).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Gives up the image, returning its CHW buffer.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// One channel's `height * width` plane, row-major.
    ///
    /// # Panics
    /// If `c >= channels`.
    pub fn plane(&self, c: usize) -> &[f32] {
        assert!(
            c < self.channels,
            "channel {c} out of range for {} channels",
            self.channels
        );
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// One channel's plane, mutably.
    ///
    /// # Panics
    /// If `c >= channels`.
    pub fn plane_mut(&mut self, c: usize) -> &mut [f32] {
        assert!(
            c < self.channels,
            "channel {c} out of range for {} channels",
            self.channels
        );
        let n = self.height * self.width;
        &mut self.data[c * n..(c + 1) * n]
    }

    /// The value at channel `c`, row `y`, column `x`.
    ///
    /// # Panics
    /// If any index is out of range.
    pub fn get(&self, c: usize, y: usize, x: usize) -> f32 {
        assert!(
            c < self.channels && y < self.height && x < self.width,
            "pixel ({c}, {y}, {x}) out of range for shape {:?}",
            self.shape()
        );
        self.data[(c * self.height + y) * self.width + x]
    }

    /// Panics unless the image has 3 channels; `what` names the operation in the message.
    pub(crate) fn assert_rgb(&self, what: &str) {
        assert!(
            self.channels == 3,
            "{what} needs a 3-channel RGB image, got {} channels",
            self.channels
        );
    }

    /// Three disjoint mutable planes of an RGB image.
    pub(crate) fn rgb_planes_mut(&mut self) -> (&mut [f32], &mut [f32], &mut [f32]) {
        let n = self.height * self.width;
        let (r, rest) = self.data.split_at_mut(n);
        let (g, b) = rest.split_at_mut(n);
        (r, g, &mut b[..n])
    }
}
