//! The monitors of a run: the collapse monitor ([`embedding_std`]) and online kNN accuracy
//! ([`OnlineKnn`]).

use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use selfsup_data::ImageDataset;
use selfsup_data::transforms::Normalize;
use selfsup_models::Encoder;

use crate::error::Result;
use crate::evaluate::{EvalSplits, knn_backbone};
use crate::knn::{KnnConfig, l2_normalize};

/// Online kNN monitoring: after every `every` epochs, the backbone (in eval mode) encodes a
/// train subset and a held-out subset, and kNN accuracy is logged.
#[derive(Clone)]
pub struct OnlineKnn {
    /// The memory bank's images (labelled).
    pub train: Arc<dyn ImageDataset>,
    /// Which of them.
    pub train_indices: Vec<usize>,
    /// The held-out images (labelled).
    pub test: Arc<dyn ImageDataset>,
    /// Which of them.
    pub test_indices: Vec<usize>,
    /// The normalization of the training views (no augmentation).
    pub normalize: Option<Normalize>,
    /// k and τ.
    pub config: KnnConfig,
    /// Evaluate every this many epochs (and after the last).
    pub every: usize,
}

impl std::fmt::Debug for OnlineKnn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKnn")
            .field("train", &self.train_indices.len())
            .field("test", &self.test_indices.len())
            .field("config", &self.config)
            .field("every", &self.every)
            .finish()
    }
}

impl OnlineKnn {
    /// The kNN top-1 accuracy of `backbone` (in eval mode) after `epoch`, when this epoch is
    /// one to evaluate (every `every` epochs, and the `last`).
    ///
    /// # Errors
    /// As [`knn_backbone`].
    pub fn evaluate<E: Encoder>(
        &self,
        backbone: &E,
        epoch: usize,
        last: bool,
        batch_size: usize,
        device: &Device,
    ) -> Result<Option<f64>> {
        if !(last || (epoch + 1).is_multiple_of(self.every.max(1))) {
            return Ok(None);
        }
        let splits = EvalSplits {
            train: self.train.as_ref(),
            train_indices: &self.train_indices,
            test: self.test.as_ref(),
            test_indices: &self.test_indices,
            normalize: self.normalize.as_ref(),
            batch_size,
        };
        let report = knn_backbone(backbone, splits, &self.config, device)?;
        Ok(Some(report.top1()))
    }
}

/// The collapse monitor of one batch (see [`EpochRecord::embedding_std`](crate::EpochRecord::embedding_std)); `None` for a batch
/// of one.
///
/// # Shapes
/// - `z`: `[B, D]`
pub fn embedding_std(z: Tensor<2>) -> Option<f64> {
    let [b, d] = z.dims();
    if b < 2 {
        return None;
    }
    let z = l2_normalize(z.detach());
    let std = z.var(0).sqrt().mean().into_scalar::<f64>();
    Some(std * (d as f64).sqrt())
}
