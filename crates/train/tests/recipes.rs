//! Every method's published preset, value by value, against solo-learn's configuration files as
//! `tools/solo_learn_recipes.py` transcribes them (`tests/data/solo_learn_recipes.json`: each
//! file's keys merged with the defaults solo-learn fills in, and the total batch).

use selfsup_data::transforms::Normalize;
use selfsup_models::{
    BackboneConfig, MomentumSchedule, PositionEmbedding, ResNetConfig, Stem, VitConfig,
};
use selfsup_train::{
    BarlowTwinsMethod, ByolMethod, ClassifierConfig, DinoMethod, LrScaling, MaeMethod, Method,
    MocoMethod, NnclrMethod, OptimizerConfig, Published, Scale, Setup, SimClrMethod, SimSiamMethod,
    SupervisedMethod, SwavMethod, TrainingConfig, VicRegMethod,
};
use serde_json::Value;

fn table() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/solo_learn_recipes.json"
    );
    let text = std::fs::read_to_string(path).expect("the transcribed table");
    let table: Value = serde_json::from_str(&text).expect("JSON");
    table["records"].as_array().expect("records").clone()
}

fn setup(scale: Scale) -> Setup {
    let (stem, size) = match scale {
        Scale::Cifar => (Stem::Cifar, 32),
        _ => (Stem::ImageNet, 224),
    };
    Setup::new(
        BackboneConfig::ResNet(ResNetConfig::resnet18(stem)),
        scale,
        size,
        Normalize::imagenet(),
    )
}

/// The record a published preset at `scale` must match: the file of that scale, or the
/// ImageNet-100 one for ImageNet where solo-learn has no ImageNet file of the method.
fn record<'t>(table: &'t [Value], method: &str, scale: Scale) -> &'t Value {
    let find = |folder: &str| {
        table
            .iter()
            .find(|r| r["method"] == method && r["scale"] == folder)
    };
    find(scale.solo_learn_folder())
        .or_else(|| {
            (scale == Scale::ImageNet)
                .then(|| find("imagenet-100"))
                .flatten()
        })
        .unwrap_or_else(|| panic!("no solo-learn record of {method} at {scale}"))
}

/// The record of a method's ViT file: solo-learn has one, for ImageNet-100, which every scale
/// takes.
fn vit_record<'t>(table: &'t [Value], method: &str) -> &'t Value {
    table
        .iter()
        .find(|r| r["method"] == method && r["scale"] == "imagenet-100")
        .unwrap_or_else(|| panic!("no solo-learn record of {method}"))
}

