//! Gradient helpers for [`Method::on_gradients`](crate::Method::on_gradients): freezing a layer
//! for a while (DINO's last layer, SwAV's prototypes in the first epoch) and clipping.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Removes the gradients of every parameter of `module` (a part of the trained model), so that
/// the optimizer step leaves it unchanged — PyTorch's `p.grad = None`, as DINO's
/// `cancel_gradients_last_layer` and solo-learn's frozen prototypes do.
pub fn drop_gradients<M: Module>(mut grads: GradientsParams, module: &M) -> GradientsParams {
    struct Drop<'a>(&'a mut GradientsParams);
    impl ModuleVisitor for Drop<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = self.0.remove::<D>(param.id);
        }
    }
    module.visit(&mut Drop(&mut grads));
    grads
}

/// Clips each parameter's gradient of `module` to an ℓ2 norm of at most `max_norm`, separately
/// per parameter, as DINO's `clip_gradients` (`g ← g · max_norm / (‖g‖ + 10⁻⁶)` when that
/// factor is below 1). Returns the gradients and the largest norm seen before clipping (`[1]`,
/// `None` when no parameter of `module` has a gradient). Nothing is read back from the device.
///
/// # Panics
/// If `max_norm` is not positive and finite.
pub fn clip_gradients_per_parameter<M: Module>(
    mut grads: GradientsParams,
    module: &M,
    max_norm: f64,
) -> (GradientsParams, Option<Tensor<1>>) {
    assert!(
        max_norm.is_finite() && max_norm > 0.0,
        "clip_gradients_per_parameter: max_norm must be positive and finite, got {max_norm}"
    );
    struct Clip<'a> {
        grads: &'a mut GradientsParams,
        max_norm: f64,
        norms: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for Clip<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some(grad) = self.grads.remove::<D>(param.id) else {
                return;
            };
            let norm = grad.clone().square().sum().sqrt(); // [1]
            let factor = norm
                .clone()
                .add_scalar(1e-6)
                .recip()
                .mul_scalar(self.max_norm)
                .clamp_max(1.0);
            self.norms.push(norm);
            self.grads
                .register::<D>(param.id, grad * factor.reshape([1; D]));
        }
    }
    let mut clip = Clip {
        grads: &mut grads,
        max_norm,
        norms: Vec::new(),
    };
    module.visit(&mut clip);
    let largest = (!clip.norms.is_empty()).then(|| Tensor::cat(clip.norms, 0).max());
    (grads, largest)
}
