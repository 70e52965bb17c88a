//! Optimizers: one serialisable [`OptimizerConfig`] over Burn's SGD, Adam and AdamW, and this
//! crate's [`Lars`].
//!
//! Field names and semantics are PyTorch's (`torch.optim.SGD/Adam/AdamW`, lightly's `LARS`), so a
//! recipe from a paper or from lightly / solo-learn carries over unchanged; the tests check three
//! steps of each against PyTorch (`tools/golden_train.py`). Two differences from Burn's own
//! configs are deliberate:
//! - SGD's momentum has PyTorch's zero dampening (Burn's `MomentumConfig` defaults to 0.1);
//! - Adam's ε defaults to PyTorch's 10⁻⁸ (Burn's is 10⁻⁵).
//!
//! The learning rate is not part of the config: it comes from a
//! [schedule](crate::schedule) at every `optimizer.step(lr, model, grads)`.

mod lars;

pub use lars::{Lars, LarsConfig, LarsState};

use burn::module::ParamGroup;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, Optimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};

/// Which optimizer to train with, and its hyper-parameters (not the learning rate).
///
/// Serialised internally tagged, e.g. `{"kind": "sgd", "momentum": 0.9, "weight_decay": 1e-4}`;
/// a missing field takes the default of the matching constructor ([`sgd`](Self::sgd),
/// [`adam`](Self::adam), [`adam_w`](Self::adam_w), [`lars`](Self::lars)).
/// [`init`](Self::init) validates and builds a Burn [`ModuleOptimizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// SGD with momentum and L2 weight decay added to the gradient (`torch.optim.SGD`, dampening
    /// 0). SimSiam: momentum 0.9, weight decay 10⁻⁴.
    Sgd {
        /// Momentum factor in `[0, 1)`; 0 is plain SGD.
        #[serde(default = "default_momentum")]
        momentum: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
        /// Nesterov momentum (needs a positive momentum).
        #[serde(default)]
        nesterov: bool,
    },
    /// Adam with L2 weight decay added to the gradient (`torch.optim.Adam`).
    Adam {
        /// Decay rate of the first moment.
        #[serde(default = "default_beta_1")]
        beta_1: f64,
        /// Decay rate of the second moment.
        #[serde(default = "default_beta_2")]
        beta_2: f64,
        /// Added to the denominator.
        #[serde(default = "default_adam_epsilon")]
        epsilon: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    AdamW {
        /// Decay rate of the first moment.
        #[serde(default = "default_beta_1")]
        beta_1: f64,
        /// Decay rate of the second moment.
        #[serde(default = "default_beta_2")]
        beta_2: f64,
        /// Added to the denominator.
        #[serde(default = "default_adam_epsilon")]
        epsilon: f64,
        /// Decoupled decay: `w ← w·(1 − lr·weight_decay)` before the Adam update.
        #[serde(default = "default_adamw_weight_decay")]
        weight_decay: f64,
    },
    /// LARS, see [`Lars`] and [`LarsConfig`] (whose defaults these are; dampening is 0).
    Lars {
        /// Momentum factor in `[0, 1)`.
        #[serde(default = "default_momentum")]
        momentum: f64,
        /// Weight decay, added to the gradient before the layer-wise scaling.
        #[serde(default = "default_lars_weight_decay")]
        weight_decay: f64,
        /// Trust coefficient η.
        #[serde(default = "default_trust_coefficient")]
        trust_coefficient: f64,
        /// ε of the local LR's denominator.
        #[serde(default = "default_lars_eps")]
        eps: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
        /// Exclude rank-1 parameters (biases, normalisation) from adaptation and weight decay.
        #[serde(default = "default_true")]
        exclude_bias_and_norm: bool,
        /// solo-learn's `clip_lr`: the local LR is at most the global LR.
        #[serde(default)]
        clip_lr: bool,
    },
}

fn default_momentum() -> f64 {
    0.9
}
fn default_beta_1() -> f64 {
    0.9
}
fn default_beta_2() -> f64 {
    0.999
}
fn default_adam_epsilon() -> f64 {
    1e-8
}
fn default_adamw_weight_decay() -> f64 {
    1e-2
}
fn default_lars_weight_decay() -> f64 {
    1e-6
}
fn default_trust_coefficient() -> f64 {
    1e-3
}
fn default_lars_eps() -> f64 {
    1e-8
}
fn default_true() -> bool {
    true
}