/// [`setup`] with a ViT-Small (patch 4 at 32 pixels, 16 at 224).
fn vit_setup(scale: Scale) -> Setup {
    let mut s = setup(scale);
    let patch = if s.image_size <= 64 { 4 } else { 16 };
    s.backbone = BackboneConfig::Vit(VitConfig::small(s.image_size, patch));
    s
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn u(value: &Value) -> usize {
    f(value) as usize
}

/// What every method's recipe shares with its file: optimizer, LR, batch, schedule, epochs and
/// the online classifier's LR.
fn check_training(what: &str, training: &TrainingConfig, classifier_lr: f64, r: &Value) {
    let file = r["file"].as_str().unwrap();
    assert!(
        training
            .source
            .as_deref()
            .is_some_and(|source| source.contains(file)),
        "{what}: the source {:?} names {file}",
        training.source
    );
    assert_eq!(training.batch_size, u(&r["batch_size"]), "{what}: batch");
    assert_eq!(training.lr, f(&r["lr"]), "{what}: lr");
    assert_eq!(
        training.lr_scaling,
        LrScaling::Linear,
        "{what}: lr × batch / 256"
    );
    assert_eq!(
        classifier_lr,
        f(&r["classifier_lr"]),
        "{what}: classifier_lr"
    );
    assert_eq!(training.epochs, u(&r["max_epochs"]), "{what}: epochs");
    assert_eq!(
        r["scheduler"], "warmup_cosine",
        "{what}: the table's scheduler"
    );
    assert!(training.cosine, "{what}: cosine");
    assert_eq!(
        training.warmup_epochs,
        u(&r["warmup_epochs"]),
        "{what}: warm-up"
    );
    assert_eq!(
        training.warmup_start_lr,
        f(&r["warmup_start_lr"]),
        "{what}: warm-up start"
    );
    assert_eq!(
        f(&r["min_lr"]),
        0.0,
        "{what}: the schedule ends at 0, as ours"
    );
    let kwargs = &r["optimizer_kwargs"];
    match (&training.optimizer, r["optimizer"].as_str().unwrap()) {
        (
            OptimizerConfig::Lars {
                momentum,
                weight_decay,
                trust_coefficient,
                nesterov,
                exclude_bias_and_norm,
                clip_lr,
                ..
            },
            "lars",
        ) => {
            assert_eq!(*momentum, f(&kwargs["momentum"]), "{what}: momentum");
            assert_eq!(*weight_decay, f(&r["weight_decay"]), "{what}: weight decay");
            assert_eq!(*trust_coefficient, f(&kwargs["eta"]), "{what}: eta");
            assert_eq!(
                *clip_lr,
                kwargs["clip_lr"].as_bool().unwrap(),
                "{what}: clip_lr"
            );
            assert_eq!(
                *exclude_bias_and_norm,
                kwargs["exclude_bias_n_norm"].as_bool().unwrap(),
                "{what}: exclude_bias_n_norm"
            );
            assert!(!nesterov, "{what}: no Nesterov");
        }
        (
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                nesterov,
            },
            "sgd",
        ) => {
            assert_eq!(*momentum, f(&kwargs["momentum"]), "{what}: momentum");
            assert_eq!(*weight_decay, f(&r["weight_decay"]), "{what}: weight decay");
            assert!(!nesterov, "{what}: no Nesterov");
        }
        (
            OptimizerConfig::AdamW {
                beta_1,
                beta_2,
                weight_decay,
                ..
            },
            "adamw",
        ) => {
            let betas = kwargs["betas"].as_array().expect("betas");
            assert_eq!(
                [*beta_1, *beta_2],
                [f(&betas[0]), f(&betas[1])],
                "{what}: betas"
            );
            assert_eq!(*weight_decay, f(&r["weight_decay"]), "{what}: weight decay");
        }
        (ours, theirs) => panic!("{what}: optimizer {} against {theirs}", ours.name()),
    }
}

fn check<M>(what: &str, published: &Published<M>, r: &Value) {
    check_training(what, &published.training, published.classifier_lr, r);
}

/// The EMA schedule of a momentum method against the file's `momentum` section.
fn check_momentum(what: &str, momentum: &MomentumSchedule, r: &Value) {
    assert_eq!(
        momentum.base,
        f(&r["momentum"]["base_tau"]),
        "{what}: base_tau"
    );
    assert_eq!(
        momentum.end,
        f(&r["momentum"]["final_tau"]),
        "{what}: final_tau"
    );
}

/// A projector's widths against `proj_hidden_dim` and `proj_output_dim`.
fn check_projector(what: &str, hidden: usize, output: usize, k: &Value) {
    assert_eq!(hidden, u(&k["proj_hidden_dim"]), "{what}: proj_hidden_dim");
    assert_eq!(output, u(&k["proj_output_dim"]), "{what}: proj_output_dim");
}

const SCALES: [Scale; 3] = [Scale::Cifar, Scale::ImageNet100, Scale::ImageNet];

#[test]
fn the_table_covers_every_method_and_scale_solo_learn_has() {
    let table = table();
    // 11 methods at CIFAR and ImageNet-100, the 4 with an ImageNet file, and the ViT files of
    // DINO and MoCo v3 (ImageNet-100 only).
    assert_eq!(table.len(), 28, "records");
    for r in &table {
        assert!(
            r["commit"].as_str().is_some_and(|c| c.len() == 40),
            "{r}: the record names solo-learn's commit"
        );
    }
}

#[test]
fn simclr_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "simclr", scale);
        let p = SimClrMethod::published(&setup(scale)).unwrap();
        let what = format!("simclr at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        assert_eq!(p.method.temperature, f(&k["temperature"]), "{what}");
        let projector = &p.method.model.projector;
        check_projector(&what, projector.hidden_dim, projector.output_dim, k);
        assert!(
            projector.hidden_batch_norm,
            "{what}: solo-learn's projector has batch norm"
        );
    }
}

#[test]
fn simsiam_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "simsiam", scale);
        let p = SimSiamMethod::published(&setup(scale)).unwrap();
        let what = format!("simsiam at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        check_projector(
            &what,
            model.projector.hidden_dim,
            model.projector.output_dim,
            k,
        );
        assert_eq!(
            model.predictor.hidden_dim,
            u(&k["pred_hidden_dim"]),
            "{what}"
        );
        assert!(
            p.method.fix_predictor_lr,
            "{what}: the predictor's static_lr"
        );
    }
}

