//! SimSiam pre-training (Chen & He 2021) through the library's `Trainer`: a small CNN on 5 000
//! CIFAR-10 images for two epochs, each epoch's line printed from the progress callback.
//!
//! ```text
//! cargo run --release --example simsiam                      # CIFAR-10 from the user cache
//! cargo run --release --example simsiam -- path/to/cifar-10-batches-bin
//! ```
//!
//! The run goes to `runs/example-simsiam`; evaluate it with the `evaluate` example. The
//! `selfsup pretrain simsiam` command does the same with every flag.

use std::path::PathBuf;
use std::sync::Arc;

use selfsup::data::{
    CifarDataset, SimSiamTransform, Split, class_balanced_subset, default_cache_dir,
    download_cifar10,
};
use selfsup::device::default_device_spec;
use selfsup::models::{BackboneConfig, SimSiamConfig, SmallCnnConfig};
use selfsup::train::{Progress, SimSiamMethod, TrainData, Trainer, TrainingConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => download_cifar10(default_cache_dir().ok_or("no cache directory")?)?,
    };
    let train = Arc::new(CifarDataset::cifar10(&dir, Split::Train)?);
    let subset = class_balanced_subset(train.as_ref(), 5000, 0)?;

    // The paper's CIFAR-10 model (projector 2048, predictor bottleneck 512) on a small CNN.
    let encoder = BackboneConfig::SmallCnn(SmallCnnConfig::new());
    let method = SimSiamMethod::new(SimSiamConfig::paper(encoder));
    let mut config = TrainingConfig::paper();
    config.epochs = 2;
    config.batch_size = 128;

    let trainer = Trainer::new(method, config, &default_device_spec().device()?)?
        .with_out_dir("runs/example-simsiam")
        .with_overwrite(true)
        .with_progress(|event| {
            if let Progress::Epoch { record, .. } = event {
                println!(
                    "epoch {}: loss {:.4}, {:.1} img/s",
                    record.epoch + 1,
                    record.loss,
                    record.images_per_second
                );
            }
        });
    let data = TrainData::new(train, Arc::new(SimSiamTransform::cifar10())).with_indices(subset);
    let outcome = trainer.fit(trainer.init_model(), &data)?;
    println!(
        "{} steps; checkpoint in runs/example-simsiam",
        outcome.history.step_losses.len()
    );
    Ok(())
}
