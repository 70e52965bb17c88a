//! LARS, see [`Lars`].

use burn::config::Config;
use burn::optim::momentum::{Momentum, MomentumConfig, MomentumState};
use burn::optim::{
    LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource, join_path,
};
use burn::prelude::*;

use crate::error::{self, Error, Result};

const CONFIG: &str = "lars config";

/// Configuration of [`Lars`]. Defaults are SimCLR's (momentum 0.9, weight decay 10⁻⁶, η = 0.001,
/// biases and normalisation parameters excluded) with lightly's ε = 10⁻⁸.
#[derive(Config, Debug, PartialEq)]
pub struct LarsConfig {
    /// Momentum factor μ (PyTorch semantics: the buffer starts at the first update). 0 disables
    /// momentum.
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Dampening of the momentum buffer's new term (PyTorch's, default 0).
    #[config(default = 0.0)]
    pub dampening: f64,
    /// Weight decay λ, added to the gradient before the local LR scales it. With λ = 0 no
    /// parameter is adapted (lightly's rule).
    #[config(default = 1e-6)]
    pub weight_decay: f64,
    /// Nesterov momentum; needs a positive momentum and zero dampening.
    #[config(default = false)]
    pub nesterov: bool,
    /// Trust coefficient η of the local LR.
    #[config(default = 0.001)]
    pub trust_coefficient: f64,
    /// ε added to the local LR's denominator.
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Exclude rank-1 parameters (biases, batch-norm γ and β) from adaptation and weight decay:
    /// they get plain momentum SGD.
    #[config(default = true)]
    pub exclude_bias_and_norm: bool,
    /// Clip the local LR so that an adapted parameter never moves faster than the global LR
    /// allows: `local_lr ← min(local_lr / lr, 1)` (solo-learn's `clip_lr`, on in its CIFAR and
    /// ImageNet-100 configurations).
    #[config(default = false)]
    pub clip_lr: bool,
}

impl LarsConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        error::unit_interval(CONFIG, "momentum", self.momentum)?;
        error::unit_interval(CONFIG, "dampening", self.dampening)?;
        error::non_negative(CONFIG, "weight_decay", self.weight_decay)?;
        error::positive(CONFIG, "trust_coefficient", self.trust_coefficient)?;
        error::non_negative(CONFIG, "eps", self.eps)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                CONFIG,
                "nesterov",
                self.nesterov,
                format!(
                    "needs a positive momentum and zero dampening (momentum = {}, dampening = {})",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(())
    }

    /// Builds the per-tensor optimizer, e.g. for
    /// [`ModuleOptimizer::with_group`](burn::optim::ModuleOptimizer::with_group).
    pub fn build(&self) -> Result<Lars> {
        self.validate()?;
        Ok(Lars {
            config: self.clone(),
            momentum: (self.momentum > 0.0).then(|| {
                Momentum::new(&MomentumConfig {
                    momentum: self.momentum,
                    dampening: self.dampening,
                    nesterov: self.nesterov,
                })
            }),
        })
    }

    /// Builds the whole-module optimizer: `optimizer.step(lr, model, grads)`.
    pub fn init(&self) -> Result<ModuleOptimizer> {
        Ok(ModuleOptimizer::from(self.build()?))
    }
}

/// LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017), as SimCLR trains with it.
///
/// The arithmetic is lightly's `LARS` (`lightly/utils/lars.py`, from PyTorch Lightning Bolts),
/// step for step, for a parameter `w` with gradient `g`:
///
/// ```text
/// if adapted(w) and ‖w‖ > 0 and ‖g‖ > 0:
///     local_lr = η · ‖w‖ / (‖g‖ + λ‖w‖ + ε)        (the paper's Eq. 6, plus ε)
///     local_lr = min(local_lr / lr, 1)             (only with clip_lr, solo-learn's rule)
///     d = local_lr · (g + λw)                      (weight decay joins the gradient first)
/// else:
///     d = g                                        (local LR 1, no weight decay)
/// v = d                     on the first step
/// v = μ·v + (1 − dampening)·d                      afterwards
/// w ← w − lr · (d + μ·v  if nesterov  else  v)
/// ```
///
/// A parameter is *adapted* when the weight decay λ is not zero (lightly's rule: "parameters with
/// weight decay set to 0 will automatically be excluded from layer-wise LR scaling") and it is not
/// excluded by [`LarsConfig::exclude_bias_and_norm`], which skips every rank-1 parameter (biases,
/// batch-norm γ and β) — SimCLR's "we exclude batch normalization and bias parameters from LARS
/// adaptation and weight decay", which lightly gets by putting those in a group with λ = 0.
///
/// With [`clip_lr`](LarsConfig::clip_lr) it is solo-learn's `LARS` (`solo/utils/lars.py`), which
/// differs from lightly's only by that clipping.
///
/// Everything stays on the device: the norms are one-element tensors and the "both norms
/// positive" test is a mask, so a step never waits for the device.
///
/// A Burn [`Optimizer`] (one tensor at a time, wrapped by `ModuleOptimizer` for a whole module).
/// Build it with [`LarsConfig::build`] or [`LarsConfig::init`].
#[derive(Clone)]
pub struct Lars {
    config: LarsConfig,
    momentum: Option<Momentum>,
}

