//! The supervised baseline and fine-tuning: cross-entropy of a linear head on the
//! backbone, trained end to end on the labelled images; optionally with label smoothing,
//! Mixup / CutMix ([`crate::mixup`]), stochastic depth and layer-wise LR decay, MAE's
//! fine-tuning recipe
//! ([`SupervisedMethod::mae_finetune`]).

use std::sync::Arc;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use selfsup_data::ViewBatch;
use selfsup_data::transforms::{
    Compose, MultiView, RandomHorizontalFlip, RandomResizedCrop, rng_for, unit_f64,
};
use selfsup_models::{Backbone, BackboneConfig, Encoder, EncoderConfig, EncoderOf};
use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::error::{self, Error, Result};
use crate::method::{Method, ParamGroups, StepContext, StepOutput, require_views};
use crate::mixup::{MixupConfig, soft_targets};
use crate::recipe::{Published, Setup, adamw};
use crate::schedule::{LrScaling, layer_decay_groups};

/// The stream of the run's seed that Mixup and CutMix draw from.
const MIXUP_STREAM: u64 = 0x4D49_5855_505F_4355;
/// The stream of the run's seed that stochastic depth draws from.
const DROP_PATH_STREAM: u64 = 0x4452_4F50_5041_5448;

/// Configuration of a [`Classifier`]: any [`EncoderConfig`], the built-in [`BackboneConfig`] by
/// default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// Number of classes of the linear head.
    pub num_classes: usize,
}

impl<C: EncoderConfig> ClassifierConfig<C> {
    /// A classifier of `backbone` into `num_classes` classes.
    pub fn new(backbone: C, num_classes: usize) -> Self {
        Self {
            backbone,
            num_classes,
        }
    }

    /// A classifier with a fresh backbone and head on `device`.
    pub fn init(&self, device: &Device) -> Classifier<EncoderOf<C>> {
        self.init_with_backbone(self.backbone.init(device), device)
    }

    /// A classifier over an existing (e.g. pre-trained) `backbone` with a fresh head: the
    /// starting point of fine-tuning.
    ///
    /// # Panics
    /// If the backbone's feature dimension differs from the config's.
    pub fn init_with_backbone(
        &self,
        backbone: EncoderOf<C>,
        device: &Device,
    ) -> Classifier<EncoderOf<C>> {
        assert_eq!(
            backbone.feature_dim(),
            self.backbone.feature_dim(),
            "ClassifierConfig: the backbone has {} features, the config says {}",
            backbone.feature_dim(),
            self.backbone.feature_dim()
        );
        Classifier {
            head: LinearConfig::new(backbone.feature_dim(), self.num_classes).init(device),
            backbone,
        }
    }
}

/// A backbone and a linear classification head.
#[derive(Module, Debug)]
pub struct Classifier<E: Module = Backbone> {
    /// The encoder.
    pub backbone: E,
    /// `features → logits`.
    pub head: Linear,
}

impl<E: Encoder> Classifier<E> {
    /// Class logits.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.backbone.forward_features(images))
    }

    /// Class logits with the encoder under stochastic depth at `rate`, its masks drawn from
    /// `uniform` ([`Encoder::forward_features_drop_path`]).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, num_classes]`
    pub fn forward_drop_path(
        &self,
        images: Tensor<4>,
        rate: f64,
        uniform: &mut dyn FnMut() -> f64,
    ) -> Tensor<2> {
        self.head.forward(
            self.backbone
                .forward_features_drop_path(images, rate, uniform),
        )
    }
}

/// Supervised training of a [`Classifier`] on view 0 of each batch and the dataset's labels:
/// the supervised baseline from scratch, or fine-tuning when the classifier starts from a
/// pre-trained backbone ([`ClassifierConfig::init_with_backbone`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisedMethod<C = BackboneConfig> {
    /// The classifier.
    pub model: ClassifierConfig<C>,
    /// Label smoothing `s` of the cross-entropy (`1 − s + s/K` on the class, `s/K` elsewhere);
    /// 0 by default.
    #[serde(default)]
    pub label_smoothing: f64,
    /// Mixup and CutMix of each batch, `None` (the default) for neither.
    #[serde(default)]
    pub mixup: Option<MixupConfig>,
    /// Layer-wise LR decay: layer `i` of the encoder's
    /// [`layers`](selfsup_models::EncoderConfig::layers) trains at `decay^(L − i)` times the LR
    /// ([`layer_decay_groups`]); `None` (the default) for one LR.
    #[serde(default)]
    pub layer_decay: Option<f64>,
    /// No weight decay on biases, normalisation parameters and the encoder's tokens and
    /// position embedding (MAE's and solo-learn's fine-tuning); `false` by default.
    #[serde(default)]
    pub exclude_bias_norm_and_tokens: bool,
    /// Stochastic depth of the encoder (timm's `drop_path_rate`: the last block's drop
    /// probability, rising linearly from 0 at the first), a ViT's; 0 (the default) for none.
    #[serde(default)]
    pub drop_path: f64,
}

