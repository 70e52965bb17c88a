//! Integration tests of `selfsup-train`, one binary (`autotests = false`).
//!
//! Golden numbers come from `tools/golden_train.py` (PyTorch), written to `tests/golden/`.

mod support;

mod checkpoint;
mod custom;
mod finetune;
mod hooks;
mod knn;
mod lars;
mod methods;
mod metrics;
mod online_linear;
mod optim;
mod probe;
mod recipes;
mod schedule;
mod trainer;
mod validation;