#[test]
fn byol_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "byol", scale);
        let p = ByolMethod::published(&setup(scale)).unwrap();
        let what = format!("byol at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        check_projector(
            &what,
            model.projector.hidden_dim,
            model.projector.output_dim,
            k,
        );
        assert_eq!(
            model.predictor.hidden_dim,
            u(&k["pred_hidden_dim"]),
            "{what}"
        );
        check_momentum(&what, &p.method.momentum, r);
    }
}

#[test]
fn moco_v2_plus_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "moco", scale);
        let p = MocoMethod::published_v2(&setup(scale)).unwrap();
        let what = format!("moco v2+ at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        check_projector(
            &what,
            model.projector.hidden_dim,
            model.projector.output_dim,
            k,
        );
        assert_eq!(model.queue_size, u(&k["queue_size"]), "{what}");
        assert!(model.predictor.is_none(), "{what}");
        assert_eq!(p.method.temperature, f(&k["temperature"]), "{what}");
        check_momentum(&what, &p.method.momentum, r);
        assert_eq!(
            p.method.exclude_bias_and_norm,
            r["exclude_bias_n_norm_wd"].as_bool().unwrap(),
            "{what}: SGD's weight decay on biases and norms"
        );
    }
}

#[test]
fn moco_v3_is_solo_learns() {
    let table = table();
    let cases = SCALES
        .map(|scale| (record(&table, "moco-v3", scale), setup(scale)))
        .into_iter()
        .chain(SCALES.map(|scale| (vit_record(&table, "moco-v3-vit"), vit_setup(scale))));
    for (r, setup) in cases {
        let p = MocoMethod::published_v3(&setup).unwrap();
        let what = format!("moco v3 at {} on {:?}", setup.scale, setup.backbone);
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        check_projector(
            &what,
            model.projector.hidden_dim,
            model.projector.output_dim,
            k,
        );
        let predictor = model.predictor.as_ref().expect("a predictor");
        assert_eq!(predictor.hidden_dim, u(&k["pred_hidden_dim"]), "{what}");
        assert_eq!(model.queue_size, 0, "{what}: no queue");
        assert_eq!(p.method.temperature, f(&k["temperature"]), "{what}");
        check_momentum(&what, &p.method.momentum, r);
    }
}

#[test]
fn barlow_twins_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "barlow-twins", scale);
        let p = BarlowTwinsMethod::published(&setup(scale)).unwrap();
        let what = format!("barlow twins at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let projector = &p.method.model.projector;
        check_projector(&what, projector.hidden_dim, projector.output_dim, k);
        assert_eq!(p.method.lambda, f(&k["lamb"]), "{what}");
        assert_eq!(p.method.scale, f(&k["scale_loss"]), "{what}");
    }
}

#[test]
fn vicreg_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "vicreg", scale);
        let p = VicRegMethod::published(&setup(scale)).unwrap();
        let what = format!("vicreg at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let projector = &p.method.model.projector;
        check_projector(&what, projector.hidden_dim, projector.output_dim, k);
        assert_eq!(p.method.loss.invariance, f(&k["sim_loss_weight"]), "{what}");
        assert_eq!(p.method.loss.variance, f(&k["var_loss_weight"]), "{what}");
        assert_eq!(p.method.loss.covariance, f(&k["cov_loss_weight"]), "{what}");
    }
}

