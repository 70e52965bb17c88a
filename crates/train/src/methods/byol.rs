//! BYOL: an online network predicts the projection of a momentum target network.
//!
//! Grill et al., "Bootstrap your own latent", NeurIPS 2020. The online network (encoder,
//! projector, predictor) is trained to predict, for one view, the target network's projection
//! of the other view; the target (encoder, projector) receives no gradient and follows the online
//! one by an exponential moving average whose momentum rises from `τ_base` to 1 on a cosine
//! schedule (§3.1-3.2). The loss is symmetrised over the two views.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::simsiam_loss;
use selfsup_models::{
    Backbone, BackboneConfig, ByolPredictionHeadConfig, ByolProjectionHeadConfig, Encoder,
    EncoderConfig, EncoderOf, Mlp, MomentumSchedule, momentum_copy, update_momentum,
};
use serde::{Deserialize, Serialize};

use super::momentum;
use crate::error::{self, Result};
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, lars};

/// Configuration of a [`Byol`] network: the encoder (any [`EncoderConfig`]) and the two heads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByolConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The projector `g` (online and target).
    pub projector: ByolProjectionHeadConfig,
    /// The predictor `q` (online only).
    pub predictor: ByolPredictionHeadConfig,
}

impl<C: EncoderConfig> ByolConfig<C> {
    /// The paper's heads on `backbone`: projection `feature_dim → 4096 → 256`, prediction
    /// `256 → 4096 → 256` (BYOL §3.3: "a multi-layer perceptron with a hidden layer of size 4096
    /// followed by batch normalization, ReLU, and a final linear layer with output dimension
    /// 256"), which solo-learn's CIFAR-10 configuration keeps.
    pub fn paper(backbone: C) -> Self {
        let projector = ByolProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
            predictor: ByolPredictionHeadConfig::new(),
        }
    }

    /// Builds the online network and its momentum copy on `device`.
    ///
    /// # Panics
    /// If the dimensions do not chain (projector input = the encoder's features, predictor input
    /// and output = the projection's).
    pub fn init(&self, device: &Device) -> Byol<EncoderOf<C>> {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.projector.input_dim, features,
            "ByolConfig: the projector takes {} features but the backbone outputs {features}",
            self.projector.input_dim
        );
        let z = self.projector.output_dim;
        assert!(
            self.predictor.input_dim == z && self.predictor.output_dim == z,
            "ByolConfig: the predictor must map the projection's {z} features to {z}, got {} → {}",
            self.predictor.input_dim,
            self.predictor.output_dim
        );
        let backbone = self.backbone.init(device);
        let projector = self.projector.init(device);
        Byol {
            target_backbone: momentum_copy(self.backbone.init(device), &backbone),
            target_projector: momentum_copy(self.projector.init(device), &projector),
            backbone,
            projector,
            predictor: self.predictor.init(device),
        }
    }
}

/// BYOL's networks: the online encoder, projector and predictor, and the momentum target
/// (encoder and projector), as lightly's `BYOL` module lays them out.
#[derive(Module, Debug)]
pub struct Byol<E: Module = Backbone> {
    /// The online encoder, the one evaluated.
    pub backbone: E,
    /// The online projector.
    pub projector: Mlp,
    /// The predictor.
    pub predictor: Mlp,
    /// The target encoder (EMA of `backbone`, no gradient).
    pub target_backbone: E,
    /// The target projector (EMA of `projector`, no gradient).
    pub target_projector: Mlp,
}

impl<E: Encoder> Byol<E> {
    /// The online projection `z = g(f(x))`.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, d]`
    pub fn project(&self, images: Tensor<4>) -> Tensor<2> {
        self.projector
            .forward(self.backbone.forward_features(images))
    }

    /// The target projection `z' = g'(f'(x))`, detached: the stop-gradient of BYOL's target.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, d]`
    pub fn target_project(&self, images: Tensor<4>) -> Tensor<2> {
        self.target_projector
            .forward(self.target_backbone.forward_features(images))
            .detach()
    }
}

/// BYOL (Grill et al. 2020) on a [`ByolConfig`] network: the symmetrised negative cosine between
/// the online predictions and the target projections of the other view ([`simsiam_loss`], the
/// same loss as lightly's `NegativeCosineSimilarity` BYOL example; the paper's `2 − 2·cos` differs
/// by an affine map), and the EMA update of the target after every optimizer step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByolMethod<C = BackboneConfig> {
    /// The networks.
    pub model: ByolConfig<C>,
    /// The EMA momentum, 0.99 (solo-learn's CIFAR-10 `base_tau_momentum`; the paper's ImageNet value is 0.996) to 1 (BYOL §3.2) on BYOL's cosine schedule.
    #[serde(default = "default_momentum")]
    pub momentum: MomentumSchedule,
    /// Use the predictor. Default `true`; `false` is the ablation of BYOL Table 5 whose
    /// representation collapses when the target is the online network itself.
    #[serde(default = "default_true")]
    pub use_predictor: bool,
    /// No weight decay on biases and normalisation parameters. Default `true` (BYOL §3.3, with
    /// LARS).
    #[serde(default = "default_true")]
    pub exclude_bias_and_norm: bool,
}

