//! The generic MLP every head is built from: a list of `Linear → norm? → (ReLU | GELU)?` blocks.
//!
//! Method-named heads ([`heads`](crate::heads)) are [`MlpConfig`]s with paper defaults.

use burn::nn::{BatchNorm, BatchNormConfig, Gelu, Linear, LinearConfig, Relu};
use burn::prelude::*;

use crate::norm::{NonAffineBatchNorm, NonAffineBatchNormConfig};

/// Normalisation after a block's linear layer.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum MlpNorm {
    /// No normalisation.
    None,
    /// Batch norm with learnable scale and shift (PyTorch's `BatchNorm1d(d)`).
    BatchNorm,
    /// Batch norm without scale and shift (PyTorch's `BatchNorm1d(d, affine=False)`), see
    /// [`NonAffineBatchNorm`].
    BatchNormNoAffine,
}

/// Configuration of one [`MlpBlock`]: `Linear(input_dim → output_dim, bias?) → norm? →
/// (ReLU | GELU)?`.
///
/// A Burn [`Config`] written out by hand rather than derived: Burn's derive requires every field
/// in a saved configuration, and a configuration saved before the `gelu` field existed must
/// still load (as a block without GELU), so `gelu` is `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq, burn::serde::Serialize, burn::serde::Deserialize)]
#[serde(crate = "burn::serde")]
pub struct MlpBlockConfig {
    /// Input features.
    pub input_dim: usize,
    /// Output features.
    pub output_dim: usize,
    /// Bias in the linear layer. Default `true`; a linear layer followed by batch norm usually
    /// has none (the norm's shift, or the mean subtraction, makes it redundant).
    pub bias: bool,
    /// Normalisation after the linear layer. Default [`MlpNorm::None`].
    pub norm: MlpNorm,
    /// ReLU at the end of the block. Default `false`.
    pub relu: bool,
    /// GELU (exact, PyTorch's `nn.GELU()`) at the end of the block instead, as in DINO's head.
    /// Default `false` (also when absent from a saved configuration); at most one of `relu` and
    /// `gelu` may be set.
    #[serde(default)]
    pub gelu: bool,
}

impl Config for MlpBlockConfig {}

impl std::fmt::Display for MlpBlockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&burn::config::config_to_json(self))
    }
}

impl MlpBlockConfig {
    /// A block `Linear(input_dim → output_dim)` with bias, no norm, no activation.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        Self {
            input_dim,
            output_dim,
            bias: true,
            norm: MlpNorm::None,
            relu: false,
            gelu: false,
        }
    }

    /// Sets [`bias`](Self::bias).
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Sets [`norm`](Self::norm).
    pub fn with_norm(mut self, norm: MlpNorm) -> Self {
        self.norm = norm;
        self
    }

    /// Sets [`relu`](Self::relu).
    pub fn with_relu(mut self, relu: bool) -> Self {
        self.relu = relu;
        self
    }

    /// Sets [`gelu`](Self::gelu).
    pub fn with_gelu(mut self, gelu: bool) -> Self {
        self.gelu = gelu;
        self
    }
}

/// Normalisation layer of an [`MlpBlock`]. The variant name is a level of the module path that
/// Burn's PyTorch store skips by default.
#[derive(Module, Debug)]
pub enum MlpNormLayer {
    /// [`MlpNorm::BatchNorm`].
    Affine(BatchNorm),
    /// [`MlpNorm::BatchNormNoAffine`].
    NonAffine(NonAffineBatchNorm),
}

/// `Linear → norm? → (ReLU | GELU)?`, built by [`MlpBlockConfig::init`].
#[derive(Module, Debug)]
pub struct MlpBlock {
    /// The linear layer (Burn layout: weight `[input_dim, output_dim]`).
    pub linear: Linear,
    /// Optional batch normalisation.
    pub norm: Option<MlpNormLayer>,
    /// Optional ReLU.
    pub relu: Option<Relu>,
    /// Optional GELU (exact, not the tanh approximation).
    pub gelu: Option<Gelu>,
}

