//! DINO: a student matches the sharpened, centred output of a momentum teacher across crops.
//!
//! Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021. The
//! student (encoder + [`DinoHead`]) sees every crop, global and local; the teacher, the EMA of the
//! student, sees only the global crops. The loss ([`dino`]) is the cross-entropy between the
//! teacher's softmax at a low temperature, after subtracting a running centre of its outputs
//! ([`dino_center`]), and the student's at τ = 0.1, over every pair of different views. The last
//! layer is frozen for the first epoch and gradients are clipped per parameter (DINO's
//! `freeze_last_layer` and `clip_grad`).
//!
//! The centre is a [`RunningState`] of the model, so checkpoints save and restore it exactly.
//! Views `0..global_views` of a batch are the global crops (as
//! [`MultiCropTransform`](selfsup_data::MultiCropTransform) makes them), the rest local.

use burn::module::RunningState;
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::{DinoLossConfig, dino, dino_center};
use selfsup_models::{
    Backbone, BackboneConfig, DinoHead, DinoHeadConfig, Encoder, EncoderConfig, EncoderOf,
    MomentumSchedule, momentum_copy, update_momentum,
};
use serde::{Deserialize, Serialize};

use super::momentum;
use crate::error::{self, Error, Result};
use crate::gradients::{clip_gradients_per_parameter, drop_gradients};
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, adamw, lars};

const DINO: &str = "dino";

/// Configuration of a [`Dino`] network: the encoder (any [`EncoderConfig`]) and the DINO head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DinoConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The projection head, whose weight-normalised last layer gives the output distribution.
    pub head: DinoHeadConfig,
}

impl<C: EncoderConfig> DinoConfig<C> {
    /// The paper's head on `backbone`: `2048 → 2048 → 256`, 65 536 outputs (DINO §3.1, lightly's
    /// `DINOProjectionHead`).
    pub fn paper(backbone: C) -> Self {
        let head = DinoHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self { backbone, head }
    }

    /// solo-learn's CIFAR-10 head (`dino.yaml`).
    pub fn cifar10(backbone: C) -> Self {
        let head = DinoHeadConfig::cifar10(backbone.feature_dim());
        Self { backbone, head }
    }

    /// Builds the student, its momentum copy (the teacher) and the centre on `device`.
    ///
    /// # Panics
    /// If the head's input is not the encoder's feature dimension.
    pub fn init(&self, device: &Device) -> Dino<EncoderOf<C>> {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.head.input_dim, features,
            "DinoConfig: the head takes {} features but the backbone outputs {features}",
            self.head.input_dim
        );
        let backbone = self.backbone.init(device);
        let head = self.head.init(device);
        Dino {
            teacher_backbone: momentum_copy(self.backbone.init(device), &backbone),
            teacher_head: momentum_copy(self.head.init(device), &head),
            center: RunningState::new(Tensor::zeros([1, self.head.output_dim], device)),
            backbone,
            head,
        }
    }
}

/// DINO's networks: the student, its momentum teacher, and the centre of the teacher's outputs.
#[derive(Module, Debug)]
pub struct Dino<E: Module = Backbone> {
    /// The student encoder, the one evaluated.
    pub backbone: E,
    /// The student head.
    pub head: DinoHead,
    /// The teacher encoder (EMA of `backbone`, no gradient).
    pub teacher_backbone: E,
    /// The teacher head (EMA of `head`, no gradient).
    pub teacher_head: DinoHead,
    /// The centre `c` of the teacher's outputs, `[1, output_dim]`.
    pub center: RunningState<Tensor<2>>,
}

impl<E: Encoder> Dino<E> {
    /// The student's output for a batch of crops.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, output_dim]`
    pub fn student(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.backbone.forward_features(images))
    }

    /// The teacher's output for a batch of crops, detached (DINO's stop-gradient on the
    /// teacher).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, output_dim]`
    pub fn teacher(&self, images: Tensor<4>) -> Tensor<2> {
        self.teacher_head
            .forward(self.teacher_backbone.forward_features(images))
            .detach()
    }
}

