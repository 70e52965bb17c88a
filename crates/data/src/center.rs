//! [`CenterResized`]: a dataset of images brought to one size for evaluation, as torchvision's
//! `Resize(size)` + `CenterCrop(size)`.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::transforms::{self, Image};

/// The images of another dataset, each resized so that its shorter side is `size` and then
/// centre-cropped to `size × size`: torchvision's evaluation transform
/// `Compose([Resize(size), CenterCrop(size)])`, computed once and held in memory
/// ([`new`](Self::new), [`with_indices`](Self::with_indices)) or each time an image is asked
/// for ([`streamed`](Self::streamed): for datasets too large to hold, such as a streamed
/// ImageNet folder).
///
/// Training crops every view to one size; evaluation (linear probe, kNN, embeddings) feeds the
/// images themselves, so a dataset of mixed sizes (an [`ImageFolder`](crate::ImageFolder)) is
/// wrapped in this first. Labels and the number of classes are kept.
///
/// The resize is antialiased bilinear, torchvision's `F.resize(..., antialias=True)` in `f32`
/// ([`resize_center_crop`](transforms::resize_center_crop)), rounded back to `u8`. As in torchvision, the longer side becomes
/// `⌊size · long / short⌋`, and the crop starts at `round((side − size) / 2)` (ties to even,
/// like Python's `round`). An image already `size × size` is copied unchanged.
///
/// ```no_run
/// use selfsup_data::{CenterResized, ImageDataset, ImageFolder, ImageFolderOptions};
/// let folder = ImageFolder::open("photos/val", &ImageFolderOptions::default())?;
/// let val = CenterResized::new(&folder, 224)?;
/// assert!((0..val.len()).all(|i| val.shape(i)[1..] == [224, 224]));
/// # Ok::<(), selfsup_data::Error>(())
/// ```
#[derive(Clone)]
pub struct CenterResized {
    size: usize,
    images: Pixels,
    channels: Vec<usize>,
    targets: Vec<Option<usize>>,
    sources: Vec<usize>,
    num_classes: usize,
}

/// Where a [`CenterResized`]'s pixels come from.
#[derive(Clone)]
enum Pixels {
    /// Computed once.
    Memory(Vec<Vec<u8>>),
    /// Computed from the source dataset each time.
    Streamed(Arc<dyn ImageDataset>),
}

impl std::fmt::Debug for CenterResized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CenterResized")
            .field("size", &self.size)
            .field("images", &self.sources.len())
            .field("streamed", &matches!(self.images, Pixels::Streamed(_)))
            .finish()
    }
}

impl CenterResized {
    /// Resizes and centre-crops every image of `dataset` to `size × size`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `size` is 0 or the dataset is empty.
    pub fn new(dataset: &dyn ImageDataset, size: usize) -> Result<Self> {
        let indices: Vec<usize> = (0..dataset.len()).collect();
        Self::with_indices(dataset, &indices, size)
    }

    /// Resizes and centre-crops the images `indices` of `dataset` (in that order) to
    /// `size × size`; image `k` of the result is image `indices[k]` of `dataset`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `size` is 0, `indices` is empty or names an image past the end.
    pub fn with_indices(
        dataset: &dyn ImageDataset,
        indices: &[usize],
        size: usize,
    ) -> Result<Self> {
        if size == 0 {
            return Err(Error::Invalid(
                "centre resize: size must be positive".into(),
            ));
        }
        if indices.is_empty() {
            return Err(Error::Invalid("centre resize: no images".into()));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
            return Err(Error::Invalid(format!(
                "centre resize: image {bad} does not exist (the dataset has {})",
                dataset.len()
            )));
        }
        // One image per rayon task, kept in order; the first failing image is the error.
        let images: Vec<Result<Vec<u8>>> = indices
            .par_iter()
            .map(|&i| resize_center_crop(dataset, i, size))
            .collect();
        let images = images.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(Self {
            size,
            images: Pixels::Memory(images),
            channels: indices.iter().map(|&i| dataset.shape(i)[0]).collect(),
            targets: indices.iter().map(|&i| dataset.target(i)).collect(),
            sources: indices.to_vec(),
            num_classes: dataset.num_classes(),
        })
    }

    /// Every image of `dataset`, resized and centre-cropped to `size × size` each time it is
    /// asked for: nothing is held but the source.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `size` is 0 or the dataset is empty.
    pub fn streamed(dataset: Arc<dyn ImageDataset>, size: usize) -> Result<Self> {
        if size == 0 {
            return Err(Error::Invalid(
                "centre resize: size must be positive".into(),
            ));
        }
        if dataset.is_empty() {
            return Err(Error::Invalid("centre resize: no images".into()));
        }
        let n = dataset.len();
        Ok(Self {
            size,
            channels: (0..n).map(|i| dataset.shape(i)[0]).collect(),
            targets: (0..n).map(|i| dataset.target(i)).collect(),
            sources: (0..n).collect(),
            num_classes: dataset.num_classes(),
            images: Pixels::Streamed(dataset),
        })
    }

    /// The side of every image.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The index in the source dataset of each image.
    pub fn source_indices(&self) -> &[usize] {
        &self.sources
    }
}

impl ImageDataset for CenterResized {
    fn len(&self) -> usize {
        self.sources.len()
    }

    fn shape(&self, index: usize) -> [usize; 3] {
        [self.channels[index], self.size, self.size]
    }

    fn pixels(&self, index: usize) -> Result<Cow<'_, [u8]>> {
        match &self.images {
            Pixels::Memory(images) => Ok(Cow::Borrowed(&images[index])),
            Pixels::Streamed(dataset) => {
                resize_center_crop(dataset.as_ref(), self.sources[index], self.size).map(Cow::Owned)
            }
        }
    }

    fn source(&self, index: usize) -> Option<&Path> {
        match &self.images {
            Pixels::Memory(_) => None,
            Pixels::Streamed(dataset) => dataset.source(self.sources[index]),
        }
    }

    fn target(&self, index: usize) -> Option<usize> {
        self.targets[index]
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }
}

/// Image `index` of `dataset` through `Resize(size)` then `CenterCrop(size)`, CHW `u8`.
fn resize_center_crop(dataset: &dyn ImageDataset, index: usize, size: usize) -> Result<Vec<u8>> {
    let [c, h, w] = dataset.shape(index);
    let pixels = dataset.pixels(index)?;
    if [h, w] == [size, size] {
        return Ok(pixels.into_owned());
    }
    let image = Image::from_chw_u8(&pixels, c, h, w).unwrap_or_else(|e| {
        panic!("image {index} of the dataset does not match its shape [{c}, {h}, {w}]: {e}")
    });
    Ok(transforms::resize_center_crop(&image, size).to_chw_u8())
}
