//! The pieces of MAE (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners") that
//! are networks or tensor layouts: the random patch masking ([`MaskPlan`]), the light decoder
//! ([`MaeDecoder`]) and the patch layout of the pixel targets ([`patchify`], [`unpatchify`]).
//! Each follows the paper's code (`facebookresearch/mae`, `models_mae.py`), which solo-learn's
//! `solo/methods/mae.py` and lightly's MAE example reuse.
//!
//! The encoder is a [`Vit`](crate::Vit) that sees the visible patches only
//! ([`Vit::embed`](crate::Vit::embed), a gather by [`MaskPlan::keep`], then
//! [`Vit::encode`](crate::Vit::encode)); the decoder puts a shared learnt mask token at every
//! removed patch, restores the patches' order, adds its own fixed sine-cosine position embedding
//! and predicts each patch's pixels.

use burn::module::Param;
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::{Distribution, Int};

use crate::vit::{VitBlock, sincos_2d};

/// Which patches of each image the encoder sees, drawn as MAE's `random_masking` draws them:
/// one uniform noise value per patch, the patches sorted by it, the first
/// `⌊N·(1 − mask_ratio)⌋` kept.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskPlan {
    batch: usize,
    patches: usize,
    keep: usize,
    /// `ids_shuffle[:, :keep]`, row-major `[batch, keep]`.
    ids_keep: Vec<usize>,
    /// `argsort(ids_shuffle)`, row-major `[batch, patches]`.
    ids_restore: Vec<usize>,
}

impl MaskPlan {
    /// The plan for `noise` (row-major `[batch, patches]`, one value per patch): ascending
    /// noise is kept first (`torch.argsort(noise, dim=1)`; ties, which a continuous draw does
    /// not make, by index).
    ///
    /// # Panics
    /// If `noise` is not `batch × patches` long, or `mask_ratio` is not in `[0, 1)` or keeps no
    /// patch.
    pub fn from_noise(noise: &[f32], batch: usize, patches: usize, mask_ratio: f64) -> Self {
        assert_eq!(
            noise.len(),
            batch * patches,
            "MaskPlan: {} noise values for {batch} images of {patches} patches",
            noise.len()
        );
        let keep = kept_patches(patches, mask_ratio);
        let mut ids_keep = Vec::with_capacity(batch * keep);
        let mut ids_restore = vec![0; batch * patches];
        for b in 0..batch {
            let row = &noise[b * patches..(b + 1) * patches];
            let mut order: Vec<usize> = (0..patches).collect();
            order.sort_by(|&i, &j| row[i].total_cmp(&row[j]));
            ids_keep.extend_from_slice(&order[..keep]);
            for (rank, &patch) in order.iter().enumerate() {
                ids_restore[b * patches + patch] = rank;
            }
        }
        Self {
            batch,
            patches,
            keep,
            ids_keep,
            ids_restore,
        }
    }

    /// A plan from uniform noise drawn by `uniform` (one call per patch, row by row).
    ///
    /// # Panics
    /// As [`from_noise`](Self::from_noise).
    pub fn random(
        batch: usize,
        patches: usize,
        mask_ratio: f64,
        mut uniform: impl FnMut() -> f32,
    ) -> Self {
        let noise: Vec<f32> = (0..batch * patches).map(|_| uniform()).collect();
        Self::from_noise(&noise, batch, patches, mask_ratio)
    }

    /// Images in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Patches per image.
    pub fn patches(&self) -> usize {
        self.patches
    }

    /// Visible patches per image.
    pub fn kept(&self) -> usize {
        self.keep
    }

    /// The visible patches' indices, per image in the order the encoder sees them.
    pub fn ids_keep(&self) -> &[usize] {
        &self.ids_keep
    }

    /// MAE's mask: 1 for a removed patch, 0 for a visible one, row-major `[batch, patches]`.
    pub fn mask(&self) -> Vec<f32> {
        self.ids_restore
            .iter()
            .map(|&rank| if rank < self.keep { 0.0 } else { 1.0 })
            .collect()
    }

