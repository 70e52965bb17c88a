//! `selfsup views`: a grid of images and the augmented views a method trains on, one row per
//! image (original, then each view, un-normalised), as the figures of the SimCLR paper and
//! torchvision's augmentation gallery.

use std::path::PathBuf;

use clap::Args;
use selfsup::data::image_grid;
use selfsup::data::transforms::{Image, rng_for};

use crate::Result;
use crate::args::{BackboneArgs, BackboneKind};
use crate::data::{DataArgs, Part};
use crate::pretrain::{method_parser, setup, views_of};

/// `selfsup views`.
#[derive(Args, Debug)]
pub struct ViewsArgs {
    /// Whose augmentations.
    #[arg(value_parser = method_parser(), default_value = "simclr")]
    pub method: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// The PNG file to write.
    #[arg(long, default_value = "views.png")]
    pub out: PathBuf,
    /// Images (rows).
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Seed of the augmentations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Upscaling factor of each cell.
    #[arg(long, default_value_t = 4)]
    pub scale: usize,
}

/// Runs `selfsup views`.
pub fn run(args: ViewsArgs) -> Result<()> {
    let images = args.data.open(Part::Pretrain)?;
    let dataset = images.dataset.as_ref();
    let backbone = BackboneArgs::of(BackboneKind::Resnet18);
    let transform = views_of(&args.method, &setup(&args.data, &backbone)?)?;
    let normalize = args.data.normalize();
    let size = args.data.image_size();
    let picked: Vec<usize> = (0..args.n.min(dataset.len())).collect();
    let rows: Vec<Vec<Image>> = picked
        .iter()
        .map(|&i| -> Result<Vec<Image>> {
            let [c, h, w] = dataset.shape(i);
            let original = Image::from_chw_u8(&dataset.pixels(i)?, c, h, w)?;
            let mut views = transform.views(&original, &mut rng_for(args.seed, 0, i as u64));
            views.iter_mut().for_each(|v| normalize.denormalize(v));
            // The original, resized to the views' side so that the grid's cells agree.
            let shown = selfsup::data::transforms::resize(&original, size, size);
            Ok(std::iter::once(shown).chain(views).collect())
        })
        .collect::<Result<_>>()?;
    let grid = image_grid(&rows, args.scale, 2)?;
    grid.save(&args.out)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote {} ({} images × original + {} views of {})",
        args.out.display(),
        rows.len(),
        transform.num_views(),
        args.method
    );
    Ok(())
}
