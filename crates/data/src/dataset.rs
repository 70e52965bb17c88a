//! The [`ImageDataset`] trait: what the loader needs from any source of images; [`Part`]:
//! what a part of a dataset is for.

use std::borrow::Cow;
use std::path::Path;

use crate::error::Result;

/// A random-access collection of `u8` images, CHW, with optional class labels.
///
/// Images may differ in size (an [`ImageFolder`](crate::ImageFolder) keeps each file's own
/// resolution, as torchvision's `ImageFolder` does): [`shape`](ImageDataset::shape) is asked per
/// image. The training [`Loader`](crate::Loader) needs a transform that brings every view to one
/// size (a random resized crop does); evaluation, which feeds images un-augmented, needs them of
/// one size already: wrap a mixed-size dataset in [`CenterResized`](crate::CenterResized).
///
/// The pixels of an image may be held in memory (CIFAR, STL-10, a small folder: borrowed) or
/// decoded on demand (a streamed [`ImageFolder`](crate::ImageFolder): owned, and fallible).
///
/// [`CifarDataset`](crate::CifarDataset), [`Stl10`](crate::Stl10), [`ImageFolder`](crate::ImageFolder) and
/// [`CenterResized`](crate::CenterResized) implement it; the loader and the subset helpers work
/// on any implementation.
pub trait ImageDataset: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;

    /// Whether there are no images.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]` of image `index`.
    fn shape(&self, index: usize) -> [usize; 3];

    /// The pixels of image `index`, CHW: `channels × height × width` bytes of
    /// [`shape`](ImageDataset::shape)`(index)`; borrowed when the dataset holds them in memory,
    /// decoded (owned) when it streams them from disk.
    ///
    /// # Errors
    /// A streamed image whose file cannot be read or decoded now (the error names the file).
    /// Datasets held in memory never fail.
    fn pixels(&self, index: usize) -> Result<Cow<'_, [u8]>>;

    /// The class of image `index`, or `None` for unlabelled data.
    fn target(&self, index: usize) -> Option<usize>;

    /// Number of classes (0 for unlabelled data).
    fn num_classes(&self) -> usize;

    /// The file image `index` is read from, when it has one of its own (an image folder's):
    /// what error messages and skip lists name. `None` (the default) for images stored together
    /// in one file.
    fn source(&self, index: usize) -> Option<&Path> {
        let _ = index;
        None
    }
}

/// What a part of a dataset is used for in self-supervised learning: the images a method
/// pre-trains on, and the labelled training and held-out test images of the evaluations
/// (linear probe, kNN, fine-tuning). Each dataset says which of its splits serves each part:
/// [`Split::for_part`](crate::Split::for_part) (CIFAR),
/// [`Stl10Split::for_part`](crate::Stl10Split::for_part),
/// [`ImageNetSplit::for_part`](crate::ImageNetSplit::for_part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// Everything a self-supervised method may train on (STL-10: unlabelled + train).
    Pretrain,
    /// The labelled training images.
    Train,
    /// The held-out test images.
    Test,
}
