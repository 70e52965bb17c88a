//! Proof of SimSiam's stop-gradient: on a tiny model whose target layer reaches the loss only
//! through `z`, [`simsiam_loss`] leaves the target layer without gradient, while the same loss
//! written without `detach` gives it one (so the check can fail).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Gradients;
use selfsup_losses::{COSINE_EPS, simsiam_loss};

use crate::common::{Rng, autodiff_device, tensor, values};

const N: usize = 6;
const D_IN: usize = 5;
const D_OUT: usize = 4;

/// An "online" layer producing `p` and a "target" layer producing `z`, from the same inputs.
struct TwoBranches {
    online: Linear,
    target: Linear,
    x1: Tensor<2>,
    x2: Tensor<2>,
}

impl TwoBranches {
    fn new() -> Self {
        let device = autodiff_device();
        let mut rng = Rng::new(7);
        TwoBranches {
            online: LinearConfig::new(D_IN, D_OUT).init(&device),
            target: LinearConfig::new(D_IN, D_OUT).init(&device),
            x1: tensor(&rng.matrix(N, D_IN), [N, D_IN], &device),
            x2: tensor(&rng.matrix(N, D_IN), [N, D_IN], &device),
        }
    }

    /// `(p1, p2, z1, z2)`: `p` from the online layer, `z` from the target layer.
    fn forward(&self) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>) {
        (
            self.online.forward(self.x1.clone()),
            self.online.forward(self.x2.clone()),
            self.target.forward(self.x1.clone()),
            self.target.forward(self.x2.clone()),
        )
    }
}

/// The largest |gradient| of a parameter (0 when it has none).
fn max_abs_grad<const D: usize>(param: Tensor<D>, grads: &Gradients) -> f32 {
    param
        .grad(grads)
        .map(|g| values(g).into_iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .unwrap_or(0.0)
}

/// The test-local twin of `negative_cosine` *without* the stop-gradient (same eps handling).
fn negative_cosine_without_detach(p: Tensor<2>, z: Tensor<2>) -> Tensor<1> {
    let unit = |x: Tensor<2>| {
        let norm = x
            .clone()
            .square()
            .sum_dim(1)
            .clamp_min(COSINE_EPS * COSINE_EPS)
            .sqrt();
        x / norm
    };
    -(unit(p) * unit(z)).sum_dim(1).mean()
}

#[test]
fn simsiam_loss_sends_no_gradient_to_the_target_branch() {
    let model = TwoBranches::new();
    let (p1, p2, z1, z2) = model.forward();
    let grads = simsiam_loss(p1, p2, z1, z2).backward();

    let target_weight = max_abs_grad(model.target.weight.val(), &grads);
    let target_bias = max_abs_grad(model.target.bias.as_ref().unwrap().val(), &grads);
    assert_eq!(
        target_weight, 0.0,
        "the target weight got a gradient through z"
    );
    assert_eq!(target_bias, 0.0, "the target bias got a gradient through z");
    let online_weight = max_abs_grad(model.online.weight.val(), &grads);
    assert!(
        online_weight > 1e-4,
        "the online weight must get a gradient through p, got max |grad| {online_weight}"
    );
}

#[test]
fn without_detach_the_target_branch_does_get_a_gradient() {
    // The control experiment: if the loss did not detach z, the check above would fail.
    let model = TwoBranches::new();
    let (p1, p2, z1, z2) = model.forward();
    let loss = (negative_cosine_without_detach(p1.clone(), z2.clone())
        + negative_cosine_without_detach(p2.clone(), z1.clone()))
    .div_scalar(2.0);

    // Same value as the library loss: only the gradient differs.
    let library = simsiam_loss(p1.detach(), p2.detach(), z1.detach(), z2.detach());
    let (a, b) = (values(loss.clone())[0], values(library)[0]);
    assert!(
        (a - b).abs() < 1e-6,
        "the twin computes the same loss: {a} vs {b}"
    );

    let grads = loss.backward();
    let target_weight = max_abs_grad(model.target.weight.val(), &grads);
    assert!(
        target_weight > 1e-4,
        "without detach the target weight must get a gradient, got max |grad| {target_weight}"
    );
}
