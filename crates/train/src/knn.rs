//! The weighted kNN monitor of InstDisc (Wu et al. 2018), as the SimSiam / MoCo repositories
//! and lightly's `knn_predict` run it on frozen features.
//!
//! For every test feature `q` (rows L2-normalised, like the bank of train features):
//! 1. cosine similarities `s_j = q · b_j` to all `N` train features;
//! 2. the `k` most similar train features (default 200);
//! 3. each votes for its class with weight `exp(s_j / τ)` (τ = 0.1);
//! 4. the prediction is the class with the largest summed weight.
//!
//! Test rows are processed in chunks of [`KnnConfig::chunk_size`], so memory is bounded by
//! `chunk_size × N` similarities whatever the test-set size.
//!
//! **`k` larger than the bank is clamped** to `N` (every train feature votes), not rejected: a
//! small labelled subset should still evaluate. [`KnnConfig::effective_k`] gives the `k` used.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

use crate::error::{self, Error, Result};
use crate::metrics::ClassificationReport;

const CONFIG: &str = "knn config";

/// ε of the L2 normalisation, `x / max(‖x‖, ε)` (PyTorch's `F.normalize` default).
pub const NORMALIZE_EPS: f64 = 1e-12;

/// Hyper-parameters of the kNN monitor. Defaults are InstDisc's / SimSiam's.
#[derive(Config, Debug, PartialEq)]
pub struct KnnConfig {
    /// Number of neighbours that vote; clamped to the number of train features.
    #[config(default = 200)]
    pub k: usize,
    /// Temperature τ of the vote weights `exp(similarity / τ)`.
    #[config(default = 0.1)]
    pub temperature: f64,
    /// Test rows scored at once.
    #[config(default = 256)]
    pub chunk_size: usize,
}

impl KnnConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::invalid(CONFIG, "k", 0, "must be positive"));
        }
        error::positive(CONFIG, "temperature", self.temperature)?;
        if self.chunk_size == 0 {
            return Err(Error::invalid(CONFIG, "chunk_size", 0, "must be positive"));
        }
        Ok(())
    }

    /// The `k` used with a bank of `num_train` features: `min(k, num_train)`.
    pub fn effective_k(&self, num_train: usize) -> usize {
        self.k.min(num_train)
    }
}

/// Rows divided by their L2 norm (floored at [`NORMALIZE_EPS`]).
///
/// # Shapes
/// - `x`: `[n, d]`
/// - returns: `[n, d]`
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x
        .clone()
        .square()
        .sum_dim(1)
        .sqrt()
        .clamp_min(NORMALIZE_EPS);
    x.div(norm)
}

/// The summed vote weights of every class for every test feature.
///
/// Autodiff, if the inputs carry it, is dropped: nothing here is differentiated.
///
/// # Shapes
/// - `train_features`: `[N, D]`, `train_labels`: `N` labels below `num_classes`
/// - `test_features`: `[M, D]`
/// - returns: `[M, num_classes]`, on the features' device
///
/// # Errors
/// If `config` is invalid.
///
/// # Panics
/// If the shapes disagree, the bank is empty, `num_classes` is 0 or a label is not below it.
pub fn knn_scores(
    config: &KnnConfig,
    train_features: Tensor<2>,
    train_labels: &[usize],
    test_features: Tensor<2>,
    num_classes: usize,
) -> Result<Tensor<2>> {
    let device = train_features.device().inner();
    let chunks = score_chunks(
        config,
        train_features,
        train_labels,
        test_features,
        num_classes,
    )?;
    Ok(if chunks.is_empty() {
        Tensor::zeros([0, num_classes], &device)
    } else {
        Tensor::cat(chunks, 0)
    })
}

/// The class scores of the test features, `chunk_size` rows at a time, so that at most
/// `chunk_size × N` similarities are held at once.
fn score_chunks(
    config: &KnnConfig,
    train_features: Tensor<2>,
    train_labels: &[usize],
    test_features: Tensor<2>,
    num_classes: usize,
) -> Result<Vec<Tensor<2>>> {
    config.validate()?;
    let bank = Bank::new(train_features, train_labels, num_classes);
    let [num_test, dim] = test_features.dims();
    assert_eq!(
        dim, bank.dim,
        "knn: test features have dimension {dim}, train features {}",
        bank.dim
    );
    let test_features = test_features.inner();
    Ok((0..num_test)
        .step_by(config.chunk_size)
        .map(|start| {
            let len = config.chunk_size.min(num_test - start);
            bank.scores(config, test_features.clone().narrow(0, start, len))
        })
        .collect())
}

