//! Opens CIFAR-10 and encodes a batch of test images with a small CNN: the smallest check that
//! data, model and backend fit together.
//!
//! ```text
//! cargo run --release --example quickstart                   # CIFAR-10 from the user cache
//! cargo run --release --example quickstart -- path/to/cifar-10-batches-bin
//! ```

use std::path::PathBuf;

use selfsup::data::images_to_tensor;
use selfsup::data::{CIFAR_SIDE, CifarDataset, Split, default_cache_dir, download_cifar10};
use selfsup::device::default_device_spec;
use selfsup::models::SmallCnnConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The directory given on the command line, else CIFAR-10 downloaded (MD5-checked) once
    // into the user cache.
    let dir = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => download_cifar10(default_cache_dir().ok_or("no cache directory")?)?,
    };
    let test = CifarDataset::cifar10(&dir, Split::Test)?;
    println!(
        "CIFAR-10 test split: {} images, classes {:?}",
        test.len(),
        test.classes()
    );

    let device = default_device_spec().device()?;
    let n = 32;
    let pixels: Vec<u8> = (0..n).flat_map(|i| test.image(i).iter().copied()).collect();
    let images = images_to_tensor(&pixels, [n, 3, CIFAR_SIDE, CIFAR_SIDE], &device);

    let encoder = SmallCnnConfig::new().init(&device);
    let features = encoder.forward_features(images);
    println!(
        "encoded {n} images into features of shape {:?} on {}",
        features.dims(),
        default_device_spec()
    );
    Ok(())
}
