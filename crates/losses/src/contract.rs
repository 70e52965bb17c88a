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
    check_positive(function, "temperature", temperature);
}

/// Panics unless `value` is positive and finite; `name` names the hyper-parameter.
pub(crate) fn check_positive(function: &str, name: &str, value: f64) {
    assert!(
        value > 0.0 && value.is_finite(),
        "{function}: {name} must be positive and finite, got {value}"
    );
}

/// Panics unless `value` is non-negative and finite; `name` names the hyper-parameter.
pub(crate) fn check_non_negative(function: &str, name: &str, value: f64) {
    assert!(
        value >= 0.0 && value.is_finite(),
        "{function}: {name} must be non-negative and finite, got {value}"
    );
}

/// Panics unless `views` is non-empty and every view has the shape `[N, D]` of the first, with
/// `N ≥ 1` and `D ≥ 1`; returns `[N, D]`. `name` names the list (`"teacher"`, …).
pub(crate) fn check_views(function: &str, name: &str, views: &[Tensor<2>]) -> [usize; 2] {
    assert!(
        !views.is_empty(),
        "{function}: {name} needs at least 1 view, got none"
    );
    let shape = views[0].dims();
    for (i, view) in views.iter().enumerate() {
        let dims = view.dims();
        assert!(
            dims == shape,
            "{function}: every view must have the same shape, got {name}[0] {shape:?} and \
             {name}[{i}] {dims:?}"
        );
    }
    let [n, d] = shape;
    assert!(
        n >= 1 && d >= 1,
        "{function}: views need at least 1 row and 1 feature, got {name} of shape {shape:?}"
    );
    shape
}
