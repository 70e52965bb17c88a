//! The Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), in the
//! layout of timm's `VisionTransformer`.
//!
//! An image is cut into `patch_size × patch_size` patches, each projected linearly to `dim`
//! features; a learnt class token (and optionally register tokens, Darcet et al. 2024) is put in
//! front, a position embedding added, and `depth` pre-norm blocks
//! (`x + attn(norm1(x))`, then `x + mlp(norm2(x))`, multi-head self-attention and a
//! `dim → mlp_ratio·dim → dim` GELU MLP) run over the tokens; a final layer norm ends the
//! network. The features are the class token's output (timm's `global_pool='token'`, the
//! representation DINO, MoCo v3 and MAE's linear probe use).
//!
//! ## timm's names
//! Tensors are named as in timm's `VisionTransformer.state_dict()`: `cls_token`, `reg_token`,
//! `pos_embed`, `patch_embed.proj.weight` / `.bias`, `blocks.{i}.norm1.weight`,
//! `blocks.{i}.attn.qkv.weight`, `blocks.{i}.attn.proj.weight`, `blocks.{i}.norm2.*`,
//! `blocks.{i}.mlp.fc1.*`, `blocks.{i}.mlp.fc2.*`, `norm.*` (once layer-norm `gamma` / `beta`
//! are read as `weight` / `bias` and linear weights are transposed, as Burn's PyTorch adapters
//! do). [`Vit::load_timm_safetensors`](crate::pretrained) reads such a state dict and
//! [`Vit::save_timm_safetensors`](crate::export) writes one that
//! `timm.create_model(..., num_classes=0).load_state_dict(..., strict=True)` accepts; the
//! `VitConfig` fields map to timm's `create_model` arguments as documented on each field.
//!
//! ## Image sizes
//! The position embedding is built for [`VitConfig::image_size`]. Images of another size (a
//! multiple of the patch size; DINO's 96-pixel local crops beside 224-pixel global ones) get
//! the patch part of the embedding resized by bicubic interpolation to their patch grid, as
//! timm's `resample_abs_pos_embed` (with `antialias=False`) and DINO's `interpolate_pos_encoding`
//! do; the class and register tokens' entries are kept.
//!
//! ## Position embeddings
//! [`PositionEmbedding::Learned`] (timm's default and ViT's): a parameter initialised from
//! `N(0, 0.02²)`. [`PositionEmbedding::SinCos`]: the fixed 2-D sine-cosine embedding of MAE and
//! MoCo v3 (`get_2d_sincos_pos_embed` of MAE's code: the first half of the features encodes the
//! patch's column, the second half its row, each as `[sin(p·ω_k), cos(p·ω_k)]` with
//! `ω_k = 10000^(−k / (dim/4))`; zeros for the class token). It is kept in the same `pos_embed`
//! tensor (so the state dict is timm's) and never trained: the forward pass reads it detached.

use burn::module::Param;
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::module::{attention, interpolate};
use burn::tensor::ops::{AttentionModuleOptions, InterpolateMode, InterpolateOptions};

/// How a [`Vit`] knows where each patch is.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PositionEmbedding {
    /// A learnt embedding, initialised from `N(0, 0.02²)` (timm's default).
    Learned,
    /// MAE's fixed 2-D sine-cosine embedding, not trained.
    SinCos,
}

