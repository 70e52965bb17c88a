//! BYOL, MoCo, Barlow Twins, VICReg, DINO, SwAV, NNCLR and MAE through the trainer: each trains,
//! resumes bit for bit (EMA targets, queues, NNCLR's support set and the DINO centre included), and its backbone loads for
//! evaluation from the checkpoint alone.

use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use selfsup_data::{ByolTransform, MultiCropTransform, MultiViewTransform, SimSiamTransform};
use selfsup_models::{
    BackboneConfig, BarlowTwinsProjectionHeadConfig, ByolPredictionHeadConfig,
    ByolProjectionHeadConfig, DinoHeadConfig, MocoPredictionHeadConfig, MocoProjectionHeadConfig,
    NnclrPredictionHeadConfig, NnclrProjectionHeadConfig, SmallCnnConfig, SwavProjectionHeadConfig,
    SwavPrototypesConfig, VicRegProjectionHeadConfig, VitConfig,
};
use selfsup_train::{
    BarlowTwinsConfig, BarlowTwinsMethod, ByolConfig, ByolMethod, Checkpoint, DinoConfig,
    DinoMethod, History, MaeConfig, MaeMethod, Method, MocoConfig, MocoMethod, NnclrConfig,
    NnclrMethod, SwavConfig, SwavMethod, TrainData, Trainer, TrainingConfig, VicRegConfig,
    VicRegMethod, extract_features, load_backbone,
};

use crate::support::device;
use crate::trainer::{config, dataset};

fn tiny_backbone() -> BackboneConfig {
    BackboneConfig::SmallCnn(SmallCnnConfig::new().with_channels(vec![4, 8]))
}

pub fn tiny_byol() -> ByolMethod {
    ByolMethod::new(ByolConfig {
        backbone: tiny_backbone(),
        projector: ByolProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
        predictor: ByolPredictionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
    })
}

pub fn tiny_moco_v2() -> MocoMethod {
    MocoMethod::new(MocoConfig {
        backbone: tiny_backbone(),
        projector: MocoProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
        predictor: None,
        queue_size: 24,
    })
}

fn tiny_moco_v3() -> MocoMethod {
    let mut method = MocoMethod::new(MocoConfig {
        backbone: tiny_backbone(),
        projector: MocoProjectionHeadConfig::v3()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
        predictor: Some(
            MocoPredictionHeadConfig::new()
                .with_input_dim(8)
                .with_hidden_dim(16)
                .with_output_dim(8),
        ),
        queue_size: 0,
    })
    .with_momentum(0.99, 1.0);
    method.scale_by_temperature = true;
    method
}

fn tiny_barlow() -> BarlowTwinsMethod {
    BarlowTwinsMethod::new(BarlowTwinsConfig {
        backbone: tiny_backbone(),
        projector: BarlowTwinsProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(16),
    })
}

fn tiny_vicreg() -> VicRegMethod {
    VicRegMethod::new(VicRegConfig {
        backbone: tiny_backbone(),
        projector: VicRegProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(16),
    })
}

pub fn tiny_dino() -> DinoMethod {
    DinoMethod::new(DinoConfig {
        backbone: tiny_backbone(),
        head: DinoHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_bottleneck_dim(8)
            .with_output_dim(32),
    })
}

pub fn tiny_swav(queue_start_epoch: usize) -> SwavMethod {
    let mut method = SwavMethod::new(SwavConfig {
        backbone: tiny_backbone(),
        projector: SwavProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
        prototypes: SwavPrototypesConfig::new()
            .with_input_dim(8)
            .with_n_prototypes(10),
        queue_size: 16,
        high_resolution_views: 2,
    });
    method.queue_start_epoch = queue_start_epoch;
    method
}

/// NNCLR with a support set of 24 (three batches of 8: it turns over within an epoch).
pub fn tiny_nnclr() -> NnclrMethod {
    NnclrMethod::new(NnclrConfig {
        backbone: tiny_backbone(),
        projector: NnclrProjectionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
        predictor: NnclrPredictionHeadConfig::new()
            .with_input_dim(8)
            .with_hidden_dim(16)
            .with_output_dim(8),
        queue_size: 24,
    })
}

/// MAE on a ViT of one block of 16 features over 4×4 patches of 32-pixel images (64 patches,
/// 16 visible), with a decoder of one block of 8 features.
pub fn tiny_mae() -> MaeMethod {
    let vit =
        VitConfig::new(32, 4, 16, 1, 2).with_position(selfsup_models::PositionEmbedding::SinCos);
    MaeMethod::new(MaeConfig {
        backbone: BackboneConfig::Vit(vit),
        decoder_dim: 8,
        decoder_depth: 1,
        decoder_heads: 2,
    })
}

