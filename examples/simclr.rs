//! SimCLR pre-training on CIFAR-10.
//!
//! ```text
//! cargo run --release --example simclr -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --out-dir runs/simclr --epochs 100 --batch-size 256 --temperature 0.5
//! ```
//!
//! Writes `config.json`, `history.json`, `loss.png`, `train.log` and `checkpoint.ckpt` into
//! `--out-dir`; evaluate with the `linear_probe` and `knn` examples.

mod common;

use std::sync::Arc;

use clap::Parser;
use common::{Result, TrainArgs, main_with};
use selfsup::data::SimClrTransform;
use selfsup::models::{SimClrConfig, SimClrProjectionHeadConfig};
use selfsup::train::SimClrMethod;

/// SimCLR (Chen et al. 2020): NT-Xent between two views' projections.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    train: TrainArgs,
    /// NT-Xent temperature τ (seed 000: 0.5).
    #[arg(long, default_value_t = 0.5)]
    temperature: f64,
    /// Output dimension of the projection head (seed 000: 128).
    #[arg(long, default_value_t = 128)]
    proj_dim: usize,
    /// Hidden dimension of the projection head (seed 000: 512).
    #[arg(long, default_value_t = 512)]
    hidden_dim: usize,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let backbone = args.train.backbone.config();
    let projector = SimClrProjectionHeadConfig::new()
        .with_input_dim(backbone.feature_dim())
        .with_hidden_dim(args.hidden_dim)
        .with_output_dim(args.proj_dim);
    let method = SimClrMethod::new(SimClrConfig::new(backbone).with_projector(projector))
        .with_temperature(args.temperature);
    args.train
        .run(method, Arc::new(SimClrTransform::cifar10()))?;
    Ok(())
}
