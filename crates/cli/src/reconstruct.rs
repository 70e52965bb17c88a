//! `selfsup reconstruct`: what an MAE run's decoder makes of images it sees a quarter of — the
//! originals, the masked inputs and the reconstructions in one grid (the MAE paper's figures 2
//! to 4).

use std::path::PathBuf;

use clap::Args;
use selfsup::burn::prelude::*;
use selfsup::data::image_grid;
use selfsup::data::transforms::{Image, resize_center_crop};
use selfsup::losses::MAE_NORM_PIX_EPS;
use selfsup::models::{BackboneConfig, patchify, unpatchify};
use selfsup::train::{Checkpoint, MaeMethod, Method};

use crate::Result;
use crate::args::{DeviceArgs, checkpoint_path};
use crate::data::{DataArgs, Part};

/// `selfsup reconstruct`.
#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// The run directory (or its checkpoint file) of an MAE run.
    pub run: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// The PNG file to write.
    #[arg(long, default_value = "reconstruction.png")]
    pub out: PathBuf,
    /// Images (rows), the first of the test split.
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Seed of the masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Upscaling factor of each cell.
    #[arg(long, default_value_t = 4)]
    pub scale: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Runs `selfsup reconstruct`.
pub fn run(args: ReconstructArgs) -> Result<()> {
    let device = args.device.device()?;
    let path = checkpoint_path(&args.run)?;
    let checkpoint = Checkpoint::read(&path)?;
    let method: MaeMethod = checkpoint.method(&path)?;
    let model = checkpoint.load_model(method.init_model(&device), &path)?;
    let BackboneConfig::Vit(vit) = &method.model.backbone else {
        unreachable!("an MAE run trains a ViT")
    };
    let (size, patch) = (vit.image_size, vit.patch_size);
    if args.n == 0 {
        return Err("--n: at least one image".into());
    }
    let opened = args.data.open(Part::Test)?;
    let dataset = opened.dataset.as_ref();
    let n = args.n.min(dataset.len());
    let normalize = args.data.normalize();
    let originals: Vec<Image> = (0..n)
        .map(|i| -> Result<Image> {
            let [c, h, w] = dataset.shape(i);
            let image = Image::from_chw_u8(&dataset.pixels(i)?, c, h, w)?;
            Ok(resize_center_crop(&image, size))
        })
        .collect::<Result<_>>()?;
    let mut batch = Vec::with_capacity(n * 3 * size * size);
    for image in &originals {
        let mut x = image.clone();
        normalize.normalize_in_place(&mut x);
        batch.extend_from_slice(x.data());
    }
    let images = Tensor::<4>::from_data(TensorData::new(batch, [n, 3, size, size]), &device);
    let grid = size / patch;
    let plan = method.mask_plan(n, grid * grid, args.seed, 0);
    let out = model.forward(images.clone(), &plan)?;
    let target = patchify(images, patch);
    // With the normalised-pixel loss the decoder predicts each patch standardised: give it back
    // the patch's own mean and spread, as the MAE paper's visualisation does.
    let pred = if method.norm_pix {
        let (var, mean) = target.clone().var_mean(2);
        out.pred * (var + MAE_NORM_PIX_EPS).sqrt() + mean
    } else {
        out.pred
    };
    let mask: Tensor<3> = out.mask.unsqueeze_dim(2); // [n, N, 1], 1 = removed
    let pasted = target.clone() * (mask.clone().neg() + 1.0) + pred * mask.clone();
    let masked = target * (mask.neg() + 1.0);
    let to_images = |patches: Tensor<3>| -> Result<Vec<Image>> {
        let pixels = unpatchify(patches, patch, 3, [grid, grid])
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("cannot read the images back: {e:?}"))?;
        pixels
            .chunks(3 * size * size)
            .map(|chw| {
                let mut image = Image::new(3, size, size, chw.to_vec())?;
                normalize.denormalize(&mut image);
                image
                    .data_mut()
                    .iter_mut()
                    .for_each(|v| *v = v.clamp(0.0, 1.0));
                Ok(image)
            })
            .collect()
    };
    let (masked, pasted) = (to_images(masked)?, to_images(pasted)?);
    let rows: Vec<Vec<Image>> = originals
        .into_iter()
        .zip(masked.into_iter().zip(pasted))
        .map(|(original, (masked, pasted))| vec![original, masked, pasted])
        .collect();
    image_grid(&rows, args.scale, 2)?
        .save(&args.out)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote {}: {n} test images, each as the original, the {} of {} patches the encoder saw \
         (the others at the data's mean colour), and the reconstruction (the decoder's pixels where it saw none)",
        args.out.display(),
        plan.kept(),
        grid * grid
    );
    Ok(())
}
