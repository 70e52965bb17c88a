//! MoCo: contrast a query with the key of its other view, from a momentum encoder, and with a
//! queue of past keys.
//!
//! - MoCo v2 (He et al., "Momentum Contrast for Unsupervised Visual Representation Learning",
//!   CVPR 2020; Chen et al., "Improved Baselines with Momentum Contrastive Learning", 2020): an
//!   MLP projector, a key encoder that is the EMA of the query encoder, a queue of the last `K`
//!   keys as negatives, InfoNCE at τ = 0.2 ([`info_nce`], Algorithm 1).
//! - MoCo v3 (Chen, Xie & He, "An Empirical Study of Training Self-Supervised Vision
//!   Transformers", ICCV 2021): no queue (the other keys of the batch are the negatives), a
//!   predictor on the query side, the symmetrised loss, each term scaled by `2τ`.
//!
//! The queue is a [`RunningState`] of the model, so checkpoints save and restore it exactly;
//! it is a rolling window, newest keys first (the order of the negatives does not change the
//! loss), initialised with random unit vectors as in MoCo's code.

use burn::module::RunningState;
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::info_nce;
use selfsup_models::{
    Backbone, BackboneConfig, Encoder, EncoderConfig, EncoderOf, Mlp, MocoPredictionHeadConfig,
    MocoProjectionHeadConfig, MomentumSchedule, momentum_copy, update_momentum,
};
use serde::{Deserialize, Serialize};

use super::momentum;
use super::queue::{enqueue, random_queue};
use crate::error::{self, Error, Result};
use crate::knn::l2_normalize;
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, adamw, lars, sgd};

const MOCO: &str = "moco";

/// Configuration of a [`Moco`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MocoConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The projector (query and key side).
    pub projector: MocoProjectionHeadConfig,
    /// MoCo v3's predictor on the query side; `None` for MoCo v2.
    #[serde(default)]
    pub predictor: Option<MocoPredictionHeadConfig>,
    /// Keys kept as negatives (MoCo v2's `K`); 0 for none (MoCo v3).
    #[serde(default)]
    pub queue_size: usize,
}

impl<C: EncoderConfig> MocoConfig<C> {
    /// MoCo v2 (ImageNet): projector `feature_dim → 2048 → 128` without batch norm, a queue of
    /// 65 536 keys ("K = 65536", MoCo §4.1).
    pub fn v2(backbone: C) -> Self {
        let projector = MocoProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
            predictor: None,
            queue_size: 65_536,
        }
    }

    /// MoCo v2 on CIFAR-10: solo-learn's `mocov2plus.yaml` projector (`feature_dim → 2048 →
    /// 256`) and lightly's CIFAR-10 benchmark queue of 4096 keys.
    pub fn v2_cifar10(backbone: C) -> Self {
        let projector = MocoProjectionHeadConfig::cifar10(backbone.feature_dim());
        Self {
            backbone,
            projector,
            predictor: None,
            queue_size: 4096,
        }
    }

    /// MoCo v3 (ResNet): 3-layer projector with batch norm, `4096 → 256`, a 2-layer predictor,
    /// no queue (MoCo v3 §3).
    pub fn v3(backbone: C) -> Self {
        let projector = MocoProjectionHeadConfig::v3().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
            predictor: Some(MocoPredictionHeadConfig::new()),
            queue_size: 0,
        }
    }

    /// MoCo v3 on CIFAR-10: solo-learn's `mocov3.yaml` heads.
    pub fn v3_cifar10(backbone: C) -> Self {
        let projector = MocoProjectionHeadConfig::v3_cifar10(backbone.feature_dim());
        Self {
            backbone,
            projector,
            predictor: Some(MocoPredictionHeadConfig::cifar10()),
            queue_size: 0,
        }
    }

    /// Builds the query network, its momentum copy and the queue on `device`.
    ///
    /// # Panics
    /// If the dimensions do not chain.
    pub fn init(&self, device: &Device) -> Moco<EncoderOf<C>> {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.projector.input_dim, features,
            "MocoConfig: the projector takes {} features but the backbone outputs {features}",
            self.projector.input_dim
        );
        let d = self.projector.output_dim;
        if let Some(predictor) = &self.predictor {
            assert!(
                predictor.input_dim == d && predictor.output_dim == d,
                "MocoConfig: the predictor must map the projection's {d} features to {d}, got {} → {}",
                predictor.input_dim,
                predictor.output_dim
            );
        }
        let backbone = self.backbone.init(device);
        let projector = self.projector.init(device);
        let queue = (self.queue_size > 0).then(|| random_queue(self.queue_size, d, device));
        Moco {
            target_backbone: momentum_copy(self.backbone.init(device), &backbone),
            target_projector: momentum_copy(self.projector.init(device), &projector),
            backbone,
            projector,
            predictor: self.predictor.as_ref().map(|p| p.init(device)),
            queue,
        }
    }
}

