//! Feature extraction with a frozen backbone: what the linear probe and kNN evaluate.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use selfsup_data::ImageDataset;
use selfsup_data::transforms::Normalize;
use selfsup_models::Backbone;

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
/// The backbone is used through [`Module::valid`]: batch norm reads its running statistics and
/// never updates them, and no autodiff graph is recorded — the caller's backbone is untouched.
/// Images go through in batches of `batch_size` on `device` (autodiff or not: the inputs are
/// made on its plain form).
///
/// # Shapes
/// Output `features`: `[indices.len(), backbone.feature_dim()]`.
///
/// # Errors
/// [`Error::Data`] when an image has no label, `indices` is empty or names an image past the
/// end, or `batch_size` is 0.
pub fn extract_features(
    backbone: &Backbone,
    dataset: &dyn ImageDataset,
    indices: &[usize],
    normalize: Option<&Normalize>,
    batch_size: usize,
    device: &Device,
) -> Result<LabeledFeatures> {
    if batch_size == 0 {
        return Err(Error::Data(
            "feature extraction: batch_size must be positive".into(),
        ));
    }
    if indices.is_empty() {
        return Err(Error::Data(
            "feature extraction: no images to encode".into(),
        ));
    }
    if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
        return Err(Error::Data(format!(
            "feature extraction: image {bad} does not exist (the dataset has {})",
            dataset.len()
        )));
    }
    let labels = indices
        .iter()
        .map(|&i| {
            dataset
                .target(i)
                .ok_or_else(|| Error::Data(format!("feature extraction: image {i} has no label")))
        })
        .collect::<Result<Vec<_>>>()?;

    let encoder = backbone.valid();
    let device = device.clone().inner();
    let [c, h, w] = dataset.shape();
    let (mean, std) = match normalize {
        Some(n) => (n.mean().to_vec(), n.std().to_vec()),
        None => (vec![0.0; c], vec![1.0; c]),
    };
    if mean.len() != c {
        return Err(Error::Data(format!(
            "feature extraction: the normalization has {} channels, the images {c}",
            mean.len()
        )));
    }
    let plane = h * w;
    let mut chunks = Vec::with_capacity(indices.len().div_ceil(batch_size));
    for batch in indices.chunks(batch_size) {
        let mut values = Vec::with_capacity(batch.len() * c * plane);
        for &i in batch {
            for (k, channel) in dataset.pixels(i).chunks(plane).enumerate() {
                let (m, s) = (mean[k], std[k]);
                values.extend(channel.iter().map(|&p| (f32::from(p) / 255.0 - m) / s));
            }
        }
        let images =
            Tensor::<4>::from_data(TensorData::new(values, [batch.len(), c, h, w]), &device);
        chunks.push(encoder.forward_features(images));
    }
    Ok(LabeledFeatures {
        features: Tensor::cat(chunks, 0),
        labels,
    })
}