/// Configuration of a [`Vit`]. [`VitConfig::tiny`], [`small`](VitConfig::small) and
/// [`base`](VitConfig::base) are the widths of timm's `vit_tiny_patch16_224`,
/// `vit_small_patch16_224` and `vit_base_patch16_224` (DeiT's tiny and small, ViT-B/16).
#[derive(Config, Debug)]
pub struct VitConfig {
    /// Side of the images the position embedding is built for (timm's `img_size`); other
    /// sizes are interpolated to.
    pub image_size: usize,
    /// Side of a square patch (timm's `patch_size`): 16 for 224-pixel images, 4 for CIFAR's 32.
    pub patch_size: usize,
    /// Token features (timm's `embed_dim`).
    pub dim: usize,
    /// Transformer blocks.
    pub depth: usize,
    /// Attention heads; must divide `dim`.
    pub heads: usize,
    /// Hidden features of each block's MLP, as a multiple of `dim`. Default 4.
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
    /// Input image channels (timm's `in_chans`). Default 3.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Register tokens after the class token (timm's `reg_tokens`; Darcet et al. 2024).
    /// Default 0.
    #[config(default = 0)]
    pub registers: usize,
    /// Whether the class and register tokens get a position embedding too (timm's
    /// `no_embed_class=False`, the original ViT's). Default `true`; timm's register models
    /// use `false`.
    #[config(default = true)]
    pub class_position: bool,
    /// The position embedding. Default [`PositionEmbedding::Learned`].
    #[config(default = "PositionEmbedding::Learned")]
    pub position: PositionEmbedding,
    /// Biases on the query, key and value projections (timm's `qkv_bias`). Default `true`.
    #[config(default = true)]
    pub qkv_bias: bool,
    /// ε of every layer norm. Default 10⁻⁶ (timm's ViTs).
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
}

impl VitConfig {
    /// ViT-Tiny (DeiT-Ti): 192 features, 12 blocks, 3 heads, 5.5 M parameters at patch 16.
    pub fn tiny(image_size: usize, patch_size: usize) -> Self {
        Self::new(image_size, patch_size, 192, 12, 3)
    }

    /// ViT-Small (DeiT-S): 384 features, 12 blocks, 6 heads, 21.7 M parameters at patch 16.
    pub fn small(image_size: usize, patch_size: usize) -> Self {
        Self::new(image_size, patch_size, 384, 12, 6)
    }

    /// ViT-Base: 768 features, 12 blocks, 12 heads, 85.8 M parameters at patch 16.
    pub fn base(image_size: usize, patch_size: usize) -> Self {
        Self::new(image_size, patch_size, 768, 12, 12)
    }

    /// The dimension of [`Vit::forward_features`]' output: `dim`.
    pub fn feature_dim(&self) -> usize {
        self.dim
    }

    /// The layers of layer-wise LR decay, as timm's `group_matcher` and MAE's `lr_decay.py`
    /// number them: layer 0 is the embedding (`cls_token`, `reg_token`, `pos_embed`,
    /// `patch_embed`), layer `i + 1` block `i`; the final norm and a head are the layer above
    /// ([`EncoderConfig::layers`](crate::EncoderConfig::layers)).
    pub fn layers(&self) -> Vec<Vec<String>> {
        let embedding = ["cls_token", "reg_token", "pos_embed", "patch_embed."]
            .map(String::from)
            .to_vec();
        std::iter::once(embedding)
            .chain((0..self.depth).map(|i| vec![format!("blocks.{i}.")]))
            .collect()
    }

    /// Patches per side of an `image_size` image.
    pub fn grid_size(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Why the configuration cannot be built, if it cannot: zero sizes, heads that do not
    /// divide `dim`, an image size that is not a multiple of the patch size, or an odd `dim`
    /// for the sine-cosine embedding (which needs a multiple of 4).
    pub fn check(&self) -> Result<(), String> {
        if self.patch_size == 0 || self.dim == 0 || self.depth == 0 || self.heads == 0 {
            return Err(format!(
                "patch size, dim, depth and heads must be positive, got {}, {}, {}, {}",
                self.patch_size, self.dim, self.depth, self.heads
            ));
        }
        if self.image_size < self.patch_size || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(format!(
                "the image size {} is not a multiple of the patch size {}",
                self.image_size, self.patch_size
            ));
        }
        if !self.dim.is_multiple_of(self.heads) {
            return Err(format!(
                "{} heads do not divide the {} features",
                self.heads, self.dim
            ));
        }
        if self.position == PositionEmbedding::SinCos && !self.dim.is_multiple_of(4) {
            return Err(format!(
                "the sine-cosine position embedding needs features in multiples of 4, got {}",
                self.dim
            ));
        }
        if self.mlp_ratio.is_nan() || self.mlp_ratio <= 0.0 {
            return Err(format!(
                "mlp_ratio must be positive, got {}",
                self.mlp_ratio
            ));
        }
        Ok(())
    }

