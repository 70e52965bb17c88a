//! What a run logs: [`History`] (one [`EpochRecord`] per epoch and every step's loss), saved as
//! `history.json` and inside every checkpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One epoch of a run, as logged in `history.json`. A NaN or an infinity in any of its floats
/// (a metric that diverged) is written as the string `"NaN"`, `"inf"` or `"-inf"`, which JSON
/// can hold and which reads back as the same value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Optimizer steps taken at the end of the epoch (over the whole run).
    pub steps: usize,
    /// Mean loss over the epoch's steps.
    #[serde(with = "crate::json_float")]
    pub loss: f64,
    /// The LR of the epoch's last step.
    #[serde(with = "crate::json_float")]
    pub lr: f64,
    /// Images trained on in this epoch.
    pub images: usize,
    /// Wall time of the epoch's steps, seconds (of this process only, after a resume).
    #[serde(with = "crate::json_float")]
    pub seconds: f64,
    /// Training throughput, images per second.
    #[serde(with = "crate::json_float")]
    pub images_per_second: f64,
    /// Of [`seconds`](Self::seconds), the time the training loop waited for the loader's next
    /// batch (data starvation): near 0 when loading keeps up with the steps.
    #[serde(default, with = "crate::json_float")]
    pub data_wait_seconds: f64,
    /// Collapse monitor: the mean over dimensions of the std of the ℓ2-normalised embeddings,
    /// times √d — about 1 for well-spread embeddings, → 0 when they collapse to a point.
    #[serde(default, with = "crate::json_float::option")]
    pub embedding_std: Option<f64>,
    /// Online kNN top-1 accuracy on the held-out subset, when enabled.
    #[serde(default, with = "crate::json_float::option")]
    pub knn_top1: Option<f64>,
    /// Online linear top-1 accuracy on the held-out subset (solo-learn's "Acc@1 (online)"),
    /// when enabled ([`OnlineLinear`](crate::OnlineLinear)).
    #[serde(default, with = "crate::json_float::option")]
    pub online_linear_top1: Option<f64>,
    /// The method's own metrics, averaged over the epoch.
    #[serde(with = "crate::json_float::map")]
    pub metrics: BTreeMap<String, f64>,
}

/// What a run logged: one record per finished epoch and every step's loss.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per finished epoch.
    pub epochs: Vec<EpochRecord>,
    /// The loss of every optimizer step, in order (`f32`, the loss tensor's precision, which
    /// JSON round-trips exactly).
    #[serde(with = "crate::json_float::vec")]
    pub step_losses: Vec<f32>,
    /// Sums of the epoch in progress (kept so a resumed epoch logs the same means).
    #[serde(default)]
    pub current: EpochSums,
}

/// Running sums of the epoch in progress. The sums are saved as raw `f64` bits, so a resumed
/// epoch's means are bit-identical to an uninterrupted one's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochSums {
    /// Steps summed.
    pub steps: usize,
    /// Σ loss.
    #[serde(with = "f64_bits")]
    pub loss: f64,
    /// Σ embedding std.
    #[serde(with = "f64_bits")]
    pub embedding_std: f64,
    /// Steps with an embedding std.
    pub embedding_std_steps: usize,
    /// Σ of each metric, as raw bits.
    pub metrics: BTreeMap<String, u64>,
    /// Images trained on.
    pub images: usize,
}

/// `f64` as its bit pattern: serde_json's parser may miss the last bit of a decimal.
mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}
