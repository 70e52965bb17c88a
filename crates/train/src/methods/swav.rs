//! SwAV: predict the prototype assignment (code) of one crop from another.
//!
//! Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
//! NeurIPS 2020. Each crop's projection is scored against learnable prototypes; the codes of the
//! high-resolution crops are computed with Sinkhorn-Knopp (equal partition of the batch among the
//! prototypes, 3 iterations, ε = 0.05) without gradient, and every other crop predicts them
//! through a softmax at τ = 0.1 ([`swav`]). With small batches, a queue of past projections of
//! the high-resolution crops joins the Sinkhorn-Knopp batch from epoch `queue_start_epoch` on.
//! The prototypes get no update in the first epoch (SwAV's `freeze_prototypes_niters`).
//!
//! The queues are [`RunningState`]s of the model, so checkpoints save and restore them exactly.
//! Views `0..high_resolution_views` of a batch are the high-resolution crops (as
//! [`MultiCropTransform`](selfsup_data::MultiCropTransform) makes them), the rest low-resolution.

use burn::module::RunningState;
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::{SwavLossConfig, swav};
use selfsup_models::{
    Backbone, BackboneConfig, Encoder, EncoderConfig, EncoderOf, Mlp, SwavProjectionHeadConfig,
    SwavPrototypes, SwavPrototypesConfig,
};
use serde::{Deserialize, Serialize};

use super::queue::{enqueue, random_queue};
use crate::error::{self, Error, Result};
use crate::gradients::drop_gradients;
use crate::knn::l2_normalize;
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, lars};

const SWAV: &str = "swav";

/// Configuration of a [`Swav`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwavConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The projector.
    pub projector: SwavProjectionHeadConfig,
    /// The prototypes.
    pub prototypes: SwavPrototypesConfig,
    /// Past projections kept per high-resolution view; 0 for no queue.
    #[serde(default)]
    pub queue_size: usize,
    /// High-resolution views (each with its own queue). Default 2.
    #[serde(default = "default_high_resolution_views")]
    pub high_resolution_views: usize,
}

fn default_high_resolution_views() -> usize {
    2
}

impl<C: EncoderConfig> SwavConfig<C> {
    /// The paper's network on `backbone`: projector `feature_dim → 2048 → 128`, 3000 prototypes,
    /// no queue (SwAV §4, lightly's `SwaVProjectionHead` / `SwaVPrototypes`).
    pub fn paper(backbone: C) -> Self {
        let projector = SwavProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
            prototypes: SwavPrototypesConfig::new(),
            queue_size: 0,
            high_resolution_views: default_high_resolution_views(),
        }
    }

    /// solo-learn's CIFAR-10 network (`swav.yaml`): its projector and prototypes, and a queue of
    /// 3840 projections.
    pub fn cifar10(backbone: C) -> Self {
        let projector = SwavProjectionHeadConfig::cifar10(backbone.feature_dim());
        Self {
            backbone,
            projector,
            prototypes: SwavPrototypesConfig::cifar10(),
            queue_size: 3840,
            high_resolution_views: default_high_resolution_views(),
        }
    }

    /// Builds the network and its queues on `device`.
    ///
    /// # Panics
    /// If the dimensions do not chain.
    pub fn init(&self, device: &Device) -> Swav<EncoderOf<C>> {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.projector.input_dim, features,
            "SwavConfig: the projector takes {} features but the backbone outputs {features}",
            self.projector.input_dim
        );
        let d = self.projector.output_dim;
        assert_eq!(
            self.prototypes.input_dim, d,
            "SwavConfig: the prototypes take {} features but the projector outputs {d}",
            self.prototypes.input_dim
        );
        let queues = if self.queue_size > 0 {
            (0..self.high_resolution_views)
                .map(|_| random_queue(self.queue_size, d, device))
                .collect()
        } else {
            Vec::new()
        };
        Swav {
            backbone: self.backbone.init(device),
            projector: self.projector.init(device),
            prototypes: self.prototypes.init(device),
            queues,
        }
    }
}

/// SwAV's network: encoder, projector, prototypes, and one queue of past projections per
/// high-resolution view.
#[derive(Module, Debug)]
pub struct Swav<E: Module = Backbone> {
    /// The encoder, the one evaluated.
    pub backbone: E,
    /// The projector.
    pub projector: Mlp,
    /// The prototypes.
    pub prototypes: SwavPrototypes,
    /// Past unit projections, `[Q, d]` each, newest first; empty without a queue.
    pub queues: Vec<RunningState<Tensor<2>>>,
}

impl<E: Encoder> Swav<E> {
    /// The unit projection of a batch of crops.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, d]`
    pub fn project(&self, images: Tensor<4>) -> Tensor<2> {
        l2_normalize(
            self.projector
                .forward(self.backbone.forward_features(images)),
        )
    }
}

/// SwAV (Caron et al. 2020) on a [`SwavConfig`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwavMethod<C = BackboneConfig> {
    /// The network.
    pub model: SwavConfig<C>,
    /// τ and the Sinkhorn-Knopp settings (0.1; 3 iterations, ε = 0.05).
    #[serde(default = "SwavLossConfig::new")]
    pub loss: SwavLossConfig,
    /// The epoch from which the queue joins the codes' computation. Default 15 (SwAV's
    /// `epoch_queue_starts` with a small batch).
    #[serde(default = "default_queue_start")]
    pub queue_start_epoch: usize,
    /// Epochs during which the prototypes get no update. Default 1.
    #[serde(default = "default_freeze_epochs")]
    pub freeze_prototypes_epochs: usize,
    /// No weight decay on biases and normalisation parameters. Default `true`.
    #[serde(default = "default_true")]
    pub exclude_bias_and_norm: bool,
}

