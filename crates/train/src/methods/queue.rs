//! The rolling queue of past embeddings that MoCo (its keys), SwAV (its high-resolution
//! projections) and NNCLR (its support set) keep in their models: a [`RunningState`], so
//! checkpoints save it exactly.

use burn::module::RunningState;
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::knn::l2_normalize;

/// A queue of `size` random unit vectors of dimension `dim`, as MoCo's code starts it (they are
/// pushed out by real embeddings after `size / batch` steps).
pub(crate) fn random_queue(size: usize, dim: usize, device: &Device) -> RunningState<Tensor<2>> {
    let random = Tensor::<2>::random([size, dim], Distribution::Normal(0.0, 1.0), device);
    RunningState::new(l2_normalize(random))
}

/// Pushes `fresh` (detached) to the front of `queue`, the state's current value, dropping the
/// oldest rows so its length stays the same: newest first (the order of the rows does not
/// change the losses that read them).
///
/// # Shapes
/// - `queue`: `[K, D]`
/// - `fresh`: `[N, D]`
pub(crate) fn enqueue(state: &RunningState<Tensor<2>>, queue: Tensor<2>, fresh: Tensor<2>) {
    let size = queue.dims()[0];
    let fresh = fresh.detach();
    let kept = size.saturating_sub(fresh.dims()[0]);
    let next = if kept == 0 {
        fresh.narrow(0, 0, size)
    } else {
        Tensor::cat(vec![fresh, queue.narrow(0, 0, kept)], 0)
    };
    state.update(next);
}
