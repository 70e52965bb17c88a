//! Online linear evaluation: a linear classifier trained on the encoder's detached features
//! alongside pre-training, tested on held-out images after every epoch — solo-learn's
//! "Acc@1 (online)" (`BaseMethod`'s `classifier`, `solo/methods/base.py`).
//!
//! Each step, the classifier takes one SGD step (momentum 0.9, no weight decay, as solo-learn's
//! classifier parameter group) on the features of the batch's first view and the labels of its
//! labelled images (an unlabelled image, like STL-10's unlabelled split, is left out). Its LR is
//! solo-learn's `classifier_lr` × batch / 256, following the run's warm-up and cosine. The
//! classifier never touches the encoder's gradient, so it changes nothing about the run.
//!
//! Two deliberate differences from solo-learn, both so that the encoder's training is exactly the
//! same with or without the classifier: the features are the encoder's in eval mode (batch norm
//! on its running statistics, no gradient graph), computed before the optimizer step, where
//! solo-learn reuses the training forward pass; and the classifier starts from zeros (a convex
//! problem, so the start only shifts the first steps), where solo-learn uses PyTorch's random
//! `nn.Linear` initialisation. The softmax cross-entropy's gradient is computed in closed form,
//! `(softmax(fW + b) − onehot(y)) / B`, and checked against Burn's autodiff in the tests.

use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData};
use selfsup_data::ImageDataset;
use selfsup_data::transforms::Normalize;
use selfsup_models::Encoder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::extract_features;

/// Online linear evaluation of a run (see the [module docs](self)).
#[derive(Clone)]
pub struct OnlineLinear {
    /// Classes of the labelled training images.
    pub num_classes: usize,
    /// Base LR before the batch scaling (solo-learn's `classifier_lr`, 0.1 in most of its
    /// configurations).
    pub lr: f64,
    /// The held-out images (labelled).
    pub test: Arc<dyn ImageDataset>,
    /// Which of them.
    pub test_indices: Vec<usize>,
    /// The normalization of the training views (no augmentation).
    pub normalize: Option<Normalize>,
}

impl std::fmt::Debug for OnlineLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineLinear")
            .field("num_classes", &self.num_classes)
            .field("lr", &self.lr)
            .field("test", &self.test_indices.len())
            .finish()
    }
}

/// The momentum of the classifier's SGD (solo-learn's, PyTorch semantics, dampening 0).
pub const ONLINE_LINEAR_MOMENTUM: f64 = 0.9;

/// The classifier's weights and momentum buffers, as a checkpoint stores them (a few thousand
/// values: `features × classes + classes`, twice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineLinearState {
    /// Input features `D`.
    pub features: usize,
    /// Classes `C`.
    pub classes: usize,
    /// `W`, row-major `[D, C]`.
    #[serde(with = "crate::json_float::vec")]
    pub weight: Vec<f32>,
    /// `b`, `[C]`.
    #[serde(with = "crate::json_float::vec")]
    pub bias: Vec<f32>,
    /// The momentum buffers of `W` and `b`, `None` before the first step.
    #[serde(default, with = "crate::json_float::option_vec_pair")]
    pub velocity: Option<(Vec<f32>, Vec<f32>)>,
}

/// A linear softmax classifier trained by SGD with momentum, on a non-autodiff device.
#[derive(Debug, Clone)]
pub struct LinearClassifier {
    weight: Tensor<2>,
    bias: Tensor<1>,
    velocity: Option<(Tensor<2>, Tensor<1>)>,
}

impl LinearClassifier {
    /// A classifier of `features → classes` with zero weights, on `device` (its inner,
    /// non-autodiff device).
    pub fn zeros(features: usize, classes: usize, device: &Device) -> Self {
        let device = device.clone().inner();
        Self {
            weight: Tensor::zeros([features, classes], &device),
            bias: Tensor::zeros([classes], &device),
            velocity: None,
        }
    }

