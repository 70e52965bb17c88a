//! Momentum (EMA) networks: the target of BYOL and MoCo, the teacher of DINO.
//!
//! A momentum network has the architecture of the online one and follows it by an exponential
//! moving average of its parameters after every optimizer step,
//!
//! ```text
//! θ_t ← m·θ_t + (1 − m)·θ_s
//! ```
//!
//! (BYOL, Grill et al. 2020, §3.1; lightly's `update_momentum`, solo-learn's `MomentumUpdater`).
//! It receives no gradient: [`momentum_copy`] builds it with gradients switched off and its own
//! parameter ids, so the optimizer never touches it. Only parameters are averaged; its batch-norm
//! running statistics are its own, from its own forward passes, as in lightly and solo-learn.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The EMA momentum over a run: `base` at the first step, rising to `end` on BYOL's cosine
/// schedule ([`cosine_momentum`]); `base = end` is a constant momentum (MoCo v2's 0.999).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MomentumSchedule {
    /// The momentum at step 0 (BYOL's `τ_base`).
    pub base: f64,
    /// The momentum at the end of the run.
    pub end: f64,
}

impl MomentumSchedule {
    /// From `base` to `end`.
    pub fn new(base: f64, end: f64) -> Self {
        Self { base, end }
    }

    /// The momentum after `step` of `total_steps` optimizer steps.
    ///
    /// # Panics
    /// If `total_steps` is 0.
    pub fn at(&self, step: usize, total_steps: usize) -> f64 {
        cosine_momentum(step, total_steps, self.base, self.end)
    }
}

/// `fresh`, a newly built module of `online`'s architecture, turned into a momentum copy of
/// `online`: every float tensor (parameters and batch-norm statistics) takes `online`'s value,
/// detached and without gradient, while `fresh` keeps its own parameter ids and running-state
/// storage. `fresh`'s lazy parameters are never initialised, so building it draws nothing from the
/// device's random generator.
///
/// # Panics
/// If the two modules' tensors do not match in number and shape.
pub fn momentum_copy<M: Module>(fresh: M, online: &M) -> M {
    let mut collect = Collect {
        tensors: Vec::new(),
        trainable_only: false,
    };
    online.visit(&mut collect);
    let mut copy = Replace {
        tensors: collect.tensors.into_iter(),
    };
    let out = fresh.map(&mut copy);
    assert!(
        copy.tensors.next().is_none(),
        "momentum_copy: the online module has more tensors than the fresh one"
    );
    out
}

/// The EMA step `θ_t ← m·θ_t + (1 − m)·θ_s` of `target` towards `online`, for every trainable
/// parameter of `online` (those that require a gradient); the target's other tensors (batch-norm
/// running statistics) are left as they are.
///
/// # Panics
/// If `momentum` is outside `[0, 1]`, or the modules' tensors do not match in number and shape.
pub fn update_momentum<M: Module>(target: M, online: &M, momentum: f64) -> M {
    assert!(
        (0.0..=1.0).contains(&momentum),
        "update_momentum: the momentum must be in [0, 1], got {momentum}"
    );
    let mut collect = Collect {
        tensors: Vec::new(),
        trainable_only: true,
    };
    online.visit(&mut collect);
    let mut ema = Ema {
        tensors: collect.tensors.into_iter(),
        momentum,
    };
    let out = target.map(&mut ema);
    assert!(
        ema.tensors.next().is_none(),
        "update_momentum: the online module has more tensors than the target"
    );
    out
}

/// BYOL's cosine schedule of the momentum, from `base` at step 0 to `end` at `total_steps`:
/// `m = end − (end − base)·(cos(π·step/total_steps) + 1)/2` (BYOL §3.2, "τ = 1 − (1 − τ_base)·
/// (cos(πk/K) + 1)/2" with `end = 1`; solo-learn's `cosine_schedule`).
///
/// # Panics
/// If `total_steps` is 0.
pub fn cosine_momentum(step: usize, total_steps: usize, base: f64, end: f64) -> f64 {
    assert!(
        total_steps > 0,
        "cosine_momentum: total_steps must be positive"
    );
    let progress = (step.min(total_steps) as f64) / total_steps as f64;
    end - (end - base) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
}

/// One entry per float tensor of the visited module, in visit order: `Some` for those collected.
struct Collect {
    tensors: Vec<Option<AnyTensor>>,
    trainable_only: bool,
}

/// A float tensor of any rank.
enum AnyTensor {
    R1(Tensor<1>),
    R2(Tensor<2>),
    R3(Tensor<3>),
    R4(Tensor<4>),
}

impl AnyTensor {
    fn wrap<const D: usize>(tensor: Tensor<D>) -> Self {
        let dims = tensor.dims();
        match D {
            1 => Self::R1(tensor.reshape([dims[0]])),
            2 => Self::R2(tensor.reshape([dims[0], dims[1]])),
            3 => Self::R3(tensor.reshape([dims[0], dims[1], dims[2]])),
            4 => Self::R4(tensor.reshape([dims[0], dims[1], dims[2], dims[3]])),
            _ => panic!("momentum networks: tensors of rank {D} are not supported"),
        }
    }

    fn unwrap<const D: usize>(self, shape: [usize; D]) -> Tensor<D> {
        match self {
            Self::R1(t) => t.reshape(shape),
            Self::R2(t) => t.reshape(shape),
            Self::R3(t) => t.reshape(shape),
            Self::R4(t) => t.reshape(shape),
        }
    }

    fn dims(&self) -> Vec<usize> {
        match self {
            Self::R1(t) => t.dims().to_vec(),
            Self::R2(t) => t.dims().to_vec(),
            Self::R3(t) => t.dims().to_vec(),
            Self::R4(t) => t.dims().to_vec(),
        }
    }
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let keep = !self.trainable_only || tensor.is_require_grad();
        self.tensors
            .push(keep.then(|| AnyTensor::wrap(tensor.detach())));
    }
}

/// Sets each float tensor of the mapped module to the collected one (for [`momentum_copy`]).
struct Replace<I> {
    tensors: I,
}

impl<I: Iterator<Item = Option<AnyTensor>>> ModuleMapper for Replace<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let source = self
            .tensors
            .next()
            .expect("momentum_copy: the fresh module has more tensors than the online one")
            .expect("momentum_copy collects every tensor");
        let shape = param.lazy_shape();
        assert_eq!(
            source.dims(),
            shape.to_vec(),
            "momentum_copy: a tensor's shape differs between the online and the fresh module"
        );
        let dims: [usize; D] = shape.dims();
        let value = source.unwrap(dims).set_require_grad(false);
        Param::initialized(param.id, value)
    }
}

/// The EMA of [`update_momentum`].
struct Ema<I> {
    tensors: I,
    momentum: f64,
}

impl<I: Iterator<Item = Option<AnyTensor>>> ModuleMapper for Ema<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let entry = self
            .tensors
            .next()
            .expect("update_momentum: the target has more tensors than the online module");
        let Some(source) = entry else {
            return param;
        };
        let target = param.val();
        assert_eq!(
            source.dims(),
            target.dims().to_vec(),
            "update_momentum: a tensor's shape differs between the online module and the target"
        );
        let online = source.unwrap(target.dims());
        let value = (target.detach().mul_scalar(self.momentum)
            + online.mul_scalar(1.0 - self.momentum))
        .set_require_grad(false);
        Param::initialized(param.id, value)
    }
}
