//! MAE: reconstruct the pixels of the patches a ViT did not see.
//!
//! He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022. Per image, 75 % of
//! the patches are removed at random ([`MaskPlan`]); the ViT encodes the visible ones only (with
//! the class token), a light decoder ([`MaeDecoder`]) fills in a learnt mask token at every
//! removed patch and predicts every patch's pixels, and the loss ([`mae_loss`]) is the mean
//! squared error on the removed patches against the per-patch normalised pixels. One view per
//! image, cropped and flipped only (solo-learn's `augmentations/reconstruction.yaml`).
//!
//! The masks are drawn on the host from the run's seed and the step ([`StepContext::seed`],
//! [`StepContext::step`]), so a resumed run draws the same masks as an uninterrupted one.

use burn::prelude::*;
use selfsup_data::ViewBatch;
use selfsup_data::transforms::{
    BoxedTransform, MultiView, MultiViewTransform, TwoViewConfig, rng_for, unit_f64,
};
use selfsup_losses::mae_loss;
use selfsup_models::{
    Backbone, BackboneConfig, MaeDecoder, MaeDecoderConfig, MaskPlan, PositionEmbedding, Vit,
    patchify,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::method::{Method, StepContext, StepOutput, require_views};
use crate::optim::OptimizerConfig;
use crate::recipe::{Published, Scale, Setup, SoloLearn};

const MAE: &str = "mae";

/// A stream of the run's seed kept for the masks, apart from the augmentations' streams.
const MASK_STREAM: u64 = 0x4d41_455f_4d41_534b; // "MAE_MASK"

/// Configuration of an [`Mae`] network: a ViT encoder and the decoder's size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaeConfig {
    /// The encoder: a [`BackboneConfig::Vit`].
    pub backbone: BackboneConfig,
    /// Decoder features (`decoder_embed_dim`).
    pub decoder_dim: usize,
    /// Decoder blocks (`decoder_depth`).
    pub decoder_depth: usize,
    /// Decoder heads (`decoder_num_heads`).
    pub decoder_heads: usize,
}

impl MaeConfig {
    /// The paper's decoder (512 features, 8 blocks of 16 heads; solo-learn's `mae.yaml` files
    /// keep it) on `backbone`.
    pub fn paper(backbone: BackboneConfig) -> Self {
        Self {
            backbone,
            decoder_dim: 512,
            decoder_depth: 8,
            decoder_heads: 16,
        }
    }

    /// The encoder's ViT configuration.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the encoder is not a ViT.
    pub fn vit(&self) -> Result<&selfsup_models::VitConfig> {
        match &self.backbone {
            BackboneConfig::Vit(vit) => Ok(vit),
            BackboneConfig::ResNet(_) | BackboneConfig::SmallCnn(_) => Err(Error::invalid(
                MAE,
                "backbone",
                "a convolutional network",
                "but MAE masks patches of a ViT (--backbone vit-tiny, vit-small or vit-base)",
            )),
        }
    }

