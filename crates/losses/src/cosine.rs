//! SimSiam's negative cosine similarity, with its stop-gradient, and the symmetrised SimSiam loss.
//!
//! SimSiam (Chen & He 2021, Algorithm 1):
//!
//! ```text
//! D(p, z) = −cos(p, stopgrad(z))
//! L = ½·D(p1, z2) + ½·D(p2, z1)
//! ```

use burn::prelude::*;

use crate::contract::check_pair;

/// The norm floor of [`negative_cosine`], PyTorch's `F.cosine_similarity` default `eps = 1e-8`.
///
/// As in PyTorch (2.x), **each norm is clamped separately**:
/// `cos(p, z) = p·z / (max(‖p‖, eps) · max(‖z‖, eps))`, not `p·z / max(‖p‖·‖z‖, eps)`.
pub const COSINE_EPS: f64 = 1e-8;

/// Divides each row of `x` by `max(‖row‖₂, eps)`.
///
/// The floor is applied as `sqrt(max(Σ row², eps²))`, the same value, so that the square root never
/// sees 0 and a zero row has a finite (zero-through-the-norm) gradient.
///
/// # Shapes
/// - `x`: `[N, D]`
/// - output: `[N, D]`
pub(crate) fn l2_normalize_rows(x: Tensor<2>, eps: f64) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).clamp_min(eps * eps).sqrt(); // [N, 1]
    x / norm
}

/// SimSiam's `D(p, z)`: the mean over rows of `−cos(p_i, z_i)`, **with `z` detached**.
///
/// # Stop-gradient
///
/// **`z` is detached inside this function (`z.detach()`): no gradient ever flows into `z` or into
/// whatever produced it through this loss.** This is SimSiam's stop-gradient, and this function is
/// the one named place in the workspace where it happens (facebookresearch/simsiam does it in
/// `builder.py`, returning `z1.detach(), z2.detach()`). Gradients flow only into `p`. Pass the
/// predictor output as `p` and the projector output as `z`; swapping them silently trains the
/// wrong branch.
///
/// Cosine similarity as PyTorch's `F.cosine_similarity(p, z, dim=1, eps=1e-8)`: each norm is
/// clamped separately at [`COSINE_EPS`], `p·z / (max(‖p‖, eps)·max(‖z‖, eps))`. For rows with
/// norm ≥ eps the value and the gradient match PyTorch; for rows shorter than eps the value
/// matches, and the gradient treats the clamped norm as the constant eps (PyTorch clamps under
/// `no_grad` and differentiates the unclamped norm instead). A zero row gives cosine 0 and a
/// finite gradient.
///
/// # Shapes
/// - `p`: `[N, D]`, `N ≥ 1`, `D ≥ 1` (predictions; receives the gradient)
/// - `z`: `[N, D]` (targets; detached, receives no gradient)
/// - output: `[1]`, in `[−1, 1]`
///
/// # Panics
/// If the shapes differ, `N = 0` or `D = 0`.
pub fn negative_cosine(p: Tensor<2>, z: Tensor<2>) -> Tensor<1> {
    check_pair("negative_cosine", ("p", "z"), &p, &z, 1);
    // SimSiam's stop-gradient: the one place it happens.
    let z = z.detach();
    let p = l2_normalize_rows(p, COSINE_EPS);
    let z = l2_normalize_rows(z, COSINE_EPS);
    -(p * z).sum_dim(1).mean()
}

/// The symmetrised SimSiam loss `½·D(p1, z2) + ½·D(p2, z1)`, with `D` = [`negative_cosine`].
///
/// `p1`, `p2` are the predictor outputs of views 1 and 2, `z1`, `z2` their projector outputs.
/// **`z1` and `z2` are detached** (inside [`negative_cosine`]): they receive no gradient.
///
/// # Shapes
/// - `p1`, `p2`, `z1`, `z2`: `[N, D]` each, all the same shape, `N ≥ 1`, `D ≥ 1`
/// - output: `[1]`, in `[−1, 1]`
///
/// # Panics
/// If the four shapes are not all equal, `N = 0` or `D = 0`.
pub fn simsiam_loss(p1: Tensor<2>, p2: Tensor<2>, z1: Tensor<2>, z2: Tensor<2>) -> Tensor<1> {
    let shapes = [p1.dims(), p2.dims(), z1.dims(), z2.dims()];
    assert!(
        shapes.iter().all(|s| *s == shapes[0]),
        "simsiam_loss: p1, p2, z1 and z2 must have the same shape, got p1 {:?}, p2 {:?}, z1 {:?} \
         and z2 {:?}",
        shapes[0],
        shapes[1],
        shapes[2],
        shapes[3]
    );
    (negative_cosine(p1, z2) + negative_cosine(p2, z1)).div_scalar(2.0)
}
