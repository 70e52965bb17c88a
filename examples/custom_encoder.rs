//! Bring your own encoder: a Burn module defined here, implementing [`Encoder`] and
//! [`EncoderConfig`], pre-trained with BYOL (`ByolMethod<VggLiteConfig>`) on 5 000 CIFAR-10
//! images and loaded back from its checkpoint with `load_encoder::<VggLiteConfig>`, as the probe,
//! kNN and fine-tuning do. `cargo run --release --example custom_encoder [-- CIFAR10_DIR]`

use std::path::PathBuf;
use std::sync::Arc;

use selfsup::burn::nn::conv::{Conv2d, Conv2dConfig};
use selfsup::burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use selfsup::burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use selfsup::burn::prelude::*;
use selfsup::data::{ByolTransform, CifarDataset, Split, class_balanced_subset};
use selfsup::data::{default_cache_dir, download_cifar10};
use selfsup::kernels::{batch_norm_relu, conv2d_forward};
use selfsup::models::{Encoder, EncoderConfig};
use selfsup::train::{ByolConfig, ByolMethod, TrainData, Trainer, TrainingConfig, load_encoder};
use serde::{Deserialize, Serialize};

/// A small VGG-style encoder: `conv 3×3 → BN → ReLU → max-pool 2` per width, then average pooling.
#[derive(Module, Debug)]
pub struct VggLite {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    pool: MaxPool2d,
}

impl Encoder for VggLite {
    fn forward_features(&self, mut x: Tensor<4>) -> Tensor<2> {
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            // `relu(norm.forward(conv.forward(x)))`, on selfsup's native kernels where the
            // backend has them (flex, tch) and on Burn's ops elsewhere.
            x = self
                .pool
                .forward(batch_norm_relu(norm, conv2d_forward(conv, x), None));
        }
        x.mean_dim(3).mean_dim(2).flatten(1, 3)
    }

    fn feature_dim(&self) -> usize {
        self.norms.last().map_or(3, |n| n.gamma.dims()[0])
    }
}

/// Its config, saved in every checkpoint so that the encoder can be rebuilt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VggLiteConfig {
    widths: Vec<usize>,
}

impl EncoderConfig for VggLiteConfig {
    type Encoder = VggLite;

    fn init(&self, device: &Device) -> VggLite {
        let inputs = std::iter::once(3).chain(self.widths.iter().copied());
        let conv = |(i, &o)| Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Same);
        let norm = |&w: &usize| BatchNormConfig::new(w).init(device);
        VggLite {
            convs: inputs
                .zip(&self.widths)
                .map(|c| conv(c).init(device))
                .collect(),
            norms: self.widths.iter().map(norm).collect(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn feature_dim(&self) -> usize {
        self.widths.last().copied().unwrap_or(3)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => download_cifar10(default_cache_dir().ok_or("no cache directory")?)?,
    };
    let train = Arc::new(CifarDataset::cifar10(&dir, Split::Train)?);
    let subset = class_balanced_subset(train.as_ref(), 5000, 0)?;

    // BYOL with its paper heads around our encoder, for one epoch.
    let encoder = VggLiteConfig {
        widths: vec![32, 64, 128],
    };
    let mut config = TrainingConfig::paper();
    config.epochs = 1;
    let device = selfsup::device::default_device_spec().device()?;
    let trainer = Trainer::new(ByolMethod::new(ByolConfig::paper(encoder)), config, &device)?
        .with_out_dir("runs/example-custom")
        .with_overwrite(true);
    let data = TrainData::new(train, Arc::new(ByolTransform::cifar10())).with_indices(subset);
    trainer.fit(trainer.init_model(), &data)?;

    // The evaluation side knows only the encoder type and the checkpoint.
    let loaded =
        load_encoder::<VggLiteConfig>("runs/example-custom/checkpoint.ckpt".as_ref(), &device)?;
    let features = loaded
        .encoder
        .forward_features(Tensor::zeros([2, 3, 32, 32], &device));
    println!(
        "loaded the {} run's encoder: features {:?}",
        loaded.method,
        features.dims()
    );
    Ok(())
}