impl<C: EncoderConfig> SupervisedMethod<C> {
    /// Supervised training of the classifier `model`: plain cross-entropy, one LR.
    pub fn new(model: ClassifierConfig<C>) -> Self {
        Self {
            model,
            label_smoothing: 0.0,
            mixup: None,
            layer_decay: None,
            exclude_bias_norm_and_tokens: false,
            drop_path: 0.0,
        }
    }
}

impl SupervisedMethod<BackboneConfig> {
    /// MAE's fine-tuning recipe (He et al. 2022, appendix A.2), as solo-learn's
    /// `scripts/finetune/imagenet-100/mae.yaml` and `imagenet/mae.yaml` set it (the two differ
    /// only in the dataset; there is no CIFAR file): AdamW (β = 0.9, 0.999) at 5·10⁻⁴ × B/256,
    /// weight decay 0.05 (none on biases, norms, class token and position embedding),
    /// layer-wise LR decay 0.75, label smoothing 0.1, Mixup 0.8, CutMix 1.0 (switch 0.5), 10
    /// warm-up epochs from 0 then cosine to 0 per step, batch 512 (64 × 8 GPUs), 100 epochs, drop
    /// path 0.1; the views of solo-learn's `main_linear.py`: `RandomResizedCrop(size,
    /// scale=(0.08, 1))` and a horizontal flip. The class token's features feed the head
    /// (solo-learn's `global_pool="token"`).
    ///
    /// # Errors
    /// An encoder without layers to decay (a convolutional one).
    pub fn mae_finetune(model: ClassifierConfig, setup: &Setup) -> Result<Published<Self>> {
        if model.backbone.layers().is_none() {
            return Err(Error::invalid(
                "supervised method",
                "layer_decay",
                0.75,
                "MAE's fine-tuning recipe decays the LR of a ViT's blocks; this encoder has none \
                 (fine-tune it with another recipe)",
            ));
        }
        let method = Self {
            model,
            label_smoothing: 0.1,
            mixup: Some(MixupConfig::mae()),
            layer_decay: Some(0.75),
            exclude_bias_norm_and_tokens: true,
            drop_path: 0.1,
        };
        let training = TrainingConfig {
            epochs: 100,
            batch_size: 512,
            lr: 5e-4,
            lr_scaling: LrScaling::Linear,
            cosine: true,
            warmup_epochs: 10,
            warmup_start_lr: 0.0,
            optimizer: adamw(0.05),
            source: Some(
                "MAE's fine-tuning, solo-learn's scripts/finetune/imagenet-100/mae.yaml (LR × batch \
                 / 256, 10 warm-up epochs, cosine)"
                    .into(),
            ),
            ..TrainingConfig::adam_constant()
        };
        let crop = RandomResizedCrop::new(setup.image_size)
            .and_then(|crop| crop.with_scale(0.08, 1.0))
            .map_err(|err| Error::Data(format!("MAE's fine-tuning views: {err}")))?;
        let view = Compose::new()
            .then(crop)
            .then(RandomHorizontalFlip::default())
            .then(setup.normalize.clone());
        let views = MultiView::new(vec![Box::new(view)]).expect("one view");
        Ok(Published {
            method,
            training,
            classifier_lr: 5e-4,
            views: Arc::new(views),
        })
    }
}

impl<C: EncoderConfig> Method for SupervisedMethod<C> {
    type EncoderConfig = C;
    type Model = Classifier<EncoderOf<C>>;
    const NAME: &'static str = "supervised";

