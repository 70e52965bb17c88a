//! The weighted kNN monitor: known answers on clusters, a brute-force host oracle, chunking, the
//! clamping of k, and the contracts.

use selfsup_train::{Error, KnnConfig, knn_evaluate, knn_predict, knn_scores};

use crate::support::{assert_close, clusters, device, tensor2, uniform, values};

/// Brute force on the host in f64, a transcription of lightly's `knn_predict`: normalise,
/// similarities to every train row, sort descending, take k, add exp(sim / τ) per class.
fn oracle_scores(
    train: &[f32],
    labels: &[usize],
    test: &[f32],
    dim: usize,
    num_classes: usize,
    k: usize,
    temperature: f64,
) -> Vec<Vec<f64>> {
    let normalise = |row: &[f32]| -> Vec<f64> {
        let norm = row
            .iter()
            .map(|&x| (x as f64).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        row.iter().map(|&x| x as f64 / norm).collect()
    };
    let bank: Vec<Vec<f64>> = train.chunks(dim).map(normalise).collect();
    test.chunks(dim)
        .map(|row| {
            let q = normalise(row);
            let mut sims: Vec<(f64, usize)> = bank
                .iter()
                .zip(labels)
                .map(|(b, &l)| (b.iter().zip(&q).map(|(x, y)| x * y).sum(), l))
                .collect();
            sims.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
            let mut scores = vec![0.0; num_classes];
            for &(sim, label) in sims.iter().take(k) {
                scores[label] += (sim / temperature).exp();
            }
            scores
        })
        .collect()
}

fn argmax(scores: &[f64]) -> usize {
    (0..scores.len())
        .max_by(|&a, &b| scores[a].partial_cmp(&scores[b]).unwrap())
        .unwrap()
}

/// Random features (no structure), 3 classes: scores and predictions agree with the oracle, over
/// several chunks with a ragged last one (25 test rows in chunks of 4).
#[test]
fn matches_brute_force_oracle() {
    let device = device();
    let (n, m, dim, classes) = (60, 25, 5, 3);
    let train = uniform(n * dim, 1);
    let test = uniform(m * dim, 2);
    let labels: Vec<usize> = (0..n).map(|i| (i * 7 + i / 5) % classes).collect();
    for (k, temperature) in [(7, 0.1), (1, 0.1), (20, 0.5), (60, 0.07)] {
        let config = KnnConfig::new()
            .with_k(k)
            .with_temperature(temperature)
            .with_chunk_size(4);
        let expected = oracle_scores(&train, &labels, &test, dim, classes, k, temperature);
        let scores = knn_scores(
            &config,
            tensor2(train.clone(), n, dim, &device),
            &labels,
            tensor2(test.clone(), m, dim, &device),
            classes,
        )
        .unwrap();
        assert_eq!(scores.dims(), [m, classes]);
        let flat: Vec<f32> = expected.iter().flatten().map(|&s| s as f32).collect();
        assert_close(
            &values(scores),
            &flat,
            1e-3,
            1e-4,
            &format!("scores, k = {k}"),
        );

        let predicted = knn_predict(
            &config,
            tensor2(train.clone(), n, dim, &device),
            &labels,
            tensor2(test.clone(), m, dim, &device),
            classes,
        )
        .unwrap();
        let oracle: Vec<usize> = expected.iter().map(|s| argmax(s)).collect();
        assert_eq!(predicted, oracle, "predictions, k = {k}");
    }
}

/// Four well separated clusters along four axes: every test point is classified correctly, and
/// the per-class table says so.
#[test]
fn clusters_are_classified_exactly() {
    let device = device();
    let (classes, dim) = (4, 6);
    let (train, train_labels) = clusters(classes, 30, dim, 5.0, 1.0, 10);
    let (test, test_labels) = clusters(classes, 10, dim, 5.0, 1.0, 11);
    let config = KnnConfig::new().with_k(20).with_chunk_size(7);
    let report = knn_evaluate(
        &config,
        tensor2(train, 120, dim, &device),
        &train_labels,
        tensor2(test, 40, dim, &device),
        &test_labels,
        classes,
    )
    .unwrap();
    assert_eq!(report.top1(), 1.0);
    assert_eq!(report.predictions, test_labels);
    assert!(
        report
            .per_class
            .iter()
            .all(|c| c.correct == 10 && c.total == 10)
    );
}

/// The prediction uses the temperature-weighted vote, not a majority: one very close neighbour of
/// class 1 outweighs two farther ones of class 0 at τ = 0.1, but not at τ = 10.
#[test]
fn votes_are_temperature_weighted() {
    let device = device();
    // Similarities to the query [1, 0]: 1.0 (class 1), 0.6 and 0.6 (class 0), -1 (class 0).
    let train = vec![1.0, 0.0, 0.6, 0.8, 0.6, -0.8, -1.0, 0.0];
    let labels = [1, 0, 0, 0];
    let query = vec![1.0, 0.0];
    let predict = |temperature: f64| {
        let config = KnnConfig::new().with_k(3).with_temperature(temperature);
        knn_predict(
            &config,
            tensor2(train.clone(), 4, 2, &device),
            &labels,
            tensor2(query.clone(), 1, 2, &device),
            2,
        )
        .unwrap()[0]
    };
    // τ = 0.1: e^10 = 22026 > 2·e^6 = 807 → class 1. τ = 10: e^0.1 = 1.105 < 2·e^0.06 = 2.124 → class 0.
    assert_eq!(predict(0.1), 1);
    assert_eq!(predict(10.0), 0);
}

/// Features are L2-normalised: scaling rows by positive factors changes nothing.
#[test]
fn scale_of_features_does_not_matter() {
    let device = device();
    let (n, m, dim) = (40, 15, 4);
    let train = uniform(n * dim, 3);
    let test = uniform(m * dim, 4);
    let labels: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let scaled: Vec<f32> = train
        .chunks(dim)
        .enumerate()
        .flat_map(|(i, row)| row.iter().map(move |x| x * (1.0 + i as f32) * 10.0))
        .collect();
    let config = KnnConfig::new().with_k(9);
    let run = |train: Vec<f32>| {
        knn_predict(
            &config,
            tensor2(train, n, dim, &device),
            &labels,
            tensor2(test.clone(), m, dim, &device),
            4,
        )
        .unwrap()
    };
    assert_eq!(run(train), run(scaled));
}

/// The result does not depend on the chunk size.
#[test]
fn chunk_size_does_not_matter() {
    let device = device();
    let (n, m, dim) = (50, 33, 6);
    let train = uniform(n * dim, 5);
    let test = uniform(m * dim, 6);
    let labels: Vec<usize> = (0..n).map(|i| (i * 3) % 5).collect();
    let run = |chunk| {
        let config = KnnConfig::new().with_k(10).with_chunk_size(chunk);
        knn_scores(
            &config,
            tensor2(train.clone(), n, dim, &device),
            &labels,
            tensor2(test.clone(), m, dim, &device),
            5,
        )
        .unwrap()
    };
    // Different chunkings block the matrix product differently: f32 rounding of the similarities
    // (~1e-7), amplified by exp(s / τ) with 1/τ = 10, moves scores by ~1e-6 relative.
    let whole = values(run(1000));
    for chunk in [1, 5, 32, 33] {
        assert_close(
            &values(run(chunk)),
            &whole,
            1e-5,
            2e-5,
            &format!("chunk {chunk}"),
        );
    }
}

/// k above the bank size is clamped to it: the default k = 200 on a 60-row bank is k = 60.
#[test]
fn k_larger_than_bank_is_clamped() {
    let device = device();
    let (n, m, dim) = (60, 10, 5);
    let train = uniform(n * dim, 7);
    let test = uniform(m * dim, 8);
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let default = KnnConfig::new();
    assert_eq!(default.k, 200);
    assert_eq!(default.effective_k(n), 60);
    let scores = |config: &KnnConfig| {
        values(
            knn_scores(
                config,
                tensor2(train.clone(), n, dim, &device),
                &labels,
                tensor2(test.clone(), m, dim, &device),
                3,
            )
            .unwrap(),
        )
    };
    assert_close(
        &scores(&default),
        &scores(&KnnConfig::new().with_k(60)),
        1e-4,
        1e-6,
        "k = 200 vs 60",
    );
    let expected = oracle_scores(&train, &labels, &test, dim, 3, 60, 0.1);
    let flat: Vec<f32> = expected.iter().flatten().map(|&s| s as f32).collect();
    assert_close(
        &scores(&default),
        &flat,
        1e-3,
        1e-4,
        "k = 200 vs oracle with every neighbour",
    );
}

#[test]
fn bad_configs_are_rejected() {
    let device = device();
    let cases = [
        (
            KnnConfig::new().with_k(0),
            "invalid knn config: k = 0 must be positive",
        ),
        (
            KnnConfig::new().with_temperature(0.0),
            "invalid knn config: temperature = 0 must be positive and finite",
        ),
        (
            KnnConfig::new().with_chunk_size(0),
            "invalid knn config: chunk_size = 0 must be positive",
        ),
    ];
    for (config, message) in cases {
        let err = knn_predict(
            &config,
            tensor2(vec![1.0; 4], 2, 2, &device),
            &[0, 1],
            tensor2(vec![1.0; 2], 1, 2, &device),
            2,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        assert_eq!(err.to_string(), message);
    }
}

#[test]
#[should_panic(expected = "knn: train label 1 is 2, but labels must be below 2")]
fn labels_must_be_below_num_classes() {
    let device = device();
    let _ = knn_predict(
        &KnnConfig::new(),
        tensor2(vec![1.0; 4], 2, 2, &device),
        &[0, 2],
        tensor2(vec![1.0; 2], 1, 2, &device),
        2,
    );
}

#[test]
#[should_panic(expected = "knn: test features have dimension 3, train features 2")]
fn dimensions_must_agree() {
    let device = device();
    let _ = knn_predict(
        &KnnConfig::new(),
        tensor2(vec![1.0; 4], 2, 2, &device),
        &[0, 1],
        tensor2(vec![1.0; 3], 1, 3, &device),
        2,
    );
}

#[test]
#[should_panic(expected = "knn: 1 train labels for 2 train features")]
fn one_label_per_train_feature() {
    let device = device();
    let _ = knn_predict(
        &KnnConfig::new(),
        tensor2(vec![1.0; 4], 2, 2, &device),
        &[0],
        tensor2(vec![1.0; 2], 1, 2, &device),
        2,
    );
}

#[test]
#[should_panic(expected = "knn: 2 test labels for 1 test features")]
fn one_label_per_test_feature() {
    let device = device();
    let _ = knn_evaluate(
        &KnnConfig::new(),
        tensor2(vec![1.0; 4], 2, 2, &device),
        &[0, 1],
        tensor2(vec![1.0; 2], 1, 2, &device),
        &[0, 1],
        2,
    );
}
