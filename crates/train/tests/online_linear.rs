//! Online linear evaluation: the classifier's closed-form step against Burn's autodiff, and a run
//! that trains one, logs its accuracy, checkpoints it and resumes it bit for bit.

use burn::prelude::*;
use burn::tensor::Distribution;
use selfsup_data::transforms::Normalize;
use selfsup_train::{
    Checkpoint, LinearClassifier, OnlineLinear, OnlineLinearState, Trainer, TrainingConfig,
};

use crate::support::device;
use crate::trainer::{config, dataset, ssl_data, tiny_simsiam};

/// Two steps of the classifier equal two steps of PyTorch-semantics SGD with momentum on the
/// mean cross-entropy of `x·W + b`, whose gradient Burn's autodiff computes.
#[test]
fn step_equals_sgd_on_the_autodiff_gradient() {
    let device = device();
    let inner = device.clone().inner();
    let (b, d, c) = (6, 5, 3);
    let labels = [0usize, 2, 1, 1, 0, 2];
    let (lr, momentum) = (0.3, 0.9);
    // A non-zero start, so that the first step's gradient is not the trivial one.
    let start = OnlineLinearState {
        features: d,
        classes: c,
        weight: (0..d * c)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0)
            .collect(),
        bias: vec![0.1, -0.2, 0.05],
        velocity: None,
    };
    let mut classifier = LinearClassifier::from_state(&start, &device).unwrap();
    assert_eq!(
        LinearClassifier::zeros(d, c, &device).state().weight,
        vec![0.0; d * c]
    );

    let ad = device.clone().autodiff();
    let mut w = Tensor::<2>::from_data(TensorData::new(start.weight.clone(), [d, c]), &inner);
    let mut bias = Tensor::<1>::from_data(TensorData::new(start.bias.clone(), [c]), &inner);
    let mut velocity: Option<(Tensor<2>, Tensor<1>)> = None;
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [b]),
        &ad,
    );
    for step in 0..2 {
        let x = Tensor::<2>::random([b, d], Distribution::Normal(0.0, 1.0), &inner);
        let loss = classifier.step(x.clone(), &labels, lr, momentum);

        let wa = Tensor::<2>::from_data(w.to_data(), &ad).require_grad();
        let ba = Tensor::<1>::from_data(bias.to_data(), &ad).require_grad();
        let logits = Tensor::<2>::from_data(x.to_data(), &ad)
            .matmul(wa.clone())
            .add(ba.clone().unsqueeze::<2>());
        let ce = burn::nn::loss::CrossEntropyLossConfig::new()
            .init(&ad)
            .forward(logits, targets.clone());
        let expected_loss = ce.clone().into_scalar::<f64>();
        let grads = ce.backward();
        let gw = Tensor::<2>::from_data(wa.grad(&grads).unwrap().to_data(), &inner);
        let gb = Tensor::<1>::from_data(ba.grad(&grads).unwrap().to_data(), &inner);
        let (vw, vb) = match velocity.take() {
            None => (gw, gb),
            Some((vw, vb)) => (
                vw.mul_scalar(momentum).add(gw),
                vb.mul_scalar(momentum).add(gb),
            ),
        };
        w = w.sub(vw.clone().mul_scalar(lr));
        bias = bias.sub(vb.clone().mul_scalar(lr));
        velocity = Some((vw, vb));

        assert!(
            (loss - expected_loss).abs() < 1e-5,
            "step {step}: loss {loss} vs {expected_loss}"
        );
        let state = classifier.state();
        let ours_w: Vec<f32> = state.weight.clone();
        let theirs_w: Vec<f32> = w.to_data().try_to_vec().unwrap();
        for (i, (a, e)) in ours_w.iter().zip(&theirs_w).enumerate() {
            assert!((a - e).abs() < 1e-5, "step {step}: W[{i}] {a} vs {e}");
        }
        let theirs_b: Vec<f32> = bias.to_data().try_to_vec().unwrap();
        for (i, (a, e)) in state.bias.iter().zip(&theirs_b).enumerate() {
            assert!((a - e).abs() < 1e-5, "step {step}: b[{i}] {a} vs {e}");
        }
    }
    // The state round-trips, and a state of the wrong size is refused.
    let state = classifier.state();
    assert_eq!(
        LinearClassifier::from_state(&state, &device)
            .unwrap()
            .state(),
        state
    );
    let bad = OnlineLinearState {
        bias: vec![0.0; c + 1],
        ..state
    };
    assert!(LinearClassifier::from_state(&bad, &device).is_err());
}

fn online(test_images: usize) -> OnlineLinear {
    let test = dataset(test_images, 10, true);
    OnlineLinear {
        num_classes: 10,
        lr: 0.1,
        test_indices: (0..test_images).collect(),
        test,
        normalize: Some(Normalize::cifar10()),
    }
}

/// A run with online linear evaluation logs its accuracy every epoch, saves the classifier in
/// its checkpoints, and a resumed run ends with the same classifier and accuracies as an
/// uninterrupted one.
#[test]
fn a_run_trains_logs_checkpoints_and_resumes_the_classifier() {
    let data = ssl_data(48); // 6 steps of 8 per epoch, labelled
    let whole_dir = tempfile::tempdir().unwrap();
    let cut_dir = tempfile::tempdir().unwrap();
    let whole = Trainer::new(tiny_simsiam(), config(2, 8), &device())
        .unwrap()
        .with_out_dir(whole_dir.path())
        .with_online_linear(online(40));
    let initial = whole.init_model();
    let initial_copy = crate::methods::independent_copy(&whole, &initial);
    let reference = whole.fit(initial, &data).unwrap();
    let accuracies: Vec<Option<f64>> = reference
        .history
        .epochs
        .iter()
        .map(|e| e.online_linear_top1)
        .collect();
    assert_eq!(accuracies.len(), 2);
    assert!(
        accuracies
            .iter()
            .all(|a| a.is_some_and(|a| (0.0..=1.0).contains(&a))),
        "{accuracies:?}"
    );
    let log = std::fs::read_to_string(whole_dir.path().join("train.log")).unwrap();
    assert!(log.contains("online linear top-1"), "{log}");
    let final_state = Checkpoint::read(&whole.checkpoint_path().unwrap())
        .unwrap()
        .state
        .online_linear
        .expect("the classifier is in the checkpoint");
    assert!(final_state.velocity.is_some());
    assert!(final_state.weight.iter().any(|&w| w != 0.0), "it trained");

    let cut_config = TrainingConfig {
        checkpoint_every: Some(4),
        ..config(2, 8)
    };
    let cut = Trainer::new(tiny_simsiam(), cut_config.clone(), &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .with_online_linear(online(40))
        .stop_after_steps(5);
    cut.fit(initial_copy, &data).unwrap();
    let checkpoint = cut.checkpoint_path().unwrap();
    let resumed = Trainer::new(tiny_simsiam(), cut_config, &device())
        .unwrap()
        .with_out_dir(cut_dir.path())
        .with_online_linear(online(40))
        .resume(&checkpoint, &data)
        .unwrap();
    let resumed_accuracies: Vec<Option<f64>> = resumed
        .history
        .epochs
        .iter()
        .map(|e| e.online_linear_top1)
        .collect();
    assert_eq!(resumed_accuracies, accuracies, "bit for bit");
    let resumed_state = Checkpoint::read(&checkpoint)
        .unwrap()
        .state
        .online_linear
        .unwrap();
    assert_eq!(resumed_state, final_state, "the same classifier at the end");
}
