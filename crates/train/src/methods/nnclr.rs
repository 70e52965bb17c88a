//! NNCLR: contrast each view's prediction with the nearest neighbour, in a support set of past
//! embeddings, of the other view's projection.
//!
//! Dwibedi et al., "With a Little Help from My Friends: Nearest-Neighbor Contrastive Learning of
//! Visual Representations", ICCV 2021. SimCLR's positive (the other view's embedding) is replaced
//! by its nearest neighbour in a queue of past embeddings, which brings semantic variation beyond
//! the augmentations. As solo-learn's `solo/methods/nnclr.py` trains it:
//!
//! - `z = projector(f(x))`, `p = predictor(z)`, and `z` is L2-normalised;
//! - `nn₁ = NN(z₁, Q)`, `nn₂ = NN(z₂, Q)` by cosine similarity ([`nearest_neighbour`]), without
//!   gradient;
//! - the loss is `½·ℓ(nn₁, p₂) + ½·ℓ(nn₂, p₁)` ([`nnclr_loss`], solo-learn's `nnclr_loss_func`:
//!   the neighbours as anchors against the other view's batch of predictions, τ = 0.2);
//! - the queue then takes the normalised `z₁` of the batch (the first view only), detached,
//!   and their classes (−1 where unlabelled, solo-learn's `queue_y`);
//! - the metric `nn_accuracy` is the share of labelled images whose `nn₁` has their class
//!   (solo-learn's `train_nn_acc`): how often the positive the method picks is of the same class.
//!
//! The queue is a [`RunningState`] of the model, so checkpoints save and restore it exactly; it
//! is a rolling window, newest first (solo-learn writes a ring buffer at a pointer: the same
//! rows whenever the queue size is a multiple of the batch, as solo-learn requires; the lookup
//! does not depend on their order), initialised with random unit vectors as solo-learn's.

use burn::module::RunningState;
use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_losses::{nearest_neighbour, nnclr_loss};
use selfsup_models::{
    Backbone, BackboneConfig, Encoder, EncoderConfig, EncoderOf, Mlp, NnclrPredictionHeadConfig,
    NnclrProjectionHeadConfig,
};
use serde::{Deserialize, Serialize};

use super::queue::{enqueue, random_queue};
use crate::error::{self, Error, Result};
use crate::knn::l2_normalize;
use crate::method::{Method, StepContext, StepOutput, require_views};
use crate::recipe::{Published, Scale, Setup, SoloLearn, lars};

const NNCLR: &str = "nnclr";

/// Configuration of an [`Nnclr`] network: the encoder, the two heads and the support set's size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NnclrConfig<C = BackboneConfig> {
    /// The encoder.
    pub backbone: C,
    /// The projector.
    pub projector: NnclrProjectionHeadConfig,
    /// The predictor.
    pub predictor: NnclrPredictionHeadConfig,
    /// Embeddings kept in the support set (the queue), at least 1 and at least a batch.
    pub queue_size: usize,
}

impl<C: EncoderConfig> NnclrConfig<C> {
    /// The paper's network on `backbone`: projector `feature_dim → 2048 → 2048 → 256`, predictor
    /// `256 → 4096 → 256`, a support set of 65 536 embeddings (the paper's; solo-learn's
    /// `nnclr.yaml` files keep all three).
    pub fn paper(backbone: C) -> Self {
        let projector = NnclrProjectionHeadConfig::new().with_input_dim(backbone.feature_dim());
        Self {
            backbone,
            projector,
            predictor: NnclrPredictionHeadConfig::new(),
            queue_size: 65_536,
        }
    }

    /// Builds the network and its queue of random unit vectors on `device`.
    ///
    /// # Panics
    /// If the dimensions do not chain (projector input = the encoder's features, predictor input
    /// and output = the projection's) or the queue is empty.
    pub fn init(&self, device: &Device) -> Nnclr<EncoderOf<C>> {
        let features = self.backbone.feature_dim();
        assert_eq!(
            self.projector.input_dim, features,
            "NnclrConfig: the projector takes {} features but the backbone outputs {features}",
            self.projector.input_dim
        );
        let d = self.projector.output_dim;
        assert!(
            self.predictor.input_dim == d && self.predictor.output_dim == d,
            "NnclrConfig: the predictor must map the projection's {d} features to {d}, got {} → {}",
            self.predictor.input_dim,
            self.predictor.output_dim
        );
        assert!(
            self.queue_size >= 1,
            "NnclrConfig: the queue needs at least 1 row"
        );
        Nnclr {
            backbone: self.backbone.init(device),
            projector: self.projector.init(device),
            predictor: self.predictor.init(device),
            queue: random_queue(self.queue_size, d, device),
            queue_labels: RunningState::new(Tensor::full([self.queue_size, 1], -1.0, device)),
        }
    }
}

/// NNCLR's network: the encoder, projector and predictor, and the support set.
#[derive(Module, Debug)]
pub struct Nnclr<E: Module = Backbone> {
    /// The encoder, the one evaluated.
    pub backbone: E,
    /// The projector.
    pub projector: Mlp,
    /// The predictor.
    pub predictor: Mlp,
    /// The support set: the last normalised projections of the first view, `[K, d]`, unit rows,
    /// newest first.
    pub queue: RunningState<Tensor<2>>,
    /// The class of each row of the support set, `[K, 1]`, −1 where unknown (the initial rows,
    /// unlabelled images): solo-learn's `queue_y`, for the nearest-neighbour accuracy.
    pub queue_labels: RunningState<Tensor<2>>,
}

impl<E: Encoder> Nnclr<E> {
    /// The projection `z = g(f(x))`, before normalisation.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, d]`
    pub fn project(&self, images: Tensor<4>) -> Tensor<2> {
        self.projector
            .forward(self.backbone.forward_features(images))
    }
}