/// MoCo's networks: the query encoder and projector (and v3's predictor), their momentum copies
/// (the key encoder), and the queue of keys.
#[derive(Module, Debug)]
pub struct Moco<E: Module = Backbone> {
    /// The query encoder, the one evaluated.
    pub backbone: E,
    /// The query projector.
    pub projector: Mlp,
    /// MoCo v3's predictor.
    pub predictor: Option<Mlp>,
    /// The key encoder (EMA of `backbone`, no gradient).
    pub target_backbone: E,
    /// The key projector (EMA of `projector`, no gradient).
    pub target_projector: Mlp,
    /// The last keys, `[K, d]`, unit rows, newest first.
    pub queue: Option<RunningState<Tensor<2>>>,
}

impl<E: Encoder> Moco<E> {
    /// The query `q` of a batch of views (projector, then v3's predictor).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, d]`
    pub fn query(&self, images: Tensor<4>) -> Tensor<2> {
        let z = self
            .projector
            .forward(self.backbone.forward_features(images));
        match &self.predictor {
            Some(predictor) => predictor.forward(z),
            None => z,
        }
    }

    /// The key `k` of a batch of views, from the momentum encoder, detached (MoCo's
    /// stop-gradient on the key side).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, d]`
    pub fn key(&self, images: Tensor<4>) -> Tensor<2> {
        self.target_projector
            .forward(self.target_backbone.forward_features(images))
            .detach()
    }
}

/// MoCo v2 / v3 on a [`MocoConfig`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MocoMethod<C = BackboneConfig> {
    /// The networks.
    pub model: MocoConfig<C>,
    /// InfoNCE temperature τ. Default 0.2 (MoCo v2 §3; solo-learn's CIFAR-10 configs).
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// The EMA momentum, 0.99 (solo-learn's CIFAR-10 `base_tau`) to 0.999 on BYOL's cosine schedule.
    #[serde(default = "default_momentum")]
    pub momentum: MomentumSchedule,
    /// Symmetrise the loss over the two views (MoCo v3, solo-learn's MoCo v2+); `false` is
    /// MoCo v2's query from view 1, key from view 2. Default `true`.
    #[serde(default = "default_true")]
    pub symmetric: bool,
    /// Scale each loss term by `2τ`, as MoCo v3 does. Default `false`.
    #[serde(default)]
    pub scale_by_temperature: bool,
    /// No weight decay on biases and normalisation parameters. Default `true`.
    #[serde(default = "default_true")]
    pub exclude_bias_and_norm: bool,
}

fn default_temperature() -> f64 {
    0.2
}
fn default_momentum() -> MomentumSchedule {
    MomentumSchedule::new(0.99, 0.999)
}
fn default_true() -> bool {
    true
}

impl<C: EncoderConfig> MocoMethod<C> {
    /// MoCo v2 with the network `model`: τ = 0.2, momentum 0.99 → 0.999, symmetric.
    pub fn new(model: MocoConfig<C>) -> Self {
        Self {
            model,
            temperature: default_temperature(),
            momentum: default_momentum(),
            symmetric: true,
            scale_by_temperature: false,
            exclude_bias_and_norm: true,
        }
    }

    /// MoCo v2 as in its paper: [`MocoConfig::v2`], τ = 0.2, momentum 0.999 throughout, the
    /// asymmetric loss.
    pub fn v2(backbone: C) -> Self {
        let mut method = Self::new(MocoConfig::v2(backbone)).with_momentum(0.999, 0.999);
        method.symmetric = false;
        method
    }

