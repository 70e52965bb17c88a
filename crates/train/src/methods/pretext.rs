//! Multi-task pretext pre-training (RotNet's rotation prediction, Gidaris et al. 2018, with shear and
//! colour tasks added): predict which rotation, shear and colour change
//! an image went through, one linear head per task on the shared backbone.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_models::{Backbone, BackboneConfig, Encoder, EncoderConfig, EncoderOf};
use serde::{Deserialize, Serialize};

use super::supervised::accuracy;
use crate::error::{Error, Result};
use crate::method::{Method, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Setup};

/// The task names, in the order of the loader's labels
/// ([`PretextViews`](selfsup_data::PretextViews)).
pub const PRETEXT_TASKS: [&str; 3] = ["rotation", "shear", "color"];

/// Configuration of a [`PretextModel`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretextModelConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// Classes of each task's head, in [`PRETEXT_TASKS`] order. Default `[4, 3, 3]`.
    #[serde(default = "default_task_classes")]
    pub task_classes: Vec<usize>,
}

fn default_task_classes() -> Vec<usize> {
    vec![4, 3, 3]
}

impl<C: EncoderConfig> PretextModelConfig<C> {
    /// The three tasks' heads on `backbone`.
    pub fn new(backbone: C) -> Self {
        Self {
            backbone,
            task_classes: default_task_classes(),
        }
    }

    /// A fresh model on `device`.
    pub fn init(&self, device: &Device) -> PretextModel<EncoderOf<C>> {
        let dim = self.backbone.feature_dim();
        PretextModel {
            backbone: self.backbone.init(device),
            heads: self
                .task_classes
                .iter()
                .map(|&classes| LinearConfig::new(dim, classes).init(device))
                .collect(),
        }
    }
}

/// A backbone with one linear head per pretext task.
#[derive(Module, Debug)]
pub struct PretextModel<E: Module = Backbone> {
    /// The encoder.
    pub backbone: E,
    /// One head per task.
    pub heads: Vec<Linear>,
}

impl<E: Encoder> PretextModel<E> {
    /// The logits of every task.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: one `[B, classes_t]` per task
    pub fn forward(&self, images: Tensor<4>) -> Vec<Tensor<2>> {
        let features = self.backbone.forward_features(images);
        self.heads
            .iter()
            .map(|head| head.forward(features.clone()))
            .collect()
    }
}

/// Pretext pre-training: the sum of the tasks' cross-entropies on view 0, whose labels the
/// loader's [`PretextViews`](selfsup_data::PretextViews) drew. Logs each task's accuracy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretextMethod<C = BackboneConfig> {
    /// The model.
    pub model: PretextModelConfig<C>,
}

impl<C: EncoderConfig> PretextMethod<C> {
    /// Pretext training of `model`.
    pub fn new(model: PretextModelConfig<C>) -> Self {
        Self { model }
    }
}

impl<C: EncoderConfig> Method for PretextMethod<C> {
    type EncoderConfig = C;
    type Model = PretextModel<EncoderOf<C>>;
    const NAME: &'static str = "pretext";

    fn init_model(&self, device: &Device) -> Self::Model {
        self.model.init(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 1)?;
        let device = ctx.device;
        let tasks = self.model.task_classes.len();
        if batch.labels.len() != tasks {
            return Err(Error::Data(format!(
                "pretext training needs {tasks} labels per image (rotation, shear, colour) from a \
                 PretextViews transform; the loader's transform drew {}",
                batch.labels.len()
            )));
        }
        let loss_fn = CrossEntropyLossConfig::new().init(device);
        let mut loss: Option<Tensor<1>> = None;
        let mut metrics = Vec::with_capacity(tasks);
        for (task, logits) in model.forward(batch.view(0, device)).into_iter().enumerate() {
            let classes = self.model.task_classes[task];
            let labels = &batch.labels[task];
            if let Some(&bad) = labels.iter().find(|&&l| l >= classes) {
                return Err(Error::Data(format!(
                    "pretext task {task} label {bad} is out of range for its {classes} classes"
                )));
            }
            let targets = Tensor::<1, Int>::from_data(
                TensorData::new(
                    labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
                    [labels.len()],
                ),
                device,
            );
            let name = PRETEXT_TASKS.get(task).copied().unwrap_or("task");
            metrics.push((
                format!("{name}_accuracy"),
                accuracy(logits.clone(), targets.clone()),
            ));
            let task_loss = loss_fn.forward(logits, targets);
            loss = Some(match loss {
                None => task_loss,
                Some(sum) => sum + task_loss,
            });
        }
        Ok(StepOutput {
            loss: loss
                .ok_or_else(|| Error::Data("a pretext model needs at least one task".into()))?,
            embeddings: None,
            metrics,
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }
}

impl PretextMethod {
    /// Rotation, shear and colour prediction with RotNet's CIFAR recipe (Gidaris et al. 2018,
    /// §4.1: SGD with momentum 0.9 and weight decay 5·10⁻⁴, LR 0.1, batch 128, 100 epochs; the
    /// paper divides the LR by 5 at epochs 30, 60 and 80, here a cosine decay does it). solo-learn
    /// has no pretext method. Views: [`PretextViews::new`](selfsup_data::PretextViews::new) at the
    /// setup's image size (images of other sizes, a folder's, are resized and centre-cropped to
    /// it) with the data's statistics.
    ///
    /// # Errors
    /// An image size of 0.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let training = crate::TrainingConfig {
            epochs: 100,
            batch_size: 128,
            lr: 0.1,
            lr_scaling: crate::LrScaling::None,
            cosine: true,
            optimizer: crate::OptimizerConfig::sgd(0.9, 5e-4),
            source: Some(
                "RotNet's CIFAR recipe (Gidaris et al. 2018, §4.1), cosine instead of steps".into(),
            ),
            ..crate::TrainingConfig::adam_constant()
        };
        let views = selfsup_data::PretextViews::new(setup.image_size, setup.normalize.clone())?;
        Ok(Published {
            method: Self::new(PretextModelConfig::new(setup.backbone.clone())),
            training,
            classifier_lr: 0.1,
            views: std::sync::Arc::new(views),
        })
    }
}
