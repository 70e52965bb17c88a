//! A PNG grid of CIFAR-10 images and the two views SimCLR's augmentation makes of each (the
//! figure of the SimCLR paper): original, view 1, view 2.
//!
//! ```text
//! cargo run --release --example augmentations                # CIFAR-10 from the user cache
//! cargo run --release --example augmentations -- path/to/cifar-10-batches-bin
//! ```

use std::path::PathBuf;

use selfsup::data::transforms::{Image, MultiViewTransform, Normalize, SimClrTransform, rng_for};
use selfsup::data::{
    CifarDataset, ImageDataset, Split, default_cache_dir, download_cifar10, image_grid,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => download_cifar10(default_cache_dir().ok_or("no cache directory")?)?,
    };
    let train = CifarDataset::cifar10(&dir, Split::Train)?;
    // torchvision's SimCLR CIFAR-10 pipeline: crop, flip, colour jitter, grayscale, normalize.
    let transform = SimClrTransform::cifar10();
    let normalize = Normalize::cifar10();

    let rows = (0..8)
        .map(|i| {
            let [c, h, w] = train.shape(i);
            let original = Image::from_chw_u8(&train.pixels(i)?, c, h, w)?;
            // One random stream per (seed, epoch, image): the same views on any thread.
            let mut views = transform.views(&original, &mut rng_for(0, 0, i as u64));
            views.iter_mut().for_each(|v| normalize.denormalize(v));
            Ok(std::iter::once(original).chain(views).collect())
        })
        .collect::<Result<Vec<Vec<Image>>, Box<dyn std::error::Error>>>()?;
    image_grid(&rows, 4, 2)?.save("views.png")?;
    println!("wrote views.png: 8 images × original + 2 views");
    Ok(())
}