    /// The classifier of a checkpoint's state.
    ///
    /// # Errors
    /// [`Error::Data`] when the state's lengths do not match its shape.
    pub fn from_state(state: &OnlineLinearState, device: &Device) -> Result<Self> {
        let (d, c) = (state.features, state.classes);
        let bad = state.weight.len() != d * c
            || state.bias.len() != c
            || state
                .velocity
                .as_ref()
                .is_some_and(|(w, b)| w.len() != d * c || b.len() != c);
        if bad {
            return Err(Error::Data(format!(
                "the online classifier's saved state does not hold {d} × {c} weights and {c} biases"
            )));
        }
        let device = device.clone().inner();
        let matrix =
            |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [d, c]), &device);
        let vector = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [c]), &device);
        Ok(Self {
            weight: matrix(&state.weight),
            bias: vector(&state.bias),
            velocity: state.velocity.as_ref().map(|(w, b)| (matrix(w), vector(b))),
        })
    }

    /// The state a checkpoint stores.
    pub fn state(&self) -> OnlineLinearState {
        let [features, classes] = self.weight.dims();
        let values = |t: TensorData| t.try_to_vec::<f32>().expect("f32 values");
        OnlineLinearState {
            features,
            classes,
            weight: values(self.weight.to_data()),
            bias: values(self.bias.to_data()),
            velocity: self
                .velocity
                .as_ref()
                .map(|(w, b)| (values(w.to_data()), values(b.to_data()))),
        }
    }

    /// The logits `fW + b`.
    ///
    /// # Shapes
    /// - `features`: `[B, D]`
    /// - output: `[B, C]`
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        features
            .matmul(self.weight.clone())
            .add(self.bias.clone().unsqueeze::<2>())
    }

    /// One SGD step with momentum on the mean softmax cross-entropy of `features` and `labels`;
    /// returns that loss (before the step).
    ///
    /// # Shapes
    /// - `features`: `[B, D]`, on the classifier's device, `B = labels.len() > 0`
    pub fn step(&mut self, features: Tensor<2>, labels: &[usize], lr: f64, momentum: f64) -> f64 {
        let [b, _] = features.dims();
        let [_, classes] = self.weight.dims();
        assert_eq!(b, labels.len(), "one label per row");
        let device = features.device();
        let log_p = burn::tensor::activation::log_softmax(self.logits(features.clone()), 1);
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [b]),
            &device,
        );
        let onehot = targets.clone().one_hot::<2>(classes).float();
        let loss = log_p
            .clone()
            .mul(onehot.clone())
            .sum()
            .neg()
            .div_scalar(b as f64)
            .into_scalar::<f64>();
        // d(loss)/d(logits) = (softmax − onehot) / B.
        let g = log_p.exp().sub(onehot).div_scalar(b as f64);
        let grad_weight = features.transpose().matmul(g.clone());
        let grad_bias = g.sum_dim(0).squeeze::<1>();
        let (vw, vb) = match self.velocity.take() {
            None => (grad_weight, grad_bias),
            Some((vw, vb)) => (
                vw.mul_scalar(momentum).add(grad_weight),
                vb.mul_scalar(momentum).add(grad_bias),
            ),
        };
        self.weight = self.weight.clone().sub(vw.clone().mul_scalar(lr));
        self.bias = self.bias.clone().sub(vb.clone().mul_scalar(lr));
        self.velocity = Some((vw, vb));
        loss
    }

    /// The predicted class of each row.
    ///
    /// # Shapes
    /// - `features`: `[B, D]`
    pub fn predict(&self, features: Tensor<2>) -> Vec<usize> {
        self.logits(features)
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("i64 classes")
            .into_iter()
            .map(|c| c as usize)
            .collect()
    }
}

impl OnlineLinear {
    /// The top-1 accuracy of `classifier` on the held-out images, through `backbone` in eval
    /// mode.
    ///
    /// # Errors
    /// As [`extract_features`].
    pub fn evaluate<E: Encoder>(
        &self,
        backbone: &E,
        classifier: &LinearClassifier,
        batch_size: usize,
        device: &Device,
    ) -> Result<f64> {
        let test = extract_features(
            backbone,
            self.test.as_ref(),
            &self.test_indices,
            self.normalize.as_ref(),
            batch_size,
            device,
        )?;
        let predicted = classifier.predict(test.features);
        let correct = predicted
            .iter()
            .zip(&test.labels)
            .filter(|(p, l)| p == l)
            .count();
        Ok(correct as f64 / test.labels.len().max(1) as f64)
    }
}
