//! `probe`, `knn`, `finetune` and `baseline`: what a pre-trained encoder is worth on labels.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use selfsup::data::transforms::{Compose, MultiView, RandomHorizontalFlip};
use selfsup::data::{ImageDataset, MultiViewTransform};
use selfsup::models::{Backbone, BackboneConfig, EncoderConfig};
use selfsup::train::{
    Classifier, ClassifierConfig, EvalSplits, KnnConfig, LinearProbeConfig, Setup,
    SupervisedMethod, evaluate_classifier, knn_backbone, linear_probe_backbone,
};

use crate::Result;
use crate::args::{DeviceArgs, EncoderSource, Recipe, load_run_backbone};
use crate::data::{DataArgs, Part, subset};
use crate::pretrain::scale_of;
use crate::train::TrainArgs;

/// The flags of the frozen-encoder evaluations.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    #[command(flatten)]
    pub encoder: EncoderSource,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Labelled training images (class-balanced; default: all; at most the images there are),
    /// e.g. 5000 (10 %) for a semi-supervised comparison.
    #[arg(long)]
    pub labels: Option<usize>,
    /// Test images (class-balanced; default: all; at most the images there are).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Images per forward pass of the encoder.
    #[arg(long, default_value_t = 256)]
    pub eval_batch_size: usize,
    /// Seed of the subsets, the random init and the classifier.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// What an evaluation runs on.
struct Prepared {
    device: selfsup::burn::tensor::Device,
    backbone: Backbone,
    what: String,
    train: Arc<dyn ImageDataset>,
    train_indices: Vec<usize>,
    test: Arc<dyn ImageDataset>,
    test_indices: Vec<usize>,
    classes: Vec<String>,
    normalize: selfsup::data::transforms::Normalize,
    batch_size: usize,
}

impl Prepared {
    fn splits(&self) -> EvalSplits<'_> {
        EvalSplits {
            train: self.train.as_ref(),
            train_indices: &self.train_indices,
            test: self.test.as_ref(),
            test_indices: &self.test_indices,
            normalize: Some(&self.normalize),
            batch_size: self.batch_size,
        }
    }
}

impl EvalArgs {
    fn prepare(&self) -> Result<Prepared> {
        let device = self.device.device()?;
        let (backbone, _, what) = self
            .encoder
            .load(&device, self.data.image_size(), self.seed)?;
        let train = self.data.open(Part::Train)?;
        let test = self.data.open(Part::Test)?;
        Ok(Prepared {
            train_indices: subset(
                train.dataset.as_ref(),
                self.labels,
                self.seed,
                "--labels",
                "training images",
            )?,
            test_indices: subset(
                test.dataset.as_ref(),
                self.test_limit,
                self.seed,
                "--test-limit",
                "test images",
            )?,
            device,
            backbone,
            what,
            train: train.dataset,
            test: test.dataset,
            classes: train.classes,
            normalize: self.data.normalize(),
            batch_size: self.eval_batch_size,
        })
    }
}

/// `selfsup probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Epochs of the linear classifier (over the stored features, so seconds each).
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Base LR of the classifier (× batch / 256, cosine, SGD momentum 0.9).
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Batch of the classifier's training.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
}

/// Runs `selfsup probe`: prints the per-class table and `accuracy: NN.NN%`.
pub fn probe(args: ProbeArgs) -> Result<()> {
    let eval = args.eval.prepare()?;
    tracing::info!(
        "linear probe of {} on {}: {} labelled train images, {} test images",
        eval.what,
        args.eval.device.device,
        eval.train_indices.len(),
        eval.test_indices.len()
    );
    let config = LinearProbeConfig::new()
        .with_epochs(args.epochs)
        .with_lr(args.lr)
        .with_batch_size(args.batch_size)
        .with_seed(args.eval.seed);
    let start = Instant::now();
    let report = linear_probe_backbone(&eval.backbone, eval.splits(), &config, &eval.device)?;
    tracing::info!(
        "probe took {:.1} s (feature extraction included)",
        start.elapsed().as_secs_f64()
    );
    if let (Some(first), Some(last)) = (report.epoch_losses.first(), report.epoch_losses.last()) {
        tracing::info!(
            "linear classifier: {} epochs, train loss {first:.4} → {last:.4}",
            report.epoch_losses.len()
        );
    }
    println!("{}", report.test.with_class_names(&eval.classes));
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}

/// `selfsup knn`.
#[derive(Args, Debug)]
pub struct KnnArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Neighbours that vote.
    #[arg(long, default_value_t = 200)]
    pub k: usize,
    /// Temperature of the vote weights exp(similarity / τ).
    #[arg(long, default_value_t = 0.1)]
    pub temperature: f64,
}

/// Runs `selfsup knn`: prints the per-class table and `accuracy: NN.NN%`.
pub fn knn(args: KnnArgs) -> Result<()> {
    let eval = args.eval.prepare()?;
    tracing::info!(
        "kNN (k = {}, τ = {}) of {} on {}: {} train images, {} test images",
        args.k,
        args.temperature,
        eval.what,
        args.eval.device.device,
        eval.train_indices.len(),
        eval.test_indices.len()
    );
    let config = KnnConfig::new()
        .with_k(args.k)
        .with_temperature(args.temperature);
    let report = knn_backbone(&eval.backbone, eval.splits(), &config, &eval.device)?;
    println!("{}", report.with_class_names(&eval.classes));
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}

