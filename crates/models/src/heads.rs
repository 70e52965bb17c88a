//! Projection and prediction heads of SimCLR and SimSiam: [`MlpConfig`]s with paper defaults.
//!
//! Every head is an [`Mlp`]; the method-named configs only choose its blocks. A linear layer
//! followed by batch norm has no bias (the norm makes it redundant), as in SimSiam's reference
//! code and lightly's heads.

use burn::prelude::*;

use crate::mlp::{Mlp, MlpBlockConfig, MlpConfig, MlpNorm};

/// SimCLR's projection head `g(·)`, an [`Mlp`] built by [`SimClrProjectionHeadConfig`].
pub type SimClrProjectionHead = Mlp;
/// SimSiam's projection MLP, an [`Mlp`] built by [`SimSiamProjectionHeadConfig`].
pub type SimSiamProjectionHead = Mlp;
/// SimSiam's prediction MLP `h`, an [`Mlp`] built by [`SimSiamPredictionHeadConfig`].
pub type SimSiamPredictionHead = Mlp;

/// SimCLR's projection head: `Linear → (BN) → ReLU → Linear`.
///
/// SimCLR (Chen et al., 2020, §2.1): "We use a MLP with one hidden layer to obtain
/// z_i = g(h_i) = W⁽²⁾σ(W⁽¹⁾h_i) where σ is a ReLU non-linearity."
///
/// The defaults are seed 000's CIFAR head, `Linear(512, 512) → ReLU → Linear(512, 128)`.
/// [`SimClrProjectionHeadConfig::cs231n`] is seed 003's (cs231n) ResNet-50 head,
/// `Linear(2048, 512, bias=False) → BatchNorm1d(512) → ReLU → Linear(512, 128)`.
#[derive(Config, Debug)]
pub struct SimClrProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 512.
    #[config(default = 512)]
    pub hidden_dim: usize,
    /// Output features `z`. Default 128.
    #[config(default = 128)]
    pub output_dim: usize,
    /// Batch norm after the hidden linear layer (which then has no bias). Default `false`
    /// (seed 000); `true` in the cs231n variant.
    #[config(default = false)]
    pub hidden_batch_norm: bool,
}

impl SimClrProjectionHeadConfig {
    /// Seed 003's (cs231n) head for a ResNet-50: `Linear(2048, 512, bias=False) → BN(512) →
    /// ReLU → Linear(512, 128)`.
    pub fn cs231n() -> Self {
        Self::new()
            .with_input_dim(2048)
            .with_hidden_dim(512)
            .with_output_dim(128)
            .with_hidden_batch_norm(true)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        two_layer_mlp(
            self.input_dim,
            self.hidden_dim,
            self.output_dim,
            self.hidden_batch_norm,
        )
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> SimClrProjectionHead {
        self.mlp().init(device)
    }
}

/// SimSiam's projection MLP: three `Linear → BN` layers, ReLU after the first two, the last BN
/// without affine parameters.
///
/// SimSiam (Chen & He, 2021, §4): "The projection MLP (in f) has BN applied to each
/// fully-connected (fc) layer, including its output fc. Its output fc has no ReLU. The hidden fc
/// is 2048-d. This MLP has 3 layers." The reference code's output BN is
/// `BatchNorm1d(dim, affine=False)`.
///
/// Defaults: 512 → 2048 → 2048 → 2048, for a ResNet-18 backbone; the paper's ResNet-50 has
/// `input_dim` 2048.
#[derive(Config, Debug)]
pub struct SimSiamProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 2048 (the paper's).
    #[config(default = 2048)]
    pub hidden_dim: usize,
    /// Output features `z`. Default 2048 (the paper's `d`).
    #[config(default = 2048)]
    pub output_dim: usize,
}

impl SimSiamProjectionHeadConfig {
    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        let hidden = |i, o| {
            MlpBlockConfig::new(i, o)
                .with_bias(false)
                .with_norm(MlpNorm::BatchNorm)
                .with_relu(true)
        };
        MlpConfig::new(vec![
            hidden(self.input_dim, self.hidden_dim),
            hidden(self.hidden_dim, self.hidden_dim),
            MlpBlockConfig::new(self.hidden_dim, self.output_dim)
                .with_bias(false)
                .with_norm(MlpNorm::BatchNormNoAffine),
        ])
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> SimSiamProjectionHead {
        self.mlp().init(device)
    }
}

/// SimSiam's prediction MLP `h`, a bottleneck: `Linear → BN → ReLU → Linear`.
///
/// SimSiam (Chen & He, 2021, §4): "The prediction MLP (h) has BN applied to its hidden fc layers.
/// Its output fc does not have BN (ablation in Sec. 4.4) or ReLU. This MLP has 2 layers. The
/// dimension of h's input and output (z and p) is d = 2048, and h's hidden layer's dimension is
/// 512, making h a bottleneck structure."
///
/// The dimension defaults are seed 000's CIFAR predictor, 128 → 64 → 128 (it follows a 128-d
/// projection); [`SimSiamPredictionHeadConfig::paper`] gives the paper's 2048 → 512 → 2048.
/// Seed 000's predictor also has no batch norm: `with_hidden_batch_norm(false)` reproduces it.
#[derive(Config, Debug)]
pub struct SimSiamPredictionHeadConfig {
    /// Input features: the projection's output dimension. Default 128 (seed 000).
    #[config(default = 128)]
    pub input_dim: usize,
    /// Hidden (bottleneck) features. Default 64 (seed 000).
    #[config(default = 64)]
    pub hidden_dim: usize,
    /// Output features `p`; must equal `input_dim` for SimSiam's loss. Default 128 (seed 000).
    #[config(default = 128)]
    pub output_dim: usize,
    /// Batch norm after the hidden linear layer (which then has no bias). Default `true` (the
    /// paper's); seed 000 has none.
    #[config(default = true)]
    pub hidden_batch_norm: bool,
}

impl SimSiamPredictionHeadConfig {
    /// The paper's ImageNet predictor: 2048 → 512 → 2048 with hidden batch norm.
    pub fn paper() -> Self {
        Self::new()
            .with_input_dim(2048)
            .with_hidden_dim(512)
            .with_output_dim(2048)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        two_layer_mlp(
            self.input_dim,
            self.hidden_dim,
            self.output_dim,
            self.hidden_batch_norm,
        )
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> SimSiamPredictionHead {
        self.mlp().init(device)
    }
}

/// `Linear → (BN) → ReLU → Linear`: the shape shared by SimCLR's projector and SimSiam's
/// predictor. With batch norm the first linear layer has no bias (BN's beta replaces it).
fn two_layer_mlp(input: usize, hidden: usize, output: usize, hidden_batch_norm: bool) -> MlpConfig {
    let norm = if hidden_batch_norm {
        MlpNorm::BatchNorm
    } else {
        MlpNorm::None
    };
    MlpConfig::new(vec![
        MlpBlockConfig::new(input, hidden)
            .with_bias(!hidden_batch_norm)
            .with_norm(norm)
            .with_relu(true),
        MlpBlockConfig::new(hidden, output),
    ])
}
