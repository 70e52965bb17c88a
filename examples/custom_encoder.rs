//! Bring your own encoder: a Burn module defined here, outside selfsup, pre-trained with BYOL on
//! CIFAR-10 and evaluated by kNN from its checkpoint.
//!
//! ```text
//! cargo run --release --example custom_encoder -- --data-dir ../shared/data/cifar-10-batches-bin \
//!     --out-dir runs/custom --limit 5000 --epochs 1
//! ```
//!
//! An encoder is any `#[derive(Module)]` type implementing [`Encoder`] (images → `[B, C]`
//! features) with a serialisable config implementing [`EncoderConfig`]. Every method is generic
//! over it (`ByolMethod<VggLiteConfig>` here) and the evaluation code loads it back from any run
//! with `load_encoder::<VggLiteConfig>`.

mod common;

use std::sync::Arc;

use clap::Parser;
use common::{Result, TrainArgs, main_with};
use selfsup::burn::nn::conv::{Conv2d, Conv2dConfig};
use selfsup::burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use selfsup::burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use selfsup::burn::prelude::*;
use selfsup::data::ByolTransform;
use selfsup::data::transforms::Normalize;
use selfsup::models::{Encoder, EncoderConfig};
use selfsup::train::{ByolConfig, ByolMethod, EvalSplits, KnnConfig, knn_backbone, load_encoder};
use serde::{Deserialize, Serialize};

/// A small VGG-style encoder: `[conv 3×3 → BN → ReLU → max-pool 2]` per width, then global
/// average pooling.
#[derive(Module, Debug)]
pub struct VggLite {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    activation: Relu,
    pool: MaxPool2d,
}

impl Encoder for VggLite {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            x = self
                .pool
                .forward(self.activation.forward(norm.forward(conv.forward(x))));
        }
        let [b, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([b, c])
    }

    fn feature_dim(&self) -> usize {
        self.norms.last().map_or(3, |n| n.gamma.dims()[0])
    }
}

/// Its config: the channel widths. Saved in every checkpoint, so the encoder can be rebuilt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VggLiteConfig {
    widths: Vec<usize>,
}

impl EncoderConfig for VggLiteConfig {
    type Encoder = VggLite;

    fn init(&self, device: &Device) -> VggLite {
        let inputs = std::iter::once(3).chain(self.widths.iter().copied());
        VggLite {
            convs: inputs
                .zip(&self.widths)
                .map(|(i, &o)| {
                    Conv2dConfig::new([i, o], [3, 3])
                        .with_padding(PaddingConfig2d::Same)
                        .init(device)
                })
                .collect(),
            norms: self
                .widths
                .iter()
                .map(|&w| BatchNormConfig::new(w).init(device))
                .collect(),
            activation: Relu::new(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn feature_dim(&self) -> usize {
        self.widths.last().copied().unwrap_or(3)
    }
}

/// BYOL pre-training of a user-defined encoder, then kNN on its frozen features.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    train: TrainArgs,
}

fn main() -> std::process::ExitCode {
    main_with(|| run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let encoder = VggLiteConfig {
        widths: vec![32, 64, 128],
    };
    let method = ByolMethod::new(ByolConfig::paper(encoder));
    args.train.run(method, Arc::new(ByolTransform::cifar10()))?;

    // The evaluation side knows only the encoder type and the checkpoint.
    let device = args.train.device.device()?;
    let checkpoint = args.train.out_dir.join(selfsup::train::files::CHECKPOINT);
    let loaded = load_encoder::<VggLiteConfig>(&checkpoint, &device)?;
    let (train, train_indices) = args.train.data.train(args.train.seed)?;
    let (test, test_indices) = args.train.data.test(Some(1000), args.train.seed)?;
    let normalize = Normalize::cifar10();
    let splits = EvalSplits {
        train: train.as_ref(),
        train_indices: &train_indices,
        test: test.as_ref(),
        test_indices: &test_indices,
        normalize: Some(&normalize),
        batch_size: 256,
    };
    let report = knn_backbone(&loaded.encoder, splits, &KnnConfig::new(), &device)?;
    println!("kNN accuracy: {:.2}%", 100.0 * report.top1());
    Ok(())
}
