//! `selfsup attention`: the class token's self-attention in a ViT run's last block, one panel
//! per head, over an image — the attention maps of the DINO paper (Caron et al. 2021, figures 1
//! and 3), which segment objects without ever seeing a label.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use selfsup::burn::prelude::*;
use selfsup::data::image_grid;
use selfsup::data::transforms::{Image, Normalize, resize_center_crop};
use selfsup::models::Backbone;

use crate::Result;
use crate::args::{DeviceArgs, load_run_backbone};
use crate::data::DatasetKind;
use crate::resume::{recorded_command, run_dir};

/// `selfsup attention`.
#[derive(Args, Debug)]
pub struct AttentionArgs {
    /// The run directory (or its checkpoint file) of a run that trained a ViT.
    pub run: PathBuf,
    /// The image to look at (PNG, JPEG, …).
    #[arg(long)]
    pub image: PathBuf,
    /// The PNG file to write.
    #[arg(long, default_value = "attention.png")]
    pub out: PathBuf,
    /// Side the image is resized and centre-cropped to, a multiple of the patch size (default:
    /// the size the encoder was trained at).
    #[arg(long)]
    pub size: Option<usize>,
    /// Upscaling factor of each panel.
    #[arg(long, default_value_t = 4)]
    pub scale: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Runs `selfsup attention`.
pub fn run(args: AttentionArgs) -> Result<()> {
    let device = args.device.device()?;
    let (backbone, config, what) = load_run_backbone(&args.run, &device)?;
    let Backbone::Vit(vit) = backbone else {
        return Err(format!(
            "{what} is not a ViT: attention maps need a run trained with --backbone vit-tiny, \
             vit-small or vit-base"
        )
        .into());
    };
    let selfsup::models::BackboneConfig::Vit(vit_config) = config else {
        unreachable!("a ViT's config is a ViT config")
    };
    let patch = vit.patch_size();
    let size = args.size.unwrap_or(vit_config.image_size);
    if size == 0 || !size.is_multiple_of(patch) {
        return Err(
            format!("--size {size}: not a positive multiple of the patch size {patch}").into(),
        );
    }
    let picture = read_rgb(&args.image)?;
    let shown = resize_center_crop(&picture, size);
    let normalize = run_normalization(&args.run)?;
    let mut input = shown.clone();
    normalize.normalize_in_place(&mut input);
    let tensor = Tensor::<4>::from_data(
        TensorData::new(input.into_data(), [1, 3, size, size]),
        &device,
    );
    let attention = vit.last_self_attention(tensor); // [1, heads, T, T]
    let [_, heads, tokens, _] = attention.dims();
    let grid = size / patch;
    let prefix = tokens - grid * grid;
    // The class token's row, over the patches only.
    let maps: Vec<f32> = attention
        .narrow(2, 0, 1)
        .narrow(3, prefix, grid * grid)
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("cannot read the attention back: {e:?}"))?;
    let mut panels = vec![shown.clone()];
    let mean: Vec<f32> = (0..grid * grid)
        .map(|i| (0..heads).map(|h| maps[h * grid * grid + i]).sum::<f32>() / heads as f32)
        .collect();
    panels.push(overlay(&shown, &heat(&mean, grid, size)?));
    for h in 0..heads {
        panels.push(heat(
            &maps[h * grid * grid..(h + 1) * grid * grid],
            grid,
            size,
        )?);
    }
    let picture = image_grid(&[panels], args.scale, 2)?;
    picture
        .save(&args.out)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote {}: the image, the mean over heads laid over it, then the class token's \
         attention of each of the {heads} heads of the last block ({grid}×{grid} patches of \
         {patch} pixels), from {what}",
        args.out.display()
    );
    Ok(())
}

/// An image file as a 3-channel image with values in `[0, 1]`.
fn read_rgb(path: &Path) -> Result<Image> {
    let picture = image::open(path)
        .map_err(|e| format!("cannot read the image {}: {e}", path.display()))?
        .to_rgb8();
    let (w, h) = picture.dimensions();
    Ok(Image::from_hwc_u8(
        picture.as_raw(),
        3,
        h as usize,
        w as usize,
    )?)
}

