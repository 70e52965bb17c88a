//! The two standard evaluations of a pre-trained encoder, on CIFAR-10: a linear probe and a
//! weighted kNN (k = 200, τ = 0.1) on its frozen features, with 5 000 labels.
//!
//! ```text
//! cargo run --release --example evaluate -- runs/example-simsiam/checkpoint.ckpt
//! cargo run --release --example evaluate -- CHECKPOINT path/to/cifar-10-batches-bin
//! ```

use std::path::PathBuf;

use selfsup::data::transforms::Normalize;
use selfsup::data::{
    CifarDataset, Split, class_balanced_subset, default_cache_dir, download_cifar10,
};
use selfsup::device::default_device_spec;
use selfsup::train::{
    EvalSplits, KnnConfig, LinearProbeConfig, knn_backbone, linear_probe_backbone, load_backbone,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let checkpoint = PathBuf::from(
        args.next()
            .ok_or("usage: evaluate CHECKPOINT [CIFAR10_DIR]")?,
    );
    let dir = match args.next() {
        Some(dir) => PathBuf::from(dir),
        None => download_cifar10(default_cache_dir().ok_or("no cache directory")?)?,
    };
    let device = default_device_spec().device()?;

    // Any run's encoder, whatever the method that trained it.
    let loaded = load_backbone(&checkpoint, &device)?;
    println!("the {:?} encoder of a {} run", loaded.config, loaded.method);

    let train = CifarDataset::cifar10(&dir, Split::Train)?;
    let test = CifarDataset::cifar10(&dir, Split::Test)?;
    let train_indices = class_balanced_subset(&train, 5000, 0)?;
    let test_indices = class_balanced_subset(&test, 2000, 0)?;
    let normalize = Normalize::cifar10();
    let splits = EvalSplits {
        train: &train,
        train_indices: &train_indices,
        test: &test,
        test_indices: &test_indices,
        normalize: Some(&normalize),
        batch_size: 256,
    };

    let probe =
        linear_probe_backbone(&loaded.backbone, splits, &LinearProbeConfig::new(), &device)?;
    println!("linear probe: {:.2}%", 100.0 * probe.top1());
    let knn = knn_backbone(&loaded.backbone, splits, &KnnConfig::new(), &device)?;
    println!("kNN: {:.2}%\n{knn}", 100.0 * knn.top1());
    Ok(())
}
