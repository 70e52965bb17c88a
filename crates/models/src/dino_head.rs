//! DINO's projection head (lightly's `DINOProjectionHead`): an MLP with GELU, an L2
//! normalisation, and a weight-normalised linear layer to `K` outputs.

use burn::nn::Initializer;
use burn::prelude::*;

use crate::mlp::{Mlp, MlpBlockConfig, MlpConfig, MlpNorm};
use crate::weight_norm::{WeightNormLinear, WeightNormLinearConfig, l2_normalize_rows};

/// DINO's projection head: `(Linear → BN? → GELU) × (num_layers − 1) → Linear` to the
/// bottleneck, L2 normalisation, then [`WeightNormLinear`] (no bias) to `output_dim`.
///
/// DINO (Caron et al., 2021): "The projection head consists of a 3-layer multi-layer
/// perceptron (MLP) with hidden dimension 2048 followed by l2 normalization and a weight
/// normalized fully connected layer with K dimensions, which is similar to the design from
/// SwAV." The defaults are the paper's: hidden 2048, bottleneck 256, `K` = 65536, no batch norm
/// (the paper's ViT head has none; its ResNet-50 runs use one, `batch_norm = true`), the last
/// layer's norm fixed to 1 (`norm_last_layer=True`).
///
/// [`DinoHeadConfig::cifar10`] is solo-learn's CIFAR recipe
/// (`scripts/pretrain/cifar/dino.yaml`: `proj_hidden_dim: 2048`, `proj_output_dim: 256` (the
/// bottleneck), `num_prototypes: 4096`; `use_bn_in_head` and `norm_last_layer` left at
/// `solo/methods/dino.py`'s defaults, `False` and `True`).
///
/// The MLP's linear layers start from `N(0, 0.02²)` weights and zero biases (DINO's
/// `trunc_normal_(std=0.02)`, truncated at ±2, i.e. ±100 standard deviations: the same
/// distribution); the last layer from PyTorch's `nn.Linear` initialisation. DINO freezes the
/// last layer during the first epoch (`freeze_last_layer=1`); the trainer does that by the
/// field's path, [`DinoHead::last_layer`].
#[derive(Config, Debug)]
pub struct DinoHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 2048 (the paper's).
    #[config(default = 2048)]
    pub hidden_dim: usize,
    /// Bottleneck features, the input of the last layer. Default 256 (the paper's).
    #[config(default = 256)]
    pub bottleneck_dim: usize,
    /// Output features `K`. Default 65536 (the paper's).
    #[config(default = 65536)]
    pub output_dim: usize,
    /// Linear layers of the MLP before the normalisation, at least 1 (then a single
    /// `Linear(input_dim, bottleneck_dim)`). Default 3 (the paper's).
    #[config(default = 3)]
    pub num_layers: usize,
    /// Batch norm after the MLP's hidden linear layers (which then have no bias). Default
    /// `false` (the paper's ViT head, lightly's and solo-learn's default).
    #[config(default = false)]
    pub batch_norm: bool,
    /// Fix the norm of every row of the last layer's weight to 1. Default `true` (the paper's
    /// `norm_last_layer`); `false` learns the norms, which "leads to better performance but can
    /// make the training unstable" (lightly).
    #[config(default = true)]
    pub norm_last_layer: bool,
}

/// DINO's projection head, built by [`DinoHeadConfig::init`].
#[derive(Module, Debug)]
pub struct DinoHead {
    /// The MLP up to the bottleneck.
    pub mlp: Mlp,
    /// The weight-normalised output layer (the "prototypes").
    pub last_layer: WeightNormLinear,
}

impl DinoHeadConfig {
    /// solo-learn's CIFAR-10 head (`dino.yaml`): `input_dim → 2048 → 2048 → 256`, then 4096
    /// outputs, no batch norm, the last layer's norm fixed.
    pub fn cifar10(input_dim: usize) -> Self {
        Self::new()
            .with_input_dim(input_dim)
            .with_hidden_dim(2048)
            .with_bottleneck_dim(256)
            .with_output_dim(4096)
            .with_num_layers(3)
            .with_batch_norm(false)
            .with_norm_last_layer(true)
    }

    /// The blocks of the MLP before the normalisation.
    ///
    /// # Panics
    ///
    /// If `num_layers` is 0.
    pub fn mlp(&self) -> MlpConfig {
        assert!(
            self.num_layers >= 1,
            "DinoHeadConfig: num_layers must be at least 1, got 0"
        );
        let norm = if self.batch_norm {
            MlpNorm::BatchNorm
        } else {
            MlpNorm::None
        };
        let mut blocks: Vec<MlpBlockConfig> = (0..self.num_layers - 1)
            .map(|layer| {
                let input = if layer == 0 {
                    self.input_dim
                } else {
                    self.hidden_dim
                };
                MlpBlockConfig::new(input, self.hidden_dim)
                    .with_bias(!self.batch_norm)
                    .with_norm(norm)
                    .with_gelu(true)
            })
            .collect();
        let input = if self.num_layers == 1 {
            self.input_dim
        } else {
            self.hidden_dim
        };
        blocks.push(MlpBlockConfig::new(input, self.bottleneck_dim));
        MlpConfig::new(blocks)
    }

    /// The last layer's configuration.
    pub fn last_layer(&self) -> WeightNormLinearConfig {
        WeightNormLinearConfig::new(self.bottleneck_dim, self.output_dim)
            .with_fixed_norm(self.norm_last_layer)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension or `num_layers` is zero.
    pub fn init(&self, device: &Device) -> DinoHead {
        let mut mlp = self.mlp().init(device);
        for block in &mut mlp.blocks {
            let [input, output] = block.linear.weight.lazy_shape().dims::<2>();
            block.linear.weight = Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            }
            .init([input, output], device);
            if let Some(bias) = &mut block.linear.bias {
                *bias = Initializer::Zeros.init([output], device);
            }
        }
        DinoHead {
            mlp,
            last_layer: self.last_layer().init(device),
        }
    }
}

impl DinoHead {
    /// MLP, L2 normalisation, last layer.
    ///
    /// # Shapes
    /// - `x`: `[B, input_dim]`
    /// - output: `[B, output_dim]`
    ///
    /// With batch norm, `B ≥ 2` in training.
    ///
    /// # Panics
    ///
    /// If the last axis of `x` is not `input_dim`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = l2_normalize_rows(self.mlp.forward(x));
        self.last_layer.forward(x)
    }

    /// Input features.
    pub fn input_dim(&self) -> usize {
        self.mlp.input_dim()
    }

    /// Output features `K`.
    pub fn output_dim(&self) -> usize {
        self.last_layer.output_dim()
    }
}