fn default_queue_start() -> usize {
    15
}
fn default_freeze_epochs() -> usize {
    1
}
fn default_true() -> bool {
    true
}

impl<C: EncoderConfig> SwavMethod<C> {
    /// SwAV on the network `model` with the paper's defaults.
    pub fn new(model: SwavConfig<C>) -> Self {
        Self {
            model,
            loss: SwavLossConfig::new(),
            queue_start_epoch: default_queue_start(),
            freeze_prototypes_epochs: default_freeze_epochs(),
            exclude_bias_and_norm: true,
        }
    }

    /// solo-learn's CIFAR-10 recipe (`swav.yaml`): its network, the queue joining at epoch 50.
    pub fn cifar10(backbone: C) -> Self {
        Self {
            queue_start_epoch: 50,
            ..Self::new(SwavConfig::cifar10(backbone))
        }
    }
}

impl<C: EncoderConfig> Method for SwavMethod<C> {
    type EncoderConfig = C;
    type Model = Swav<EncoderOf<C>>;
    const NAME: &'static str = "swav";

    fn required_views(&self) -> usize {
        self.model.high_resolution_views.max(2)
    }

    fn validate(&self) -> Result<()> {
        error::positive(SWAV, "temperature", self.loss.temperature)?;
        error::positive(SWAV, "sinkhorn_epsilon", self.loss.sinkhorn_epsilon)?;
        if self.loss.sinkhorn_iterations == 0 {
            return Err(Error::invalid(
                SWAV,
                "sinkhorn_iterations",
                0,
                "must be positive",
            ));
        }
        if self.model.high_resolution_views == 0 {
            return Err(Error::invalid(
                SWAV,
                "high_resolution_views",
                0,
                "must be positive",
            ));
        }
        Ok(())
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
        let high = self.model.high_resolution_views;
        require_views(Self::NAME, batch, high.max(2))?;
        let z: Vec<Tensor<2>> = (0..batch.views.len())
            .map(|v| model.project(batch.view(v, ctx.device)))
            .collect();
        let scores: Vec<Tensor<2>> = z
            .iter()
            .map(|z| model.prototypes.forward(z.clone()))
            .collect();
        let queued: Vec<Tensor<2>> = model.queues.iter().map(RunningState::value_sync).collect();
        let queue_scores: Option<Vec<Tensor<2>>> =
            (!queued.is_empty() && ctx.epoch >= self.queue_start_epoch).then(|| {
                queued
                    .iter()
                    .map(|q| model.prototypes.forward(q.clone()).detach())
                    .collect()
            });
        let loss = swav(
            &scores[..high],
            &scores[high..],
            queue_scores.as_deref(),
            &self.loss,
        );
        for ((state, queue), fresh) in model.queues.iter().zip(queued).zip(&z) {
            enqueue(state, queue, fresh.clone());
        }
        Ok(StepOutput {
            loss,
            embeddings: Some(z[0].clone()),
            metrics: Vec::new(),
        })
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

    fn on_gradients(
        &self,
        model: &Self::Model,
        grads: GradientsParams,
        ctx: &StepContext<'_>,
    ) -> GradientsParams {
        if ctx.epoch < self.freeze_prototypes_epochs {
            drop_gradients(grads, &model.prototypes)
        } else {
            grads
        }
    }
}

impl SwavMethod {
    /// SwAV as solo-learn trains it: projector `f → 2048 → 128`, 3000 prototypes frozen for the
    /// first 2 epochs, τ = 0.1, Sinkhorn-Knopp with ε = 0.05 and 3 iterations, a queue of 3840
    /// projections from epoch 50, LARS (η 0.02, `clip_lr`, weight decay 10⁻⁶) at 0.6 × B/256,
    /// batch 256; 1000 epochs (`cifar/swav.yaml`) or 400 (`imagenet-100/swav.yaml`, which
    /// ImageNet also takes). Views: two global crops plus [`Setup::local_views`] local ones.
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (file, epochs) = match setup.scale {
            Scale::Cifar => ("cifar/swav.yaml", 1000),
            Scale::ImageNet100 | Scale::ImageNet => ("imagenet-100/swav.yaml", 400),
        };
        let recipe = SoloLearn {
            file,
            batch_size: 256,
            lr: 0.6,
            classifier_lr: 0.1,
            optimizer: lars(1e-6, 0.02, true),
            epochs,
        };
        let mut method = Self::cifar10(setup.backbone.clone());
        method.model.queue_size = 3840;
        method.queue_start_epoch = 50;
        method.freeze_prototypes_epochs = setup.freeze_epochs.unwrap_or(2);
        method.loss = SwavLossConfig::new()
            .with_temperature(0.1)
            .with_sinkhorn_epsilon(0.05)
            .with_sinkhorn_iterations(3);
        let views = setup.multi_crop_views(
            selfsup_data::MultiCropTransform::swav_cifar10(),
            selfsup_data::MultiCropTransform::swav(),
        )?;
        Ok(recipe.publish(method, views))
    }
}