    /// The decoder for the encoder.
    ///
    /// # Errors
    /// As [`vit`](Self::vit).
    pub fn decoder(&self) -> Result<MaeDecoderConfig> {
        let vit = self.vit()?;
        Ok(
            MaeDecoderConfig::new(vit.dim, vit.grid_size(), vit.patch_size)
                .with_prefix_tokens(1 + vit.registers)
                .with_channels(vit.in_channels)
                .with_dim(self.decoder_dim)
                .with_depth(self.decoder_depth)
                .with_heads(self.decoder_heads),
        )
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If the encoder is not a ViT (checked first by [`MaeMethod`]'s validation) or the decoder
    /// sizes do not fit (see [`MaeDecoderConfig::init`]).
    pub fn init(&self, device: &Device) -> Mae {
        let decoder = self.decoder().unwrap_or_else(|e| panic!("{e}"));
        Mae {
            backbone: self.backbone.init(device),
            decoder: decoder.init(device),
        }
    }
}

/// MAE's network: the ViT encoder and the decoder.
#[derive(Module, Debug)]
pub struct Mae {
    /// The encoder, the one evaluated (a [`Backbone::Vit`]).
    pub backbone: Backbone,
    /// The decoder.
    pub decoder: MaeDecoder,
}

/// What [`Mae::forward`] returns.
#[derive(Debug, Clone)]
pub struct MaeOutput {
    /// The predicted pixels of every patch, `[B, N, p²·C]`, in patch order (the target's
    /// layout, [`patchify`]; normalised per patch when the loss is).
    pub pred: Tensor<3>,
    /// 1 for a removed patch, 0 for a visible one, `[B, N]`.
    pub mask: Tensor<2>,
    /// The encoder's class token on the visible patches, `[B, dim]`.
    pub class_token: Tensor<2>,
}

impl Mae {
    /// The encoder as a ViT.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for another encoder.
    pub fn vit(&self) -> Result<&Vit> {
        match &self.backbone {
            Backbone::Vit(vit) => Ok(vit),
            _ => Err(Error::invalid(
                MAE,
                "backbone",
                "not a ViT",
                "but MAE masks patches of a ViT",
            )),
        }
    }

    /// Encodes the patches `plan` keeps and predicts every patch's pixels.
    ///
    /// # Errors
    /// When the encoder is not a ViT.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]` at the encoder's image size
    pub fn forward(&self, images: Tensor<4>, plan: &MaskPlan) -> Result<MaeOutput> {
        let vit = self.vit()?;
        let device = images.device();
        let (prefix, patches) = vit.embed(images);
        let latent = vit.encode(Tensor::cat(vec![prefix, plan.keep(patches)], 1));
        let class_token = Vit::class_token(latent.clone());
        Ok(MaeOutput {
            pred: self.decoder.forward(latent, plan),
            mask: plan.mask_tensor(&device),
            class_token,
        })
    }
}

/// MAE (He et al. 2022) on an [`MaeConfig`] network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaeMethod {
    /// The network.
    pub model: MaeConfig,
    /// The fraction of patches removed. Default 0.75 (the paper's).
    pub mask_ratio: f64,
    /// Regress each patch's pixels normalised by its own mean and variance. Default `true` (the
    /// paper's `norm_pix_loss`).
    pub norm_pix: bool,
}

impl MaeMethod {
    /// MAE on `model` with the paper's mask ratio (0.75) and normalised-pixel target.
    pub fn new(model: MaeConfig) -> Self {
        Self {
            model,
            mask_ratio: 0.75,
            norm_pix: true,
        }
    }

    /// The mask of a batch of `batch` images at step `step` of a run seeded `seed`.
    pub fn mask_plan(&self, batch: usize, patches: usize, seed: u64, step: usize) -> MaskPlan {
        let mut rng = rng_for(seed ^ MASK_STREAM, step as u64, 0);
        MaskPlan::random(batch, patches, self.mask_ratio, || {
            unit_f64(&mut rng) as f32
        })
    }

