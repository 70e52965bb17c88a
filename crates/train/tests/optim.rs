//! `OptimizerConfig`: each variant against three PyTorch steps (`torch.optim.SGD/Adam/AdamW`, via
//! the serialised config), serde, and the config contract.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use selfsup_train::{Error, OptimizerConfig};
use serde_json::json;

use crate::support::{assert_close, device, dims, floats, golden, values};

#[derive(Module, Debug)]
struct Holder {
    w: Param<Tensor<2>>,
}

/// Every case of `golden/optim.json`: the config is deserialised from the JSON the script wrote
/// (so the serde names are checked too), then three steps with the given gradients.
#[test]
fn matches_pytorch_optimizers() {
    let device = device().autodiff();
    let file = golden("optim.json");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config: OptimizerConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut optimizer = config.init().unwrap();
        let shape: [usize; 2] = dims(&case["shape"]).try_into().unwrap();
        let lr = case["lr"].as_f64().unwrap();
        let mut holder = Holder {
            w: Param::from_tensor(Tensor::from_data(
                TensorData::new(floats(&case["weight"]), shape),
                &device,
            )),
        };
        let expected = case["after"].as_array().unwrap();
        for (step, grad) in case["grads"].as_array().unwrap().iter().enumerate() {
            let mut grads = GradientsParams::new();
            grads.register(
                holder.w.id,
                Tensor::<2>::from_data(
                    TensorData::new(floats(grad), shape),
                    &device.clone().inner(),
                ),
            );
            holder = optimizer.step(lr, holder, grads);
            assert_close(
                &values(holder.w.val().inner()),
                &floats(&expected[step]),
                1e-6,
                1e-5,
                &format!("{name} step {}", step + 1),
            );
        }
    }
}

#[test]
fn serde_round_trip_and_defaults() {
    for config in [
        OptimizerConfig::sgd(0.9, 1e-4),
        OptimizerConfig::adam(),
        OptimizerConfig::adam_w(),
        OptimizerConfig::lars(),
    ] {
        let text = serde_json::to_string(&config).unwrap();
        assert!(
            text.contains(&format!("\"kind\":\"{}\"", config.name())),
            "{text}"
        );
        let back: OptimizerConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
    }
    // Missing fields take the constructors' defaults.
    let lars: OptimizerConfig = serde_json::from_value(json!({"kind": "lars"})).unwrap();
    assert_eq!(lars, OptimizerConfig::lars());
    let adam_w: OptimizerConfig = serde_json::from_value(json!({"kind": "adam_w"})).unwrap();
    assert_eq!(adam_w, OptimizerConfig::adam_w());
    let sgd: OptimizerConfig =
        serde_json::from_value(json!({"kind": "sgd", "weight_decay": 1e-4})).unwrap();
    assert_eq!(sgd, OptimizerConfig::sgd(0.9, 1e-4));
    // Typos are errors, not silently ignored.
    assert!(
        serde_json::from_value::<OptimizerConfig>(json!({"kind": "sgd", "momentun": 0.9})).is_err()
    );
    assert!(serde_json::from_value::<OptimizerConfig>(json!({"kind": "rmsprop"})).is_err());
}

#[test]
fn lars_variant_carries_its_fields() {
    let config = OptimizerConfig::Lars {
        momentum: 0.8,
        weight_decay: 1e-4,
        trust_coefficient: 0.02,
        eps: 0.0,
        nesterov: true,
        exclude_bias_and_norm: false,
        clip_lr: true,
    };
    let lars = config.lars_config().unwrap();
    assert_eq!(
        (
            lars.momentum,
            lars.weight_decay,
            lars.trust_coefficient,
            lars.eps,
            lars.nesterov
        ),
        (0.8, 1e-4, 0.02, 0.0, true)
    );
    assert!(!lars.exclude_bias_and_norm);
    assert!(lars.clip_lr);
    assert_eq!(lars.dampening, 0.0);
    assert!(OptimizerConfig::adam().lars_config().is_none());
    config.init().unwrap();
}

#[test]
fn bad_configs_are_rejected() {
    let cases = [
        (
            OptimizerConfig::sgd(1.0, 0.0),
            "invalid sgd config: momentum = 1 must be in [0, 1)",
        ),
        (
            OptimizerConfig::sgd(0.9, -1.0),
            "invalid sgd config: weight_decay = -1 must be finite and not negative",
        ),
        (
            OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay: 0.0,
                nesterov: true,
            },
            "invalid sgd config: nesterov = true needs a positive momentum (momentum = 0)",
        ),
        (
            OptimizerConfig::Adam {
                beta_1: 0.9,
                beta_2: 1.0,
                epsilon: 1e-8,
                weight_decay: 0.0,
            },
            "invalid adam config: beta_2 = 1 must be in [0, 1)",
        ),
        (
            OptimizerConfig::AdamW {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 0.0,
                weight_decay: 0.0,
            },
            "invalid adam_w config: epsilon = 0 must be positive and finite",
        ),
        (
            OptimizerConfig::AdamW {
                beta_1: f64::NAN,
                beta_2: 0.999,
                epsilon: 1e-8,
                weight_decay: 0.0,
            },
            "invalid adam_w config: beta_1 = NaN must be in [0, 1)",
        ),
        (
            OptimizerConfig::Lars {
                momentum: 0.9,
                weight_decay: 1e-6,
                trust_coefficient: -1.0,
                eps: 1e-8,
                nesterov: false,
                exclude_bias_and_norm: true,
                clip_lr: false,
            },
            "invalid lars config: trust_coefficient = -1 must be positive and finite",
        ),
    ];
    for (config, message) in cases {
        let err = config.init().map(|_| ()).expect_err(message);
        assert!(matches!(err, Error::InvalidConfig { .. }));
        assert_eq!(err.to_string(), message);
    }
}