impl burn::config::Config for OptimizerConfig {}

impl OptimizerConfig {
    /// SGD with the given momentum and weight decay, no Nesterov.
    pub fn sgd(momentum: f64, weight_decay: f64) -> Self {
        Self::Sgd {
            momentum,
            weight_decay,
            nesterov: false,
        }
    }

    /// Adam with PyTorch's defaults: β = (0.9, 0.999), ε = 10⁻⁸, no weight decay.
    pub fn adam() -> Self {
        Self::Adam {
            beta_1: default_beta_1(),
            beta_2: default_beta_2(),
            epsilon: default_adam_epsilon(),
            weight_decay: 0.0,
        }
    }

    /// AdamW with PyTorch's defaults: β = (0.9, 0.999), ε = 10⁻⁸, weight decay 0.01.
    pub fn adam_w() -> Self {
        Self::AdamW {
            beta_1: default_beta_1(),
            beta_2: default_beta_2(),
            epsilon: default_adam_epsilon(),
            weight_decay: default_adamw_weight_decay(),
        }
    }

    /// LARS with SimCLR's settings: momentum 0.9, weight decay 10⁻⁶, η = 0.001, ε = 10⁻⁸,
    /// biases and normalisation parameters excluded.
    pub fn lars() -> Self {
        Self::Lars {
            momentum: default_momentum(),
            weight_decay: default_lars_weight_decay(),
            trust_coefficient: default_trust_coefficient(),
            eps: default_lars_eps(),
            nesterov: false,
            exclude_bias_and_norm: true,
            clip_lr: false,
        }
    }

    /// LARS as solo-learn's CIFAR and ImageNet-100 configurations set it (`optimizer.kwargs`):
    /// momentum 0.9, trust coefficient `eta`, `clip_lr`, biases and normalisation parameters
    /// excluded (`exclude_bias_n_norm: True`), ε = 10⁻⁸.
    pub fn lars_solo_learn(weight_decay: f64, eta: f64, clip_lr: bool) -> Self {
        Self::Lars {
            momentum: default_momentum(),
            weight_decay,
            trust_coefficient: eta,
            eps: default_lars_eps(),
            nesterov: false,
            exclude_bias_and_norm: true,
            clip_lr,
        }
    }