    /// Builds the network on `device`, initialised as timm does: linear weights from
    /// `N(0, 0.02²)` with zero biases, the class and register tokens from `N(0, 10⁻¹²)`, the
    /// learnt position embedding from `N(0, 0.02²)`, the patch projection as PyTorch's
    /// `Conv2d`, layer norms at 1 and 0.
    ///
    /// # Panics
    ///
    /// If [`check`](Self::check) fails.
    pub fn init(&self, device: &Device) -> Vit {
        if let Err(message) = self.check() {
            panic!("VitConfig: {message}");
        }
        let d = self.dim;
        let p = self.patch_size;
        let prefix = 1 + self.registers;
        let grid = self.grid_size();
        let patches = grid * grid;
        let positions = if self.class_position {
            prefix + patches
        } else {
            patches
        };
        let pos_embed = match self.position {
            PositionEmbedding::Learned => {
                Tensor::random([1, positions, d], Distribution::Normal(0.0, 0.02), device)
            }
            PositionEmbedding::SinCos => {
                let table = sincos_2d(d, grid);
                let mut values = vec![0.0f32; positions * d];
                let start = positions - patches;
                values[start * d..].copy_from_slice(&table);
                Tensor::from_data(TensorData::new(values, [1, positions, d]), device)
            }
        };
        let fan_in = self.in_channels * p * p;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let uniform = Distribution::Uniform(-bound, bound);
        let proj = PatchProjection {
            weight: Param::from_tensor(Tensor::random(
                [d, self.in_channels, p, p],
                uniform,
                device,
            )),
            bias: Param::from_tensor(Tensor::random([d], uniform, device)),
        };
        let blocks = (0..self.depth)
            .map(|_| {
                VitBlock::new(
                    d,
                    self.heads,
                    self.mlp_ratio,
                    self.qkv_bias,
                    self.layer_norm_eps,
                    device,
                )
            })
            .collect();
        let token = |n| Tensor::random([1, n, d], Distribution::Normal(0.0, 1e-6), device);
        Vit {
            cls_token: Param::from_tensor(token(1)),
            reg_token: (self.registers > 0).then(|| Param::from_tensor(token(self.registers))),
            pos_embed: Param::from_tensor(pos_embed),
            patch_embed: PatchEmbed { proj },
            blocks,
            norm: self.layer_norm(device),
            patch_size: p,
            grid,
            class_position: self.class_position,
            fixed_position: self.position == PositionEmbedding::SinCos,
        }
    }

    fn layer_norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.dim)
            .with_epsilon(self.layer_norm_eps)
            .init(device)
    }
}

/// `Linear(d_in, d_out)` with weights from `N(0, 0.02²)` and zero bias (timm's
/// `init_weights_vit_timm`).
pub(crate) fn linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        })
        .init(device);
    if bias {
        layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    }
    layer
}

/// MAE's fixed 2-D sine-cosine position embedding of a `grid × grid` patch grid, row-major,
/// `dim` features per patch (a multiple of 4): the first `dim / 2` encode the patch's column,
/// the last `dim / 2` its row, each half `[sin(p·ω_0..ω_{k-1}), cos(p·ω_0..ω_{k-1})]` with
/// `k = dim / 4` and `ω_i = 10000^(−i / k)` (MAE's `get_2d_sincos_pos_embed`, computed in
/// double precision as its NumPy code is, then rounded).
pub fn sincos_2d(dim: usize, grid: usize) -> Vec<f32> {
    let quarter = dim / 4;
    let omega: Vec<f64> = (0..quarter)
        .map(|i| 1.0 / 10000f64.powf(i as f64 / quarter as f64))
        .collect();
    let mut out = Vec::with_capacity(grid * grid * dim);
    for row in 0..grid {
        for col in 0..grid {
            for position in [col, row] {
                let p = position as f64;
                out.extend(omega.iter().map(|w| (p * w).sin() as f32));
                out.extend(omega.iter().map(|w| (p * w).cos() as f32));
            }
        }
    }
    out
}

