//! Seed 001's multi-task pretext pre-training: predict which rotation, shear and colour change
//! an image went through, one linear head per task on the shared backbone.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_models::{Backbone, BackboneConfig};

use super::supervised::accuracy;
use crate::error::{Error, Result};
use crate::method::{Method, StepOutput, require_views};

/// The task names, in the order of the loader's labels
/// ([`PretextViews`](selfsup_data::PretextViews)).
pub const PRETEXT_TASKS: [&str; 3] = ["rotation", "shear", "color"];

/// Configuration of a [`PretextModel`].
#[derive(Config, Debug)]
pub struct PretextModelConfig {
    /// The encoder.
    pub backbone: BackboneConfig,
    /// Classes of each task's head, in [`PRETEXT_TASKS`] order. Default `[4, 3, 3]`.
    #[config(default = "vec![4, 3, 3]")]
    pub task_classes: Vec<usize>,
}

impl PretextModelConfig {
    /// A fresh model on `device`.
    pub fn init(&self, device: &Device) -> PretextModel {
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
pub struct PretextModel {
    /// The encoder.
    pub backbone: Backbone,
    /// One head per task.
    pub heads: Vec<Linear>,
}

impl PretextModel {
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
#[derive(Config, Debug)]
pub struct PretextMethod {
    /// The model.
    pub model: PretextModelConfig,
}

impl Method for PretextMethod {
    type Model = PretextModel;
    const NAME: &'static str = "pretext";

    fn init_model(&self, device: &Device) -> PretextModel {
        self.model.init(device)
    }

    fn step(&self, model: &PretextModel, batch: &ViewBatch, device: &Device) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 1)?;
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

    fn backbone<'m>(&self, model: &'m PretextModel) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        &self.model.backbone
    }
}
