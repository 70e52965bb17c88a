//! Batch normalisation without learnable affine parameters (PyTorch's
//! `BatchNorm1d(affine=False)`), which SimSiam puts after its projector's output layer.
//!
//! Burn's [`BatchNorm`](burn::nn::BatchNorm) always carries `gamma` and `beta`. Freezing them at
//! (1, 0) would work numerically, but they would still be parameters (in `num_params`, in
//! records, in optimiser groups). [`NonAffineBatchNorm`] has none: only running statistics.

use burn::module::{Flag, Param, RunningState};
use burn::prelude::*;
use burn::tensor::module::{batch_norm, batch_norm_train};

/// Configuration of a [`NonAffineBatchNorm`].
#[derive(Config, Debug)]
pub struct NonAffineBatchNormConfig {
    /// Number of features (channels, the second axis of the input).
    pub num_features: usize,
    /// Added to the variance for numerical stability. Default 1e-5 (PyTorch's).
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Weight of the current batch in the running statistics. Default 0.1 (PyTorch's).
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// `y = (x − mean) / sqrt(var + ε)` per feature, with no scale or shift.
///
/// Like Burn's `BatchNorm`, it normalises with the batch statistics and updates the running ones
/// when the input lives on an autodiff device and the layer is not frozen (training), and with
/// the running statistics otherwise. The running variance is updated with the *unbiased* batch
/// variance (`n / (n − 1)` times the biased one), as PyTorch does.
#[derive(Module, Debug)]
pub struct NonAffineBatchNorm {
    /// Running mean, `[num_features]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance, `[num_features]`.
    pub running_var: RunningState<Tensor<1>>,
    /// Whether training behaviour is allowed (cleared by `Module::freeze` / `valid`).
    pub training: Param<Flag>,
    /// Weight of the current batch in the running statistics.
    pub momentum: f64,
    /// Added to the variance for numerical stability.
    pub epsilon: f64,
}

impl NonAffineBatchNormConfig {
    /// Builds the layer on `device`, with running statistics at (0, 1).
    ///
    /// # Panics
    ///
    /// If `num_features` is zero, `epsilon` is not finite and positive, or `momentum` is not in
    /// `[0, 1]`.
    pub fn init(&self, device: &Device) -> NonAffineBatchNorm {
        assert!(
            self.num_features > 0,
            "NonAffineBatchNormConfig: num_features must be positive"
        );
        assert!(
            self.epsilon.is_finite() && self.epsilon > 0.0,
            "NonAffineBatchNormConfig: epsilon must be finite and positive, got {}",
            self.epsilon
        );
        assert!(
            (0.0..=1.0).contains(&self.momentum),
            "NonAffineBatchNormConfig: momentum must be in [0, 1], got {}",
            self.momentum
        );
        NonAffineBatchNorm {
            running_mean: RunningState::new(Tensor::zeros([self.num_features], device)),
            running_var: RunningState::new(Tensor::ones([self.num_features], device)),
            training: Param::from_bool(true),
            momentum: self.momentum,
            epsilon: self.epsilon,
        }
    }
}

impl NonAffineBatchNorm {
    /// The number of features this layer normalises.
    pub fn num_features(&self) -> usize {
        self.running_mean.value().dims()[0]
    }

    /// Normalises each feature (axis 1).
    ///
    /// # Shapes
    /// - `input`: `[B, num_features, ...]`
    /// - output: same as `input`
    ///
    /// # Panics
    ///
    /// If axis 1 of `input` is not `num_features`.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let channels = self.num_features();
        assert!(
            D >= 2 && input.dims()[1] == channels,
            "NonAffineBatchNorm: expected input [B, {channels}, ...], got {:?}",
            input.dims()
        );
        let device = input.device();
        let ones = Tensor::<1>::ones([channels], &device);
        let zeros = Tensor::<1>::zeros([channels], &device);

        if !(device.is_autodiff() && self.training.is_enabled()) {
            let mean = self.running_mean.value().to_device(&device);
            let var = self.running_var.value().to_device(&device);
            return batch_norm(input, ones, zeros, mean, var, self.epsilon);
        }

        let n = input.shape().num_elements() / channels;
        let result = batch_norm_train(input, ones, zeros, self.epsilon);
        let unbiased = if n > 1 {
            result.variance.mul_scalar(n as f64 / (n - 1) as f64)
        } else {
            result.variance
        };
        let m = self.momentum;
        let mean = self
            .running_mean
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            .add(result.mean.detach().mul_scalar(m));
        let var = self
            .running_var
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            .add(unbiased.detach().mul_scalar(m));
        self.running_mean.update(mean.detach());
        self.running_var.update(var.detach());
        result.output
    }
}