/// The patch embedding: a `patch_size`-strided `patch_size × patch_size` convolution, computed as
/// one matrix product over the non-overlapping patches (timm's `patch_embed`).
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// The projection, in PyTorch's `Conv2d` layout.
    pub proj: PatchProjection,
}

/// The weights of the patch projection (timm's `patch_embed.proj`, a `Conv2d`).
#[derive(Module, Debug)]
pub struct PatchProjection {
    /// `[dim, in_channels, patch, patch]`.
    pub weight: Param<Tensor<4>>,
    /// `[dim]`.
    pub bias: Param<Tensor<1>>,
}

impl PatchEmbed {
    /// # Shapes
    /// - `images`: `[B, C, H, W]`, `H` and `W` multiples of the patch size `p`
    /// - output: `[B, (H/p)·(W/p), dim]`, patches in row-major order
    pub fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        let [d, c, p, _] = self.proj.weight.dims();
        let [b, c_in, h, w] = images.dims();
        assert!(
            c_in == c && h % p == 0 && w % p == 0,
            "ViT patch embedding: images of {c_in} channels, {h}×{w}, for {c}-channel \
             {p}×{p} patches (the sides must be multiples of the patch size)"
        );
        let (gh, gw) = (h / p, w / p);
        let patches: Tensor<3> = images
            .reshape([b, c, gh, p, gw, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([b, gh * gw, c * p * p]);
        let weight = self.proj.weight.val().reshape([d, c * p * p]).transpose();
        patches.matmul(weight.unsqueeze::<3>()) + self.proj.bias.val().reshape([1, 1, d])
    }
}

/// Multi-head self-attention with one fused query-key-value projection (timm's `Attention`).
#[derive(Module, Debug)]
pub struct Attention {
    /// `dim → 3·dim`: queries, keys and values, heads interleaved as timm's.
    pub qkv: Linear,
    /// The output projection.
    pub proj: Linear,
    heads: usize,
}

impl Attention {
    /// Queries, keys and values, each `[B, heads, T, dim / heads]`.
    fn qkv(&self, x: Tensor<3>) -> [Tensor<4>; 3] {
        let [b, t, d] = x.dims();
        let h = self.heads;
        let qkv: Tensor<5> = self
            .qkv
            .forward(x)
            .reshape([b, t, 3, h, d / h])
            .permute([2, 0, 3, 1, 4]);
        [0, 1, 2].map(|i| qkv.clone().narrow(0, i, 1).reshape([b, h, t, d / h]))
    }

    /// # Shapes
    /// - `x`: `[B, T, dim]`
    /// - output: `[B, T, dim]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let [q, k, v] = self.qkv(x);
        let out = attention(q, k, v, None, None, AttentionModuleOptions::default());
        self.proj.forward(out.swap_dims(1, 2).reshape([b, t, d]))
    }

    /// The attention weights `softmax(q·kᵀ / √d_head)`.
    ///
    /// # Shapes
    /// - `x`: `[B, T, dim]`
    /// - output: `[B, heads, T, T]`, rows summing to 1
    pub fn weights(&self, x: Tensor<3>) -> Tensor<4> {
        let [_, _, d] = x.dims();
        let [q, k, _] = self.qkv(x);
        let scale = 1.0 / ((d / self.heads) as f64).sqrt();
        softmax(q.matmul(k.swap_dims(2, 3)) * scale, 3)
    }
}

