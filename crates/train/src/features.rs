//! Feature extraction with a frozen backbone: what the linear probe and kNN evaluate.

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use selfsup_data::ImageDataset;
use selfsup_data::transforms::{Image, Normalize};
use selfsup_models::Encoder;

use crate::error::{Error, Result};

/// Features of a set of images, with their labels.
#[derive(Debug, Clone)]
pub struct LabeledFeatures {
    /// One row per image.
    ///
    /// # Shapes
    /// `[N, D]`
    pub features: Tensor<2>,
    /// The class of each image.
    pub labels: Vec<usize>,
}

/// Encodes `indices` of `dataset` with `backbone` in evaluation mode, without augmentation:
/// pixels scaled to `[0, 1]`, then `normalize` (the same statistics the training views used).
///
/// The backbone is used through [`Module::valid`](burn::module::Module::valid): batch norm reads its running statistics and
/// never updates them, and no autodiff graph is recorded — the caller's backbone is untouched.
/// Images go through in batches of `batch_size` on `device` (autodiff or not: the inputs are
/// made on its plain form).
///
/// # Shapes
/// Output `features`: `[indices.len(), backbone.feature_dim()]`.
///
/// # Errors
/// [`Error::Data`] when an image has no label, `indices` is empty or names an image past the
/// end, `batch_size` is 0, or the images differ in size (wrap a mixed-size dataset in
/// [`CenterResized`](selfsup_data::CenterResized)).
pub fn extract_features<E: Encoder>(
    backbone: &E,
    dataset: &dyn ImageDataset,
    indices: &[usize],
    normalize: Option<&Normalize>,
    batch_size: usize,
    device: &Device,
) -> Result<LabeledFeatures> {
    let labels = labels_of(dataset, indices, batch_size)?;
    let encoder = backbone.valid();
    let features = encode(dataset, indices, normalize, batch_size, device, |images| {
        encoder.forward_features(images)
    })?;
    Ok(LabeledFeatures { features, labels })
}

/// The labels of `indices`, after checking that they exist and `batch_size` is positive.
pub(crate) fn labels_of(
    dataset: &dyn ImageDataset,
    indices: &[usize],
    batch_size: usize,
) -> Result<Vec<usize>> {
    if batch_size == 0 {
        return Err(Error::Data(
            "evaluation: batch_size must be positive".into(),
        ));
    }
    if indices.is_empty() {
        return Err(Error::Data("evaluation: no images to encode".into()));
    }
    if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
        return Err(Error::Data(format!(
            "evaluation: image {bad} does not exist (the dataset has {})",
            dataset.len()
        )));
    }
    indices
        .iter()
        .map(|&i| {
            dataset
                .target(i)
                .ok_or_else(|| Error::Data(format!("evaluation: image {i} has no label")))
        })
        .collect()
}

/// Runs `f` over `indices` of `dataset` in batches of un-augmented, normalised images on the
/// plain form of `device`, and concatenates the outputs.
///
/// Errors ([`Error::Data`]) when `indices` is empty, or names an image whose shape differs from
/// the first one's (the message names it and says to wrap the dataset in
/// [`CenterResized`](selfsup_data::CenterResized)).
pub(crate) fn encode(
    dataset: &dyn ImageDataset,
    indices: &[usize],
    normalize: Option<&Normalize>,
    batch_size: usize,
    device: &Device,
    mut f: impl FnMut(Tensor<4>) -> Tensor<2>,
) -> Result<Tensor<2>> {
    let device = device.clone().inner();
    let Some(&first) = indices.first() else {
        return Err(Error::Data("evaluation: no images to encode".into()));
    };
    let [c, h, w] = dataset.shape(first);
    if let Some(&other) = indices.iter().find(|&&i| dataset.shape(i) != [c, h, w]) {
        return Err(Error::Data(format!(
            "evaluation: image {other} is {:?} but image {first} is [{c}, {h}, {w}]: images are \
             encoded un-augmented, so they must all have one size; wrap the dataset in \
             selfsup_data::CenterResized to resize and centre-crop them (torchvision's \
             Resize + CenterCrop)",
            dataset.shape(other)
        )));
    }
    if let Some(n) = normalize.filter(|n| n.mean().len() != c) {
        return Err(Error::Data(format!(
            "the normalization has {} channels, the images {c}",
            n.mean().len()
        )));
    }
    let mut chunks = Vec::with_capacity(indices.len().div_ceil(batch_size));
    for batch in indices.chunks(batch_size) {
        let values = load_batch(dataset, batch, normalize, [c, h, w])?;
        let images =
            Tensor::<4>::from_data(TensorData::new(values, [batch.len(), c, h, w]), &device);
        chunks.push(f(images));
    }
    Ok(Tensor::cat(chunks, 0))
}