#[test]
fn dino_is_solo_learns() {
    let table = table();
    let cases = SCALES
        .map(|scale| (record(&table, "dino", scale), setup(scale)))
        .into_iter()
        // With a ViT, solo-learn's one ViT file, at every scale.
        .chain(SCALES.map(|scale| (vit_record(&table, "dino-vit"), vit_setup(scale))));
    for (r, setup) in cases {
        let p = DinoMethod::published(&setup).unwrap();
        let what = format!("dino at {} on {:?}", setup.scale, setup.backbone);
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let head = &p.method.model.head;
        assert_eq!(head.hidden_dim, u(&k["proj_hidden_dim"]), "{what}");
        assert_eq!(head.bottleneck_dim, u(&k["proj_output_dim"]), "{what}");
        assert_eq!(head.output_dim, u(&k["num_prototypes"]), "{what}");
        assert_eq!(
            head.batch_norm,
            k["use_bn_in_head"].as_bool().unwrap(),
            "{what}"
        );
        assert_eq!(
            head.norm_last_layer,
            k["norm_last_layer"].as_bool().unwrap(),
            "{what}"
        );
        let loss = &p.method.loss;
        assert_eq!(loss.student_temp, f(&k["student_temperature"]), "{what}");
        assert_eq!(loss.teacher_temp, f(&k["teacher_temperature"]), "{what}");
        assert_eq!(
            loss.warmup_teacher_temp,
            f(&k["warmup_teacher_temperature"]),
            "{what}"
        );
        assert_eq!(
            loss.warmup_teacher_temp_epochs,
            u(&k["warmup_teacher_temperature_epochs"]),
            "{what}"
        );
        assert_eq!(
            p.method.freeze_last_layer_epochs,
            u(&k["freeze_last_layer"]),
            "{what}"
        );
        // solo-learn's clip_grad 0 is no clipping.
        assert_eq!(
            p.method.clip_grad,
            (f(&k["clip_grad"]) > 0.0).then(|| f(&k["clip_grad"])),
            "{what}"
        );
        check_momentum(&what, &p.method.momentum, r);
    }
}

#[test]
fn swav_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "swav", scale);
        let p = SwavMethod::published(&setup(scale)).unwrap();
        let what = format!("swav at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        check_projector(
            &what,
            model.projector.hidden_dim,
            model.projector.output_dim,
            k,
        );
        assert_eq!(
            model.prototypes.n_prototypes,
            u(&k["num_prototypes"]),
            "{what}"
        );
        assert_eq!(model.queue_size, u(&k["queue_size"]), "{what}");
        assert_eq!(
            p.method.queue_start_epoch,
            u(&k["epoch_queue_starts"]),
            "{what}"
        );
        assert_eq!(
            p.method.freeze_prototypes_epochs,
            u(&k["freeze_prototypes_epochs"]),
            "{what}"
        );
        assert_eq!(p.method.loss.temperature, f(&k["temperature"]), "{what}");
        assert_eq!(
            p.method.loss.sinkhorn_epsilon,
            f(&k["sk_epsilon"]),
            "{what}"
        );
        assert_eq!(
            p.method.loss.sinkhorn_iterations,
            u(&k["sk_iters"]),
            "{what}"
        );
    }
}

#[test]
fn nnclr_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "nnclr", scale);
        let p = NnclrMethod::published(&setup(scale)).unwrap();
        let what = format!("nnclr at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        check_projector(
            &what,
            model.projector.hidden_dim,
            model.projector.output_dim,
            k,
        );
        assert_eq!(
            model.predictor.hidden_dim,
            u(&k["pred_hidden_dim"]),
            "{what}"
        );
        assert_eq!(
            (model.predictor.input_dim, model.predictor.output_dim),
            (model.projector.output_dim, model.projector.output_dim),
            "{what}: the predictor maps the projection to its own size"
        );
        assert_eq!(model.queue_size, u(&k["queue_size"]), "{what}");
        assert_eq!(p.method.temperature, f(&k["temperature"]), "{what}");
        assert_eq!(p.views.num_views(), 2, "{what}: two views");
    }
}

/// The published views fit every scale's image size, and the command line's overrides reach
/// the multi-crop methods.
#[test]
fn overrides_reach_the_preset() {
    let mut s = setup(Scale::ImageNet100);
    s.local_views = Some(6);
    s.freeze_epochs = Some(3);
    let dino = DinoMethod::published(&s).unwrap();
    assert_eq!(dino.views.num_views(), 8, "2 global + 6 local views");
    assert_eq!(dino.method.freeze_last_layer_epochs, 3);
    let swav = SwavMethod::published(&s).unwrap();
    assert_eq!(swav.method.freeze_prototypes_epochs, 3);
    let byol = ByolMethod::published(&setup(Scale::Cifar)).unwrap();
    assert_eq!(byol.views.num_views(), 2);
}