impl MlpBlockConfig {
    /// Builds the block on `device`. The linear layer has PyTorch's default initialisation.
    ///
    /// # Panics
    ///
    /// If a dimension is zero, or both `relu` and `gelu` are set.
    pub fn init(&self, device: &Device) -> MlpBlock {
        assert!(
            self.input_dim > 0 && self.output_dim > 0,
            "MlpBlockConfig: dimensions must be positive, got {} → {}",
            self.input_dim,
            self.output_dim
        );
        assert!(
            !(self.relu && self.gelu),
            "MlpBlockConfig: relu and gelu are both set; a block has at most one activation"
        );
        let norm = match self.norm {
            MlpNorm::None => None,
            MlpNorm::BatchNorm => Some(MlpNormLayer::Affine(
                BatchNormConfig::new(self.output_dim).init(device),
            )),
            MlpNorm::BatchNormNoAffine => Some(MlpNormLayer::NonAffine(
                NonAffineBatchNormConfig::new(self.output_dim).init(device),
            )),
        };
        MlpBlock {
            linear: LinearConfig::new(self.input_dim, self.output_dim)
                .with_bias(self.bias)
                .init(device),
            norm,
            relu: self.relu.then(Relu::new),
            gelu: self.gelu.then(Gelu::new),
        }
    }
}

impl MlpBlock {
    /// # Shapes
    /// - `x`: `[B, input_dim]`
    /// - output: `[B, output_dim]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.linear.forward(x);
        let x = match (&self.norm, &self.relu) {
            // Batch norm and ReLU in one native kernel (`ops::batch_norm_relu`).
            (Some(MlpNormLayer::Affine(bn)), Some(_)) => {
                selfsup_kernels::batch_norm_relu(bn, x, None)
            }
            (norm, relu) => {
                let x = match norm {
                    Some(MlpNormLayer::Affine(bn)) => selfsup_kernels::batch_norm(bn, x),
                    Some(MlpNormLayer::NonAffine(bn)) => bn.forward(x),
                    None => x,
                };
                match relu {
                    Some(relu) => relu.forward(x),
                    None => x,
                }
            }
        };
        match &self.gelu {
            Some(gelu) => gelu.forward(x),
            None => x,
        }
    }
}

/// Configuration of an [`Mlp`]: its blocks, in order.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// The blocks; each one's `input_dim` must be the previous one's `output_dim`.
    pub blocks: Vec<MlpBlockConfig>,
}

impl MlpConfig {
    /// Input features of the first block.
    ///
    /// # Panics
    ///
    /// If there are no blocks.
    pub fn input_dim(&self) -> usize {
        self.blocks.first().expect("MlpConfig: no blocks").input_dim
    }

    /// Output features of the last block.
    ///
    /// # Panics
    ///
    /// If there are no blocks.
    pub fn output_dim(&self) -> usize {
        self.blocks.last().expect("MlpConfig: no blocks").output_dim
    }

    /// Builds the MLP on `device`.
    ///
    /// # Panics
    ///
    /// If there are no blocks, or a block's `input_dim` is not the previous `output_dim`.
    pub fn init(&self, device: &Device) -> Mlp {
        assert!(
            !self.blocks.is_empty(),
            "MlpConfig: needs at least one block"
        );
        for (i, pair) in self.blocks.windows(2).enumerate() {
            assert_eq!(
                pair[0].output_dim,
                pair[1].input_dim,
                "MlpConfig: block {} outputs {} features but block {} takes {}",
                i,
                pair[0].output_dim,
                i + 1,
                pair[1].input_dim
            );
        }
        Mlp {
            blocks: self.blocks.iter().map(|b| b.init(device)).collect(),
        }
    }
}

/// A stack of [`MlpBlock`]s, built by [`MlpConfig::init`].
#[derive(Module, Debug)]
pub struct Mlp {
    /// The blocks, in order.
    pub blocks: Vec<MlpBlock>,
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[B, input_dim]`
    /// - output: `[B, output_dim]`
    ///
    /// Blocks with batch norm need `B ≥ 2` in training.
    ///
    /// # Panics
    ///
    /// If the last axis of `x` is not the first block's `input_dim`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [_, d] = x.dims();
        let expected = self.input_dim();
        assert_eq!(
            d, expected,
            "Mlp::forward: expected input [B, {expected}], got [B, {d}]"
        );
        self.blocks.iter().fold(x, |x, block| block.forward(x))
    }

    /// Input features of the first block.
    pub fn input_dim(&self) -> usize {
        self.blocks[0].linear.weight.lazy_shape().dims::<2>()[0]
    }

    /// Output features of the last block.
    pub fn output_dim(&self) -> usize {
        let last = self.blocks.last().expect("an Mlp has at least one block");
        last.linear.weight.lazy_shape().dims::<2>()[1]
    }
}
