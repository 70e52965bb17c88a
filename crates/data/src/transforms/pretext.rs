//! Pretext tasks (multi-head "predict the augmentation"): rotation by a
//! multiple of 90° (4 classes), shear by a factor in {0, 0.2, 0.4} (3 classes), and colour
//! {original, grayscale, inverted} (3 classes).
//!
//! Each task is a [`PretextTransform`]: a deterministic `apply_with_label` (the goldens test
//! it) and a random `apply_labeled` returning the image with the label it drew.
//! [`PretextTasks`] applies all three and returns the three labels.

use rand::RngCore;

use super::affine::{AffineParams, Interpolation, affine, rotate_quarter_turns};
use super::color::{invert, rgb_to_grayscale};
use super::error::TransformError;
use super::image::Image;
use super::rng::below;

/// An augmentation whose class the network must predict.
pub trait PretextTransform: Send + Sync + std::fmt::Debug {
    /// Number of classes; labels are `0..num_classes()`.
    fn num_classes(&self) -> usize;

    /// Applies the augmentation of class `label`.
    ///
    /// # Panics
    /// If `label >= num_classes()`.
    fn apply_with_label(&self, img: Image, label: u8) -> Image;

    /// Draws a label uniformly (one number from `rng`) and applies it.
    fn apply_labeled(&self, img: Image, rng: &mut dyn RngCore) -> (Image, u8) {
        let label = below(rng, self.num_classes()) as u8;
        (self.apply_with_label(img, label), label)
    }
}

fn check_label(task: &str, label: u8, n: usize) {
    assert!(
        usize::from(label) < n,
        "{task} pretext label {label} is out of range: there are {n} classes"
    );
}

/// Label `k` rotates by `k · 90°` counter-clockwise (exact [`rotate_quarter_turns`]; equals
/// torchvision's `F.rotate(img, 90·k)` on square images). 4 classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationPretext;

impl PretextTransform for RotationPretext {
    fn num_classes(&self) -> usize {
        4
    }

    fn apply_with_label(&self, img: Image, label: u8) -> Image {
        check_label("rotation", label, 4);
        if label == 0 {
            return img;
        }
        rotate_quarter_turns(&img, label)
    }
}

/// Label `k` shears horizontally by factor `levels[k]`: torchvision's
/// `F.affine(img, angle=0, translate=[0, 0], scale=1, shear=[degrees(atan(s)), 0],
/// NEAREST, fill=0)` — the shear matrix `[[1, −s], [0, 1]]` about the image centre. Default
/// levels `[0.0, 0.2, 0.4]`, 3 classes.
#[derive(Debug, Clone, PartialEq)]
pub struct ShearPretext {
    levels: Vec<f32>,
    interpolation: Interpolation,
}

impl ShearPretext {
    /// Three shear factors: none, 0.2 and 0.4.
    pub const DEFAULT_LEVELS: [f32; 3] = [0.0, 0.2, 0.4];

    /// One class per shear factor.
    ///
    /// # Errors
    /// [`TransformError::Empty`] naming `levels` when empty; [`TransformError::LengthMismatch`]
    /// when there are more than 256 (labels are `u8`); [`TransformError::OutOfRange`] naming
    /// `levels` for a non-finite factor.
    pub fn new(levels: Vec<f32>) -> Result<Self, TransformError> {
        if levels.is_empty() {
            return Err(TransformError::Empty { name: "levels" });
        }
        if levels.len() > 256 {
            return Err(TransformError::LengthMismatch {
                name: "levels",
                expected: 256,
                found: levels.len(),
            });
        }
        if let Some(&v) = levels.iter().find(|v| !v.is_finite()) {
            return Err(TransformError::OutOfRange {
                name: "levels",
                value: v,
                expected: "a finite shear factor",
            });
        }
        Ok(Self {
            levels,
            interpolation: Interpolation::Nearest,
        })
    }

    /// Sets the interpolation (default nearest, torchvision's affine default).
    pub fn with_interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// The shear factors, by label.
    pub fn levels(&self) -> &[f32] {
        &self.levels
    }
}

impl Default for ShearPretext {
    /// Levels `[0.0, 0.2, 0.4]`, nearest interpolation.
    fn default() -> Self {
        Self {
            levels: Self::DEFAULT_LEVELS.to_vec(),
            interpolation: Interpolation::Nearest,
        }
    }
}

/// Shears horizontally by factor `s` (see [`ShearPretext`]); the identity for `s = 0`.
pub fn shear_x(img: &Image, s: f32, interpolation: Interpolation) -> Image {
    if s == 0.0 {
        return img.clone();
    }
    let params = AffineParams {
        shear: (f64::from(s).atan().to_degrees(), 0.0),
        ..AffineParams::IDENTITY
    };
    affine(img, &params, interpolation, 0.0)
}

impl PretextTransform for ShearPretext {
    fn num_classes(&self) -> usize {
        self.levels.len()
    }

    fn apply_with_label(&self, img: Image, label: u8) -> Image {
        check_label("shear", label, self.levels.len());
        let s = self.levels[usize::from(label)];
        if s == 0.0 {
            return img;
        }
        shear_x(&img, s, self.interpolation)
    }
}

