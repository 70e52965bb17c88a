//! Linear evaluation on frozen features: a linear classifier `D → C` trained with cross-entropy
//! on features extracted once (elsewhere), so an epoch is a few small matrix products.
//!
//! The protocol is lightly's / solo-learn's linear evaluation minus the backbone pass: SGD with
//! momentum 0.9, no weight decay, cosine-decayed LR, shuffled mini-batches. A label budget (e.g.
//! 1 % of the labels) is the caller's business: pass the class-balanced subset's features.
//!
//! The input tensors are only read (Burn tensors are immutable); the classifier trains on an
//! autodiff copy on the features' device.

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_data::transforms::{TransformRng, shuffle};
use std::fmt;

use crate::error::{Error, Result};
use crate::metrics::ClassificationReport;
use crate::optim::OptimizerConfig;
use crate::schedule::{CosineScheduleConfig, LrScaling};

const CONFIG: &str = "linear probe config";

/// Hyper-parameters of the linear probe. Defaults are lightly's linear evaluation
/// (`LinearClassifier`: SGD, momentum 0.9, no weight decay, LR 0.1 × B / 256, cosine decay) with
/// fewer epochs, which frozen features afford.
#[derive(Config, Debug)]
pub struct LinearProbeConfig {
    /// Passes over the train features.
    #[config(default = 100)]
    pub epochs: usize,
    /// Mini-batch size; the last batch of an epoch may be smaller.
    #[config(default = 256)]
    pub batch_size: usize,
    /// Base LR, scaled by [`lr_scaling`](Self::lr_scaling) with the batch size actually used,
    /// `min(batch_size, N)`.
    #[config(default = 0.1)]
    pub lr: f64,
    /// Batch-size scaling of the base LR.
    #[config(default = "LrScaling::Linear")]
    pub lr_scaling: LrScaling,
    /// Cosine decay of the LR to 0 over the run (`false`: constant LR).
    #[config(default = true)]
    pub cosine: bool,
    /// The optimizer.
    #[config(default = "OptimizerConfig::sgd(0.9, 0.0)")]
    pub optimizer: OptimizerConfig,
    /// Seed of the mini-batch shuffling. The classifier's initial weights come from Burn's
    /// generator; seed it (`Device::seed`) for a reproducible run.
    #[config(default = 0)]
    pub seed: u64,
}

impl LinearProbeConfig {
    /// Checks every field (and the optimizer's), naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::invalid(CONFIG, "epochs", 0, "must be positive"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid(CONFIG, "batch_size", 0, "must be positive"));
        }
        crate::error::positive(CONFIG, "lr", self.lr)?;
        self.optimizer.validate()
    }
}

/// What [`linear_probe`] returns: the trained classifier and how it does on the test features.
///
/// `Display` prints the loss curve's ends and the test report.
#[derive(Debug)]
pub struct ProbeReport {
    /// The trained classifier (without autodiff), weights `[D, C]`.
    pub classifier: Linear,
    /// The mean train cross-entropy of every epoch.
    pub epoch_losses: Vec<f64>,
    /// Top-1 accuracy, predictions and per-class table on the test features.
    pub test: ClassificationReport,
}

impl ProbeReport {
    /// Top-1 test accuracy, a fraction in `[0, 1]`.
    pub fn top1(&self) -> f64 {
        self.test.top1()
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(first), Some(last)) = (self.epoch_losses.first(), self.epoch_losses.last()) {
            writeln!(
                f,
                "linear probe: {} epochs, train loss {first:.4} -> {last:.4}",
                self.epoch_losses.len()
            )?;
        }
        write!(f, "{}", self.test)
    }
}

/// Trains a linear classifier on frozen train features and evaluates it on test features.
///
/// # Shapes
/// - `train_features`: `[N, D]`, `train_labels`: `N` labels below `num_classes`
/// - `test_features`: `[M, D]`, `test_labels`: `M` labels below `num_classes`
///
/// # Errors
/// If `config` is invalid.
///
/// # Panics
/// If the shapes or label counts disagree, there are no train features, `num_classes` is 0 or a
/// label is not below it.
pub fn linear_probe(
    config: &LinearProbeConfig,
    train_features: Tensor<2>,
    train_labels: &[usize],
    test_features: Tensor<2>,
    test_labels: &[usize],
    num_classes: usize,
) -> Result<ProbeReport> {
    config.validate()?;
    let [num_train, dim] = train_features.dims();
    let [num_test, test_dim] = test_features.dims();
    assert!(num_train > 0, "linear_probe: no train features");
    assert!(
        num_classes > 0,
        "linear_probe: num_classes must be positive"
    );
    assert_eq!(
        dim, test_dim,
        "linear_probe: train features have dimension {dim}, test features {test_dim}"
    );
    assert_eq!(
        train_labels.len(),
        num_train,
        "linear_probe: {} train labels for {num_train} train features",
        train_labels.len()
    );
    assert_eq!(
        test_labels.len(),
        num_test,
        "linear_probe: {} test labels for {num_test} test features",
        test_labels.len()
    );
    for (name, labels) in [("train", train_labels), ("test", test_labels)] {
        if let Some((i, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
            panic!(
                "linear_probe: {name} label {i} is {label}, but labels must be below {num_classes}"
            );
        }
    }

    let device = train_features.device().inner().autodiff();
    let features = train_features.inner().autodiff();
    let labels = Tensor::<1, Int>::from_data(
        TensorData::new(
            train_labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [num_train],
        ),
        &device,
    );

    let batches_per_epoch = num_train.div_ceil(config.batch_size);
    let total_steps = config.epochs * batches_per_epoch;
    let lr = config
        .lr_scaling
        .apply(config.lr, config.batch_size.min(num_train));
    let schedule = if config.cosine {
        CosineScheduleConfig::new(lr, total_steps)
    } else {
        CosineScheduleConfig::constant(lr, total_steps)
    }
    .init()?;

    let mut classifier = LinearConfig::new(dim, num_classes).init(&device);
    let mut optimizer = config.optimizer.init()?;
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    // The project's own generator and Fisher–Yates shuffle: the batch order of a seed is the
    // same in every release (rand's StdRng documents no such promise).
    let mut rng = TransformRng::from_u64(config.seed);
    let mut order: Vec<i64> = (0..num_train as i64).collect();
    let mut epoch_losses = Vec::with_capacity(config.epochs);
    let mut step = 0;

    for _ in 0..config.epochs {
        shuffle(&mut order, &mut rng);
        let mut loss_sum = Tensor::<1>::zeros([1], &device.clone().inner());
        for batch in order.chunks(config.batch_size) {
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(batch.to_vec(), [batch.len()]),
                &device,
            );
            let x = features.clone().select(0, index.clone());
            let y = labels.clone().select(0, index);
            let loss = loss_fn.forward(classifier.forward(x), y);
            loss_sum = loss_sum + loss.clone().inner().mul_scalar(batch.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &classifier);
            classifier = optimizer.step(schedule.lr_at(step), classifier, grads);
            step += 1;
        }
        epoch_losses.push(loss_sum.into_scalar::<f64>() / num_train as f64);
    }

    let classifier = classifier.valid();
    let predictions = if num_test == 0 {
        Vec::new()
    } else {
        classifier
            .forward(test_features.inner())
            .argmax(1)
            .into_data()
            .iter::<i64>()
            .map(|class| class as usize)
            .collect()
    };
    Ok(ProbeReport {
        classifier,
        epoch_losses,
        test: ClassificationReport::new(predictions, test_labels, num_classes),
    })
}
