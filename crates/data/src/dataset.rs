//! The [`ImageDataset`] trait: what the loader needs from any source of images.

use crate::cifar::{CIFAR_SIDE, CifarDataset};

/// A random-access collection of same-sized `u8` images, CHW, with optional class labels.
///
/// [`CifarDataset`] and [`ImageFolder`](crate::ImageFolder) implement it; the loader and the
/// subset helpers work on any implementation.
pub trait ImageDataset: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;

    /// Whether there are no images.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]` of every image.
    fn shape(&self) -> [usize; 3];

    /// The pixels of image `index`, CHW, `channels × height × width` bytes.
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

    fn shape(&self) -> [usize; 3] {
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
