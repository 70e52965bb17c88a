//! Helpers shared by the test modules: a seeded generator, tensor I/O, tolerances and a float64
//! host transcription of SimCLR's Algorithm 1 (a loop over the anchors).

use burn::prelude::*;

/// Tolerance for a float32 result `a` against a reference `e` (float64 PyTorch, a float64 host
/// oracle, a closed form, or the float32 loop oracle): `|a − e| ≤ ABS_TOL + REL_TOL·|e|`.
pub const ABS_TOL: f64 = 1e-5;
/// See [`ABS_TOL`].
pub const REL_TOL: f64 = 1e-4;

/// The pure-Rust CPU device, without autodiff.
pub fn device() -> Device {
    Device::flex()
}

/// The pure-Rust CPU device, with autodiff.
pub fn autodiff_device() -> Device {
    Device::flex().autodiff()
}

/// xorshift64* — deterministic inputs without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `n·d` standard-normal values, row-major.
    pub fn matrix(&mut self, n: usize, d: usize) -> Vec<f32> {
        (0..n * d).map(|_| self.normal() as f32).collect()
    }
}

/// A `[n, d]` tensor from row-major values.
pub fn tensor(values: &[f32], [n, d]: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [n, d]), device)
}

/// A `[n, d]` tensor from row-major float64 values (rounded to float32).
pub fn tensor_f64(values: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    tensor(&v, shape, device)
}

/// All values of a tensor, as float32.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>()
        .expect("tensor values readable as f32")
}

/// The single value of a `[1]` loss.
pub fn scalar(t: Tensor<1>) -> f64 {
    let v = values(t);
    assert_eq!(v.len(), 1, "a loss has shape [1]");
    v[0] as f64
}

/// The gradient of `t`, or zeros when it has none.
pub fn grad_or_zeros(t: &Tensor<2>, grads: &burn::tensor::Gradients) -> Vec<f32> {
    match t.grad(grads) {
        Some(g) => values(g),
        None => vec![0.0; t.dims().iter().product()],
    }
}

/// Whether `actual` is within the tolerance of `expected`.
pub fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= ABS_TOL + REL_TOL * expected.abs()
}

/// Panics unless `actual` is within the tolerance of `expected` (and finite).
pub fn assert_close(what: &str, actual: f64, expected: f64) {
    assert!(
        actual.is_finite() && close(actual, expected),
        "{what}: {actual} vs expected {expected} (|diff| {} > {ABS_TOL} + {REL_TOL}·|expected|)",
        (actual - expected).abs()
    );
}

/// Element-wise [`assert_close`].
pub fn assert_all_close(what: &str, actual: &[f32], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert_close(&format!("{what}[{i}]"), a as f64, e);
    }
}

/// NT-Xent anchor by anchor (SimCLR's Algorithm 1), on the host in float64 (where
/// `exp(1/τ)` does not
/// overflow before `τ ≈ 0.0014`): the reference for temperatures the float32 loop oracle cannot
/// reach. `z_a`, `z_b` are `[n, d]` row-major.
pub fn nt_xent_f64(z_a: &[f32], z_b: &[f32], n: usize, d: usize, tau: f64) -> f64 {
    let out: Vec<Vec<f64>> = z_a
        .chunks(d)
        .chain(z_b.chunks(d))
        .map(|r| r.iter().map(|&x| x as f64).collect())
        .collect();
    assert_eq!(out.len(), 2 * n);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let sim = |i: usize, j: usize| {
        let (zi, zj) = (&out[i], &out[j]);
        let (ni, nj) = (norm(zi), norm(zj));
        zi.iter()
            .zip(zj)
            .map(|(a, b)| (a / ni) * (b / nj))
            .sum::<f64>()
    };
    let denominator = |k: usize| {
        (0..2 * n)
            .filter(|&j| j != k)
            .map(|j| (sim(k, j) / tau).exp())
            .sum::<f64>()
    };
    let mut total = 0.0;
    for k in 0..n {
        let l1 = -((sim(k, k + n) / tau).exp() / denominator(k)).ln();
        let l2 = -((sim(k + n, k) / tau).exp() / denominator(k + n)).ln();
        total += l1 + l2;
    }
    total / (2 * n) as f64
}