    /// MAE as solo-learn trains it (`solo/methods/mae.py`): the paper's decoder (512 features,
    /// 8 blocks of 16 heads), 75 % of the patches masked, the normalised-pixel loss, the
    /// encoder's fixed sine-cosine position embedding (`solo/backbones/vit/vit_mae.py`), AdamW
    /// (β = 0.9, 0.95; weight decay 0.05) at 2·10⁻⁴ × B/256, 10 warm-up epochs then cosine:
    ///
    /// | | `cifar/mae.yaml` | `imagenet-100/mae.yaml` | `imagenet/mae.yaml` |
    /// |---|---|---|---|
    /// | encoder | ViT-Small, patch 4 | ViT-Base, patch 16 | ViT-Base, patch 16 |
    /// | batch | 256 | 256 (128 × 2 GPUs) | 128 (64 × 2 GPUs) |
    /// | epochs | 1000 | 400 | 400 |
    /// | warm-up from | 3·10⁻⁵ | 0 | 0 |
    ///
    /// The encoder is the command line's (`--backbone vit-small --patch-size 4` is the CIFAR
    /// file's); [`Setup::decoder_width`] and [`Setup::decoder_depth`] shrink the decoder (heads
    /// of 32 features, as the paper's 512 / 16) for short CPU runs. Views: one crop of scale
    /// 0.08–1 and a flip (`reconstruction.yaml`).
    ///
    /// # Errors
    /// When the view does not fit the image size.
    pub fn published(setup: &Setup) -> Result<Published<Self>> {
        let mut backbone = setup.backbone.clone();
        if let BackboneConfig::Vit(vit) = &mut backbone {
            vit.position = PositionEmbedding::SinCos;
        }
        // A convolutional encoder is refused when training starts ([`Method::validate`]);
        // the views do not depend on it.
        let mut model = MaeConfig::paper(backbone);
        if let Some(width) = setup.decoder_width {
            model.decoder_dim = width;
            model.decoder_heads = (width / 32).max(1);
        }
        if let Some(depth) = setup.decoder_depth {
            model.decoder_depth = depth;
        }
        let (file, batch_size, epochs, warmup_start_lr) = match setup.scale {
            Scale::Cifar => ("cifar/mae.yaml", 256, 1000, 3e-5),
            Scale::ImageNet100 => ("imagenet-100/mae.yaml", 256, 400, 0.0),
            Scale::ImageNet => ("imagenet/mae.yaml", 128, 400, 0.0),
        };
        let recipe = SoloLearn {
            file,
            batch_size,
            lr: 2e-4,
            classifier_lr: 2e-4,
            optimizer: OptimizerConfig::AdamW {
                beta_1: 0.9,
                beta_2: 0.95,
                epsilon: 1e-8,
                weight_decay: 0.05,
            },
            epochs,
        };
        let view = TwoViewConfig {
            crop_scale: (0.08, 1.0),
            hflip_prob: 0.5,
            color_jitter_prob: 0.0,
            grayscale_prob: 0.0,
            blur: None,
            solarize: None,
            ..setup.at_size(TwoViewConfig::cifar10())
        };
        let view = view
            .build_view()
            .map_err(|e| Error::Data(format!("mae: the view does not fit: {e}")))?;
        let views: Arc<dyn MultiViewTransform> = Arc::new(
            MultiView::new(vec![Box::new(view) as BoxedTransform])
                .map_err(|e| Error::Data(format!("mae: {e}")))?,
        );
        let mut published = recipe.publish(Self::new(model), views);
        published.training.warmup_start_lr = warmup_start_lr;
        Ok(published)
    }
}

impl Method for MaeMethod {
    type EncoderConfig = BackboneConfig;
    type Model = Mae;
    const NAME: &'static str = MAE;

    fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.mask_ratio) {
            return Err(Error::invalid(
                MAE,
                "mask_ratio",
                self.mask_ratio,
                "must be in [0, 1)",
            ));
        }
        let vit = self.model.vit()?;
        let patches = vit.grid_size() * vit.grid_size();
        if (patches as f64 * (1.0 - self.mask_ratio)) < 1.0 {
            return Err(Error::invalid(
                MAE,
                "mask_ratio",
                self.mask_ratio,
                format!("keeps none of the {patches} patches"),
            ));
        }
        let decoder = self.model.decoder()?;
        decoder.check().map_err(|reason| {
            Error::invalid(
                MAE,
                "decoder_dim",
                decoder.dim,
                format!("does not fit: {reason}"),
            )
        })?;
        Ok(())
    }

    fn init_model(&self, device: &Device) -> Self::Model {
        self.model.init(device)
    }

    fn step(
        &self,
        model: &Self::Model,
        batch: &ViewBatch,
        ctx: &StepContext<'_>,
    ) -> Result<StepOutput> {
        require_views(Self::NAME, batch, 1)?;
        let vit = model.vit()?;
        let images = batch.view(0, ctx.device);
        let [b, _, h, w] = images.dims();
        let p = vit.patch_size();
        let plan = self.mask_plan(b, (h / p) * (w / p), ctx.seed, ctx.step);
        let out = model.forward(images.clone(), &plan)?;
        let loss = mae_loss(out.pred, patchify(images, p), out.mask, self.norm_pix);
        Ok(StepOutput {
            loss,
            embeddings: Some(out.class_token),
            metrics: Vec::new(),
        })
    }

    fn backbone<'m>(&self, model: &'m Self::Model) -> &'m Backbone {
        &model.backbone
    }

    fn backbone_config(&self) -> &BackboneConfig {
        &self.model.backbone
    }
}