    fn validate(&self) -> Result<()> {
        const CONFIG: &str = "supervised method";
        error::unit_interval(CONFIG, "label_smoothing", self.label_smoothing)?;
        if let Some(mixup) = &self.mixup {
            mixup.validate()?;
        }
        if let Some(decay) = self.layer_decay {
            if self.model.backbone.layers().is_none() {
                return Err(Error::invalid(
                    CONFIG,
                    "layer_decay",
                    decay,
                    "needs an encoder with layers (a ViT); this one has none",
                ));
            }
            layer_decay_groups(&[], decay)?;
        }
        error::unit_interval(CONFIG, "drop_path", self.drop_path)?;
        if self.drop_path > 0.0 && !self.model.backbone.has_drop_path() {
            return Err(Error::invalid(
                CONFIG,
                "drop_path",
                self.drop_path,
                "needs an encoder with residual branches to drop (a ViT); this one has none",
            ));
        }
        Ok(())
    }

    fn param_groups(&self) -> ParamGroups {
        let lr = match (self.layer_decay, self.model.backbone.layers()) {
            (Some(decay), Some(layers)) => {
                layer_decay_groups(&layers, decay).expect("a validated layer decay")
            }
            _ => Vec::new(),
        };
        let no_weight_decay_paths = if self.exclude_bias_norm_and_tokens {
            ["cls_token", "reg_token", "pos_embed"]
                .map(String::from)
                .to_vec()
        } else {
            Vec::new()
        };
        ParamGroups {
            lr,
            no_weight_decay_on_bias_and_norm: self.exclude_bias_norm_and_tokens,
            no_weight_decay_paths,
        }
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
        let device = ctx.device;
        require_views(Self::NAME, batch, 1)?;
        let targets = batch.targets(device).ok_or_else(|| {
            Error::Data("supervised training needs labelled images; the dataset has none".into())
        })?;
        if let Some(&bad) = batch
            .targets
            .iter()
            .flatten()
            .find(|&&t| t >= self.model.num_classes)
        {
            return Err(Error::Data(format!(
                "label {bad} is out of range for a classifier of {} classes",
                self.model.num_classes
            )));
        }
        let mut rng = rng_for(ctx.seed ^ DROP_PATH_STREAM, ctx.step as u64, 0);
        let mut uniform = || unit_f64(&mut rng);
        let mut forward = |images: Tensor<4>| {
            if self.drop_path > 0.0 {
                model.forward_drop_path(images, self.drop_path, &mut uniform)
            } else {
                model.forward(images)
            }
        };
        if self.mixup.is_none() && self.label_smoothing == 0.0 {
            let logits = forward(batch.view(0, device));
            let loss = CrossEntropyLossConfig::new()
                .init(device)
                .forward(logits.clone(), targets.clone());
            return Ok(StepOutput {
                loss,
                embeddings: None,
                metrics: vec![("accuracy".into(), accuracy(logits, targets))],
            });
        }
        let labels: Vec<usize> = batch.targets.iter().map(|t| t.expect("labelled")).collect();
        let classes = self.model.num_classes;
        let (images, soft) = match &self.mixup {
            Some(mixup) => {
                let [_, _, height, width] = batch.shapes[0];
                let mut rng = rng_for(ctx.seed ^ MIXUP_STREAM, ctx.step as u64, 0);
                let mix = mixup.draw(height, width, &mut rng);
                let mut images = batch.views[0].clone();
                mix.apply(&mut images, batch.shapes[0]);
                let images = Tensor::from_data(TensorData::new(images, batch.shapes[0]), device);
                (images, mix.targets(&labels, classes, self.label_smoothing))
            }
            None => (
                batch.view(0, device),
                soft_targets(&labels, classes, self.label_smoothing, 1.0),
            ),
        };
        let soft = Tensor::<2>::from_data(TensorData::new(soft, [labels.len(), classes]), device);
        let logits = forward(images);
        let loss = soft_cross_entropy(logits.clone(), soft);
        Ok(StepOutput {
            loss,
            embeddings: None,
            metrics: vec![("accuracy".into(), accuracy(logits, targets))],
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }
}

/// timm's `SoftTargetCrossEntropy`: `mean_i Σ_k −t_ik · log_softmax(logits_i)_k`.
pub(crate) fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (log_softmax(logits, 1) * targets).sum_dim(1).neg().mean()
}

/// Fraction of rows whose arg-max equals the target, as a `[1]` tensor.
pub(crate) fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let predicted = logits.detach().argmax(1).squeeze_dim::<1>(1);
    predicted.equal(targets).float().mean()
}