fn default_momentum() -> MomentumSchedule {
    MomentumSchedule::new(0.99, 1.0)
}
fn default_true() -> bool {
    true
}

impl<C: EncoderConfig> ByolMethod<C> {
    /// BYOL on the network `model`, with solo-learn's CIFAR-10 momentum schedule (0.99 → 1).
    pub fn new(model: ByolConfig<C>) -> Self {
        Self {
            model,
            momentum: default_momentum(),
            use_predictor: true,
            exclude_bias_and_norm: true,
        }
    }

    /// The momentum schedule from `base` to `end`.
    pub fn with_momentum(mut self, base: f64, end: f64) -> Self {
        self.momentum = MomentumSchedule::new(base, end);
        self
    }

    /// With or without the predictor (see [`use_predictor`](Self::use_predictor)).
    pub fn with_predictor(mut self, use_predictor: bool) -> Self {
        self.use_predictor = use_predictor;
        self
    }

    /// The momentum of the EMA after optimizer step `ctx.step`.
    pub fn momentum_at(&self, ctx: &StepContext<'_>) -> f64 {
        momentum::momentum_at(&self.momentum, ctx)
    }
}

impl<C: EncoderConfig> Method for ByolMethod<C> {
    type EncoderConfig = C;
    type Model = Byol<EncoderOf<C>>;
    const NAME: &'static str = "byol";

    fn required_views(&self) -> usize {
        2
    }

    fn init_model(&self, device: &Device) -> Self::Model {
        self.model.init(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 2)?;
        let (x1, x2) = (batch.view(0, ctx.device), batch.view(1, ctx.device));
        let z1 = model.project(x1.clone());
        let z2 = model.project(x2.clone());
        let (p1, p2) = if self.use_predictor {
            (
                model.predictor.forward(z1.clone()),
                model.predictor.forward(z2.clone()),
            )
        } else {
            (z1.clone(), z2.clone())
        };
        let t1 = model.target_project(x1);
        let t2 = model.target_project(x2);
        Ok(StepOutput {
            loss: simsiam_loss(p1, p2, t1, t2),
            embeddings: Some(z1),
            metrics: Vec::new(),
        }
        .with_metric("momentum", self.momentum_at(ctx)))
    }

    fn validate(&self) -> Result<()> {
        error::momentum_schedule("byol", &self.momentum)
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }

    fn param_groups(&self) -> ParamGroups {
        ParamGroups::bias_and_norm_without_weight_decay(self.exclude_bias_and_norm)
    }

    fn after_step(&self, model: Self::Model, ctx: &StepContext<'_>) -> Self::Model {
        momentum::after_step(model, &self.momentum, ctx)
    }
}

impl ByolMethod {
    /// BYOL as solo-learn trains it, per [`Scale`]; the momentum rises from 0.99 to 1 in all:
    ///
    /// | | `cifar/byol.yaml` | `imagenet-100/byol.yaml` | `imagenet/byol.yaml` |
    /// |---|---|---|---|
    /// | predictor hidden | 4096 | 8192 | 4096 |
    /// | LARS | η 0.02, `clip_lr`, wd 10⁻⁵ | η 0.02, `clip_lr`, wd 10⁻⁶ | η 0.001, wd 10⁻⁶ |
    /// | LR × B/256, batch, epochs | 1.0, 256, 1000 | 0.5, 256, 400 | 0.45, 128, 100 |
    ///
    /// The projector is `f → 4096 → 256` throughout. Views: BYOL's asymmetric pair
    /// ([`Setup::asymmetric_views`]).
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (recipe, predictor_hidden) = match setup.scale {
            Scale::Cifar => (
                SoloLearn {
                    file: "cifar/byol.yaml",
                    batch_size: 256,
                    lr: 1.0,
                    classifier_lr: 0.1,
                    optimizer: lars(1e-5, 0.02, true),
                    epochs: 1000,
                },
                4096,
            ),
            Scale::ImageNet100 => (
                SoloLearn {
                    file: "imagenet-100/byol.yaml",
                    batch_size: 256,
                    lr: 0.5,
                    classifier_lr: 0.1,
                    optimizer: lars(1e-6, 0.02, true),
                    epochs: 400,
                },
                8192,
            ),
            Scale::ImageNet => (
                SoloLearn {
                    file: "imagenet/byol.yaml",
                    batch_size: 128,
                    lr: 0.45,
                    classifier_lr: 0.2,
                    optimizer: lars(1e-6, 0.001, false),
                    epochs: 100,
                },
                4096,
            ),
        };
        let mut model = ByolConfig::paper(setup.backbone.clone());
        model.predictor.hidden_dim = predictor_hidden;
        let method = Self::new(model).with_momentum(0.99, 1.0);
        Ok(recipe.publish(method, setup.asymmetric_views()?))
    }
}

impl<E: Module> momentum::MomentumNetwork for Byol<E> {
    fn update_targets(self, momentum: f64) -> Self {
        Self {
            target_backbone: update_momentum(self.target_backbone, &self.backbone, momentum),
            target_projector: update_momentum(self.target_projector, &self.projector, momentum),
            ..self
        }
    }
}