/// The supervised training flags (the label budget is `--limit`).
#[derive(Args, Debug)]
pub struct SupervisedArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    /// Test images (class-balanced; default: all; at most the images there are).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Stochastic depth of a ViT encoder (timm's `--drop-path`): the last block's probability
    /// of skipping its residual branches, rising linearly from 0 at the first (default: the
    /// recipe's, 0.1 in MAE's `--recipe published`, else 0).
    #[arg(long)]
    pub drop_path: Option<f64>,
}

/// `selfsup finetune`.
#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// The pre-training run (directory or checkpoint) whose encoder is fine-tuned (with
    /// `--resume`, the fine-tuning run's).
    #[arg(required_unless_present = "resume")]
    pub run: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub supervised: SupervisedArgs,
}

/// `selfsup baseline`.
#[derive(Args, Debug)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub supervised: SupervisedArgs,
}

/// Runs `selfsup finetune`: the whole network trains from the pre-trained encoder.
pub fn finetune(args: FinetuneArgs) -> Result<()> {
    let train = &args.supervised.train;
    let device = train.device.device()?.autodiff();
    let Some(run) = &args.run else {
        return Err(
            "name the pre-training run: this run records no command to resume it from".into(),
        );
    };
    let (backbone, config, what) = load_run_backbone(run, &device)?;
    tracing::info!("fine-tuning {what}");
    supervised(&args.supervised, "finetune", config, Some(backbone))
}

/// Runs `selfsup baseline`: the same classifier from a random initialisation.
pub fn baseline(args: BaselineArgs) -> Result<()> {
    let train = &args.supervised.train;
    let config = train.backbone.config(train.data.image_size())?;
    supervised(&args.supervised, "baseline", config, None)
}

fn supervised(
    args: &SupervisedArgs,
    name: &str,
    backbone_config: BackboneConfig,
    backbone: Option<Backbone>,
) -> Result<()> {
    let train = &args.train;
    let classes = train.data.open(Part::Train)?.dataset.num_classes();
    if classes == 0 {
        return Err("supervised training needs labels: the training images have none".into());
    }
    let config = ClassifierConfig::new(backbone_config.clone(), classes);
    if let Some(rate) = args.drop_path {
        if !(0.0..1.0).contains(&rate) {
            return Err(format!("--drop-path {rate}: a probability in [0, 1)").into());
        }
        if rate > 0.0 && !backbone_config.has_drop_path() {
            return Err(format!(
                "--drop-path {rate}: stochastic depth drops a ViT's residual branches; \
                 this encoder is not a ViT"
            )
            .into());
        }
    }
    // `--recipe published`: the encoder's published fine-tuning recipe (MAE's, for a ViT).
    let (mut method, views, published) = if train.recipe == Some(Recipe::Published) {
        let setup = Setup::new(
            backbone_config,
            scale_of(&train.data),
            train.data.image_size(),
            train.data.normalize(),
        );
        if !matches!(setup.backbone, BackboneConfig::Vit(_)) {
            return Err(
                "--recipe published: the published fine-tuning recipe is MAE's, which \
                        decays the LR of a ViT's blocks layer by layer; a convolutional encoder \
                        has none: use simsiam-cifar or adam-constant"
                    .into(),
            );
        }
        let published = SupervisedMethod::mae_finetune(config.clone(), &setup)?;
        (
            published.method,
            published.views,
            Some((published.training, published.classifier_lr)),
        )
    } else {
        (
            SupervisedMethod::new(config.clone()),
            supervised_views(&train.data),
            None,
        )
    };
    if let Some(rate) = args.drop_path {
        method.drop_path = rate;
    }
    let outcome = train.run_published(method, Part::Train, views, name, published, |trainer| {
        Ok(match backbone {
            Some(backbone) => config.init_with_backbone(backbone, trainer.device()),
            None => trainer.init_model(),
        })
    })?;
    report_test_accuracy(&outcome.model, train, args.test_limit)
}

/// The supervised views: a random horizontal flip, then the dataset's normalization (one view).
fn supervised_views(data: &DataArgs) -> Arc<dyn MultiViewTransform> {
    let view = Compose::new()
        .then(RandomHorizontalFlip::default())
        .then(data.normalize());
    Arc::new(MultiView::new(vec![Box::new(view)]).expect("one view"))
}

/// Tests a classifier and prints the per-class table and `accuracy: NN.NN%`.
fn report_test_accuracy(
    classifier: &Classifier,
    train: &TrainArgs,
    test_limit: Option<usize>,
) -> Result<()> {
    // Training is saved: a Ctrl-C from here on only cuts the test short.
    crate::stop::evaluating();
    tracing::info!("testing the classifier");
    let test = train.data.open(Part::Test)?;
    let indices = subset(
        test.dataset.as_ref(),
        test_limit,
        train.seed,
        "--test-limit",
        "test images",
    )?;
    let report = evaluate_classifier(
        classifier,
        test.dataset.as_ref(),
        &indices,
        Some(&train.data.normalize()),
        256,
        &train.device.device()?,
    )?;
    println!("{}", report.with_class_names(&test.classes));
    println!("accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