/// NNCLR (Dwibedi et al. 2021) on an [`NnclrConfig`] network, as solo-learn trains it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NnclrMethod<C = BackboneConfig> {
    /// The network.
    pub model: NnclrConfig<C>,
    /// The temperature τ of [`nnclr_loss`]. Default 0.2 (solo-learn's `nnclr.yaml` files; the
    /// paper's is 0.1).
    #[serde(default = "default_temperature")]
    pub temperature: f64,
}

fn default_temperature() -> f64 {
    0.2
}

impl<C: EncoderConfig> NnclrMethod<C> {
    /// NNCLR on the network `model` at τ = 0.2.
    pub fn new(model: NnclrConfig<C>) -> Self {
        Self {
            model,
            temperature: default_temperature(),
        }
    }

    /// The same method at temperature `temperature`.
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }
}

impl<C: EncoderConfig> Method for NnclrMethod<C> {
    type EncoderConfig = C;
    type Model = Nnclr<EncoderOf<C>>;
    const NAME: &'static str = NNCLR;

    fn required_views(&self) -> usize {
        2
    }

    fn validate(&self) -> Result<()> {
        error::positive(NNCLR, "temperature", self.temperature)?;
        if self.model.queue_size == 0 {
            return Err(Error::invalid(
                NNCLR,
                "queue_size",
                0,
                "must be at least 1 (the support set)",
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
        require_views(Self::NAME, batch, 2)?;
        let queue = model.queue.value_sync();
        if queue.dims()[0] < batch.len() {
            return Err(Error::Data(format!(
                "nnclr: the queue of {} embeddings is smaller than a batch of {}",
                queue.dims()[0],
                batch.len()
            )));
        }
        let z1 = model.project(batch.view(0, ctx.device));
        let z2 = model.project(batch.view(1, ctx.device));
        let p1 = model.predictor.forward(z1.clone());
        let p2 = model.predictor.forward(z2.clone());
        let (unit1, unit2) = (l2_normalize(z1.clone()), l2_normalize(z2));
        // No gradient through the lookup; `nnclr_loss` detaches the neighbours.
        let (index1, nn1) = nearest_neighbour(unit1.clone(), queue.clone());
        let (_, nn2) = nearest_neighbour(unit2, queue.clone());
        let loss = (nnclr_loss(nn1, p2, self.temperature) + nnclr_loss(nn2, p1, self.temperature))
            .div_scalar(2.0);
        enqueue(&model.queue, queue, unit1);
        let labels = model.queue_labels.value_sync();
        let neighbour_labels: Vec<f32> = labels
            .clone()
            .select(0, index1)
            .into_data()
            .iter::<f32>()
            .collect();
        let own: Vec<f32> = batch
            .targets
            .iter()
            .map(|t| t.map_or(-1.0, |t| t as f32))
            .collect();
        let rows = own.len();
        enqueue(
            &model.queue_labels,
            labels,
            Tensor::from_data(TensorData::new(own.clone(), [rows, 1]), ctx.device),
        );
        let output = StepOutput {
            loss,
            embeddings: Some(z1),
            metrics: Vec::new(),
        };
        Ok(match nn_accuracy(&own, &neighbour_labels) {
            Some(accuracy) => output.with_metric("nn_accuracy", accuracy),
            None => output,
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m EncoderOf<C> {
        &model.backbone
    }

    fn backbone_config(&self) -> &C {
        &self.model.backbone
    }
}

/// The share of the labelled images whose first view's nearest neighbour in the support set
/// has the image's class (solo-learn's `train_nn_acc`, over the labelled images only); `None`
/// when no image is labelled.
fn nn_accuracy(own: &[f32], neighbours: &[f32]) -> Option<f64> {
    let labelled: Vec<bool> = own
        .iter()
        .zip(neighbours)
        .filter(|(o, _)| **o >= 0.0)
        .map(|(o, n)| o == n)
        .collect();
    (!labelled.is_empty())
        .then(|| labelled.iter().filter(|&&hit| hit).count() as f64 / labelled.len() as f64)
}

impl NnclrMethod {
    /// NNCLR as solo-learn trains it: projector `f → 2048 → 2048 → 256`, predictor
    /// `256 → 4096 → 256`, a support set of 65 536, τ = 0.2, LARS (η 0.02, `clip_lr`, biases and
    /// norms out of the adaptation, weight decay 10⁻⁵ on every parameter) at 0.4 × B/256, a total
    /// batch of 256:
    ///
    /// | | `cifar/nnclr.yaml` | `imagenet-100/nnclr.yaml` |
    /// |---|---|---|
    /// | batch | 256 | 256 (128 × 2 GPUs) |
    /// | epochs | 1000 | 400 |
    ///
    /// solo-learn has no ImageNet NNCLR configuration: the ImageNet scale takes the ImageNet-100
    /// file. Views: solo-learn's `augmentations/asymmetric.yaml`, BYOL's asymmetric pair
    /// ([`Setup::asymmetric_views`]).
    ///
    /// # Errors
    /// When the views do not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let (file, epochs) = match setup.scale {
            Scale::Cifar => ("cifar/nnclr.yaml", 1000),
            Scale::ImageNet100 | Scale::ImageNet => ("imagenet-100/nnclr.yaml", 400),
        };
        let recipe = SoloLearn {
            file,
            batch_size: 256,
            lr: 0.4,
            classifier_lr: 0.1,
            optimizer: lars(1e-5, 0.02, true),
            epochs,
        };
        let method = Self::new(NnclrConfig::paper(setup.backbone.clone())).with_temperature(0.2);
        Ok(recipe.publish(method, setup.asymmetric_views()?))
    }
}
