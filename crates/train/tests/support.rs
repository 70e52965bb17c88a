//! Helpers shared by the test modules.

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The CPU device every test runs on.
pub fn device() -> Device {
    Device::flex()
}

/// A `[rows, cols]` tensor from row-major values.
pub fn tensor2(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// The values of a float tensor, row-major.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

/// Parses a golden file of `tests/golden/`.
pub fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {path}: {e}"))
}

/// The golden case named `name` of a golden file's `cases`.
pub fn case<'a>(file: &'a Value, name: &str) -> &'a Value {
    file["cases"]
        .as_array()
        .expect("a cases array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no golden case {name}"))
}

/// A JSON array of numbers as `f32`s.
pub fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("an array of numbers")
        .iter()
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

/// A JSON array of non-negative integers.
pub fn dims(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .expect("an array of integers")
        .iter()
        .map(|v| v.as_u64().expect("an integer") as usize)
        .collect()
}

/// Asserts `|actual − expected| ≤ atol + rtol·|expected|` element-wise.
pub fn assert_close(actual: &[f32], expected: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= atol + rtol * e.abs(),
            "{what}: element {i} is {a}, expected {e}\n actual   {actual:?}\n expected {expected:?}"
        );
    }
}

/// Gaussian-ish clusters: `per_class` points around each of `num_classes` centres, the centres
/// `separation` apart along distinct axes, noise uniform in `[-noise, noise]` per coordinate.
/// Returns row-major features `[num_classes · per_class, dim]` and labels, classes interleaved.
pub fn clusters(
    num_classes: usize,
    per_class: usize,
    dim: usize,
    separation: f32,
    noise: f32,
    seed: u64,
) -> (Vec<f32>, Vec<usize>) {
    assert!(num_classes <= dim, "one axis per class");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(num_classes * per_class * dim);
    let mut labels = Vec::with_capacity(num_classes * per_class);
    for _ in 0..per_class {
        for class in 0..num_classes {
            for j in 0..dim {
                let centre = if j == class { separation } else { 0.0 };
                features.push(centre + rng.random_range(-noise..=noise));
            }
            labels.push(class);
        }
    }
    (features, labels)
}

/// `n` uniform values in `[-1, 1]`.
pub fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..=1.0)).collect()
}
