//! SwAV's prototypes (lightly's `SwaVPrototypes`): the unit-norm cluster centres that SwAV
//! scores each L2-normalised projection against.

use burn::prelude::*;

use crate::weight_norm::{WeightNormLinear, WeightNormLinearConfig, l2_normalize_rows};

/// Configuration of [`SwavPrototypes`]: `n_prototypes` unit vectors in the projection space.
///
/// SwAV (Caron et al., 2020) computes its codes by matching each L2-normalised projection to a
/// set of K trainable prototype vectors of unit norm; the paper's ImageNet runs use K = 3000,
/// the default here, after a 128-d projection.
///
/// The official code and lightly re-normalise the prototype rows in place after each optimiser
/// step. Here, as in solo-learn (`solo/methods/swav.py`), the layer is weight-normalised with the
/// norm fixed to 1 ([`WeightNormLinear`]), so the rows have norm 1 by construction and no extra
/// step is needed. The layer has no bias (solo-learn's and the official code's
/// `nn.Linear(…, bias=False)`; lightly's has one).
///
/// [`SwavPrototypesConfig::cifar10`] is solo-learn's CIFAR recipe
/// (`scripts/pretrain/cifar/swav.yaml`: `proj_output_dim: 128`, `num_prototypes: 3000`).
#[derive(Config, Debug)]
pub struct SwavPrototypesConfig {
    /// Input features: the projection's output dimension. Default 128 (the paper's).
    #[config(default = 128)]
    pub input_dim: usize,
    /// Number of prototypes `K`. Default 3000 (the paper's).
    #[config(default = 3000)]
    pub n_prototypes: usize,
}

/// SwAV's prototypes, built by [`SwavPrototypesConfig::init`].
#[derive(Module, Debug)]
pub struct SwavPrototypes {
    /// The weight-normalised layer whose rows are the prototypes.
    pub linear: WeightNormLinear,
}

impl SwavPrototypesConfig {
    /// solo-learn's CIFAR-10 prototypes (`swav.yaml`): 3000 in a 128-d space.
    pub fn cifar10() -> Self {
        Self::new().with_input_dim(128).with_n_prototypes(3000)
    }

    /// Builds the prototypes on `device`, with PyTorch's `nn.Linear` initialisation of the
    /// direction parameter.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> SwavPrototypes {
        SwavPrototypes {
            linear: WeightNormLinearConfig::new(self.input_dim, self.n_prototypes)
                .with_fixed_norm(true)
                .init(device),
        }
    }
}

impl SwavPrototypes {
    /// The prototypes, one unit vector per row.
    ///
    /// # Shapes
    /// - output: `[n_prototypes, input_dim]`
    pub fn prototypes(&self) -> Tensor<2> {
        self.linear.weight()
    }

    /// Number of prototypes.
    pub fn n_prototypes(&self) -> usize {
        self.linear.output_dim()
    }

    /// The scores `x̂ · cₖ` of each L2-normalised input against every prototype: cosine
    /// similarities in `[−1, 1]`.
    ///
    /// # Shapes
    /// - `x`: `[B, input_dim]`
    /// - output: `[B, n_prototypes]`
    ///
    /// # Panics
    ///
    /// If the last axis of `x` is not `input_dim`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.linear.forward(l2_normalize_rows(x))
    }
}
