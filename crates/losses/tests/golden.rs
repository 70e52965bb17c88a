//! Losses and gradients against PyTorch float64, from `tools/golden_losses.py` (run
//! `.venv/bin/python tools/golden_losses.py` to regenerate `tests/golden/losses.json`).
//! Tolerance: `common::ABS_TOL` + `common::REL_TOL`·|expected| (1e-5 + 1e-4·|e|, float32 against
//! float64).

use selfsup_losses::{negative_cosine, nt_xent, simsiam_loss};
use serde_json::Value;

use crate::common::{
    assert_all_close, assert_close, autodiff_device, device, grad_or_zeros, scalar, tensor_f64,
    values,
};

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/losses.json")).expect("losses.json parses")
}

fn vec(case: &Value, key: &str) -> Vec<f64> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden key {key} missing"))
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

fn num(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("golden key {key} missing"))
}

fn shape(case: &Value) -> [usize; 2] {
    [num(case, "n") as usize, num(case, "d") as usize]
}

fn cases<'a>(g: &'a Value, key: &str) -> &'a Vec<Value> {
    let cases = g[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden key {key} missing"));
    assert!(!cases.is_empty(), "golden {key} has cases");
    cases
}

// The numbers come from (tools/golden_losses.py, float64):
//
//     z = F.normalize(torch.cat([z_a, z_b], dim=0), dim=1)
//     logits = z @ z.T / tau
//     logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
//     targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
//     loss = F.cross_entropy(logits, targets)
//     loss.backward()  # -> z_a.grad, z_b.grad
//
// each case cross-checked there against a loop transcription of SimCLR's Algorithm 1 and a
// second vectorized form (to 1e-10).
#[test]
fn nt_xent_loss_and_gradients_match_pytorch() {
    let g = golden();
    let device = autodiff_device();
    for case in cases(&g, "nt_xent") {
        let (sh, tau) = (shape(case), num(case, "temperature"));
        let what = format!("nt_xent N={} D={} tau={tau}", sh[0], sh[1]);
        let z_a = tensor_f64(&vec(case, "z_a"), sh, &device).require_grad();
        let z_b = tensor_f64(&vec(case, "z_b"), sh, &device).require_grad();
        let loss = nt_xent(z_a.clone(), z_b.clone(), tau);
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        let ga = values(z_a.grad(&grads).expect("z_a has a gradient"));
        let gb = values(z_b.grad(&grads).expect("z_b has a gradient"));
        assert_all_close(&format!("{what}: d/dz_a"), &ga, &vec(case, "grad_z_a"));
        assert_all_close(&format!("{what}: d/dz_b"), &gb, &vec(case, "grad_z_b"));
    }
}

// The numbers come from (tools/golden_losses.py, float64, as facebookresearch/simsiam):
//
//     criterion = torch.nn.CosineSimilarity(dim=1)
//     z1, z2 = z1.detach(), z2.detach()
//     loss = -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5
//     loss.backward()  # -> p1.grad, p2.grad; z1.grad and z2.grad stay None (written as zeros)
#[test]
fn simsiam_loss_and_gradients_match_pytorch() {
    let g = golden();
    let device = autodiff_device();
    for case in cases(&g, "simsiam") {
        let sh = shape(case);
        let what = format!("simsiam_loss N={} D={}", sh[0], sh[1]);
        let [p1, p2, z1, z2] =
            ["p1", "p2", "z1", "z2"].map(|k| tensor_f64(&vec(case, k), sh, &device).require_grad());
        let loss = simsiam_loss(p1.clone(), p2.clone(), z1.clone(), z2.clone());
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        for (name, t) in [("p1", &p1), ("p2", &p2), ("z1", &z1), ("z2", &z2)] {
            let expected = vec(case, &format!("grad_{name}"));
            assert_all_close(
                &format!("{what}: d/d{name}"),
                &grad_or_zeros(t, &grads),
                &expected,
            );
        }
        // PyTorch's z.grad is None: the stop-gradient leaves no entry at all here either.
        assert!(
            z1.grad(&grads).is_none(),
            "{what}: z1 must receive no gradient"
        );
        assert!(
            z2.grad(&grads).is_none(),
            "{what}: z2 must receive no gradient"
        );
    }
}

// The number comes from (tools/golden_losses.py, float64), with rows of p and z shorter than
// eps = 1e-8 (and a zero row), which separates "clamp each norm" from "clamp the product":
//
//     -F.cosine_similarity(p, z, dim=1, eps=1e-8).mean()
#[test]
fn negative_cosine_clamps_each_norm_like_pytorch() {
    let g = golden();
    let case = &g["negative_cosine_small_norm"];
    let (sh, device) = (shape(case), device());
    let p = tensor_f64(&vec(case, "p"), sh, &device);
    let z = tensor_f64(&vec(case, "z"), sh, &device);
    let loss = scalar(negative_cosine(p, z));
    assert_close(
        "negative_cosine, rows shorter than eps",
        loss,
        num(case, "negative_cosine"),
    );
}
