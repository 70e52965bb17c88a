//! A user's own encoder and a user's own method, both defined here, outside selfsup: every
//! built-in method trains the encoder, the user's method trains, checkpoints and resumes, and
//! the evaluation code (linear probe, kNN, fine-tuning) loads the encoder from the checkpoint
//! without knowing either.

use std::sync::Arc;

use burn::module::RunningState;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use selfsup_data::{ByolTransform, MultiCropTransform, SimSiamTransform, ViewBatch};
use selfsup_losses::negative_cosine;
use selfsup_models::{
    BarlowTwinsProjectionHeadConfig, ByolPredictionHeadConfig, ByolProjectionHeadConfig,
    DinoHeadConfig, Encoder, EncoderConfig, MocoProjectionHeadConfig, SimClrConfig,
    SimClrProjectionHeadConfig, SimSiamConfig, SimSiamPredictionHeadConfig,
    SimSiamProjectionHeadConfig, SwavProjectionHeadConfig, SwavPrototypesConfig,
    VicRegProjectionHeadConfig, momentum_copy, update_momentum,
};
use selfsup_train::{
    BarlowTwinsConfig, BarlowTwinsMethod, ByolConfig, ByolMethod, ClassifierConfig, DinoConfig,
    DinoMethod, EvalSplits, KnnConfig, LinearProbeConfig, Method, MocoConfig, MocoMethod,
    ParamGroups, SimClrMethod, SimSiamMethod, StepContext, StepOutput, SupervisedMethod,
    SwavConfig, SwavMethod, TrainData, Trainer, VicRegConfig, VicRegMethod, evaluate_classifier,
    knn_backbone, linear_probe_backbone, load_encoder, require_views,
};
use serde::{Deserialize, Serialize};

use crate::methods::{all_values, independent_copy};
use crate::support::device;
use crate::trainer::{config, dataset};

/// The user's encoder: one 3×3 convolution, ReLU, global average pooling, a linear layer.
#[derive(Module, Debug)]
pub struct TinyConvNet {
    conv: Conv2d,
    activation: Relu,
    fc: Linear,
}

impl Encoder for TinyConvNet {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.activation.forward(self.conv.forward(images));
        let [b, c, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([b, c]);
        self.fc.forward(pooled)
    }

    fn feature_dim(&self) -> usize {
        self.fc.weight.dims()[1]
    }
}

/// Its config, serialisable so that checkpoints can rebuild it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TinyConvNetConfig {
    pub width: usize,
    pub features: usize,
}

impl EncoderConfig for TinyConvNetConfig {
    type Encoder = TinyConvNet;

    fn init(&self, device: &Device) -> TinyConvNet {
        TinyConvNet {
            conv: Conv2dConfig::new([3, self.width], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            activation: Relu::new(),
            fc: LinearConfig::new(self.width, self.features).init(device),
        }
    }

    fn feature_dim(&self) -> usize {
        self.features
    }
}

fn encoder() -> TinyConvNetConfig {
    TinyConvNetConfig {
        width: 6,
        features: 8,
    }
}

/// The user's method: an encoder regressing, by negative cosine, the output of its own EMA
/// copy on the other view, with a step counter kept outside the gradient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmaRegression {
    pub encoder: TinyConvNetConfig,
    pub momentum: f64,
}

#[derive(Module, Debug)]
pub struct EmaRegressionModel {
    pub backbone: TinyConvNet,
    pub target: TinyConvNet,
    pub steps_seen: RunningState<Tensor<1>>,
}

impl Method for EmaRegression {
    type EncoderConfig = TinyConvNetConfig;
    type Model = EmaRegressionModel;
    const NAME: &'static str = "ema_regression";

    fn init_model(&self, device: &Device) -> EmaRegressionModel {
        let backbone = self.encoder.init(device);
        EmaRegressionModel {
            target: momentum_copy(self.encoder.init(device), &backbone),
            backbone,
            steps_seen: RunningState::new(Tensor::zeros([1], device)),
        }
    }