/// DINO (Caron et al. 2021) on a [`DinoConfig`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DinoMethod<C = BackboneConfig> {
    /// The networks.
    pub model: DinoConfig<C>,
    /// Temperatures and centre momentum (lightly's `DINOLoss` defaults: teacher 0.04, student
    /// 0.1, centre momentum 0.9).
    #[serde(default = "DinoLossConfig::new")]
    pub loss: DinoLossConfig,
    /// How many of a batch's views are global crops (the teacher's inputs). Default 2.
    #[serde(default = "default_global_views")]
    pub global_views: usize,
    /// The teacher's EMA momentum, 0.996 (DINO §3.1, lightly) to 1 on BYOL's cosine schedule.
    #[serde(default = "default_momentum")]
    pub momentum: MomentumSchedule,
    /// Epochs during which the head's last layer gets no update. Default 1 (DINO's
    /// `freeze_last_layer`).
    #[serde(default = "default_freeze_epochs")]
    pub freeze_last_layer_epochs: usize,
    /// Clip each parameter's gradient norm to this value; `None` for no clipping. Default 3
    /// (DINO's `clip_grad`).
    #[serde(default = "default_clip")]
    pub clip_grad: Option<f64>,
    /// No weight decay on biases and normalisation parameters. Default `true` (DINO's
    /// `get_params_groups`).
    #[serde(default = "default_true")]
    pub exclude_bias_and_norm: bool,
}

fn default_global_views() -> usize {
    2
}
fn default_momentum() -> MomentumSchedule {
    MomentumSchedule::new(0.996, 1.0)
}
fn default_freeze_epochs() -> usize {
    1
}
fn default_clip() -> Option<f64> {
    Some(3.0)
}
fn default_true() -> bool {
    true
}

impl<C: EncoderConfig> DinoMethod<C> {
    /// DINO on the network `model` with the paper's / lightly's defaults.
    pub fn new(model: DinoConfig<C>) -> Self {
        Self {
            model,
            loss: DinoLossConfig::new(),
            global_views: default_global_views(),
            momentum: default_momentum(),
            freeze_last_layer_epochs: default_freeze_epochs(),
            clip_grad: default_clip(),
            exclude_bias_and_norm: true,
        }
    }

    /// DINO on CIFAR-10: solo-learn's `dino.yaml` head, the default temperatures and momentum.
    pub fn cifar10(backbone: C) -> Self {
        Self::new(DinoConfig::cifar10(backbone))
    }

    /// The momentum of the EMA after optimizer step `ctx.step`.
    pub fn momentum_at(&self, ctx: &StepContext<'_>) -> f64 {
        momentum::momentum_at(&self.momentum, ctx)
    }
}

impl<C: EncoderConfig> Method for DinoMethod<C> {
    type EncoderConfig = C;
    type Model = Dino<EncoderOf<C>>;
    const NAME: &'static str = "dino";

    fn required_views(&self) -> usize {
        self.global_views.max(2)
    }

