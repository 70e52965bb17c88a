//! A weight-normalised linear layer without bias (Salimans & Kingma, 2016): PyTorch's
//! `nn.utils.weight_norm(nn.Linear(in, out, bias=False))`, the last layer of DINO's head and
//! SwAV's prototypes.
//!
//! Each output unit's weight row is `w_k = g_k · v_k / ‖v_k‖`. With the norm *fixed*
//! (`g = 1`, frozen, as DINO's `norm_last_layer=True` and solo-learn's SwAV prototypes do) the
//! rows are unit vectors by construction: no re-normalisation step after each optimiser update
//! is needed, and the gradient reaches `v` through the normalisation.

use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;

/// `max(‖·‖, NORM_EPS)` in a row normalisation, as `torch.nn.functional.normalize`'s default.
pub(crate) const NORM_EPS: f64 = 1e-12;

/// Divides each row of `x` by its L2 norm (at least [`NORM_EPS`]):
/// `torch.nn.functional.normalize(x, dim=1)`.
///
/// # Shapes
/// - `x`: `[N, D]`
/// - output: `[N, D]`
pub(crate) fn l2_normalize_rows(x: Tensor<2>) -> Tensor<2> {
    let norm = x
        .clone()
        .square()
        .sum_dim(1)
        .clamp_min(NORM_EPS * NORM_EPS)
        .sqrt(); // [N, 1]
    x / norm
}

/// Configuration of a [`WeightNormLinear`].
#[derive(Config, Debug)]
pub struct WeightNormLinearConfig {
    /// Input features.
    pub input_dim: usize,
    /// Output features (DINO's `K`, SwAV's number of prototypes).
    pub output_dim: usize,
    /// Fix every row's norm to 1 (no `weight_g` parameter). Default `true`: DINO's
    /// `norm_last_layer=True`, SwAV's prototypes. With `false` the norms are learnable
    /// (`weight_g`, initialised to 1 as lightly and DINO do).
    #[config(default = true)]
    pub fixed_norm: bool,
}

/// `y = x · Wᵀ` with `W = g · v / ‖v‖` row-wise, no bias, built by
/// [`WeightNormLinearConfig::init`].
///
/// Parameters are stored in PyTorch's layout and named as PyTorch's weight-norm names them,
/// so a state dict maps by name: `weight_v` is `[output_dim, input_dim]` (one row per output
/// unit), `weight_g` is `[output_dim, 1]`. With a fixed norm there is no `weight_g` at all;
/// PyTorch keeps a frozen one (`requires_grad=False`) filled with ones.
#[derive(Module, Debug)]
pub struct WeightNormLinear {
    /// The direction parameter `v`, `[output_dim, input_dim]`.
    pub weight_v: Param<Tensor<2>>,
    /// The learnable row norms `g`, `[output_dim, 1]`; `None` when the norm is fixed to 1.
    pub weight_g: Option<Param<Tensor<2>>>,
}

impl WeightNormLinearConfig {
    /// Builds the layer on `device`: `v` with PyTorch's `nn.Linear` initialisation
    /// (`U(−1/√input_dim, 1/√input_dim)`), `g` (if learnable) at 1.
    ///
    /// # Panics
    ///
    /// If a dimension is zero.
    pub fn init(&self, device: &Device) -> WeightNormLinear {
        assert!(
            self.input_dim > 0 && self.output_dim > 0,
            "WeightNormLinearConfig: dimensions must be positive, got {} → {}",
            self.input_dim,
            self.output_dim
        );
        // Burn's `LinearConfig` default: kaiming-uniform with gain 1/√3 = U(−1/√fan_in, …).
        let init = Initializer::KaimingUniform {
            gain: 1.0 / 3f64.sqrt(),
            fan_out_only: false,
        };
        let weight_v = init.init_with(
            [self.output_dim, self.input_dim],
            Some(self.input_dim),
            Some(self.output_dim),
            device,
        );
        let weight_g =
            (!self.fixed_norm).then(|| Initializer::Ones.init([self.output_dim, 1], device));
        WeightNormLinear { weight_v, weight_g }
    }
}

impl WeightNormLinear {
    /// The effective weight `W = g · v / ‖v‖` (rows of norm 1 when the norm is fixed).
    ///
    /// # Shapes
    /// - output: `[output_dim, input_dim]`
    pub fn weight(&self) -> Tensor<2> {
        let w = l2_normalize_rows(self.weight_v.val());
        match &self.weight_g {
            Some(g) => w * g.val(),
            None => w,
        }
    }

    /// Input features.
    pub fn input_dim(&self) -> usize {
        self.weight_v.lazy_shape().dims::<2>()[1]
    }

    /// Output features.
    pub fn output_dim(&self) -> usize {
        self.weight_v.lazy_shape().dims::<2>()[0]
    }

    /// `x · Wᵀ`.
    ///
    /// # Shapes
    /// - `x`: `[B, input_dim]`
    /// - output: `[B, output_dim]`
    ///
    /// # Panics
    ///
    /// If the last axis of `x` is not `input_dim`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [_, d] = x.dims();
        let expected = self.input_dim();
        assert_eq!(
            d, expected,
            "WeightNormLinear::forward: expected input [B, {expected}], got [B, {d}]"
        );
        x.matmul(self.weight().transpose())
    }
}
