//! The [`ImageDataset`] trait: what the loader needs from any source of images.

use crate::cifar::{CIFAR_SIDE, CifarDataset};

/// A random-access collection of `u8` images, CHW, with optional class labels.
///
/// Images may differ in size (an [`ImageFolder`](crate::ImageFolder) keeps each file's own
/// resolution, as torchvision's `ImageFolder` does): [`shape`](ImageDataset::shape) is asked per
/// image. The training [`Loader`](crate::Loader) needs a transform that brings every view to one
/// size (a random resized crop does); evaluation, which feeds images un-augmented, needs them of
/// one size already: wrap a mixed-size dataset in [`CenterResized`](crate::CenterResized).
///
/// [`CifarDataset`], [`Stl10`](crate::Stl10), [`ImageFolder`](crate::ImageFolder) and
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
    /// [`shape`](ImageDataset::shape)`(index)`.
    fn pixels(&self, index: usize) -> &[u8];

    /// The class of image `index`, or `None` for unlabelled data.
    fn target(&self, index: usize) -> Option<usize>;

    /// Number of classes (0 for unlabelled data).
    fn num_classes(&self) -> usize;
}

impl ImageDataset for CifarDataset {
    fn len(&self) -> usize {
        CifarDataset::len(self)
    }

    fn shape(&self, _index: usize) -> [usize; 3] {
        [3, CIFAR_SIDE, CIFAR_SIDE]
    }

    fn pixels(&self, index: usize) -> &[u8] {
        self.image(index)
    }

    fn target(&self, index: usize) -> Option<usize> {
        Some(usize::from(self.label(index)))
    }

    fn num_classes(&self) -> usize {
        self.variant().num_classes()
    }
}