    /// The optimizer's name: `"sgd"`, `"adam"`, `"adam_w"` or `"lars"` (its serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd { .. } => "sgd",
            Self::Adam { .. } => "adam",
            Self::AdamW { .. } => "adam_w",
            Self::Lars { .. } => "lars",
        }
    }

    /// The [`LarsConfig`] of a [`Lars`](Self::Lars) variant, `None` otherwise.
    pub fn lars_config(&self) -> Option<LarsConfig> {
        match *self {
            Self::Lars {
                momentum,
                weight_decay,
                trust_coefficient,
                eps,
                nesterov,
                exclude_bias_and_norm,
                clip_lr,
            } => Some(
                LarsConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(weight_decay)
                    .with_trust_coefficient(trust_coefficient)
                    .with_eps(eps)
                    .with_nesterov(nesterov)
                    .with_exclude_bias_and_norm(exclude_bias_and_norm)
                    .with_clip_lr(clip_lr),
            ),
            _ => None,
        }
    }

    /// Checks every hyper-parameter, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Sgd {
                momentum,
                weight_decay,
                nesterov,
            } => {
                const CONFIG: &str = "sgd config";
                error::unit_interval(CONFIG, "momentum", momentum)?;
                error::non_negative(CONFIG, "weight_decay", weight_decay)?;
                if nesterov && momentum <= 0.0 {
                    return Err(Error::invalid(
                        CONFIG,
                        "nesterov",
                        nesterov,
                        format!("needs a positive momentum (momentum = {momentum})"),
                    ));
                }
                Ok(())
            }
            Self::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            }
            | Self::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => {
                let config = if matches!(self, Self::Adam { .. }) {
                    "adam config"
                } else {
                    "adam_w config"
                };
                error::unit_interval(config, "beta_1", beta_1)?;
                error::unit_interval(config, "beta_2", beta_2)?;
                error::positive(config, "epsilon", epsilon)?;
                error::non_negative(config, "weight_decay", weight_decay)
            }
            Self::Lars { .. } => self.lars_config().expect("a lars variant").validate(),
        }
    }

    /// Validates the config and builds the whole-module Burn optimizer, used as
    /// `model = optimizer.step(lr, model, grads)`.
    pub fn init(&self) -> Result<ModuleOptimizer> {
        self.init_with_groups(None)
    }

    /// As [`init`](Self::init), with the parameters of `no_weight_decay` (biases and
    /// normalisation parameters, see [`ParamGroups`](crate::ParamGroups)) optimised by the same
    /// optimizer without weight decay — lightly's `get_weight_decay_parameters`, solo-learn's
    /// `exclude_bias_n_norm_wd`. LARS already exempts rank-1 parameters from weight decay and
    /// adaptation when `exclude_bias_and_norm` is set; its group gets a LARS without weight decay.
    pub fn init_with_groups(&self, no_weight_decay: Option<ParamGroup>) -> Result<ModuleOptimizer> {
        self.validate()?;
        let plain = self.without_weight_decay();
        Ok(match (self, no_weight_decay) {
            (Self::Lars { .. }, group) => {
                let lars = self.lars_config().expect("a lars variant");
                let optimizer = ModuleOptimizer::from(lars.build()?);
                match group {
                    Some(group) => {
                        let plain = plain.lars_config().expect("a lars variant").build()?;
                        optimizer.with_group(group, plain, None)
                    }
                    None => optimizer,
                }
            }
            (Self::Sgd { .. }, group) => with_group(
                self.sgd_config().build(),
                group.map(|g| (g, plain.sgd_config().build())),
            ),
            (Self::Adam { .. }, group) => with_group(
                self.adam_config().build(),
                group.map(|g| (g, plain.adam_config().build())),
            ),
            (Self::AdamW { .. }, group) => with_group(
                self.adam_w_config().build(),
                group.map(|g| (g, plain.adam_w_config().build())),
            ),
        })
    }

    /// Its weight decay.
    pub fn weight_decay(&self) -> f64 {
        match *self {
            Self::Sgd { weight_decay, .. }
            | Self::Adam { weight_decay, .. }
            | Self::AdamW { weight_decay, .. }
            | Self::Lars { weight_decay, .. } => weight_decay,
        }
    }

    /// The same optimizer with a weight decay of 0.
    pub fn without_weight_decay(&self) -> Self {
        self.clone().with_weight_decay(0.0)
    }

    /// The same optimizer with weight decay `value`.
    pub fn with_weight_decay(mut self, value: f64) -> Self {
        match &mut self {
            Self::Sgd { weight_decay, .. }
            | Self::Adam { weight_decay, .. }
            | Self::AdamW { weight_decay, .. }
            | Self::Lars { weight_decay, .. } => *weight_decay = value,
        }
        self
    }

    fn sgd_config(&self) -> SgdConfig {
        let Self::Sgd {
            momentum,
            weight_decay,
            nesterov,
        } = *self
        else {
            unreachable!("called on an sgd config")
        };
        SgdConfig::new()
            .with_momentum((momentum > 0.0).then_some(MomentumConfig {
                momentum,
                dampening: 0.0,
                nesterov,
            }))
            .with_weight_decay(weight_decay_config(weight_decay))
    }

    fn adam_config(&self) -> AdamConfig {
        let Self::Adam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } = *self
        else {
            unreachable!("called on an adam config")
        };
        AdamConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(epsilon as f32)
            .with_weight_decay(weight_decay_config(weight_decay))
    }

    fn adam_w_config(&self) -> AdamWConfig {
        let Self::AdamW {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } = *self
        else {
            unreachable!("called on an adam_w config")
        };
        AdamWConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(epsilon as f32)
            .with_weight_decay(weight_decay as f32)
    }
}

/// `optimizer` for every parameter, and `plain` for those of the group.
fn with_group<O: Optimizer>(optimizer: O, plain: Option<(ParamGroup, O)>) -> ModuleOptimizer {
    let module = ModuleOptimizer::from(optimizer);
    match plain {
        Some((group, plain)) => module.with_group(group, plain, None),
        None => module,
    }
}

/// Burn's coupled weight decay, `None` for 0 (skips an addition per parameter).
fn weight_decay_config(weight_decay: f64) -> Option<WeightDecayConfig> {
    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32))
}