    /// MoCo v2 on CIFAR-10, as solo-learn's MoCo v2+ (`mocov2plus.yaml`): symmetric loss,
    /// τ = 0.2, momentum 0.99 → 0.999, a queue of 4096 keys.
    pub fn v2_cifar10(backbone: C) -> Self {
        Self::new(MocoConfig::v2_cifar10(backbone))
    }

    /// MoCo v3 (ResNet): predictor, no queue, symmetric, `2τ`-scaled, τ = 0.2 (solo-learn's
    /// `mocov3.yaml`), momentum 0.99 → 1.
    pub fn v3(backbone: C) -> Self {
        let mut method = Self::new(MocoConfig::v3(backbone)).with_momentum(0.99, 1.0);
        method.scale_by_temperature = true;
        method
    }

    /// MoCo v3 on CIFAR-10 (solo-learn's `mocov3.yaml` heads).
    pub fn v3_cifar10(backbone: C) -> Self {
        let mut method = Self::new(MocoConfig::v3_cifar10(backbone)).with_momentum(0.99, 1.0);
        method.scale_by_temperature = true;
        method
    }

    /// The momentum schedule from `base` to `end`.
    pub fn with_momentum(mut self, base: f64, end: f64) -> Self {
        self.momentum = MomentumSchedule::new(base, end);
        self
    }

    /// The InfoNCE temperature.
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// The momentum of the EMA after optimizer step `ctx.step`.
    pub fn momentum_at(&self, ctx: &StepContext<'_>) -> f64 {
        momentum::momentum_at(&self.momentum, ctx)
    }

    fn term(&self, query: Tensor<2>, key: Tensor<2>, queue: Option<Tensor<2>>) -> Tensor<1> {
        let loss = info_nce(query, key, queue, self.temperature);
        if self.scale_by_temperature {
            loss.mul_scalar(2.0 * self.temperature)
        } else {
            loss
        }
    }
}

impl<C: EncoderConfig> Method for MocoMethod<C> {
    type EncoderConfig = C;
    type Model = Moco<EncoderOf<C>>;
    const NAME: &'static str = "moco";

    fn required_views(&self) -> usize {
        2
    }