    /// The mask as a tensor.
    ///
    /// # Shapes
    /// - output: `[batch, patches]`
    pub fn mask_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.mask(), [self.batch, self.patches]),
            device,
        )
    }

    /// The visible tokens of `tokens` (`torch.gather(x, 1, ids_keep)`).
    ///
    /// # Shapes
    /// - `tokens`: `[batch, patches, D]`
    /// - output: `[batch, kept, D]`
    pub fn keep(&self, tokens: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = tokens.dims();
        assert_eq!((b, n), (self.batch, self.patches), "MaskPlan::keep: tokens");
        let rows: Vec<i64> = self
            .ids_keep
            .iter()
            .enumerate()
            .map(|(i, &patch)| ((i / self.keep) * n + patch) as i64)
            .collect();
        select_rows(tokens.reshape([b * n, d]), rows).reshape([b, self.keep, d])
    }

    /// Undoes the shuffle: `tokens` holds each image's visible tokens then its mask tokens (in
    /// shuffled order); the output holds them in patch order
    /// (`torch.gather(x_, 1, ids_restore)`).
    ///
    /// # Shapes
    /// - `tokens`: `[batch, patches, D]`
    /// - output: `[batch, patches, D]`
    pub fn restore(&self, tokens: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = tokens.dims();
        assert_eq!(
            (b, n),
            (self.batch, self.patches),
            "MaskPlan::restore: tokens"
        );
        let rows: Vec<i64> = self
            .ids_restore
            .iter()
            .enumerate()
            .map(|(i, &rank)| ((i / n) * n + rank) as i64)
            .collect();
        select_rows(tokens.reshape([b * n, d]), rows).reshape([b, n, d])
    }
}

/// The patches MAE keeps of `patches` at `mask_ratio`: `int(N · (1 − mask_ratio))`.
///
/// # Panics
/// If `mask_ratio` is not in `[0, 1)` or keeps no patch.
pub fn kept_patches(patches: usize, mask_ratio: f64) -> usize {
    assert!(
        (0.0..1.0).contains(&mask_ratio),
        "MAE: the mask ratio must be in [0, 1), got {mask_ratio}"
    );
    let keep = (patches as f64 * (1.0 - mask_ratio)) as usize;
    assert!(
        keep >= 1,
        "MAE: a mask ratio of {mask_ratio} keeps none of {patches} patches"
    );
    keep
}

fn select_rows(x: Tensor<2>, rows: Vec<i64>) -> Tensor<2> {
    let n = rows.len();
    let device = x.device();
    let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device);
    x.select(0, index)
}

/// Images cut into flattened patches, MAE's `patchify`: patch `(i, j)` (row-major) holds its
/// pixels row by row, each pixel's channels together (`nchpwq → nhwpqc`).
///
/// # Shapes
/// - `images`: `[B, C, H, W]`, sides multiples of `patch`
/// - output: `[B, (H/p)·(W/p), p·p·C]`
pub fn patchify(images: Tensor<4>, patch: usize) -> Tensor<3> {
    let [b, c, h, w] = images.dims();
    let (gh, gw) = (h / patch, w / patch);
    images
        .reshape([b, c, gh, patch, gw, patch])
        .permute([0, 2, 4, 3, 5, 1])
        .reshape([b, gh * gw, patch * patch * c])
}

/// The inverse of [`patchify`] (MAE's `unpatchify`).
///
/// # Shapes
/// - `patches`: `[B, gh·gw, p·p·C]`
/// - output: `[B, C, gh·p, gw·p]`
pub fn unpatchify(
    patches: Tensor<3>,
    patch: usize,
    channels: usize,
    grid: [usize; 2],
) -> Tensor<4> {
    let [b, _, _] = patches.dims();
    let [gh, gw] = grid;
    patches
        .reshape([b, gh, gw, patch, patch, channels])
        .permute([0, 5, 1, 3, 2, 4])
        .reshape([b, channels, gh * patch, gw * patch])
}

/// Configuration of an [`MaeDecoder`]. The defaults are the paper's (and solo-learn's
/// `imagenet-100/mae.yaml`): 512 features, 8 blocks of 16 heads, MLP ratio 4.
#[derive(Config, Debug)]
pub struct MaeDecoderConfig {
    /// The encoder's token features.
    pub encoder_dim: usize,
    /// Patches per side of the encoder's grid (the decoder's position embedding).
    pub grid: usize,
    /// Side of a patch: the prediction holds `patch² · channels` values per patch.
    pub patch_size: usize,
    /// Tokens in front of the patches (the class token, and register tokens).
    #[config(default = 1)]
    pub prefix_tokens: usize,
    /// Image channels.
    #[config(default = 3)]
    pub channels: usize,
    /// Decoder features (`decoder_embed_dim`). Default 512.
    #[config(default = 512)]
    pub dim: usize,
    /// Decoder blocks (`decoder_depth`). Default 8.
    #[config(default = 8)]
    pub depth: usize,
    /// Decoder heads (`decoder_num_heads`). Default 16.
    #[config(default = 16)]
    pub heads: usize,
    /// MLP ratio of the decoder blocks. Default 4.
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
}