    fn validate(&self) -> Result<()> {
        error::positive(DINO, "teacher_temp", self.loss.teacher_temp)?;
        error::positive(DINO, "warmup_teacher_temp", self.loss.warmup_teacher_temp)?;
        error::positive(DINO, "student_temp", self.loss.student_temp)?;
        error::closed_unit_interval(DINO, "center_momentum", self.loss.center_momentum)?;
        error::momentum_schedule(DINO, &self.momentum)?;
        if self.global_views == 0 {
            return Err(Error::invalid(DINO, "global_views", 0, "must be positive"));
        }
        if let Some(clip) = self.clip_grad {
            error::positive(DINO, "clip_grad", clip)?;
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
        let views = batch.views.len();
        require_views(Self::NAME, batch, self.global_views.max(2))?;
        let teacher: Vec<Tensor<2>> = (0..self.global_views)
            .map(|v| model.teacher(batch.view(v, ctx.device)))
            .collect();
        let student: Vec<Tensor<2>> = (0..views)
            .map(|v| model.student(batch.view(v, ctx.device)))
            .collect();
        let center = model.center.value_sync();
        let teacher_temp = self.loss.teacher_temp_at(ctx.epoch);
        let loss = dino(
            &teacher,
            &student,
            center.clone(),
            teacher_temp,
            self.loss.student_temp,
        );
        model
            .center
            .update(dino_center(center, &teacher, self.loss.center_momentum));
        Ok(StepOutput {
            loss,
            embeddings: Some(student[0].clone()),
            metrics: Vec::new(),
        }
        .with_metric("momentum", self.momentum_at(ctx))
        .with_metric("teacher_temp", teacher_temp))
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
        let grads = match self.clip_grad {
            Some(max_norm) => clip_gradients_per_parameter(grads, model, max_norm).0,
            None => grads,
        };
        if ctx.epoch < self.freeze_last_layer_epochs {
            drop_gradients(grads, &model.head.last_layer)
        } else {
            grads
        }
    }

    fn after_step(&self, model: Self::Model, ctx: &StepContext<'_>) -> Self::Model {
        momentum::after_step(model, &self.momentum, ctx)
    }
}

impl DinoMethod {
    /// DINO (ResNet) as solo-learn trains it: head `f → 2048 → 2048 → 256 → 4096` without batch
    /// norm, the last layer's norm fixed and frozen for the first epoch, no gradient clipping
    /// (`clip_grad: 0`), student temperature 0.1, teacher 0.04 → 0.07 over the warm-up epochs
    /// (0 on CIFAR, 50 on ImageNet-100), teacher momentum 0.9995 → 1, LARS (η 0.02, `clip_lr`,
    /// weight decay 10⁻⁶) at 0.3 × B/256, batch 256; 1000 epochs (`cifar/dino.yaml`) or 400
    /// (`imagenet-100/dino.yaml`, which ImageNet also takes). Views: two global crops plus
    /// [`Setup::local_views`] local ones ([`Setup::multi_crop_views`]).
    ///
    /// With a ViT, solo-learn's one ViT file of the method (`imagenet-100/dino_vit.yaml`) at
    /// every scale: 65 536 outputs, the last layer's norm learnt (`norm_last_layer: False`),
    /// teacher 0.04 → 0.07 without warm-up epochs, AdamW (β = 0.9, 0.999; weight decay 10⁻⁴) at
    /// 0.005 × B/256, batch 256 (128 × 2 GPUs), 10 warm-up epochs from 10⁻⁵, 400 epochs; the rest
    /// as above. (The DINO paper's own ViT recipe adds a weight-decay schedule 0.04 → 0.4 and
    /// gradient clipping at 3, which solo-learn's file does not: [`Setup::clip_grad`] and
    /// [`TrainingConfig::weight_decay_end`](crate::TrainingConfig::weight_decay_end) give them,
    /// `--clip-grad 3 --weight-decay 0.04 --weight-decay-end 0.4` on the command line.)
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let vit = matches!(setup.backbone, selfsup_models::BackboneConfig::Vit(_));
        let (recipe, warmup_teacher_epochs) = if vit {
            let recipe = SoloLearn {
                file: "imagenet-100/dino_vit.yaml",
                batch_size: 256,
                lr: 0.005,
                classifier_lr: 3e-3,
                optimizer: adamw(1e-4),
                epochs: 400,
            };
            (recipe, 0)
        } else {
            let (file, epochs, warmup_teacher_epochs) = match setup.scale {
                Scale::Cifar => ("cifar/dino.yaml", 1000, 0),
                Scale::ImageNet100 | Scale::ImageNet => ("imagenet-100/dino.yaml", 400, 50),
            };
            let recipe = SoloLearn {
                file,
                batch_size: 256,
                lr: 0.3,
                classifier_lr: 0.1,
                optimizer: lars(1e-6, 0.02, true),
                epochs,
            };
            (recipe, warmup_teacher_epochs)
        };
        let mut method = Self::cifar10(setup.backbone.clone());
        if vit {
            method.model.head = method
                .model
                .head
                .with_output_dim(65_536)
                .with_norm_last_layer(false);
        }
        method.momentum = MomentumSchedule::new(0.9995, 1.0);
        method.loss = DinoLossConfig::new()
            .with_student_temp(0.1)
            .with_warmup_teacher_temp(0.04)
            .with_teacher_temp(0.07)
            .with_warmup_teacher_temp_epochs(warmup_teacher_epochs);
        method.clip_grad = setup.clip_grad;
        method.freeze_last_layer_epochs = setup.freeze_epochs.unwrap_or(1);
        let views = setup.multi_crop_views(
            selfsup_data::MultiCropTransform::dino_cifar10(),
            selfsup_data::MultiCropTransform::dino(),
        )?;
        let mut published = recipe.publish(method, views);
        if vit {
            published.training.warmup_start_lr = 1e-5;
        }
        Ok(published)
    }
}

impl<E: Module> momentum::MomentumNetwork for Dino<E> {
    fn update_targets(self, momentum: f64) -> Self {
        Self {
            teacher_backbone: update_momentum(self.teacher_backbone, &self.backbone, momentum),
            teacher_head: update_momentum(self.teacher_head, &self.head, momentum),
            ..self
        }
    }
}
