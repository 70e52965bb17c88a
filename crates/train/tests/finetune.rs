//! Fine-tuning a ViT as MAE does: layer-wise LR decay through Burn's optimizer on a real
//! classifier, the weight-decay exemptions, MAE's recipe, Mixup / CutMix with label smoothing
//! and stochastic depth resuming bit for bit; and the DINO paper's weight-decay schedule.

use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_data::transforms::Normalize;
use selfsup_data::{MultiViewTransform, SimSiamTransform};
use selfsup_models::{BackboneConfig, SmallCnnConfig, VitConfig};
use selfsup_train::mixup::MixupConfig;
use selfsup_train::{
    ClassifierConfig, CosineScheduleConfig, GroupedSchedule, LrScaling, Method, OptimizerConfig,
    Scale, Setup, SupervisedMethod, TrainData, Trainer, TrainingConfig, layer_decay_groups,
};

use crate::methods::{all_values, assert_resume_is_exact};
use crate::support::device;
use crate::trainer::dataset;

/// A ViT of 3 blocks of 16 features over 4×4 patches of 32-pixel images.
fn vit() -> BackboneConfig {
    BackboneConfig::Vit(VitConfig::new(32, 4, 16, 3, 2))
}

/// Every trainable float parameter with its module path, as Burn's optimizer names it.
fn paths<M: Module>(module: &M) -> Vec<(ParamId, String)> {
    struct Paths {
        stack: Vec<String>,
        out: Vec<(ParamId, String)>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.push((param.id, self.stack.join(".")));
        }
    }
    let mut visitor = Paths {
        stack: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

/// MAE's `get_layer_id_for_vit` (util/lr_decay.py), written from the timm name after the
/// classifier's `backbone.` prefix (and Burn's enum variant).
fn mae_layer_id(path: &str, depth: usize) -> usize {
    let name = path
        .split_once("Vit.")
        .map_or(path, |(_, rest)| rest)
        .to_string();
    if ["cls_token", "pos_embed", "patch_embed", "reg_token"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        0
    } else if let Some(rest) = name.strip_prefix("blocks.") {
        rest.split('.').next().unwrap().parse::<usize>().unwrap() + 1
    } else {
        depth + 1
    }
}

#[test]
fn layer_decay_scales_every_parameter_as_mae_does() {
    let device = device().autodiff();
    let method = SupervisedMethod {
        layer_decay: Some(0.5),
        ..SupervisedMethod::new(ClassifierConfig::new(vit(), 10))
    };
    method.validate().unwrap();
    let model = method.init_model(&device);
    let images = Tensor::<4>::random([2, 3, 32, 32], burn::tensor::Distribution::Default, &device);
    let loss = model.forward(images).square().sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let before: Vec<(ParamId, String, Vec<f32>)> = {
        let mut out = Vec::new();
        struct Values<'a>(&'a mut Vec<(ParamId, Vec<f32>)>);
        impl ModuleVisitor for Values<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0
                    .push((param.id, param.val().into_data().iter::<f32>().collect()));
            }
        }
        let mut values = Vec::new();
        model.visit(&mut Values(&mut values));
        for ((id, path), (id2, v)) in paths(&model).into_iter().zip(values) {
            assert_eq!(id, id2);
            out.push((id, path, v));
        }
        out
    };
    let grad_values: Vec<Option<Vec<f32>>> = {
        struct Grads<'a>(&'a GradientsParams, Vec<Option<Vec<f32>>>);
        impl ModuleVisitor for Grads<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let grad = self.0.get::<D>(param.id);
                self.1
                    .push(grad.map(|g| g.into_data().iter::<f32>().collect()));
            }
        }
        let mut g = Grads(&grads, Vec::new());
        model.visit(&mut g);
        g.1
    };

    let base = 0.1;
    let schedule = GroupedSchedule::new(
        CosineScheduleConfig::constant(base, 10).init().unwrap(),
        method.param_groups().lr,
    )
    .unwrap();
    let mut optimizer = OptimizerConfig::sgd(0.0, 0.0).init().unwrap();
    let model = optimizer.step(schedule.lr_at(0), model, grads);

    struct After(Vec<Vec<f32>>);
    impl ModuleVisitor for After {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data().iter::<f32>().collect());
        }
    }
    let mut after = After(Vec::new());
    model.visit(&mut after);

    let depth = 3;
    let mut seen = [0usize; 5];
    for (((_, path, old), new), grad) in before.iter().zip(&after.0).zip(&grad_values) {
        let Some(grad) = grad else {
            continue;
        };
        let layer = mae_layer_id(path, depth);
        seen[layer] += 1;
        // MAE: lr_scale = decay^(num_layers − layer_id), num_layers = depth + 1.
        let lr = base * 0.5f64.powi((depth + 1 - layer) as i32);
        for ((o, n), g) in old.iter().zip(new).zip(grad) {
            let want = o - (lr as f32) * g;
            assert!(
                (n - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{path}: layer {layer}, LR {lr}: {n} vs {want}"
            );
        }
    }
    // The embedding (class token, patch embedding), every block and the norm and head.
    assert!(
        seen.iter().all(|&n| n > 0),
        "parameters per layer: {seen:?}"
    );
}

