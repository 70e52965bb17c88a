//! The momentum-target building block of BYOL, MoCo and DINO, as solo-learn's
//! `BaseMomentumMethod`: a target network built as a gradient-free copy of the online one
//! ([`momentum_copy`](selfsup_models::momentum_copy)), a momentum rising on a cosine
//! [`MomentumSchedule`], and the EMA update of every target after each optimizer step.
//!
//! A momentum method's network says once which modules are targets of which
//! ([`MomentumNetwork::update_targets`]); the method's `after_step` is
//! [`after_step`]`(model, &self.momentum, ctx)`.

use selfsup_models::MomentumSchedule;

use crate::method::StepContext;

/// A network with momentum targets: BYOL's and MoCo's target encoder and projector, DINO's
/// teacher.
pub trait MomentumNetwork: Sized {
    /// Every target module moved one EMA step towards its online module,
    /// `θ_t ← m·θ_t + (1 − m)·θ_s` ([`update_momentum`](selfsup_models::update_momentum)).
    fn update_targets(self, momentum: f64) -> Self;
}

/// The momentum of the EMA after optimizer step `ctx.step` on `schedule`.
pub fn momentum_at(schedule: &MomentumSchedule, ctx: &StepContext<'_>) -> f64 {
    schedule.at(ctx.step, ctx.total_steps)
}

/// The after-step hook of a momentum method: every target updated with this step's momentum.
pub fn after_step<N: MomentumNetwork>(
    model: N,
    schedule: &MomentumSchedule,
    ctx: &StepContext<'_>,
) -> N {
    model.update_targets(momentum_at(schedule, ctx))
}