/// The kNN prediction for every test feature: the class with the largest summed vote weight.
///
/// See [`knn_scores`] for shapes, errors and panics; returns `M` classes.
pub fn knn_predict(
    config: &KnnConfig,
    train_features: Tensor<2>,
    train_labels: &[usize],
    test_features: Tensor<2>,
    num_classes: usize,
) -> Result<Vec<usize>> {
    let mut predictions = Vec::new();
    for scores in score_chunks(
        config,
        train_features,
        train_labels,
        test_features,
        num_classes,
    )? {
        let predicted = scores.argmax(1).into_data();
        predictions.extend(predicted.iter::<i64>().map(|class| class as usize));
    }
    Ok(predictions)
}

/// Runs [`knn_predict`] and compares with `test_labels`: top-1 accuracy, predictions and the
/// per-class table.
///
/// # Shapes
/// As [`knn_scores`], plus `test_labels`: `M` labels below `num_classes`.
///
/// # Errors
/// If `config` is invalid.
///
/// # Panics
/// As [`knn_scores`], and if `test_labels` does not have `M` labels below `num_classes`.
pub fn knn_evaluate(
    config: &KnnConfig,
    train_features: Tensor<2>,
    train_labels: &[usize],
    test_features: Tensor<2>,
    test_labels: &[usize],
    num_classes: usize,
) -> Result<ClassificationReport> {
    let [num_test, _] = test_features.dims();
    assert_eq!(
        test_labels.len(),
        num_test,
        "knn: {} test labels for {num_test} test features",
        test_labels.len()
    );
    let predictions = knn_predict(
        config,
        train_features,
        train_labels,
        test_features,
        num_classes,
    )?;
    Ok(ClassificationReport::new(
        predictions,
        test_labels,
        num_classes,
    ))
}

/// The normalised, transposed train features and their labels, on the device.
struct Bank {
    /// `[D, N]`, columns L2-normalised.
    features_t: Tensor<2>,
    /// `[N]`
    labels: Tensor<1, Int>,
    num_train: usize,
    dim: usize,
    num_classes: usize,
    device: Device,
}

impl Bank {
    fn new(features: Tensor<2>, labels: &[usize], num_classes: usize) -> Self {
        let [num_train, dim] = features.dims();
        assert!(num_train > 0, "knn: the bank of train features is empty");
        assert!(num_classes > 0, "knn: num_classes must be positive");
        assert_eq!(
            labels.len(),
            num_train,
            "knn: {} train labels for {num_train} train features",
            labels.len()
        );
        if let Some((i, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
            panic!("knn: train label {i} is {label}, but labels must be below {num_classes}");
        }
        let device = features.device().inner();
        let features_t = l2_normalize(features.inner()).transpose();
        let labels = Tensor::<1, Int>::from_data(
            TensorData::new(
                labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
                [num_train],
            ),
            &device,
        );
        Self {
            features_t,
            labels,
            num_train,
            dim,
            num_classes,
            device,
        }
    }

    /// # Shapes
    /// - `queries`: `[m, D]`, not normalised
    /// - returns: `[m, num_classes]`
    fn scores(&self, config: &KnnConfig, queries: Tensor<2>) -> Tensor<2> {
        let [m, _] = queries.dims();
        let k = config.effective_k(self.num_train);
        let similarity = l2_normalize(queries).matmul(self.features_t.clone()); // [m, N]
        let (top_similarity, top_index) = similarity.topk_with_indices(k, 1); // [m, k]
        let neighbour_labels = self
            .labels
            .clone()
            .select(0, top_index.reshape([m * k]))
            .reshape([m, k]);
        let weights = top_similarity.div_scalar(config.temperature).exp();
        Tensor::zeros([m, self.num_classes], &self.device).scatter(
            1,
            neighbour_labels,
            weights,
            IndexingUpdateOp::Add,
        )
    }
}