fn two_views() -> Arc<dyn MultiViewTransform> {
    Arc::new(SimSiamTransform::cifar10())
}

/// DINO's and SwAV's crops: two global 32×32 views and two local 16×16 ones.
fn multi_crop() -> Arc<dyn MultiViewTransform> {
    Arc::new(
        MultiCropTransform::dino_cifar10()
            .with_local_views(2, 16, (0.05, 0.4))
            .unwrap(),
    )
}

/// Every float tensor of a module (parameters, batch-norm statistics, queues, centres), in
/// visit order.
pub fn all_values<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(param.val().into_data().iter::<f32>());
        }
    }
    let mut collect = Collect(Vec::new());
    module.valid().visit(&mut collect);
    collect.0
}

/// A copy of `model` that shares no running state with it (Burn's `clone` shares the storage of
/// `RunningState`s: batch-norm statistics, queues, centres).
pub fn independent_copy<M: Method>(trainer: &Trainer<M>, model: &M::Model) -> M::Model {
    trainer
        .method()
        .init_model(trainer.device())
        .load_record(model.clone().into_record())
}

/// Runs `make()` uninterrupted for 2 epochs of 6 steps, then killed after step 5 (last
/// checkpoint at step 4, mid-epoch) and resumed; the resumed run must give the same losses and
/// the same final tensors, bit for bit. Returns the uninterrupted run's history.
pub(crate) fn assert_resume_is_exact<M: Method>(
    make: impl Fn() -> M,
    transform: Arc<dyn MultiViewTransform>,
) -> History {
    let data = TrainData::new(dataset(48, 10, false), transform);
    let whole_dir = tempfile::tempdir().unwrap();
    let cut_dir = tempfile::tempdir().unwrap();
    let whole = Trainer::new(make(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(whole_dir.path());
    let initial = whole.init_model();
    // A copy with its own running state (a clone would share the batch-norm statistics, queues
    // and centres that the first run updates).
    let initial_copy = independent_copy(&whole, &initial);
    let reference = whole.fit(initial, &data).unwrap();
    assert_eq!(reference.history.step_losses.len(), 12);
    assert!(
        reference.history.step_losses.iter().all(|l| l.is_finite()),
        "{}: finite losses {:?}",
        M::NAME,
        reference.history.step_losses
    );

    let cut_config = TrainingConfig {
        checkpoint_every: Some(4),
        ..config(2, 8)
    };
    let cut = Trainer::new(make(), cut_config.clone(), &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .stop_after_steps(5);
    assert!(!cut.fit(initial_copy, &data).unwrap().finished);
    let checkpoint = cut.checkpoint_path().unwrap();
    assert_eq!(Checkpoint::read(&checkpoint).unwrap().state.step, 4);

    let resumed = Trainer::new(make(), cut_config, &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .resume(&checkpoint, &data)
        .unwrap();
    assert_eq!(
        resumed.history.step_losses,
        reference.history.step_losses,
        "{}: the resumed run's losses equal the uninterrupted run's",
        M::NAME
    );
    let (a, b) = (all_values(&resumed.model), all_values(&reference.model));
    let first = a.iter().zip(&b).position(|(x, y)| x != y);
    assert!(
        a.len() == b.len() && first.is_none(),
        "{}: the resumed run ends with the same tensors (online, target, state): {} vs {} values, first difference at {first:?}: {:?}",
        M::NAME,
        a.len(),
        b.len(),
        first.map(|i| (a[i], b[i]))
    );
    reference.history
}

#[test]
fn byol_resumes_exactly_with_its_ema_target() {
    let history = assert_resume_is_exact(tiny_byol, Arc::new(ByolTransform::cifar10()));
    let momentum = history.epochs[0].metrics["momentum"];
    assert!(
        (0.99..1.0).contains(&momentum),
        "the logged momentum follows the cosine schedule from 0.99: {momentum}"
    );
}

#[test]
fn moco_v2_resumes_exactly_with_its_queue() {
    assert_resume_is_exact(tiny_moco_v2, two_views());
}

#[test]
fn nnclr_resumes_exactly_with_its_support_set() {
    assert_resume_is_exact(tiny_nnclr, Arc::new(ByolTransform::cifar10()));
}

/// NNCLR's support set holds the normalised projections of the first view of the last batches,
/// newest first: after one step of 8 images, its first 8 rows are that batch's unit `z₁`, the
/// rest the initial queue moved down.
#[test]
fn nnclr_enqueues_the_first_views_unit_projections() {
    let data = TrainData::new(dataset(8, 10, false), two_views());
    let trainer = Trainer::new(tiny_nnclr(), config(1, 8), &device()).unwrap();
    let initial = trainer.init_model();
    let before = crate::support::values(initial.queue.value_sync());
    let outcome = trainer.fit(initial, &data).unwrap();
    let after = crate::support::values(outcome.model.queue.value_sync());
    assert_eq!(after.len(), 24 * 8);
    assert_eq!(
        &after[8 * 8..],
        &before[..16 * 8],
        "the older rows move down"
    );
    for row in after[..8 * 8].chunks(8) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "a unit row: {norm}");
    }
    assert_ne!(&after[..8 * 8], &before[..8 * 8], "new rows in front");
}

#[test]
fn moco_v3_resumes_exactly() {
    assert_resume_is_exact(tiny_moco_v3, two_views());
}

#[test]
fn barlow_twins_and_vicreg_resume_exactly() {
    assert_resume_is_exact(tiny_barlow, two_views());
    assert_resume_is_exact(tiny_vicreg, two_views());
}

#[test]
fn dino_resumes_exactly_with_its_centre_over_multi_crop_batches() {
    let history = assert_resume_is_exact(tiny_dino, multi_crop());
    assert!((history.epochs[0].metrics["teacher_temp"] - 0.04).abs() < 1e-6);
}

#[test]
fn swav_resumes_exactly_with_its_queue_in_use() {
    // The queue joins the codes from epoch 1, the epoch the run is resumed in.
    assert_resume_is_exact(|| tiny_swav(1), multi_crop());
}

/// Trains `method` for a few steps into a run directory and checks that `load_backbone` gives
/// the trained backbone (same features), whatever the method.
fn assert_backbone_loads<M: Method<EncoderConfig = BackboneConfig>>(
    method: M,
    transform: Arc<dyn MultiViewTransform>,
) {
    let dir = tempfile::tempdir().unwrap();
    let data = TrainData::new(dataset(32, 10, false), transform);
    let trainer = Trainer::new(method, config(1, 8), &device())
        .unwrap()
        .with_out_dir(dir.path());
    let outcome = trainer.fit(trainer.init_model(), &data).unwrap();
    let loaded = load_backbone(&trainer.checkpoint_path().unwrap(), &device()).unwrap();
    assert_eq!(loaded.method, M::NAME);
    let images = dataset(8, 10, false);
    let indices: Vec<usize> = (0..8).collect();
    let trained = extract_features(
        trainer.method().backbone(&outcome.model),
        images.as_ref(),
        &indices,
        None,
        8,
        &device(),
    )
    .unwrap();
    let reloaded = extract_features(
        &loaded.backbone,
        images.as_ref(),
        &indices,
        None,
        8,
        &device(),
    )
    .unwrap();
    assert_eq!(
        crate::support::values(trained.features),
        crate::support::values(reloaded.features),
        "{}: the loaded backbone is the trained one",
        M::NAME
    );
}

#[test]
fn every_methods_backbone_loads_for_evaluation() {
    assert_backbone_loads(tiny_byol(), Arc::new(ByolTransform::cifar10()));
    assert_backbone_loads(tiny_moco_v2(), two_views());
    assert_backbone_loads(tiny_barlow(), two_views());
    assert_backbone_loads(tiny_vicreg(), two_views());
    assert_backbone_loads(tiny_dino(), multi_crop());
    assert_backbone_loads(tiny_swav(0), multi_crop());
    assert_backbone_loads(tiny_nnclr(), two_views());
}

#[test]
fn dino_freezes_its_last_layer_in_the_first_epoch_only() {
    let data = TrainData::new(dataset(32, 10, false), multi_crop());
    let trainer = Trainer::new(tiny_dino(), config(2, 8), &device()).unwrap();
    let initial = trainer.init_model();
    let last_layer = |m: &selfsup_train::Dino| all_values(&m.head.last_layer);
    let student_mlp = |m: &selfsup_train::Dino| all_values(&m.head.mlp);
    // One epoch: the last layer has not moved, the rest has.
    let one = Trainer::new(tiny_dino(), config(1, 8), &device())
        .unwrap()
        .fit(initial.clone(), &data)
        .unwrap();
    assert_eq!(last_layer(&one.model), last_layer(&initial));
    assert_ne!(student_mlp(&one.model), student_mlp(&initial));
    // Two epochs: it moves in the second.
    let two = trainer.fit(initial.clone(), &data).unwrap();
    assert_ne!(last_layer(&two.model), last_layer(&initial));
}

#[test]
fn swav_freezes_its_prototypes_in_the_first_epoch_only() {
    let data = TrainData::new(dataset(32, 10, false), multi_crop());
    let trainer = Trainer::new(tiny_swav(0), config(1, 8), &device()).unwrap();
    let initial = trainer.init_model();
    let one = trainer.fit(initial.clone(), &data).unwrap();
    assert_eq!(
        all_values(&one.model.prototypes),
        all_values(&initial.prototypes)
    );
    let two = Trainer::new(tiny_swav(0), config(2, 8), &device())
        .unwrap()
        .fit(initial.clone(), &data)
        .unwrap();
    assert_ne!(
        all_values(&two.model.prototypes),
        all_values(&initial.prototypes)
    );
}

#[test]
fn bad_method_hyper_parameters_are_refused_before_training() {
    let mut moco = tiny_moco_v2();
    moco.temperature = 0.0;
    let err = Trainer::new(moco, config(1, 8), &device()).unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");
    let nnclr = tiny_nnclr().with_temperature(-1.0);
    let err = Trainer::new(nnclr, config(1, 8), &device()).unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");
    let mut nnclr = tiny_nnclr();
    nnclr.model.queue_size = 0;
    let err = Trainer::new(nnclr, config(1, 8), &device()).unwrap_err();
    assert!(err.to_string().contains("queue_size"), "{err}");
    let byol = tiny_byol().with_momentum(1.5, 1.0);
    let err = Trainer::new(byol, config(1, 8), &device()).unwrap_err();
    assert!(err.to_string().contains("momentum.base"), "{err}");
}

#[test]
fn a_method_needing_more_views_than_the_transform_makes_says_so() {
    let data = TrainData::new(dataset(16, 10, false), two_views());
    let mut dino = tiny_dino();
    dino.global_views = 3;
    let trainer = Trainer::new(dino, config(1, 8), &device()).unwrap();
    let err = trainer.fit(trainer.init_model(), &data).unwrap_err();
    assert!(err.to_string().contains("needs 3 views"), "{err}");
}

/// The collapse monitor (`embedding_std`, ≈1 for spread-out embeddings, → 0 on collapse) of
/// every epoch of a short run (16 epochs of 4 steps of 16 images).
fn embedding_stds<M: Method>(method: M, transform: Arc<dyn MultiViewTransform>) -> Vec<f64> {
    let data = TrainData::new(dataset(64, 10, false), transform);
    let trainer = Trainer::new(
        method,
        TrainingConfig {
            lr: 1.0,
            ..config(16, 16)
        },
        &device(),
    )
    .unwrap();
    let outcome = trainer.fit(trainer.init_model(), &data).unwrap();
    outcome
        .history
        .epochs
        .iter()
        .map(|e| e.embedding_std.unwrap())
        .collect()
}

/// Asserts that `ablated` collapses (its monitor falls below 0.1 and to under a quarter of its
/// first epoch's) while `full` stays above `healthy` throughout.
fn assert_collapse(name: &str, full: &[f64], ablated: &[f64], healthy: f64) {
    let (first, last) = (ablated[0], *ablated.last().unwrap());
    assert!(
        last < 0.1 && last < 0.25 * first,
        "{name}: the ablation's collapse monitor falls toward 0: {ablated:?}"
    );
    assert!(
        full.iter().all(|&s| s > healthy),
        "{name}: the full method's stays healthy: {full:?}"
    );
}

/// The momentum family. BYOL Table 5 / SimSiam Table 1: without the predictor, and with the
/// target being the online network itself (momentum 0), the representation collapses; the full
/// method does not.
#[test]
fn byol_collapses_without_its_predictor_and_ema_and_not_with_them() {
    let transform = || -> Arc<dyn MultiViewTransform> { Arc::new(SimSiamTransform::cifar10()) };
    let full = embedding_stds(tiny_byol(), transform());
    let ablated = embedding_stds(
        tiny_byol().with_predictor(false).with_momentum(0.0, 0.0),
        transform(),
    );
    assert_collapse("byol", &full, &ablated, 0.5);
}

/// The redundancy-reduction family. VICReg §4.5 (Table 4): with the invariance term alone, the
/// embeddings collapse; the variance and covariance terms prevent it.
#[test]
fn vicreg_collapses_with_invariance_alone_and_not_with_its_regularisers() {
    let full = embedding_stds(tiny_vicreg(), two_views());
    let mut ablated = tiny_vicreg();
    ablated.loss.variance = 0.0;
    ablated.loss.covariance = 0.0;
    let ablated = embedding_stds(ablated, two_views());
    assert_collapse("vicreg", &full, &ablated, 0.5);
}

#[test]
fn mae_resumes_exactly_with_its_masks() {
    // One view per image is enough for MAE; the two-view transform's first view is used.
    let history = assert_resume_is_exact(tiny_mae, two_views());
    assert!(
        history.step_losses[0] > 0.5,
        "the first losses are of order 1 on normalised pixels"
    );
}

#[test]
fn mae_masks_depend_on_the_run_seed_and_the_step_only() {
    let method = tiny_mae();
    let plan = |seed, step| method.mask_plan(4, 64, seed, step);
    assert_eq!(plan(0, 3), plan(0, 3));
    assert_ne!(plan(0, 3).ids_keep(), plan(0, 4).ids_keep());
    assert_ne!(plan(0, 3).ids_keep(), plan(1, 3).ids_keep());
    let p = plan(5, 0);
    assert_eq!(p.kept(), 16);
    let mask = p.mask();
    for row in mask.chunks(64) {
        assert_eq!(
            row.iter().filter(|&&m| m == 0.0).count(),
            16,
            "16 visible per image"
        );
    }
    // Each image draws its own mask.
    assert_ne!(&mask[..64], &mask[64..128]);
}

#[test]
fn mae_refuses_a_convolutional_encoder_before_any_work() {
    let mut method = tiny_mae();
    method.model.backbone = tiny_backbone();
    let Err(err) = Trainer::new(method, config(1, 8), &device()) else {
        panic!("MAE on a CNN was accepted")
    };
    assert!(err.to_string().contains("masks patches of a ViT"), "{err}");
}

/// NNCLR's nearest-neighbour accuracy (solo-learn's `train_nn_acc`) against a direct
/// computation: with the support set holding the batch's own unit projections, each image's
/// neighbour is itself, so the accuracy is the share of rows whose stored class is the image's.
#[test]
fn nnclr_nn_accuracy_is_the_share_of_same_class_neighbours() {
    use burn::module::RunningState;
    use selfsup_train::method::StepContext;
    let method = tiny_nnclr();
    let device = device().autodiff();
    let loader = selfsup_data::Loader::new(
        dataset(8, 10, false),
        two_views(),
        selfsup_data::LoaderConfig {
            batch_size: 8,
            num_workers: 1,
            ..selfsup_data::LoaderConfig::default()
        },
    )
    .unwrap();
    let batch = loader.epoch(0).next().unwrap().unwrap();
    let targets: Vec<usize> = batch.targets.iter().map(|t| t.unwrap()).collect();
    let ctx = StepContext {
        device: &device,
        step: 0,
        total_steps: 1,
        epoch: 0,
        epochs: 1,
        steps_per_epoch: 1,
        seed: 0,
    };
    for wrong in 0..=8usize {
        let model = method.init_model(&device);
        // The support set: the batch's own first-view unit projections, then 16 far-off rows.
        let z1 = model.project(batch.view(0, &device)).detach();
        let unit = selfsup_train::knn::l2_normalize(z1);
        let far = unit.clone().neg();
        let queue = Tensor::cat(vec![unit.clone(), far.clone(), far], 0);
        // The first `wrong` rows hold another class.
        let mut labels: Vec<f32> = targets
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                if i < wrong {
                    ((t + 1) % 10) as f32
                } else {
                    t as f32
                }
            })
            .collect();
        labels.extend(std::iter::repeat_n(-1.0, 16));
        let model = selfsup_train::Nnclr {
            queue: RunningState::new(queue),
            queue_labels: RunningState::new(Tensor::from_data(
                TensorData::new(labels, [24, 1]),
                &device,
            )),
            ..model
        };
        let out = method.step(&model, &batch, &ctx).unwrap();
        let (_, value) = out
            .metrics
            .iter()
            .find(|(name, _)| name == "nn_accuracy")
            .expect("nn_accuracy");
        let value = value.clone().into_scalar::<f32>();
        let expected = (8 - wrong) as f32 / 8.0;
        assert!((value - expected).abs() < 1e-6, "{wrong} wrong: {value}");
        // The classes of the batch now lead the support set's labels.
        let stored = crate::support::values(model.queue_labels.value_sync());
        let expected: Vec<f32> = targets.iter().map(|&t| t as f32).collect();
        assert_eq!(&stored[..8], &expected[..]);
    }
}
