//! SimSiam pre-training on CIFAR-10 (the README's main job).
//!
//! ```text
//! cargo run --release --example simsiam -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --out-dir runs/simsiam --epochs 100 --batch-size 256
//! cargo run --release --features tch --example simsiam -- --device tch --limit 5000 ...
//! ```
//!
//! Writes `config.json`, `history.json`, `loss.png`, `train.log` and `checkpoint.ckpt` into
//! `--out-dir`; `--resume <out-dir>/checkpoint.ckpt` continues an interrupted run. Evaluate
//! the result with the `linear_probe` and `knn` examples.

mod common;

use std::sync::Arc;

use clap::Parser;
use common::{Result, TrainArgs, main_with};
use selfsup::data::SimSiamTransform;
use selfsup::models::{SimSiamConfig, SimSiamPredictionHeadConfig, SimSiamProjectionHeadConfig};
use selfsup::train::SimSiamMethod;

/// SimSiam (Chen & He 2021): a siamese encoder, a predictor, and a stop-gradient.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    train: TrainArgs,
    /// Output dimension of the 3-layer projector (and of the predictor); the paper's is 2048.
    #[arg(long, default_value_t = 2048)]
    proj_dim: usize,
    /// Hidden (bottleneck) dimension of the predictor; the paper's is 512.
    #[arg(long, default_value_t = 512)]
    pred_dim: usize,
    /// Keep the predictor's LR fixed while the rest decays (the paper's --fix-pred-lr).
    #[arg(long)]
    fix_predictor_lr: bool,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let backbone = args.train.backbone.config();
    let model = SimSiamConfig::new(
        backbone.clone(),
        SimSiamProjectionHeadConfig::new()
            .with_input_dim(backbone.feature_dim())
            .with_hidden_dim(args.proj_dim)
            .with_output_dim(args.proj_dim),
        SimSiamPredictionHeadConfig::new()
            .with_input_dim(args.proj_dim)
            .with_hidden_dim(args.pred_dim)
            .with_output_dim(args.proj_dim),
    );
    let method = SimSiamMethod::new(model).with_fix_predictor_lr(args.fix_predictor_lr);
    args.train
        .run(method, Arc::new(SimSiamTransform::cifar10()))?;
    Ok(())
}