/// A block's MLP: `fc1 → GELU → fc2` (timm's `Mlp`).
#[derive(Module, Debug)]
pub struct VitMlp {
    /// `dim → hidden`.
    pub fc1: Linear,
    /// `hidden → dim`.
    pub fc2: Linear,
}

/// A pre-norm transformer block (timm's `Block` without layer scale or drop path).
#[derive(Module, Debug)]
pub struct VitBlock {
    /// The norm before attention.
    pub norm1: LayerNorm,
    /// Multi-head self-attention.
    pub attn: Attention,
    /// The norm before the MLP.
    pub norm2: LayerNorm,
    /// The MLP.
    pub mlp: VitMlp,
}

impl VitBlock {
    /// A block of `dim` features and `heads` heads, initialised as timm's: linear weights from
    /// `N(0, 0.02²)`, zero biases, layer norms (ε = `eps`) at 1 and 0.
    pub fn new(
        dim: usize,
        heads: usize,
        mlp_ratio: f64,
        qkv_bias: bool,
        eps: f64,
        device: &Device,
    ) -> Self {
        let hidden = (dim as f64 * mlp_ratio) as usize;
        let norm = || LayerNormConfig::new(dim).with_epsilon(eps).init(device);
        VitBlock {
            norm1: norm(),
            attn: Attention {
                qkv: linear(dim, 3 * dim, qkv_bias, device),
                proj: linear(dim, dim, true, device),
                heads,
            },
            norm2: norm(),
            mlp: VitMlp {
                fc1: linear(dim, hidden, true, device),
                fc2: linear(hidden, dim, true, device),
            },
        }
    }

    /// # Shapes
    /// - `x`, output: `[B, T, dim]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.forward_scaled(x, None)
    }

    /// The block with each image's two residual branches (attention, MLP) multiplied by
    /// `scales` (stochastic depth: 0 drops a branch, `1/(1 − p)` keeps it), or unscaled.
    ///
    /// # Shapes
    /// - `x`, output: `[B, T, dim]`; `scales`: two of `B` values
    pub fn forward_scaled(&self, x: Tensor<3>, scales: Option<&[Vec<f32>; 2]>) -> Tensor<3> {
        let device = x.device();
        let scale = |branch: Tensor<3>, i: usize| match scales {
            Some(scales) => {
                let b = scales[i].len();
                branch
                    * Tensor::<3>::from_data(TensorData::new(scales[i].clone(), [b, 1, 1]), &device)
            }
            None => branch,
        };
        let x = x.clone() + scale(self.attn.forward(self.norm1.forward(x)), 0);
        let hidden = gelu(self.mlp.fc1.forward(self.norm2.forward(x.clone())));
        x + scale(self.mlp.fc2.forward(hidden), 1)
    }
}

/// Stochastic depth's masks for one batch (Huang et al. 2016; timm's `DropPath`): per block
/// and per residual branch (attention, MLP), each image's branch is dropped with the block's
/// probability `p_i` or kept and scaled by `1/(1 − p_i)`; the probabilities rise linearly from 0
/// at the first block to the rate at the last (timm's `dpr = linspace(0, drop_path_rate,
/// depth)`).
#[derive(Debug, Clone, PartialEq)]
pub struct DropPath {
    scales: Vec<[Vec<f32>; 2]>,
}

