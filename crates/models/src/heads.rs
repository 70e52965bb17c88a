//! Projection and prediction heads of SimCLR, SimSiam, BYOL, MoCo, Barlow Twins, VICReg, SwAV
//! and NNCLR: [`MlpConfig`]s with paper defaults.
//!
//! Every head here is an [`Mlp`]; the method-named configs only choose its blocks, after
//! lightly's `lightly/models/modules/heads.py` (class names given in each doc). A linear layer
//! followed by batch norm has no bias (the norm makes it redundant), as in SimSiam's reference
//! code and lightly's heads.
//!
//! `input_dim` is the encoder's feature dimension; it defaults to 512 (ResNet-18), the papers'
//! ResNet-50 has 2048. Each method's `cifar10` constructor gives solo-learn's CIFAR-10 recipe
//! (`scripts/pretrain/cifar/<method>.yaml` in vturrisi/solo-learn) for that encoder.
//!
//! DINO's head and SwAV's prototypes end in a weight-normalised layer and live in
//! [`dino_head`](crate::dino_head) and [`swav_prototypes`](crate::swav_prototypes).

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
/// The defaults are a small CIFAR head on ResNet-18,
/// `Linear(512, 512) → ReLU → Linear(512, 128)`; [`SimClrProjectionHeadConfig::resnet50`] is a
/// ResNet-50 head with batch norm, `Linear(2048, 512, bias=False) → BatchNorm1d(512) → ReLU →
/// Linear(512, 128)`; solo-learn's are built by [`SimClrMethod::published`](https://docs.rs/selfsup-train)
/// (2048 or 4096 wide, batch norm).
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
    /// Batch norm after the hidden linear layer (which then has no bias). Default `false`;
    /// `true` in [`resnet50`](Self::resnet50) and in solo-learn's heads.
    #[config(default = false)]
    pub hidden_batch_norm: bool,
}