impl std::fmt::Debug for Lars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lars")
            .field("config", &self.config)
            .finish()
    }
}

impl Lars {
    /// The config this optimizer was built from.
    pub fn config(&self) -> &LarsConfig {
        &self.config
    }

    /// Whether a parameter of rank `D` gets the layer-wise adaptation and weight decay.
    pub fn adapts_rank<const D: usize>(&self) -> bool {
        self.config.weight_decay != 0.0 && !(self.config.exclude_bias_and_norm && D == 1)
    }

    /// The adapted update `d` of the module docs, before momentum.
    ///
    /// # Shapes
    /// - `weight`, `grad`: any shape, the same for both.
    /// - returns: that shape.
    fn adapt<const D: usize>(
        &self,
        weight: Tensor<D>,
        grad: Tensor<D>,
        lr: LearningRate,
    ) -> Tensor<D> {
        let weight_decay = self.config.weight_decay;
        let w_norm = l2_norm(weight.clone());
        let g_norm = l2_norm(grad.clone());
        let both_positive = w_norm
            .clone()
            .greater_elem(0.0)
            .bool_and(g_norm.clone().greater_elem(0.0));
        // lightly: p_norm / (g_norm + p_norm * weight_decay + eps) * trust_coefficient.
        let denominator = g_norm
            .add(w_norm.clone().mul_scalar(weight_decay))
            .add_scalar(self.config.eps);
        let local_lr = w_norm
            .div(denominator)
            .mul_scalar(self.config.trust_coefficient);
        // solo-learn's clip_lr: min(local_lr / lr, 1).
        let local_lr = if self.config.clip_lr {
            local_lr.div_scalar(lr).clamp_max(1.0)
        } else {
            local_lr
        };
        // Where a norm is zero: local LR 1 and no weight decay.
        let local_lr = local_lr.mask_fill(both_positive.clone().bool_not(), 1.0);
        let decay = local_lr.zeros_like().mask_fill(both_positive, weight_decay);
        grad.add(weight.mul(decay.unsqueeze::<D>()))
            .mul(local_lr.unsqueeze::<D>())
    }
}

/// The Euclidean norm of all elements, as a one-element tensor on the input's device.
fn l2_norm<const D: usize>(tensor: Tensor<D>) -> Tensor<1> {
    tensor.square().sum().sqrt()
}

/// Per-parameter state of [`Lars`]: the momentum buffer (no state without momentum).
#[derive(Clone)]
pub struct LarsState<const D: usize> {
    /// The momentum buffer `v`.
    pub momentum: MomentumState<D>,
}

impl<const D: usize> RecordState for LarsState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        self.momentum
            .state_flatten(&join_path(prefix, "momentum"), out);
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let momentum = MomentumState::state_unflatten(&join_path(prefix, "momentum"), src, device)?;
        Some(Self { momentum })
    }
}

impl Optimizer for Lars {
    type State<const D: usize> = LarsState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let update = if self.adapts_rank::<D>() {
            self.adapt(tensor.clone(), grad, lr)
        } else {
            grad
        };
        let (update, state) = match &self.momentum {
            Some(momentum) => {
                let (update, buffer) = momentum.transform(update, state.map(|s| s.momentum));
                (update, Some(LarsState { momentum: buffer }))
            }
            None => (update, None),
        };
        (tensor.sub(update.mul_scalar(lr)), state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        LarsState {
            momentum: state.momentum.to_device(device),
        }
    }
}