/// MAE's decoder, named as `models_mae.py`'s `decoder_*` modules.
#[derive(Module, Debug)]
pub struct MaeDecoder {
    /// `decoder_embed`: encoder features to decoder features.
    pub decoder_embed: Linear,
    /// `mask_token`, `[1, 1, dim]`.
    pub mask_token: Param<Tensor<3>>,
    /// `decoder_pos_embed`: the fixed sine-cosine table, zeros for the prefix tokens,
    /// `[1, prefix + grid², dim]`; never trained.
    pub decoder_pos_embed: Param<Tensor<3>>,
    /// `decoder_blocks`.
    pub decoder_blocks: Vec<VitBlock>,
    /// `decoder_norm`.
    pub decoder_norm: LayerNorm,
    /// `decoder_pred`: decoder features to `patch² · channels` pixels.
    pub decoder_pred: Linear,
    prefix_tokens: usize,
}

impl MaeDecoderConfig {
    /// Why the decoder cannot be built, if it cannot: heads that do not divide its features,
    /// or features that are not a multiple of 4 (the sine-cosine table).
    pub fn check(&self) -> Result<(), String> {
        if self.heads == 0 || !self.dim.is_multiple_of(self.heads) || !self.dim.is_multiple_of(4) {
            return Err(format!(
                "{} features must be a multiple of 4 and of the {} heads",
                self.dim, self.heads
            ));
        }
        Ok(())
    }

    /// Builds the decoder, initialised as MAE's code does: Xavier-uniform linear weights with
    /// zero biases, the mask token from `N(0, 0.02²)`, layer norms (ε = 10⁻⁶) at 1 and 0.
    ///
    /// # Panics
    /// If `heads` does not divide `dim`, or `dim` is not a multiple of 4 (the sine-cosine
    /// table).
    pub fn init(&self, device: &Device) -> MaeDecoder {
        if let Err(message) = self.check() {
            panic!("MaeDecoderConfig: {message}");
        }
        let d = self.dim;
        let xavier = |d_in: usize, d_out: usize| {
            let mut layer = LinearConfig::new(d_in, d_out)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device);
            layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
            layer
        };
        let mut table = vec![0.0f32; self.prefix_tokens * d];
        table.extend(sincos_2d(d, self.grid));
        let positions = self.prefix_tokens + self.grid * self.grid;
        let blocks = (0..self.depth)
            .map(|_| {
                let mut block = VitBlock::new(d, self.heads, self.mlp_ratio, true, 1e-6, device);
                for layer in [
                    &mut block.attn.qkv,
                    &mut block.attn.proj,
                    &mut block.mlp.fc1,
                    &mut block.mlp.fc2,
                ] {
                    let [d_in, d_out] = layer.weight.dims();
                    *layer = xavier(d_in, d_out);
                }
                block
            })
            .collect();
        MaeDecoder {
            decoder_embed: xavier(self.encoder_dim, d),
            mask_token: Param::from_tensor(Tensor::random(
                [1, 1, d],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            decoder_pos_embed: Param::from_tensor(Tensor::from_data(
                TensorData::new(table, [1, positions, d]),
                device,
            )),
            decoder_blocks: blocks,
            decoder_norm: LayerNormConfig::new(d).with_epsilon(1e-6).init(device),
            decoder_pred: xavier(d, self.patch_size * self.patch_size * self.channels),
            prefix_tokens: self.prefix_tokens,
        }
    }
}

impl MaeDecoder {
    /// Predicts every patch's pixels from the encoder's output on the visible patches
    /// (`forward_decoder` of `models_mae.py`).
    ///
    /// # Shapes
    /// - `latent`: `[B, prefix + kept, encoder_dim]`, the encoder's output
    /// - output: `[B, patches, patch² · channels]`, in patch order
    pub fn forward(&self, latent: Tensor<3>, plan: &MaskPlan) -> Tensor<3> {
        let x = self.decoder_embed.forward(latent);
        let [b, t, d] = x.dims();
        let p = self.prefix_tokens;
        let n = plan.patches();
        let masked = n - (t - p);
        let mask_tokens = self.mask_token.val().expand([b, masked, d]);
        let patches = Tensor::cat(vec![x.clone().narrow(1, p, t - p), mask_tokens], 1);
        let x = Tensor::cat(vec![x.narrow(1, 0, p), plan.restore(patches)], 1);
        let x = x + self.decoder_pos_embed.val().detach();
        let x = self
            .decoder_blocks
            .iter()
            .fold(x, |x, block| block.forward(x));
        let x = self.decoder_pred.forward(self.decoder_norm.forward(x));
        x.narrow(1, p, n)
    }
}