impl SimClrProjectionHeadConfig {
    /// A head for a ResNet-50 with batch norm:
    /// `Linear(2048, 512, bias=False) → BN(512) → ReLU → Linear(512, 128)`.
    pub fn resnet50() -> Self {
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
        three_bn_layers(
            self.input_dim,
            self.hidden_dim,
            self.output_dim,
            MlpNorm::BatchNormNoAffine,
        )
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
/// The dimension defaults are a small CIFAR predictor after a 128-d projection, 128 → 64 → 128
/// (the paper's 4:1 bottleneck); [`SimSiamPredictionHeadConfig::paper`] gives the paper's
/// 2048 → 512 → 2048. `with_hidden_batch_norm(false)` removes the hidden batch norm.
#[derive(Config, Debug)]
pub struct SimSiamPredictionHeadConfig {
    /// Input features: the projection's output dimension. Default 128.
    #[config(default = 128)]
    pub input_dim: usize,
    /// Hidden (bottleneck) features. Default 64.
    #[config(default = 64)]
    pub hidden_dim: usize,
    /// Output features `p`; must equal `input_dim` for SimSiam's loss. Default 128.
    #[config(default = 128)]
    pub output_dim: usize,
    /// Batch norm after the hidden linear layer (which then has no bias). Default `true` (the
    /// paper's).
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

/// BYOL's projection head `g_θ`, an [`Mlp`] built by [`ByolProjectionHeadConfig`].
pub type ByolProjectionHead = Mlp;
/// BYOL's prediction head `q_θ`, an [`Mlp`] built by [`ByolPredictionHeadConfig`].
pub type ByolPredictionHead = Mlp;
/// MoCo's projection head, an [`Mlp`] built by [`MocoProjectionHeadConfig`].
pub type MocoProjectionHead = Mlp;
/// MoCo v3's prediction head, an [`Mlp`] built by [`MocoPredictionHeadConfig`].
pub type MocoPredictionHead = Mlp;
/// Barlow Twins' projector, an [`Mlp`] built by [`BarlowTwinsProjectionHeadConfig`].
pub type BarlowTwinsProjectionHead = Mlp;
/// VICReg's projector (the paper's "expander"), an [`Mlp`] built by
/// [`VicRegProjectionHeadConfig`].
pub type VicRegProjectionHead = Mlp;
/// SwAV's projection head, an [`Mlp`] built by [`SwavProjectionHeadConfig`].
pub type SwavProjectionHead = Mlp;

/// BYOL's projection head (lightly's `BYOLProjectionHead`): `Linear → BN → ReLU → Linear`.
///
/// BYOL (Grill et al., 2020, §3.3): "This MLP consists in a linear layer with output size 4096
/// followed by batch normalization, rectified linear units (ReLU), and a final linear layer with
/// output dimension 256."
///
/// Defaults: 512 → 4096 → 256 (the paper's widths after a ResNet-18).
/// [`ByolProjectionHeadConfig::cifar10`] is solo-learn's CIFAR recipe
/// (`scripts/pretrain/cifar/byol.yaml`: `proj_hidden_dim: 4096`, `proj_output_dim: 256`), the
/// same widths.
#[derive(Config, Debug)]
pub struct ByolProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 4096 (the paper's).
    #[config(default = 4096)]
    pub hidden_dim: usize,
    /// Output features `z`. Default 256 (the paper's).
    #[config(default = 256)]
    pub output_dim: usize,
}

impl ByolProjectionHeadConfig {
    /// solo-learn's CIFAR-10 projector (`byol.yaml`): `input_dim → 4096 → 256`.
    pub fn cifar10(input_dim: usize) -> Self {
        Self::new()
            .with_input_dim(input_dim)
            .with_hidden_dim(4096)
            .with_output_dim(256)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        two_layer_mlp(self.input_dim, self.hidden_dim, self.output_dim, true)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> ByolProjectionHead {
        self.mlp().init(device)
    }
}

/// BYOL's prediction head (lightly's `BYOLPredictionHead`): the projector's architecture on
/// the projection, `Linear → BN → ReLU → Linear`.
///
/// BYOL (Grill et al., 2020, §3.3) uses for the predictor `q_θ` the same architecture as for the
/// projector `g_θ`: "a linear layer with output size 4096 followed by batch normalization,
/// rectified linear units (ReLU), and a final linear layer with output dimension 256."
///
/// Defaults: 256 → 4096 → 256. [`ByolPredictionHeadConfig::cifar10`] is solo-learn's
/// (`byol.yaml`: `pred_hidden_dim: 4096` after a 256-d projection), the same.
#[derive(Config, Debug)]
pub struct ByolPredictionHeadConfig {
    /// Input features: the projection's output dimension. Default 256.
    #[config(default = 256)]
    pub input_dim: usize,
    /// Hidden features. Default 4096.
    #[config(default = 4096)]
    pub hidden_dim: usize,
    /// Output features `q`; must equal `input_dim` for BYOL's loss. Default 256.
    #[config(default = 256)]
    pub output_dim: usize,
}

impl ByolPredictionHeadConfig {
    /// solo-learn's CIFAR-10 predictor (`byol.yaml`): 256 → 4096 → 256.
    pub fn cifar10() -> Self {
        Self::new()
            .with_input_dim(256)
            .with_hidden_dim(4096)
            .with_output_dim(256)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        two_layer_mlp(self.input_dim, self.hidden_dim, self.output_dim, true)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> ByolPredictionHead {
        self.mlp().init(device)
    }
}

/// MoCo's projection head (lightly's `MoCoProjectionHead`): `num_layers` linear layers, ReLU
/// after all but the last, batch norm after every one when `batch_norm` is set.
///
/// MoCo v2 (Chen et al., 2020): "we replace the fc head in MoCo with a 2-layer MLP head (hidden
/// layer 2048-d, with ReLU)"; its output stays MoCo's 128-d. These are the defaults (no batch
/// norm, 512 → 2048 → 128).
///
/// MoCo v3 (Chen, Xie & He, 2021): "The projection head is a 3-layer MLP. […] The hidden
/// layers of both MLPs are 4096-d and are with ReLU; the output layers of both MLPs are 256-d,
/// without ReLU. In MoCo v3, all layers in both MLPs have BN." That is
/// [`MocoProjectionHeadConfig::v3`]. With batch norm the linear layers have no bias, and the
/// output batch norm has no affine parameters, as in the official MoCo v3 code
/// (`BatchNorm1d(dim, affine=False)`, "follow SimCLR's design"); lightly's
/// `MoCoProjectionHead` keeps an affine output norm.
///
/// `num_layers` 1 is MoCo v1's linear head `Linear(input_dim, output_dim)`.
#[derive(Config, Debug)]
pub struct MocoProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 2048 (MoCo v2); 4096 in MoCo v3.
    #[config(default = 2048)]
    pub hidden_dim: usize,
    /// Output features. Default 128 (MoCo v2); 256 in MoCo v3.
    #[config(default = 128)]
    pub output_dim: usize,
    /// Linear layers, at least 1. Default 2 (MoCo v2); 3 in MoCo v3.
    #[config(default = 2)]
    pub num_layers: usize,
    /// Batch norm after every linear layer. Default `false` (MoCo v2); `true` in MoCo v3.
    #[config(default = false)]
    pub batch_norm: bool,
}

impl MocoProjectionHeadConfig {
    /// MoCo v3's projector as the paper describes it: 3 layers, 4096 hidden, 256 out, batch norm
    /// everywhere. Set [`input_dim`](Self::input_dim) to the encoder's.
    pub fn v3() -> Self {
        Self::new()
            .with_hidden_dim(4096)
            .with_output_dim(256)
            .with_num_layers(3)
            .with_batch_norm(true)
    }

    /// solo-learn's MoCo v2+ projector on CIFAR-10 (`scripts/pretrain/cifar/mocov2plus.yaml`:
    /// `proj_hidden_dim: 2048`, `proj_output_dim: 256`; `solo/methods/mocov2plus.py`:
    /// `Linear → ReLU → Linear`, no batch norm): `input_dim → 2048 → 256`.
    pub fn cifar10(input_dim: usize) -> Self {
        Self::new()
            .with_input_dim(input_dim)
            .with_hidden_dim(2048)
            .with_output_dim(256)
            .with_num_layers(2)
            .with_batch_norm(false)
    }

    /// solo-learn's MoCo v3 projector on CIFAR-10 for a ResNet (`mocov3.yaml`:
    /// `proj_hidden_dim: 4096`, `proj_output_dim: 256`; `solo/methods/mocov3.py` builds 2 layers
    /// for ResNets, as the official MoCo v3 code does): `input_dim → 4096 → 256`, batch norm
    /// everywhere.
    pub fn v3_cifar10(input_dim: usize) -> Self {
        Self::v3().with_input_dim(input_dim).with_num_layers(2)
    }

    /// The blocks of this head.
    ///
    /// # Panics
    ///
    /// If `num_layers` is 0.
    pub fn mlp(&self) -> MlpConfig {
        assert!(
            self.num_layers >= 1,
            "MocoProjectionHeadConfig: num_layers must be at least 1, got 0"
        );
        let (hidden_norm, output_norm) = if self.batch_norm {
            (MlpNorm::BatchNorm, MlpNorm::BatchNormNoAffine)
        } else {
            (MlpNorm::None, MlpNorm::None)
        };
        let mut blocks = Vec::with_capacity(self.num_layers);
        for layer in 0..self.num_layers - 1 {
            let input = if layer == 0 {
                self.input_dim
            } else {
                self.hidden_dim
            };
            blocks.push(
                MlpBlockConfig::new(input, self.hidden_dim)
                    .with_bias(!self.batch_norm)
                    .with_norm(hidden_norm)
                    .with_relu(true),
            );
        }
        let input = if self.num_layers == 1 {
            self.input_dim
        } else {
            self.hidden_dim
        };
        blocks.push(
            MlpBlockConfig::new(input, self.output_dim)
                .with_bias(!self.batch_norm)
                .with_norm(output_norm),
        );
        MlpConfig::new(blocks)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension or `num_layers` is zero.
    pub fn init(&self, device: &Device) -> MocoProjectionHead {
        self.mlp().init(device)
    }
}

/// MoCo v3's prediction head: `Linear → BN → ReLU → Linear → (BN)`, no biases.
///
/// MoCo v3 (Chen, Xie & He, 2021): "The prediction head is a 2-layer MLP. The hidden layers
/// of both MLPs are 4096-d and are with ReLU; the output layers of both MLPs are 256-d, without
/// ReLU. In MoCo v3, all layers in both MLPs have BN." The defaults follow the paper (output
/// batch norm without affine parameters, as the official code's `BatchNorm1d(dim,
/// affine=False)`); the official code drops the output batch norm for ResNets
/// (`_build_mlp(2, dim, mlp_dim, dim, False)`), and so does [`MocoPredictionHeadConfig::cifar10`]
/// (solo-learn's `mocov3.py`). All linear layers have no bias, as in the official code. lightly
/// has no MoCo prediction head.
#[derive(Config, Debug)]
pub struct MocoPredictionHeadConfig {
    /// Input features: the projection's output dimension. Default 256.
    #[config(default = 256)]
    pub input_dim: usize,
    /// Hidden features. Default 4096.
    #[config(default = 4096)]
    pub hidden_dim: usize,
    /// Output features; must equal `input_dim` for MoCo v3's loss. Default 256.
    #[config(default = 256)]
    pub output_dim: usize,
    /// Batch norm (without affine parameters) after the output layer. Default `true` (the
    /// paper's); `false` for ResNets in the official code and solo-learn.
    #[config(default = true)]
    pub output_batch_norm: bool,
}

impl MocoPredictionHeadConfig {
    /// solo-learn's MoCo v3 predictor on CIFAR-10 for a ResNet (`mocov3.yaml`:
    /// `pred_hidden_dim: 4096` after a 256-d projection; no output batch norm): 256 → 4096 → 256.
    pub fn cifar10() -> Self {
        Self::new()
            .with_input_dim(256)
            .with_hidden_dim(4096)
            .with_output_dim(256)
            .with_output_batch_norm(false)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        let output_norm = if self.output_batch_norm {
            MlpNorm::BatchNormNoAffine
        } else {
            MlpNorm::None
        };
        MlpConfig::new(vec![
            MlpBlockConfig::new(self.input_dim, self.hidden_dim)
                .with_bias(false)
                .with_norm(MlpNorm::BatchNorm)
                .with_relu(true),
            MlpBlockConfig::new(self.hidden_dim, self.output_dim)
                .with_bias(false)
                .with_norm(output_norm),
        ])
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> MocoPredictionHead {
        self.mlp().init(device)
    }
}

/// Barlow Twins' projector (lightly's `BarlowTwinsProjectionHead`): `(Linear → BN → ReLU) × 2 →
/// Linear`.
///
/// Barlow Twins (Zbontar et al., 2021, implementation details): "The projector network has
/// three linear layers, each with 8192 output units. The first two layers of the projector are
/// followed by a batch normalization layer and rectified linear units."
///
/// Defaults: 512 → 8192 → 8192 → 8192. [`BarlowTwinsProjectionHeadConfig::cifar10`] is
/// solo-learn's CIFAR recipe (`scripts/pretrain/cifar/barlow.yaml`: `proj_hidden_dim: 2048`,
/// `proj_output_dim: 2048`). The last layer has a bias, as in lightly and solo-learn (the
/// official code has none).
#[derive(Config, Debug)]
pub struct BarlowTwinsProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 8192 (the paper's).
    #[config(default = 8192)]
    pub hidden_dim: usize,
    /// Output features. Default 8192 (the paper's).
    #[config(default = 8192)]
    pub output_dim: usize,
}

impl BarlowTwinsProjectionHeadConfig {
    /// solo-learn's CIFAR-10 projector (`barlow.yaml`): `input_dim → 2048 → 2048 → 2048`.
    pub fn cifar10(input_dim: usize) -> Self {
        Self::new()
            .with_input_dim(input_dim)
            .with_hidden_dim(2048)
            .with_output_dim(2048)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        bn_relu_mlp(self.input_dim, self.hidden_dim, self.output_dim, 3)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> BarlowTwinsProjectionHead {
        self.mlp().init(device)
    }
}

/// VICReg's projector, the paper's "expander" (lightly's `VICRegProjectionHead`):
/// `(Linear → BN → ReLU) × (num_layers − 1) → Linear`.
///
/// VICReg (Bardes, Ponce & LeCun, 2022) takes Barlow Twins' projector: three
/// fully-connected layers of 8192 units, the first two followed by batch normalization and ReLU;
/// lightly quotes Barlow Twins' sentence for it: "The projector network has three linear layers,
/// each with 8192 output units. The first two layers of the projector are followed by a batch
/// normalization layer and rectified linear units."
///
/// Defaults: 512 → 8192 → 8192 → 8192. [`VicRegProjectionHeadConfig::cifar10`] is solo-learn's
/// CIFAR recipe (`scripts/pretrain/cifar/vicreg.yaml`: `proj_hidden_dim: 2048`,
/// `proj_output_dim: 2048`, 3 layers in `solo/methods/vicreg.py`).
#[derive(Config, Debug)]
pub struct VicRegProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 8192 (the paper's).
    #[config(default = 8192)]
    pub hidden_dim: usize,
    /// Output features. Default 8192 (the paper's).
    #[config(default = 8192)]
    pub output_dim: usize,
    /// Linear layers, at least 2. Default 3 (the paper's).
    #[config(default = 3)]
    pub num_layers: usize,
}

impl VicRegProjectionHeadConfig {
    /// solo-learn's CIFAR-10 projector (`vicreg.yaml`): `input_dim → 2048 → 2048 → 2048`.
    pub fn cifar10(input_dim: usize) -> Self {
        Self::new()
            .with_input_dim(input_dim)
            .with_hidden_dim(2048)
            .with_output_dim(2048)
            .with_num_layers(3)
    }

    /// The blocks of this head.
    ///
    /// # Panics
    ///
    /// If `num_layers` is below 2.
    pub fn mlp(&self) -> MlpConfig {
        assert!(
            self.num_layers >= 2,
            "VicRegProjectionHeadConfig: num_layers must be at least 2, got {}",
            self.num_layers
        );
        bn_relu_mlp(
            self.input_dim,
            self.hidden_dim,
            self.output_dim,
            self.num_layers,
        )
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero or `num_layers` is below 2.
    pub fn init(&self, device: &Device) -> VicRegProjectionHead {
        self.mlp().init(device)
    }
}

/// SwAV's projection head (lightly's `SwaVProjectionHead`): `Linear → BN → ReLU → Linear`,
/// followed in SwAV by an L2 normalisation and the prototypes
/// ([`SwavPrototypes`](crate::SwavPrototypes)).
///
/// SwAV (Caron et al., 2020) projects ResNet-50 features with a 2-layer MLP (hidden 2048, batch
/// norm and ReLU) to a 128-d space, the official code's `projection_head` with `hidden_mlp=2048`
/// and `feat_dim=128`. Defaults: 512 → 2048 → 128. [`SwavProjectionHeadConfig::cifar10`] is
/// solo-learn's CIFAR recipe (`scripts/pretrain/cifar/swav.yaml`: `proj_hidden_dim: 2048`,
/// `proj_output_dim: 128`), the same widths.
#[derive(Config, Debug)]
pub struct SwavProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 2048 (the paper's).
    #[config(default = 2048)]
    pub hidden_dim: usize,
    /// Output features. Default 128 (the paper's).
    #[config(default = 128)]
    pub output_dim: usize,
}

impl SwavProjectionHeadConfig {
    /// solo-learn's CIFAR-10 projector (`swav.yaml`): `input_dim → 2048 → 128`.
    pub fn cifar10(input_dim: usize) -> Self {
        Self::new()
            .with_input_dim(input_dim)
            .with_hidden_dim(2048)
            .with_output_dim(128)
    }

    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        two_layer_mlp(self.input_dim, self.hidden_dim, self.output_dim, true)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> SwavProjectionHead {
        self.mlp().init(device)
    }
}

/// NNCLR's projection head, an [`Mlp`] built by [`NnclrProjectionHeadConfig`].
pub type NnclrProjectionHead = Mlp;
/// NNCLR's prediction head, an [`Mlp`] built by [`NnclrPredictionHeadConfig`].
pub type NnclrPredictionHead = Mlp;

/// NNCLR's projection head (lightly's `NNCLRProjectionHead`): three `Linear → BN` layers, ReLU
/// after the first two, the output batch norm affine.
///
/// NNCLR (Dwibedi et al., 2021, implementation details): "The architecture of the projection MLP is 3 fully
/// connected layers of sizes [2048, 2048, d] where d is the embedding size used to apply the
/// loss. We use d = 256 in the experiments unless otherwise stated. All fully-connected layers
/// are followed by batch-normalization. All the batch-norm layers except the last layer are
/// followed by ReLU activation." solo-learn's `solo/methods/nnclr.py` builds the same
/// (`proj_hidden_dim: 2048`, `proj_output_dim: 256` in `scripts/pretrain/cifar/nnclr.yaml` and
/// `imagenet-100/nnclr.yaml`); its linear layers keep a bias before the batch norm, which the
/// norm cancels.
///
/// Defaults: 512 → 2048 → 2048 → 256 (the paper's widths after a ResNet-18).
#[derive(Config, Debug)]
pub struct NnclrProjectionHeadConfig {
    /// Input features: the backbone's feature dimension. Default 512 (ResNet-18).
    #[config(default = 512)]
    pub input_dim: usize,
    /// Hidden features. Default 2048 (the paper's).
    #[config(default = 2048)]
    pub hidden_dim: usize,
    /// Output features `z`. Default 256 (the paper's `d`).
    #[config(default = 256)]
    pub output_dim: usize,
}

impl NnclrProjectionHeadConfig {
    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        three_bn_layers(
            self.input_dim,
            self.hidden_dim,
            self.output_dim,
            MlpNorm::BatchNorm,
        )
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> NnclrProjectionHead {
        self.mlp().init(device)
    }
}

/// NNCLR's prediction head (lightly's `NNCLRPredictionHead`): `Linear → BN → ReLU → Linear`.
///
/// NNCLR (Dwibedi et al., 2021, implementation details): "The architecture of the prediction MLP g is 2
/// fully-connected layers of size [4096, d]. The hidden layer of the prediction MLP is followed
/// by batch-norm and ReLU. The last layer has no batch-norm or activation." solo-learn's
/// `pred_hidden_dim: 4096` is the same.
///
/// Defaults: 256 → 4096 → 256.
#[derive(Config, Debug)]
pub struct NnclrPredictionHeadConfig {
    /// Input features: the projection's output dimension. Default 256.
    #[config(default = 256)]
    pub input_dim: usize,
    /// Hidden features. Default 4096 (the paper's).
    #[config(default = 4096)]
    pub hidden_dim: usize,
    /// Output features `p`; must equal `input_dim` for NNCLR's loss. Default 256.
    #[config(default = 256)]
    pub output_dim: usize,
}

impl NnclrPredictionHeadConfig {
    /// The blocks of this head.
    pub fn mlp(&self) -> MlpConfig {
        two_layer_mlp(self.input_dim, self.hidden_dim, self.output_dim, true)
    }

    /// Builds the head on `device`.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> NnclrPredictionHead {
        self.mlp().init(device)
    }
}

/// `Linear → BN → ReLU → Linear → BN → ReLU → Linear → output_norm`, no biases (each batch norm
/// cancels one): SimSiam's projector (output norm without affine) and NNCLR's (affine).
fn three_bn_layers(input: usize, hidden: usize, output: usize, output_norm: MlpNorm) -> MlpConfig {
    let hidden_layer = |i, o| {
        MlpBlockConfig::new(i, o)
            .with_bias(false)
            .with_norm(MlpNorm::BatchNorm)
            .with_relu(true)
    };
    MlpConfig::new(vec![
        hidden_layer(input, hidden),
        hidden_layer(hidden, hidden),
        MlpBlockConfig::new(hidden, output)
            .with_bias(false)
            .with_norm(output_norm),
    ])
}

/// `(Linear → BN → ReLU) × (num_layers − 1) → Linear`: Barlow Twins' and VICReg's projector.
/// The hidden linear layers have no bias (BN's beta replaces it), the last one has one.
fn bn_relu_mlp(input: usize, hidden: usize, output: usize, num_layers: usize) -> MlpConfig {
    let mut blocks: Vec<MlpBlockConfig> = (0..num_layers - 1)
        .map(|layer| {
            let i = if layer == 0 { input } else { hidden };
            MlpBlockConfig::new(i, hidden)
                .with_bias(false)
                .with_norm(MlpNorm::BatchNorm)
                .with_relu(true)
        })
        .collect();
    blocks.push(MlpBlockConfig::new(hidden, output));
    MlpConfig::new(blocks)
}