#[test]
fn layer_decay_groups_follow_the_layers() {
    let layers = VitConfig::new(32, 4, 16, 2, 2).layers();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[2], vec!["blocks.1.".to_string()]);
    let groups = layer_decay_groups(&layers, 0.75).unwrap();
    let scale = |fragment: &str| {
        groups
            .iter()
            .find(|g| g.path_contains == fragment)
            .map(|g| g.scale)
    };
    assert_eq!(scale("cls_token"), Some(0.75f64.powi(3)));
    assert_eq!(scale("patch_embed."), Some(0.75f64.powi(3)));
    assert_eq!(scale("blocks.0."), Some(0.75f64.powi(2)));
    assert_eq!(scale("blocks.1."), Some(0.75));
    assert!(groups.iter().all(|g| !g.fixed));
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let err = layer_decay_groups(&layers, bad).unwrap_err().to_string();
        assert!(err.contains("layer_decay"), "{err}");
    }
}

#[test]
fn tokens_biases_and_norms_are_exempt_from_weight_decay() {
    let method = SupervisedMethod {
        exclude_bias_norm_and_tokens: true,
        ..SupervisedMethod::new(ClassifierConfig::new(vit(), 10))
    };
    let groups = method.param_groups();
    assert!(groups.no_weight_decay_on_bias_and_norm);
    for token in ["cls_token", "pos_embed", "reg_token"] {
        assert!(
            groups.no_weight_decay_paths.iter().any(|p| p == token),
            "{token}"
        );
    }
    let plain = SupervisedMethod::new(ClassifierConfig::new(vit(), 10)).param_groups();
    assert!(plain.no_weight_decay_paths.is_empty() && plain.lr.is_empty());
}

#[test]
fn maes_recipe_refuses_what_it_cannot_fine_tune() {
    // The values are checked against solo-learn's file in recipes.rs.
    let setup = Setup::new(vit(), Scale::Cifar, 32, Normalize::cifar10());
    let published =
        SupervisedMethod::mae_finetune(ClassifierConfig::new(vit(), 10), &setup).unwrap();
    assert_eq!(published.views.num_views(), 1);
    let cnn = BackboneConfig::SmallCnn(SmallCnnConfig::new());
    let setup = Setup::new(cnn.clone(), Scale::Cifar, 32, Normalize::cifar10());
    let err = SupervisedMethod::mae_finetune(ClassifierConfig::new(cnn.clone(), 10), &setup)
        .unwrap_err()
        .to_string();
    assert!(err.contains("ViT"), "{err}");
    let err = SupervisedMethod {
        layer_decay: Some(0.75),
        ..SupervisedMethod::new(ClassifierConfig::new(cnn, 10))
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("layer_decay"), "{err}");
    let err = SupervisedMethod {
        drop_path: 0.1,
        ..SupervisedMethod::new(ClassifierConfig::new(
            BackboneConfig::SmallCnn(SmallCnnConfig::new()),
            10,
        ))
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("drop_path") && err.contains("ViT"), "{err}");
    // A probability of dropping every block's branches.
    let err = SupervisedMethod {
        drop_path: 1.0,
        ..SupervisedMethod::new(ClassifierConfig::new(vit(), 10))
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("drop_path") && err.contains("[0, 1)"), "{err}");
    let err = SupervisedMethod {
        label_smoothing: 1.0,
        ..SupervisedMethod::new(ClassifierConfig::new(vit(), 10))
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("label_smoothing"), "{err}");
}

