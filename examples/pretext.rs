//! Seed 001's pretext model: pre-train a backbone to predict which rotation, shear and colour
//! change an image went through, then fine-tune the whole network on a label budget and test.
//!
//! ```text
//! cargo run --release --example pretext -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --out-dir runs/pretext --epochs 30 --finetune-epochs 30 --labels 5000
//! ```
//!
//! Writes the pre-training run into `<out-dir>/pretext` and the fine-tuning run into
//! `<out-dir>/finetune`; prints `accuracy: NN.NN%` on the test images.

mod common;

use std::sync::Arc;

use clap::Parser;
use common::{Result, TrainArgs, main_with};
use selfsup::data::PretextViews;
use selfsup::train::{ClassifierConfig, PretextMethod, PretextModelConfig, SupervisedMethod};

/// Multi-task pretext pre-training, then supervised fine-tuning.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Pre-training flags (`--epochs` and `--limit` are the pretext phase's).
    #[command(flatten)]
    train: TrainArgs,
    /// Epochs of fine-tuning.
    #[arg(long, default_value_t = 30)]
    finetune_epochs: usize,
    /// Labelled images of fine-tuning (class-balanced; seed 001: 5 000).
    #[arg(long, default_value_t = 5000)]
    labels: usize,
    /// Test images (class-balanced; default all 10 000).
    #[arg(long)]
    test_limit: Option<usize>,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let backbone = args.train.backbone.config();
    let mut pretrain = args.train.clone();
    pretrain.out_dir = args.train.out_dir.join("pretext");
    let pretext = pretrain.run(
        PretextMethod::new(PretextModelConfig::new(backbone.clone())),
        Arc::new(PretextViews::cifar10()),
    )?;

    let mut finetune = args.train.clone();
    finetune.out_dir = args.train.out_dir.join("finetune");
    finetune.epochs = args.finetune_epochs;
    finetune.max_steps = None;
    finetune.resume = None;
    finetune.data.limit = Some(args.labels);
    let method = SupervisedMethod::new(ClassifierConfig::new(backbone, 10));
    let pretrained = pretext.model.backbone;
    let outcome = finetune.run_with(method, common::supervised_views(), |trainer| {
        Ok(trainer
            .method()
            .model
            .init_with_backbone(pretrained, trainer.device()))
    })?;

    common::report_test_accuracy(&outcome.model, &args.train, args.test_limit)
}