    fn step(
        &self,
        model: &EmaRegressionModel,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> selfsup_train::Result<StepOutput> {
        require_views(Self::NAME, batch, 2)?;
        let online = model.backbone.forward_features(batch.view(0, ctx.device));
        let target = model
            .target
            .forward_features(batch.view(1, ctx.device))
            .detach();
        model
            .steps_seen
            .update(model.steps_seen.value_sync().add_scalar(1.0));
        Ok(StepOutput {
            loss: negative_cosine(online.clone(), target),
            embeddings: Some(online),
            metrics: Vec::new(),
        })
    }

    fn backbone<'m>(&self, model: &'m EmaRegressionModel) -> &'m TinyConvNet {
        &model.backbone
    }

    fn backbone_config(&self) -> &TinyConvNetConfig {
        &self.encoder
    }

    fn param_groups(&self) -> ParamGroups {
        ParamGroups {
            no_weight_decay_on_bias_and_norm: true,
            ..ParamGroups::default()
        }
    }

    fn after_step(&self, model: EmaRegressionModel, _ctx: &StepContext<'_>) -> EmaRegressionModel {
        EmaRegressionModel {
            target: update_momentum(model.target, &model.backbone, self.momentum),
            ..model
        }
    }
}

#[test]
fn a_users_method_and_encoder_train_resume_and_are_evaluated() {
    let data = TrainData::new(dataset(48, 4, true), Arc::new(SimSiamTransform::cifar10()));
    let method = || EmaRegression {
        encoder: encoder(),
        momentum: 0.9,
    };
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = Trainer::new(method(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(whole_dir.path());
    let initial = whole.init_model();
    let initial_copy = independent_copy(&whole, &initial);
    let reference = whole.fit(initial, &data).unwrap();
    assert_eq!(
        reference.model.steps_seen.value_sync().into_scalar::<f32>(),
        12.0,
        "the state outside the gradient counted every step"
    );

    // Killed after step 5, resumed from the step-4 checkpoint: the same run, state included.
    let cut_dir = tempfile::tempdir().unwrap();
    let cut_config = selfsup_train::TrainingConfig {
        checkpoint_every: Some(4),
        ..config(2, 8)
    };
    let cut = Trainer::new(method(), cut_config.clone(), &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .stop_after_steps(5);
    cut.fit(initial_copy, &data).unwrap();
    let checkpoint = cut.checkpoint_path().unwrap();
    let resumed = Trainer::new(method(), cut_config, &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .resume(&checkpoint, &data)
        .unwrap();
    assert_eq!(resumed.history.step_losses, reference.history.step_losses);
    assert!(all_values(&resumed.model) == all_values(&reference.model));

    // The evaluation code loads the user's encoder from the checkpoint, knowing neither it nor
    // the method.
    let loaded = load_encoder::<TinyConvNetConfig>(
        &whole_dir.path().join(selfsup_train::files::CHECKPOINT),
        &device(),
    )
    .unwrap();
    assert_eq!(loaded.method, "ema_regression");
    assert_eq!(loaded.config, encoder());
    assert_eq!(
        all_values(&loaded.encoder),
        all_values(&reference.model.backbone)
    );

    let images = dataset(40, 4, true);
    let train: Vec<usize> = (0..24).collect();
    let test: Vec<usize> = (24..40).collect();
    let splits = EvalSplits {
        train: images.as_ref(),
        train_indices: &train,
        test: images.as_ref(),
        test_indices: &test,
        normalize: None,
        batch_size: 8,
    };
    let probe = linear_probe_backbone(
        &loaded.encoder,
        splits,
        &LinearProbeConfig::new().with_epochs(5),
        &device(),
    )
    .unwrap();
    assert_eq!(probe.test.predictions.len(), 16);
    let knn = knn_backbone(
        &loaded.encoder,
        splits,
        &KnnConfig::new().with_k(5),
        &device(),
    )
    .unwrap();
    assert_eq!(knn.predictions.len(), 16);

    // Fine-tuning: a classifier around the loaded encoder, trained with the supervised method.
    let finetune = SupervisedMethod::new(ClassifierConfig::new(loaded.config.clone(), 4));
    let trainer = Trainer::new(finetune, config(1, 8), &device()).unwrap();
    let classifier = ClassifierConfig::new(loaded.config, 4)
        .init_with_backbone(loaded.encoder.fork(trainer.device()), trainer.device());
    let tuned = trainer
        .fit(
            classifier,
            &TrainData::new(images.clone(), Arc::new(SimSiamTransform::cifar10())),
        )
        .unwrap();
    let report =
        evaluate_classifier(&tuned.model, images.as_ref(), &test, None, 8, &device()).unwrap();
    assert_eq!(report.predictions.len(), 16);
}

/// Two steps of `method` with the user's encoder.
fn two_steps<M: Method<EncoderConfig = TinyConvNetConfig>>(
    method: M,
    transform: Arc<dyn selfsup_data::MultiViewTransform>,
) {
    let data = TrainData::new(dataset(16, 4, false), transform);
    let trainer = Trainer::new(method, config(1, 8), &device()).unwrap();
    let outcome = trainer.fit(trainer.init_model(), &data).unwrap();
    assert_eq!(outcome.history.step_losses.len(), 2, "{}", M::NAME);
    assert!(
        outcome.history.step_losses.iter().all(|l| l.is_finite()),
        "{}: {:?}",
        M::NAME,
        outcome.history.step_losses
    );
}

#[test]
fn every_built_in_method_trains_a_users_encoder() {
    let two = || Arc::new(SimSiamTransform::cifar10());
    let d = encoder().features;
    two_steps(
        SimClrMethod::new(
            SimClrConfig::new(encoder()).with_projector(
                SimClrProjectionHeadConfig::new()
                    .with_input_dim(d)
                    .with_output_dim(8),
            ),
        ),
        two(),
    );
    two_steps(
        SimSiamMethod::new(SimSiamConfig::new(
            encoder(),
            SimSiamProjectionHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_output_dim(16),
            SimSiamPredictionHeadConfig::new()
                .with_input_dim(16)
                .with_hidden_dim(8)
                .with_output_dim(16),
        )),
        two(),
    );
    two_steps(
        ByolMethod::new(ByolConfig {
            backbone: encoder(),
            projector: ByolProjectionHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_output_dim(8),
            predictor: ByolPredictionHeadConfig::new()
                .with_input_dim(8)
                .with_hidden_dim(16)
                .with_output_dim(8),
        }),
        Arc::new(ByolTransform::cifar10()),
    );
    two_steps(
        MocoMethod::new(MocoConfig {
            backbone: encoder(),
            projector: MocoProjectionHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_output_dim(8),
            predictor: None,
            queue_size: 32,
        }),
        two(),
    );
    two_steps(
        BarlowTwinsMethod::new(BarlowTwinsConfig {
            backbone: encoder(),
            projector: BarlowTwinsProjectionHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_output_dim(16),
        }),
        two(),
    );
    two_steps(
        VicRegMethod::new(VicRegConfig {
            backbone: encoder(),
            projector: VicRegProjectionHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_output_dim(16),
        }),
        two(),
    );
    let multi_crop = || {
        Arc::new(
            MultiCropTransform::dino_cifar10()
                .with_local_views(2, 16, (0.05, 0.4))
                .unwrap(),
        )
    };
    two_steps(
        DinoMethod::new(DinoConfig {
            backbone: encoder(),
            head: DinoHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_bottleneck_dim(8)
                .with_output_dim(32),
        }),
        multi_crop(),
    );
    two_steps(
        SwavMethod::new(SwavConfig {
            backbone: encoder(),
            projector: SwavProjectionHeadConfig::new()
                .with_input_dim(d)
                .with_hidden_dim(16)
                .with_output_dim(8),
            prototypes: SwavPrototypesConfig::new()
                .with_input_dim(8)
                .with_n_prototypes(10),
            queue_size: 0,
            high_resolution_views: 2,
        }),
        multi_crop(),
    );
}