fn views() -> Arc<dyn MultiViewTransform> {
    Arc::new(SimSiamTransform::cifar10())
}

#[test]
fn finetuning_with_mixup_and_drop_path_resumes_exactly() {
    let make = || SupervisedMethod {
        label_smoothing: 0.1,
        mixup: Some(MixupConfig::mae()),
        layer_decay: Some(0.75),
        exclude_bias_norm_and_tokens: true,
        drop_path: 0.3,
        ..SupervisedMethod::new(ClassifierConfig::new(vit(), 10))
    };
    let history = assert_resume_is_exact(make, views());
    // Soft targets: the loss of a near-uniform prediction is about log 10.
    assert!(
        (f64::from(history.step_losses[0]) - 10f64.ln()).abs() < 0.5,
        "{:?}",
        history.step_losses
    );
}

/// A ViT classifier trained 4 steps of AdamW (weight decay 0.05) on `config`'s schedule.
fn adamw_run(weight_decay_end: Option<f64>) -> Vec<f32> {
    let method = SupervisedMethod {
        layer_decay: Some(0.5),
        exclude_bias_norm_and_tokens: true,
        ..SupervisedMethod::new(ClassifierConfig::new(vit(), 10))
    };
    let config = TrainingConfig {
        epochs: 1,
        batch_size: 8,
        lr: 0.05,
        lr_scaling: LrScaling::None,
        cosine: true,
        optimizer: OptimizerConfig::AdamW {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.05,
        },
        weight_decay_end,
        num_workers: 1,
        seed: 3,
        ..TrainingConfig::adam_constant()
    };
    let trainer = Trainer::new(method, config, &device()).unwrap();
    let data = TrainData::new(dataset(32, 10, false), views());
    let outcome = trainer.fit(trainer.init_model(), &data).unwrap();
    all_values(&outcome.model)
}

#[test]
fn a_constant_weight_decay_schedule_is_adamws_own_decay() {
    // The scheduled decay is applied by the trainer, AdamW's by the optimizer: with the same
    // value at every step (groups, exemptions and layer-wise LRs included) they agree.
    let own = adamw_run(None);
    let scheduled = adamw_run(Some(0.05));
    assert_eq!(own.len(), scheduled.len());
    for (i, (a, b)) in own.iter().zip(&scheduled).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
            "value {i}: {a} vs {b}"
        );
    }
    // A rising decay shrinks the decayed weights further.
    let rising = adamw_run(Some(5.0));
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
    assert!(
        norm(&rising) < norm(&own),
        "{} vs {}",
        norm(&rising),
        norm(&own)
    );
}

#[test]
fn the_weight_decay_schedule_is_dinos_cosine() {
    let config = TrainingConfig {
        optimizer: OptimizerConfig::AdamW {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.04,
        },
        weight_decay_end: Some(0.4),
        ..TrainingConfig::adam_constant()
    };
    config.validate().unwrap();
    // DINO's cosine_scheduler(0.04, 0.4, …): start, middle, end.
    assert!((config.weight_decay_at(0, 100).unwrap() - 0.04).abs() < 1e-12);
    assert!((config.weight_decay_at(50, 100).unwrap() - 0.22).abs() < 1e-12);
    assert!((config.weight_decay_at(100, 100).unwrap() - 0.4).abs() < 1e-12);
    assert_eq!(TrainingConfig::adam_constant().weight_decay_at(3, 10), None);
    // Only AdamW's decay is decoupled.
    let err = TrainingConfig {
        weight_decay_end: Some(0.4),
        ..TrainingConfig::simsiam_cifar10()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("weight_decay_end") && err.contains("sgd"),
        "{err}"
    );
    let err = TrainingConfig {
        weight_decay_end: Some(-1.0),
        ..config
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("weight_decay_end"), "{err}");
}