    fn validate(&self) -> Result<()> {
        error::positive(MOCO, "temperature", self.temperature)?;
        error::momentum_schedule(MOCO, &self.momentum)
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
        let queue = model.queue.as_ref().map(RunningState::value_sync);
        if let Some(queue) = &queue
            && queue.dims()[0] < batch.len()
        {
            return Err(Error::Data(format!(
                "moco: the queue of {} keys is smaller than a batch of {}",
                queue.dims()[0],
                batch.len()
            )));
        }
        let q1 = model.query(x1.clone());
        let k2 = model.key(x2.clone());
        let (loss, keys) = if self.symmetric {
            let q2 = model.query(x2);
            let k1 = model.key(x1);
            let loss = (self.term(q1.clone(), k2.clone(), queue.clone())
                + self.term(q2, k1.clone(), queue.clone()))
            .div_scalar(2.0);
            (loss, Tensor::cat(vec![k2, k1], 0))
        } else {
            (self.term(q1.clone(), k2.clone(), queue.clone()), k2)
        };
        if let (Some(state), Some(queue)) = (&model.queue, queue) {
            enqueue(state, queue, l2_normalize(keys));
        }
        Ok(StepOutput {
            loss,
            embeddings: Some(q1),
            metrics: Vec::new(),
        }
        .with_metric("momentum", self.momentum_at(ctx)))
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

impl MocoMethod {
    /// MoCo v2+ as solo-learn trains it (symmetric loss, τ = 0.2, projector `f → 2048 → 256`,
    /// momentum 0.99 → 0.999, SGD with momentum 0.9 and weight decay on every parameter):
    ///
    /// | | `cifar/mocov2plus.yaml` | `imagenet-100/mocov2plus.yaml` | `imagenet/mocov2plus.yaml` |
    /// |---|---|---|---|
    /// | queue | 32 768 | 65 536 | 65 536 |
    /// | weight decay | 10⁻⁴ | 10⁻⁴ | 3·10⁻⁵ |
    /// | LR × B/256, batch, epochs | 0.3, 256, 1000 | 0.3, 256, 400 | 0.3, 128, 400 |
    ///
    /// Views: MoCo v2's augmentation at the data's size and statistics.
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published_v2(setup: &Setup) -> Result<Published<Self>> {
        let (recipe, queue_size) = match setup.scale {
            Scale::Cifar => (
                SoloLearn {
                    file: "cifar/mocov2plus.yaml",
                    batch_size: 256,
                    lr: 0.3,
                    classifier_lr: 0.3,
                    optimizer: sgd(1e-4),
                    epochs: 1000,
                },
                32_768,
            ),
            Scale::ImageNet100 => (
                SoloLearn {
                    file: "imagenet-100/mocov2plus.yaml",
                    batch_size: 256,
                    lr: 0.3,
                    classifier_lr: 0.3,
                    optimizer: sgd(1e-4),
                    epochs: 400,
                },
                65_536,
            ),
            Scale::ImageNet => (
                SoloLearn {
                    file: "imagenet/mocov2plus.yaml",
                    batch_size: 128,
                    lr: 0.3,
                    classifier_lr: 0.4,
                    optimizer: sgd(3e-5),
                    epochs: 400,
                },
                65_536,
            ),
        };
        let mut model = MocoConfig::v2_cifar10(setup.backbone.clone());
        model.queue_size = queue_size;
        let mut method = Self::new(model)
            .with_momentum(0.99, 0.999)
            .with_temperature(0.2);
        method.exclude_bias_and_norm = false;
        let views = setup.adapt(selfsup_data::MocoV2Transform::cifar10().config().clone());
        Ok(recipe.publish(
            method,
            std::sync::Arc::new(selfsup_data::MocoV2Transform::new(views)?),
        ))
    }

    /// MoCo v3 (ResNet) as solo-learn trains it: projector `f → 4096 → 256`, predictor
    /// `256 → 4096 → 256`, τ = 0.2 (loss scaled by 2τ), momentum 0.99 → 1, LARS (η 0.02,
    /// `clip_lr`, weight decay 10⁻⁶) at 0.3 × B/256, batch 256; 1000 epochs
    /// (`cifar/mocov3.yaml`) or 400 (`imagenet-100/mocov3.yaml`, which ImageNet also takes).
    /// Views: BYOL's asymmetric pair ([`Setup::asymmetric_views`]).
    ///
    /// With a ViT, solo-learn's one ViT file of the method (`imagenet-100/mocov3_vit.yaml`) at
    /// every scale: the same heads, τ and momentum, with AdamW (β = 0.9, 0.999; weight decay 0.1)
    /// at 3·10⁻⁴ × B/256, a total batch of 1024 (128 × 8 GPUs), 10 warm-up epochs from 3·10⁻⁵,
    /// 400 epochs.
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published_v3(setup: &Setup) -> Result<Published<Self>> {
        let recipe = if matches!(setup.backbone, selfsup_models::BackboneConfig::Vit(_)) {
            SoloLearn {
                file: "imagenet-100/mocov3_vit.yaml",
                batch_size: 1024,
                lr: 3e-4,
                classifier_lr: 3e-4,
                optimizer: adamw(0.1),
                epochs: 400,
            }
        } else {
            let (file, epochs) = match setup.scale {
                Scale::Cifar => ("cifar/mocov3.yaml", 1000),
                Scale::ImageNet100 | Scale::ImageNet => ("imagenet-100/mocov3.yaml", 400),
            };
            SoloLearn {
                file,
                batch_size: 256,
                lr: 0.3,
                classifier_lr: 0.3,
                optimizer: lars(1e-6, 0.02, true),
                epochs,
            }
        };
        let method = Self::v3_cifar10(setup.backbone.clone()).with_temperature(0.2);
        Ok(recipe.publish(method, setup.asymmetric_views()?))
    }
}

impl<E: Module> momentum::MomentumNetwork for Moco<E> {
    fn update_targets(self, momentum: f64) -> Self {
        Self {
            target_backbone: update_momentum(self.target_backbone, &self.backbone, momentum),
            target_projector: update_momentum(self.target_projector, &self.projector, momentum),
            ..self
        }
    }
}
