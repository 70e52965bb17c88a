//! The linear probe: separable features reach 100 %, random labels stay near chance, the input
//! features are left alone, and the contracts.

use selfsup_train::{Error, LinearProbeConfig, OptimizerConfig, linear_probe};

use crate::support::{clusters, device, tensor2, uniform, values};

/// Four linearly separable clusters (class c around 4·e_c, noise ±1 per coordinate; the margin
/// between any two classes is at least 4 − 2 = 2 along e_c − e_c'): the probe classifies every
/// test point, and the train loss falls.
#[test]
fn separable_features_reach_full_accuracy() {
    let device = device();
    device.seed(7);
    let (classes, dim) = (4, 8);
    let (train, train_labels) = clusters(classes, 50, dim, 4.0, 1.0, 20);
    let (test, test_labels) = clusters(classes, 25, dim, 4.0, 1.0, 21);
    let config = LinearProbeConfig::new().with_epochs(20).with_batch_size(32);
    let report = linear_probe(
        &config,
        tensor2(train, 200, dim, &device),
        &train_labels,
        tensor2(test, 100, dim, &device),
        &test_labels,
        classes,
    )
    .unwrap();
    assert_eq!(report.top1(), 1.0, "{report}");
    assert!(
        report
            .test
            .per_class
            .iter()
            .all(|c| c.correct == 25 && c.total == 25)
    );
    assert_eq!(report.epoch_losses.len(), 20);
    let (first, last) = (report.epoch_losses[0], *report.epoch_losses.last().unwrap());
    assert!(last < 0.1 && last < first / 5.0, "loss {first} -> {last}");
    assert_eq!(report.classifier.weight.val().dims(), [dim, classes]);
}

/// The same with Adam and a constant LR: the optimizer choice goes through.
#[test]
fn adam_without_cosine_also_separates() {
    let device = device();
    device.seed(8);
    let (train, train_labels) = clusters(3, 40, 5, 4.0, 1.0, 30);
    let (test, test_labels) = clusters(3, 20, 5, 4.0, 1.0, 31);
    let config = LinearProbeConfig::new()
        .with_epochs(30)
        .with_batch_size(16)
        .with_lr(0.05)
        .with_cosine(false)
        .with_optimizer(OptimizerConfig::adam());
    let report = linear_probe(
        &config,
        tensor2(train, 120, 5, &device),
        &train_labels,
        tensor2(test, 60, 5, &device),
        &test_labels,
        3,
    )
    .unwrap();
    assert_eq!(report.top1(), 1.0, "{report}");
}

/// Labels independent of the features: whatever the probe fits on the train set, test accuracy
/// stays near chance (1/4). With 800 test points the standard deviation of the accuracy of a
/// chance-level predictor is √(0.25·0.75/800) ≈ 1.5 %, so [15 %, 35 %] is more than ±6σ.
#[test]
fn random_labels_stay_near_chance() {
    let device = device();
    device.seed(9);
    let (n, m, dim, classes) = (400, 800, 16, 4);
    let labels_from = |seed: u64, count: usize| -> Vec<usize> {
        uniform(count, seed)
            .iter()
            .map(|u| (((u + 1.0) * 2.0) as usize).min(3))
            .collect()
    };
    let train_labels = labels_from(40, n);
    let test_labels = labels_from(41, m);
    let config = LinearProbeConfig::new().with_epochs(10).with_batch_size(64);
    let report = linear_probe(
        &config,
        tensor2(uniform(n * dim, 42), n, dim, &device),
        &train_labels,
        tensor2(uniform(m * dim, 43), m, dim, &device),
        &test_labels,
        classes,
    )
    .unwrap();
    assert!((0.15..=0.35).contains(&report.top1()), "{report}");
}

/// The probe reads its inputs and nothing else: the feature tensors the caller keeps hold the
/// same values afterwards.
#[test]
fn input_features_are_not_modified() {
    let device = device();
    let (train, train_labels) = clusters(2, 20, 3, 2.0, 1.0, 50);
    let (test, test_labels) = clusters(2, 5, 3, 2.0, 1.0, 51);
    let train_tensor = tensor2(train.clone(), 40, 3, &device);
    let test_tensor = tensor2(test.clone(), 10, 3, &device);
    let config = LinearProbeConfig::new().with_epochs(3).with_batch_size(8);
    linear_probe(
        &config,
        train_tensor.clone(),
        &train_labels,
        test_tensor.clone(),
        &test_labels,
        2,
    )
    .unwrap();
    assert_eq!(values(train_tensor), train);
    assert_eq!(values(test_tensor), test);
}

#[test]
fn report_prints_the_table() {
    let device = device();
    device.seed(10);
    let (train, train_labels) = clusters(2, 20, 3, 4.0, 0.5, 60);
    let (test, test_labels) = clusters(2, 5, 3, 4.0, 0.5, 61);
    let config = LinearProbeConfig::new().with_epochs(5).with_batch_size(8);
    let report = linear_probe(
        &config,
        tensor2(train, 40, 3, &device),
        &train_labels,
        tensor2(test, 10, 3, &device),
        &test_labels,
        2,
    )
    .unwrap();
    let text = report.to_string();
    assert!(
        text.starts_with("linear probe: 5 epochs, train loss "),
        "{text}"
    );
    assert!(text.contains("top-1 accuracy 100.00% (10/10)"), "{text}");
    assert!(
        text.contains("     0        5        5   100.00%"),
        "{text}"
    );
}

#[test]
fn bad_configs_are_rejected() {
    let device = device();
    let cases = [
        (
            LinearProbeConfig::new().with_epochs(0),
            "invalid linear probe config: epochs = 0 must be positive",
        ),
        (
            LinearProbeConfig::new().with_batch_size(0),
            "invalid linear probe config: batch_size = 0 must be positive",
        ),
        (
            LinearProbeConfig::new().with_lr(-1.0),
            "invalid linear probe config: lr = -1 must be positive and finite",
        ),
        (
            LinearProbeConfig::new().with_optimizer(OptimizerConfig::sgd(2.0, 0.0)),
            "invalid sgd config: momentum = 2 must be in [0, 1)",
        ),
    ];
    for (config, message) in cases {
        let err = linear_probe(
            &config,
            tensor2(vec![1.0; 4], 2, 2, &device),
            &[0, 1],
            tensor2(vec![1.0; 2], 1, 2, &device),
            &[1],
            2,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        assert_eq!(err.to_string(), message);
    }
}

#[test]
#[should_panic(expected = "linear_probe: test label 0 is 5, but labels must be below 2")]
fn labels_must_be_below_num_classes() {
    let device = device();
    let _ = linear_probe(
        &LinearProbeConfig::new(),
        tensor2(vec![1.0; 4], 2, 2, &device),
        &[0, 1],
        tensor2(vec![1.0; 2], 1, 2, &device),
        &[5],
        2,
    );
}

#[test]
#[should_panic(expected = "linear_probe: train features have dimension 2, test features 3")]
fn dimensions_must_agree() {
    let device = device();
    let _ = linear_probe(
        &LinearProbeConfig::new(),
        tensor2(vec![1.0; 4], 2, 2, &device),
        &[0, 1],
        tensor2(vec![1.0; 3], 1, 3, &device),
        &[1],
        2,
    );
}