/// Label 0 keeps the image, 1 makes it grayscale (3 channels, torchvision's weights), 2 inverts
/// it (`1 − x`). 3 classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColorPretext;

impl PretextTransform for ColorPretext {
    fn num_classes(&self) -> usize {
        3
    }

    fn apply_with_label(&self, mut img: Image, label: u8) -> Image {
        check_label("color", label, 3);
        match label {
            0 => {}
            1 => rgb_to_grayscale(&mut img),
            _ => invert(&mut img),
        }
        img
    }
}

/// The three labels of one [`PretextTasks`] draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PretextLabels {
    /// Quarter turns, `0..4`.
    pub rotation: u8,
    /// Shear level index, `0..3` by default.
    pub shear: u8,
    /// 0 original, 1 grayscale, 2 inverted.
    pub color: u8,
}

/// All three pretext tasks on one image.
///
/// Draws the rotation, shear and colour labels (in that order, one number each), then applies
/// the shear, the rotation and the colour change (shear first, so its axis turns with the
/// image). Apply it to `[0, 1]` images, before any normalization: inversion is `1 − x`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PretextTasks {
    /// The rotation task.
    pub rotation: RotationPretext,
    /// The shear task.
    pub shear: ShearPretext,
    /// The colour task.
    pub color: ColorPretext,
}

impl PretextTasks {
    /// Applies fixed labels.
    ///
    /// # Panics
    /// If a label is out of its task's range.
    pub fn apply_with_labels(&self, img: Image, labels: PretextLabels) -> Image {
        let img = self.shear.apply_with_label(img, labels.shear);
        let img = self.rotation.apply_with_label(img, labels.rotation);
        self.color.apply_with_label(img, labels.color)
    }

    /// Draws the three labels and applies them.
    pub fn apply(&self, img: Image, rng: &mut dyn RngCore) -> (Image, PretextLabels) {
        let labels = PretextLabels {
            rotation: below(rng, self.rotation.num_classes()) as u8,
            shear: below(rng, self.shear.num_classes()) as u8,
            color: below(rng, self.color.num_classes()) as u8,
        };
        (self.apply_with_labels(img, labels), labels)
    }
}

/// The loader side of pretext pre-training: one view per image, made by `base`
/// (e.g. a random flip), then the three [`PretextTasks`], then `normalize`; the loader's
/// [`ViewBatch::labels`](crate::ViewBatch::labels) receives the three labels, in the order
/// rotation, shear, colour.
///
/// The pretext tasks see `[0, 1]` images (inversion is `1 − x`), so `base` must not normalize.
#[derive(Debug)]
pub struct PretextViews {
    /// Applied first, to the `[0, 1]` image.
    pub base: super::Compose,
    /// The tasks whose labels the network predicts.
    pub tasks: PretextTasks,
    /// Applied last, `None` to keep `[0, 1]` values.
    pub normalize: Option<super::Normalize>,
}

impl PretextViews {
    /// Views of one size from images of any size: each image resized and centre-cropped to
    /// `size × size` ([`ResizeCenterCrop`](super::ResizeCenterCrop), torchvision's `Resize` +
    /// `CenterCrop`: the tasks must see whole images, and a batch one size), then a random
    /// horizontal flip, the default tasks, and `normalize`. On images already `size × size`
    /// (CIFAR at 32) it is [`cifar10`](Self::cifar10)'s pipeline, draw for draw.
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] when `size` is 0.
    pub fn new(size: usize, normalize: super::Normalize) -> Result<Self, TransformError> {
        Ok(Self {
            base: super::Compose::new()
                .then(super::ResizeCenterCrop::new(size)?)
                .then(super::RandomHorizontalFlip::default()),
            tasks: PretextTasks::default(),
            normalize: Some(normalize),
        })
    }

    /// The CIFAR-10 setting: a random horizontal flip, the default
    /// tasks (4 rotations, shears {0, 0.2, 0.4}, 3 colour changes), CIFAR-10 normalization.
    /// The images must already be one size: see [`new`](Self::new) for others.
    pub fn cifar10() -> Self {
        Self {
            base: super::Compose::new().then(super::RandomHorizontalFlip::default()),
            tasks: PretextTasks::default(),
            normalize: Some(super::Normalize::cifar10()),
        }
    }

    /// Classes of each task, in label order: `[rotation, shear, colour]`.
    pub fn num_classes(&self) -> [usize; 3] {
        [
            self.tasks.rotation.num_classes(),
            self.tasks.shear.num_classes(),
            self.tasks.color.num_classes(),
        ]
    }
}

impl super::MultiViewTransform for PretextViews {
    fn num_views(&self) -> usize {
        1
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        self.labeled_views(img, rng).0
    }

    fn num_labels(&self) -> usize {
        3
    }

    fn labeled_views(&self, img: &Image, rng: &mut dyn RngCore) -> (Vec<Image>, Vec<usize>) {
        use super::Transform;
        let img = self.base.apply_ref(img, rng);
        let (mut img, labels) = self.tasks.apply(img, rng);
        if let Some(normalize) = &self.normalize {
            normalize.normalize_in_place(&mut img);
        }
        let labels = vec![
            usize::from(labels.rotation),
            usize::from(labels.shear),
            usize::from(labels.color),
        ];
        (vec![img], labels)
    }
}
