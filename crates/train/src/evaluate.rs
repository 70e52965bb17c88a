//! The evaluation protocols on a trained (or random) backbone: linear probe and kNN on frozen
//! features extracted once, and test accuracy of a fine-tuned classifier.

use burn::module::Module;
use burn::tensor::Device;
use selfsup_data::ImageDataset;
use selfsup_data::transforms::Normalize;
use selfsup_models::Encoder;

use crate::error::Result;
use crate::features::{encode, extract_features, labels_of};
use crate::knn::{KnnConfig, knn_evaluate};
use crate::methods::Classifier;
use crate::metrics::ClassificationReport;
use crate::probe::{LinearProbeConfig, ProbeReport, linear_probe};

/// The images an evaluation uses: a labelled train subset (the probe's training set, kNN's
/// memory bank) and a test subset, with the normalization of the training views.
#[derive(Clone, Copy)]
pub struct EvalSplits<'a> {
    /// Train images (labelled).
    pub train: &'a dyn ImageDataset,
    /// Which train images (a label budget).
    pub train_indices: &'a [usize],
    /// Test images (labelled).
    pub test: &'a dyn ImageDataset,
    /// Which test images.
    pub test_indices: &'a [usize],
    /// Normalization applied after scaling pixels to `[0, 1]`.
    pub normalize: Option<&'a Normalize>,
    /// Images per forward pass.
    pub batch_size: usize,
}

impl std::fmt::Debug for EvalSplits<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalSplits")
            .field("train", &self.train_indices.len())
            .field("test", &self.test_indices.len())
            .field("normalize", &self.normalize)
            .finish()
    }
}

impl EvalSplits<'_> {
    fn num_classes(&self) -> usize {
        self.train.num_classes().max(self.test.num_classes())
    }
}

/// The linear-probe protocol: the backbone frozen in eval mode (its batch-norm statistics are
/// read, never updated), train and test features extracted once without augmentation, then a
/// linear classifier trained on the train features ([`linear_probe`]).
///
/// # Errors
/// As [`extract_features`] and [`linear_probe`].
pub fn linear_probe_backbone<E: Encoder>(
    backbone: &E,
    splits: EvalSplits<'_>,
    config: &LinearProbeConfig,
    device: &Device,
) -> Result<ProbeReport> {
    let (train, test) = features_of(backbone, splits, device)?;
    linear_probe(
        config,
        train.features,
        &train.labels,
        test.features,
        &test.labels,
        splits.num_classes(),
    )
}

/// The kNN protocol on the frozen backbone: cosine similarity of test features to the train
/// features, temperature-weighted votes of the `k` nearest ([`knn_evaluate`]).
///
/// # Errors
/// As [`extract_features`] and [`knn_evaluate`].
pub fn knn_backbone<E: Encoder>(
    backbone: &E,
    splits: EvalSplits<'_>,
    config: &KnnConfig,
    device: &Device,
) -> Result<ClassificationReport> {
    let (train, test) = features_of(backbone, splits, device)?;
    knn_evaluate(
        config,
        train.features,
        &train.labels,
        test.features,
        &test.labels,
        splits.num_classes(),
    )
}

fn features_of<E: Encoder>(
    backbone: &E,
    splits: EvalSplits<'_>,
    device: &Device,
) -> Result<(crate::LabeledFeatures, crate::LabeledFeatures)> {
    let train = extract_features(
        backbone,
        splits.train,
        splits.train_indices,
        splits.normalize,
        splits.batch_size,
        device,
    )?;
    let test = extract_features(
        backbone,
        splits.test,
        splits.test_indices,
        splits.normalize,
        splits.batch_size,
        device,
    )?;
    Ok((train, test))
}

/// Top-1 accuracy (and per-class table) of a classifier, in eval mode, on un-augmented images.
///
/// # Errors
/// [`Error::Data`](crate::Error::Data) when an image is missing or unlabelled.
pub fn evaluate_classifier<E: Encoder>(
    classifier: &Classifier<E>,
    dataset: &dyn ImageDataset,
    indices: &[usize],
    normalize: Option<&Normalize>,
    batch_size: usize,
    device: &Device,
) -> Result<ClassificationReport> {
    let labels = labels_of(dataset, indices, batch_size)?;
    let classes = classifier.head.weight.dims()[1];
    if let Some(&bad) = labels.iter().find(|&&l| l >= classes) {
        return Err(crate::Error::Data(format!(
            "label {bad} is out of range for a classifier of {classes} classes"
        )));
    }
    let model = classifier.valid();
    let logits = encode(dataset, indices, normalize, batch_size, device, |images| {
        model.forward(images)
    })?;
    let predictions = logits
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|c| c as usize)
        .collect();
    Ok(ClassificationReport::new(predictions, &labels, classes))
}