/// The images `batch` of `dataset` as torchvision's `ToTensor` then `Normalize` give them,
/// `[B, C, H, W]` row-major, loaded on every core (a streamed dataset decodes them here).
fn load_batch(
    dataset: &dyn ImageDataset,
    batch: &[usize],
    normalize: Option<&Normalize>,
    [c, h, w]: [usize; 3],
) -> Result<Vec<f32>> {
    let one = |i: usize, out: &mut [f32]| -> Result<()> {
        let pixels = dataset
            .pixels(i)
            .map_err(|e| Error::Data(format!("evaluation: image {i}: {e}")))?;
        let mut image =
            Image::from_chw_u8(&pixels, c, h, w).expect("dataset pixels match its shape");
        if let Some(normalize) = normalize {
            normalize.normalize_in_place(&mut image);
        }
        out.copy_from_slice(image.data());
        Ok(())
    };
    let size = c * h * w;
    let mut values = vec![0f32; batch.len() * size];
    // One image per rayon task; the first failing image (in batch order) is the error.
    let loaded: Vec<Result<()>> = values
        .par_chunks_mut(size.max(1))
        .zip(batch)
        .map(|(out, &i)| one(i, out))
        .collect();
    loaded.into_iter().collect::<Result<()>>()?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor};
    use selfsup_data::ImageDataset;

    use super::encode;
    use crate::error::Error;

    /// Three flat images; image 2 is taller than the others.
    struct Mixed;

    impl ImageDataset for Mixed {
        fn len(&self) -> usize {
            3
        }

        fn shape(&self, index: usize) -> [usize; 3] {
            if index == 2 { [3, 6, 4] } else { [3, 4, 4] }
        }

        fn pixels(&self, index: usize) -> selfsup_data::Result<std::borrow::Cow<'_, [u8]>> {
            let [c, h, w] = self.shape(index);
            static PIXELS: [u8; 72] = [7; 72];
            Ok(std::borrow::Cow::Borrowed(&PIXELS[..c * h * w]))
        }

        fn target(&self, _index: usize) -> Option<usize> {
            Some(0)
        }

        fn num_classes(&self) -> usize {
            1
        }
    }

    #[test]
    fn images_of_another_size_are_an_error_naming_the_first_one() {
        let device = Device::flex();
        let mut calls = 0;
        let result = encode(&Mixed, &[1, 0, 2], None, 2, &device, |x: Tensor<4>| {
            calls += 1;
            x.flatten(1, 3)
        });
        let Err(Error::Data(message)) = result else {
            panic!("expected a data error, got {result:?}");
        };
        assert!(message.contains("image 2 is [3, 6, 4]"), "{message}");
        assert!(message.contains("image 1 is [3, 4, 4]"), "{message}");
        assert!(message.contains("CenterResized"), "{message}");
        assert_eq!(calls, 0, "nothing is encoded before the check");

        // Same-sized images go through, in order.
        let features = encode(&Mixed, &[1, 0], None, 1, &device, |x| x.flatten(1, 3)).unwrap();
        assert_eq!(features.dims(), [2, 48]);
    }
}
