//! Shape and hyper-parameter assertions shared by the losses.

use burn::prelude::*;

/// Panics unless `a` and `b` have the same shape, `[N, D]` with `N ≥ min_batch` and `D ≥ 1`.
pub(crate) fn check_pair(
    function: &str,
    names: (&str, &str),
    a: &Tensor<2>,
    b: &Tensor<2>,
    min_batch: usize,
) {
    let (da, db) = (a.dims(), b.dims());
    assert!(
        da == db,
        "{function}: {} and {} must have the same shape, got {} {da:?} and {} {db:?}",
        names.0,
        names.1,
        names.0,
        names.1
    );
    let [n, d] = da;
    assert!(
        n >= min_batch,
        "{function}: the batch needs at least {min_batch} {}, got {} and {} of shape {da:?}",
        if min_batch == 1 { "row" } else { "rows" },
        names.0,
        names.1
    );
    assert!(
        d >= 1,
        "{function}: the feature dimension must be at least 1, got {} and {} of shape {da:?}",
        names.0,
        names.1
    );
}

/// Panics unless `temperature` is positive and finite.
pub(crate) fn check_temperature(function: &str, temperature: f64) {
    assert!(
        temperature > 0.0 && temperature.is_finite(),
        "{function}: temperature must be positive and finite, got {temperature}"
    );
}