/// The normalisation the run trained with: its dataset's statistics, read from the command its
/// `config.json` records (CIFAR-10's when it records none, the command line's default dataset).
fn run_normalization(run: &Path) -> Result<Normalize> {
    let words = recorded_command(&run_dir(run))?.unwrap_or_default();
    let dataset = words
        .iter()
        .position(|w| w == "--dataset")
        .and_then(|i| words.get(i + 1).cloned())
        .or_else(|| {
            words
                .iter()
                .find_map(|w| w.strip_prefix("--dataset=").map(String::from))
        });
    let kind = match dataset {
        Some(name) => DatasetKind::from_str(&name, true)
            .map_err(|e| format!("the run's --dataset {name}: {e}"))?,
        None => DatasetKind::Cifar10,
    };
    Ok(kind.normalize())
}

/// A `grid × grid` map scaled to `[0, 1]` and coloured (dark blue → yellow, like viridis), as
/// a `size × size` image of nearest-neighbour blocks.
fn heat(values: &[f32], grid: usize, size: usize) -> Result<Image> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut data = vec![0.0f32; 3 * grid * grid];
    for (i, &v) in values.iter().enumerate() {
        let [r, g, b] = viridis((v - lo) / span);
        data[i] = r;
        data[grid * grid + i] = g;
        data[2 * grid * grid + i] = b;
    }
    let small = Image::new(3, grid, grid, data)?;
    // Nearest-neighbour blocks: upscale by repeating each cell.
    let mut out = Image::zeros(3, size, size);
    let cell = size / grid;
    for c in 0..3 {
        let plane = small.plane(c).to_vec();
        let target = out.plane_mut(c);
        for y in 0..size {
            for x in 0..size {
                target[y * size + x] =
                    plane[(y / cell).min(grid - 1) * grid + (x / cell).min(grid - 1)];
            }
        }
    }
    Ok(out)
}

/// `image` darkened and tinted by `heat` (40 % image, 60 % map).
fn overlay(image: &Image, heat: &Image) -> Image {
    let data = image
        .data()
        .iter()
        .zip(heat.data())
        .map(|(a, b)| 0.4 * a + 0.6 * b)
        .collect();
    Image::new(3, image.height(), image.width(), data).expect("same shape")
}

/// Five stops of matplotlib's viridis, linearly interpolated, for `t ∈ [0, 1]`.
fn viridis(t: f32) -> [f32; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.267, 0.005, 0.329],
        [0.229, 0.322, 0.546],
        [0.128, 0.567, 0.551],
        [0.369, 0.789, 0.383],
        [0.993, 0.906, 0.144],
    ];
    let t = t.clamp(0.0, 1.0) * 4.0;
    if t >= 4.0 {
        return STOPS[4];
    }
    let i = t.floor() as usize;
    let f = t - i as f32;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    [0, 1, 2].map(|c| a[c] + f * (b[c] - a[c]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_map_runs_from_dark_to_bright() {
        assert_eq!(viridis(0.0), [0.267, 0.005, 0.329]);
        assert_eq!(viridis(1.0), [0.993, 0.906, 0.144]);
        let luminance = |c: [f32; 3]| 0.3 * c[0] + 0.6 * c[1] + 0.1 * c[2];
        let steps: Vec<f32> = (0..=10)
            .map(|i| luminance(viridis(i as f32 / 10.0)))
            .collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]), "{steps:?}");
    }

    #[test]
    fn a_heat_map_is_blocks_of_its_cells() {
        let map = heat(&[0.0, 1.0, 0.5, 0.25], 2, 4).unwrap();
        // Top-right cell (the maximum) is the brightest colour, over 2×2 pixels.
        assert_eq!(map.get(0, 0, 3), 0.993);
        assert_eq!(map.get(0, 1, 2), 0.993);
        assert_eq!(map.get(0, 0, 0), 0.267);
    }
}