#[test]
fn mae_is_solo_learns() {
    let table = table();
    for scale in SCALES {
        let r = record(&table, "mae", scale);
        // The file's encoder: ViT-Small at patch 4 on CIFAR, ViT-Base at patch 16 above.
        let backbone = &r["backbone"];
        let vit = match (backbone["name"].as_str().unwrap(), scale) {
            ("vit_small", Scale::Cifar) => {
                assert_eq!(u(&backbone["kwargs"]["patch_size"]), 4);
                VitConfig::small(u(&backbone["kwargs"]["img_size"]), 4)
            }
            ("vit_base", _) => VitConfig::base(224, 16),
            (name, _) => panic!("mae at {scale}: encoder {name}"),
        };
        let mut s = setup(scale);
        s.backbone = BackboneConfig::Vit(vit);
        let p = MaeMethod::published(&s).unwrap();
        let what = format!("mae at {scale}");
        check(&what, &p, r);
        let k = &r["method_kwargs"];
        let model = &p.method.model;
        assert_eq!(model.decoder_dim, u(&k["decoder_embed_dim"]), "{what}");
        assert_eq!(model.decoder_depth, u(&k["decoder_depth"]), "{what}");
        assert_eq!(model.decoder_heads, u(&k["decoder_num_heads"]), "{what}");
        assert_eq!(p.method.mask_ratio, f(&k["mask_ratio"]), "{what}");
        assert_eq!(
            p.method.norm_pix,
            k["norm_pix_loss"].as_bool().unwrap(),
            "{what}"
        );
        // solo-learn's MAE encoder fixes its position embedding to MAE's sine-cosine table.
        let BackboneConfig::Vit(vit) = &model.backbone else {
            panic!("{what}: a ViT")
        };
        assert_eq!(vit.position, PositionEmbedding::SinCos, "{what}");
        assert_eq!(p.views.num_views(), 1, "{what}: one view");
    }
    // A convolutional encoder is refused before training, naming the flag to use.
    let err = MaeMethod::published(&setup(Scale::Cifar))
        .unwrap()
        .method
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("--backbone vit-"), "{err}");
}

/// MAE's fine-tuning recipe against solo-learn's `scripts/finetune/<scale>/mae.yaml` (the
/// "finetune" records), at both scales that have one.
#[test]
fn maes_finetuning_is_solo_learns() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/solo_learn_recipes.json"
    ))
    .unwrap();
    let table: Value = serde_json::from_str(&text).unwrap();
    let records = table["finetune"].as_array().expect("finetune records");
    assert_eq!(records.len(), 2);
    for r in records {
        assert_eq!(r["method"], "mae");
        let vit = BackboneConfig::Vit(VitConfig::base(224, 16));
        let scale = if r["scale"] == "imagenet" {
            Scale::ImageNet
        } else {
            Scale::ImageNet100
        };
        let setup = Setup::new(vit.clone(), scale, 224, Normalize::imagenet());
        let published =
            SupervisedMethod::mae_finetune(ClassifierConfig::new(vit, 100), &setup).unwrap();
        let (m, t) = (&published.method, &published.training);
        let f = |key: &str| r[key].as_f64().unwrap_or_else(|| panic!("{key}"));
        assert_eq!(t.lr, f("lr"));
        assert_eq!(t.batch_size as f64, f("batch_size"));
        assert_eq!(t.epochs as f64, f("max_epochs"));
        assert_eq!(t.lr_scaling, LrScaling::Linear);
        assert_eq!(r["scheduler"], "warmup_cosine");
        assert!(t.cosine);
        assert_eq!(f("min_lr"), 0.0, "the cosine ends at 0");
        assert_eq!(t.warmup_epochs as f64, f("warmup_epochs"));
        assert_eq!(t.warmup_start_lr, f("warmup_start_lr"));
        assert_eq!(r["optimizer"], "adamw");
        let betas = r["betas"].as_array().unwrap();
        assert_eq!(
            t.optimizer,
            OptimizerConfig::AdamW {
                beta_1: betas[0].as_f64().unwrap(),
                beta_2: betas[1].as_f64().unwrap(),
                epsilon: 1e-8,
                weight_decay: f("weight_decay"),
            }
        );
        assert_eq!(m.layer_decay, Some(f("layer_decay")));
        assert_eq!(m.label_smoothing, f("label_smoothing"));
        let mixup = m.mixup.as_ref().expect("mixup");
        assert_eq!(mixup.mixup_alpha, f("mixup"));
        assert_eq!(mixup.cutmix_alpha, f("cutmix"));
        // main_linear.py's Mixup(switch_prob=0.5).
        assert_eq!(mixup.switch_prob, 0.5);
        assert!(m.exclude_bias_norm_and_tokens);
        assert!(
            t.source.as_deref().unwrap().contains("scripts/finetune/"),
            "{:?}",
            t.source
        );
        assert_eq!(
            m.drop_path,
            r["backbone"]["kwargs"]["drop_path_rate"].as_f64().unwrap()
        );
    }
}