impl DropPath {
    /// The drop probability of each of `depth` blocks at `rate`.
    pub fn rates(depth: usize, rate: f64) -> Vec<f64> {
        (0..depth)
            .map(|i| {
                if depth > 1 {
                    rate * i as f64 / (depth - 1) as f64
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Draws the masks of `batch` images over `depth` blocks at `rate` from `uniform` (draws in
    /// `[0, 1)`; a branch is kept when its draw is below `1 − p`, timm's `bernoulli_(keep)`).
    ///
    /// # Panics
    /// If `rate` is not in `[0, 1)`.
    pub fn draw(batch: usize, depth: usize, rate: f64, uniform: &mut dyn FnMut() -> f64) -> Self {
        assert!(
            (0.0..1.0).contains(&rate),
            "DropPath::draw: the rate must be in [0, 1), got {rate}"
        );
        let scales = Self::rates(depth, rate)
            .into_iter()
            .map(|p| {
                let keep = 1.0 - p;
                let mut branch = || -> Vec<f32> {
                    (0..batch)
                        .map(|_| {
                            if p == 0.0 {
                                1.0
                            } else if uniform() < keep {
                                (1.0 / keep) as f32
                            } else {
                                0.0
                            }
                        })
                        .collect()
                };
                let attn = branch();
                [attn, branch()]
            })
            .collect();
        Self { scales }
    }

    /// Per block, the attention and MLP branches' scale of each image: 0 or `1/(1 − p)`.
    pub fn scales(&self) -> &[[Vec<f32>; 2]] {
        &self.scales
    }
}

/// A Vision Transformer, built by [`VitConfig::init`]. See the [module docs](self).
#[derive(Module, Debug)]
pub struct Vit {
    /// The class token, `[1, 1, dim]`.
    pub cls_token: Param<Tensor<3>>,
    /// The register tokens, `[1, registers, dim]`, if any.
    pub reg_token: Option<Param<Tensor<3>>>,
    /// The position embedding, `[1, (1 + registers if class_position) + grid², dim]`.
    pub pos_embed: Param<Tensor<3>>,
    /// The patch embedding.
    pub patch_embed: PatchEmbed,
    /// The transformer blocks.
    pub blocks: Vec<VitBlock>,
    /// The final layer norm.
    pub norm: LayerNorm,
    patch_size: usize,
    grid: usize,
    class_position: bool,
    fixed_position: bool,
}

impl Vit {
    /// Token features.
    pub fn dim(&self) -> usize {
        self.cls_token.dims()[2]
    }

    /// Side of a patch.
    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    /// Class and register tokens in front of the patches.
    pub fn prefix_tokens(&self) -> usize {
        1 + self.reg_token.as_ref().map_or(0, |r| r.dims()[1])
    }

    /// Attention heads.
    pub fn heads(&self) -> usize {
        self.blocks.first().map_or(1, |block| block.attn.heads)
    }

    /// The dimension of [`forward_features`](Self::forward_features)' output.
    pub fn feature_dim(&self) -> usize {
        self.dim()
    }

    /// The position embedding of the prefix tokens (`None` without `class_position`) and of a
    /// `gh × gw` patch grid, interpolated from the built grid when it differs.
    ///
    /// # Shapes
    /// - output: `([1, prefix, dim] or None, [1, gh·gw, dim])`
    pub fn position_embedding(&self, gh: usize, gw: usize) -> (Option<Tensor<3>>, Tensor<3>) {
        let mut table = self.pos_embed.val();
        if self.fixed_position {
            table = table.detach();
        }
        let d = self.dim();
        let patches = self.grid * self.grid;
        let (prefix, grid) = if self.class_position {
            let n = self.prefix_tokens();
            (
                Some(table.clone().narrow(1, 0, n)),
                table.narrow(1, n, patches),
            )
        } else {
            (None, table)
        };
        if (gh, gw) == (self.grid, self.grid) {
            return (prefix, grid);
        }
        let image: Tensor<4> = grid
            .reshape([1, self.grid, self.grid, d])
            .permute([0, 3, 1, 2]);
        let resized = interpolate(
            image,
            InterpolateOptions::new(InterpolateMode::Bicubic)
                .with_align_corners(false)
                .with_output_size([gh, gw]),
        );
        (
            prefix,
            resized.permute([0, 2, 3, 1]).reshape([1, gh * gw, d]),
        )
    }

    /// The patch tokens with their position embedding, and the prefix (class, then register)
    /// tokens with theirs: the transformer's input before concatenation, which MAE masks.
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `([B, prefix, dim], [B, (H/p)·(W/p), dim])`
    pub fn embed(&self, images: Tensor<4>) -> (Tensor<3>, Tensor<3>) {
        let [b, _, h, w] = images.dims();
        let p = self.patch_size;
        let patches = self.patch_embed.forward(images);
        let d = self.dim();
        let (prefix_position, patch_position) = self.position_embedding(h / p, w / p);
        let mut prefix = vec![self.cls_token.val().expand([b, 1, d])];
        if let Some(registers) = &self.reg_token {
            let n = registers.dims()[1];
            prefix.push(registers.val().expand([b, n, d]));
        }
        let mut prefix = Tensor::cat(prefix, 1);
        if let Some(position) = prefix_position {
            prefix = prefix + position;
        }
        (prefix, patches + patch_position)
    }

    /// Runs the blocks and the final norm over a token sequence.
    ///
    /// # Shapes
    /// - `tokens`, output: `[B, T, dim]`
    pub fn encode(&self, tokens: Tensor<3>) -> Tensor<3> {
        self.encode_scaled(tokens, None)
    }

    /// [`encode`](Self::encode) with each block's residual branches scaled by `plan`'s.
    fn encode_scaled(&self, tokens: Tensor<3>, plan: Option<&DropPath>) -> Tensor<3> {
        let x = self
            .blocks
            .iter()
            .enumerate()
            .fold(tokens, |x, (i, block)| {
                block.forward_scaled(x, plan.map(|plan| &plan.scales()[i]))
            });
        self.norm.forward(x)
    }

    /// Every output token after the final norm: class, registers, then patches (timm's
    /// `forward_features`).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, prefix + (H/p)·(W/p), dim]`
    pub fn forward_tokens(&self, images: Tensor<4>) -> Tensor<3> {
        let (prefix, patches) = self.embed(images);
        self.encode(Tensor::cat(vec![prefix, patches], 1))
    }

    /// [`forward_features`](Self::forward_features) with the blocks' residual branches scaled
    /// by `plan` (stochastic depth, for training).
    ///
    /// # Panics
    /// If `plan` is for another number of blocks.
    pub fn forward_features_drop_path(&self, images: Tensor<4>, plan: &DropPath) -> Tensor<2> {
        assert_eq!(
            plan.scales().len(),
            self.blocks.len(),
            "Vit::forward_features_drop_path: a plan for {} blocks, the ViT has {}",
            plan.scales().len(),
            self.blocks.len()
        );
        let (prefix, patches) = self.embed(images);
        Self::class_token(self.encode_scaled(Tensor::cat(vec![prefix, patches], 1), Some(plan)))
    }

    /// The class token's output: one feature vector per image (timm's `forward_head` with
    /// `global_pool='token'` and no classifier).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, dim]`
    pub fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        Self::class_token(self.forward_tokens(images))
    }

    /// The class token's row of output tokens (the first).
    ///
    /// # Shapes
    /// - `tokens`: `[B, T, dim]`
    /// - output: `[B, dim]`
    pub fn class_token(tokens: Tensor<3>) -> Tensor<2> {
        let [b, _, d] = tokens.dims();
        tokens.narrow(1, 0, 1).reshape([b, d])
    }

    /// The self-attention weights of the last block (the DINO paper's attention maps: row 0 is
    /// the class token's attention over the prefix and patch tokens).
    ///
    /// # Shapes
    /// - `images`: `[B, C, H, W]`
    /// - output: `[B, heads, T, T]`, `T = prefix + (H/p)·(W/p)`
    pub fn last_self_attention(&self, images: Tensor<4>) -> Tensor<4> {
        let (prefix, patches) = self.embed(images);
        let mut x = Tensor::cat(vec![prefix, patches], 1);
        let (last, rest) = self
            .blocks
            .split_last()
            .expect("a ViT has at least one block");
        for block in rest {
            x = block.forward(x);
        }
        last.attn.weights(last.norm1.forward(x))
    }
}
