//! The supervised baseline of seed 001: a classifier trained from scratch on a label budget
//! (5 000 class-balanced CIFAR-10 images by default), then tested. With `--init-backbone` it
//! fine-tunes a pre-trained backbone instead (the whole network trains).
//!
//! ```text
//! cargo run --release --example baseline -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --out-dir runs/baseline --limit 5000 --epochs 50 --recipe tutorial
//! cargo run --release --example baseline -- ... --init-backbone runs/simsiam/checkpoint.ckpt
//! ```
//!
//! Prints the per-class table and `accuracy: NN.NN%` on the test images.

mod common;

use clap::Parser;
use common::{Result, TrainArgs, main_with};
use selfsup::train::{ClassifierConfig, SupervisedMethod, load_backbone};
use std::path::PathBuf;

/// Supervised training (from scratch, or fine-tuning a pre-trained backbone).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    train: TrainArgs,
    /// Fine-tune the backbone of this checkpoint instead of training from scratch.
    #[arg(long)]
    init_backbone: Option<PathBuf>,
    /// Test images (class-balanced; default all 10 000).
    #[arg(long)]
    test_limit: Option<usize>,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let outcome = match &args.init_backbone {
        None => {
            let config = ClassifierConfig::new(args.train.backbone.config(), 10);
            args.train
                .run(SupervisedMethod::new(config), common::supervised_views())?
        }
        Some(path) => {
            // The classifier is built around the checkpoint's backbone, whatever --backbone says.
            let device = args.train.device.device()?.autodiff();
            let loaded = load_backbone(path, &device)?;
            println!(
                "fine-tuning the {:?} backbone of a {} run ({})",
                loaded.config,
                loaded.method,
                path.display()
            );
            let config = ClassifierConfig::new(loaded.config, 10);
            let method = SupervisedMethod::new(config.clone());
            args.train
                .run_with(method, common::supervised_views(), |trainer| {
                    Ok(config.init_with_backbone(loaded.backbone, trainer.device()))
                })?
        }
    };
    common::report_test_accuracy(&outcome.model, &args.train, args.test_limit)
}
