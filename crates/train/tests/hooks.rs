//! The pieces the methods' hooks are built from: the EMA of a momentum copy, its cosine
//! schedule, dropping and clipping gradients, and the no-weight-decay group of biases and
//! normalisation parameters.

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_models::{cosine_momentum, momentum_copy, update_momentum};
use selfsup_train::OptimizerConfig;
use selfsup_train::gradients::{clip_gradients_per_parameter, drop_gradients};

use crate::methods::all_values;
use crate::support::{device, values};

#[derive(Module, Debug)]
struct Net {
    linear: Linear,
    norm: BatchNorm,
}

fn net(device: &Device) -> Net {
    Net {
        linear: LinearConfig::new(3, 4).init(device),
        norm: BatchNormConfig::new(4).init(device),
    }
}

impl Net {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = self.linear.forward(x);
        let [b, d] = y.dims();
        self.norm.forward(y.reshape([b, d, 1])).reshape([b, d])
    }
}

fn ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

fn input(device: &Device) -> Tensor<2> {
    Tensor::from_floats(
        [[1.0, -2.0, 0.5], [0.3, 0.7, -1.1], [2.0, 0.1, 0.4]],
        device,
    )
}

#[test]
fn a_momentum_copy_has_the_values_but_not_the_ids_nor_the_gradients() {
    let device = device().autodiff();
    let online = net(&device);
    let target = momentum_copy(net(&device), &online);
    assert_eq!(all_values(&target), all_values(&online));
    let (a, b) = (ids(&online), ids(&target));
    assert!(
        a.iter().all(|id| !b.contains(id)),
        "the copy's parameters have their own ids"
    );
    // A step of SGD on a loss of both: only the online network moves.
    let loss = online.forward(input(&device)).sum() + target.forward(input(&device)).square().sum();
    let model = (online.clone(), target.clone());
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut optimizer = OptimizerConfig::sgd(0.0, 0.0).init().unwrap();
    let stepped = optimizer.step(0.1, model, grads);
    assert_ne!(all_values(&stepped.0.linear), all_values(&online.linear));
    assert_eq!(all_values(&stepped.1.linear), all_values(&target.linear));
}

#[test]
fn update_momentum_is_the_ema_of_the_parameters_only() {
    let device = device().autodiff();
    let online = net(&device);
    let target = momentum_copy(net(&device), &online);
    // Move the online network, and run both in training mode so their BN statistics differ.
    let online = Net {
        linear: online.linear.clone().map(&mut Shift(1.0)),
        ..online
    };
    let _ = target.forward(input(&device).mul_scalar(3.0));
    let target_running = all_values(&target.norm.running_mean);
    let before = all_values(&target.linear);
    let source = all_values(&online.linear);
    let updated = update_momentum(target, &online, 0.25);
    let after = all_values(&updated.linear);
    for ((t, s), a) in before.iter().zip(&source).zip(&after) {
        let expected = 0.25 * t + 0.75 * s;
        assert!((a - expected).abs() < 1e-6, "{a} vs {expected}");
    }
    assert_eq!(
        all_values(&updated.norm.running_mean),
        target_running,
        "running statistics are the target's own"
    );
    // m = 1 leaves the target; m = 0 makes it the online network.
    let same = update_momentum(updated.clone(), &online, 1.0);
    assert_eq!(all_values(&same.linear), after);
    let copy = update_momentum(updated, &online, 0.0);
    assert_eq!(all_values(&copy.linear), source);
}

struct Shift(f32);

impl burn::module::ModuleMapper for Shift {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let id = param.id;
        // A new leaf that requires a gradient, as the optimizer's output is.
        let value = param.val().add_scalar(self.0).detach().require_grad();
        Param::initialized(id, value)
    }
}

#[test]
fn the_cosine_momentum_schedule_runs_from_base_to_end() {
    assert_eq!(cosine_momentum(0, 100, 0.99, 1.0), 0.99);
    assert!((cosine_momentum(50, 100, 0.99, 1.0) - 0.995).abs() < 1e-12);
    assert_eq!(cosine_momentum(100, 100, 0.99, 1.0), 1.0);
    let values: Vec<f64> = (0..=100)
        .map(|s| cosine_momentum(s, 100, 0.996, 1.0))
        .collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "non-decreasing");
}

#[test]
fn dropped_gradients_leave_their_layer_unchanged() {
    let device = device().autodiff();
    let model = net(&device);
    let loss = model.forward(input(&device)).square().sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let grads = drop_gradients(grads, &model.norm);
    let mut optimizer = OptimizerConfig::sgd(0.0, 0.0).init().unwrap();
    let stepped = optimizer.step(0.1, model.clone(), grads);
    assert_eq!(all_values(&stepped.norm), all_values(&model.norm));
    assert_ne!(all_values(&stepped.linear), all_values(&model.linear));
}

#[test]
fn clipping_bounds_each_parameters_gradient_norm() {
    let device = device().autodiff();
    let model = net(&device);
    let loss = model
        .forward(input(&device))
        .mul_scalar(100.0)
        .square()
        .sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let weight_id = model.linear.weight.id;
    let raw = grads.get::<2>(weight_id).unwrap();
    let raw_norm = raw.clone().square().sum().sqrt().into_scalar::<f64>();
    assert!(
        raw_norm > 1.0,
        "the test needs a large gradient: {raw_norm}"
    );
    let (grads, largest) = clip_gradients_per_parameter(grads, &model, 1.0);
    let largest = largest.unwrap().into_scalar::<f64>();
    assert!(
        largest >= raw_norm * (1.0 - 1e-4),
        "{largest} is the largest norm"
    );
    let clipped = grads.get::<2>(weight_id).unwrap();
    let norm = clipped.clone().square().sum().sqrt().into_scalar::<f64>();
    assert!((norm - 1.0).abs() < 1e-3, "clipped to 1: {norm}");
    // Same direction.
    let cos = (clipped * raw).sum().into_scalar::<f64>() / (norm * raw_norm);
    assert!((cos - 1.0).abs() < 1e-5);
}

#[test]
fn biases_and_norms_in_the_no_decay_group_get_no_weight_decay() {
    let device = device().autodiff();
    let model = net(&device);
    // Zero gradients: with plain SGD, only weight decay moves a parameter.
    let loss = model.forward(input(&device)).sum().mul_scalar(0.0);
    let rank_one: Vec<ParamId> = vec![
        model.linear.bias.as_ref().unwrap().id,
        model.norm.gamma.id,
        model.norm.beta.id,
    ];
    let config = OptimizerConfig::sgd(0.0, 0.5);
    let mut grouped = config
        .init_with_groups(Some(ParamGroup::from_ids(rank_one)))
        .unwrap();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let stepped = grouped.step(0.1, model.clone(), grads);
    let w0 = all_values(&model.linear.weight);
    let w1 = all_values(&stepped.linear.weight);
    for (a, b) in w0.iter().zip(&w1) {
        assert!((b - a * 0.95).abs() < 1e-6, "weights decay: {a} → {b}");
    }
    assert_eq!(
        values(stepped.linear.bias.as_ref().unwrap().val()),
        values(model.linear.bias.as_ref().unwrap().val())
    );
    assert_eq!(all_values(&stepped.norm), all_values(&model.norm));
}
