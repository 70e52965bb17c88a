//! Proofs of the stop-gradients of MoCo ([`info_nce`]: the key and the queue), DINO ([`dino`]:
//! the teacher outputs) and SwAV ([`sinkhorn`]: the codes). Each check has a control: the same
//! loss written without `detach` (a test-local twin with the same value) does send a gradient
//! across, so the check can fail.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::{Gradients, activation};
use selfsup_losses::{SwavLossConfig, dino, info_nce, sinkhorn, swav};

use crate::common::{Rng, assert_all_close, assert_close, autodiff_device, scalar, tensor, values};

const N: usize = 6;
const D_IN: usize = 5;
const D_OUT: usize = 4;

/// An "online" (student) layer and a "target" (teacher, momentum) layer, and inputs for them.
struct TwoBranches {
    online: Linear,
    target: Linear,
    inputs: Vec<Tensor<2>>,
}

impl TwoBranches {
    fn new(views: usize, seed: u64) -> Self {
        let device = autodiff_device();
        let mut rng = Rng::new(seed);
        TwoBranches {
            online: LinearConfig::new(D_IN, D_OUT).init(&device),
            target: LinearConfig::new(D_IN, D_OUT).init(&device),
            inputs: (0..views)
                .map(|_| tensor(&rng.matrix(N, D_IN), [N, D_IN], &device))
                .collect(),
        }
    }

    fn online(&self, view: usize) -> Tensor<2> {
        self.online.forward(self.inputs[view].clone())
    }

    fn target(&self, view: usize) -> Tensor<2> {
        self.target.forward(self.inputs[view].clone())
    }
}

/// The largest |gradient| of a parameter (0 when it has none).
fn max_abs_grad<const D: usize>(param: Tensor<D>, grads: &Gradients) -> f32 {
    param
        .grad(grads)
        .map(|g| values(g).into_iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .unwrap_or(0.0)
}

fn layer_grad(layer: &Linear, grads: &Gradients) -> f32 {
    max_abs_grad(layer.weight.val(), grads).max(max_abs_grad(
        layer.bias.as_ref().expect("a bias").val(),
        grads,
    ))
}

fn unit(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).clamp_min(1e-24).sqrt();
    x / norm
}

// --- InfoNCE -----------------------------------------------------------------------------------

/// The test-local twin of `info_nce` *without* the stop-gradient.
fn info_nce_without_detach(
    query: Tensor<2>,
    key: Tensor<2>,
    queue: Option<Tensor<2>>,
    tau: f64,
) -> Tensor<1> {
    let (q, k) = (unit(query), unit(key));
    let n = q.dims()[0];
    let log_probs = match queue {
        Some(queue) => {
            let logits = Tensor::cat(
                vec![
                    (q.clone() * k).sum_dim(1),
                    q.matmul(unit(queue).transpose()),
                ],
                1,
            );
            activation::log_softmax(logits.div_scalar(tau), 1).narrow(1, 0, 1)
        }
        None => {
            let logits = q.matmul(k.transpose()).div_scalar(tau);
            let device = logits.device();
            let targets = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([n, 1]);
            activation::log_softmax(logits, 1).gather(1, targets)
        }
    };
    -log_probs.mean()
}

#[test]
fn info_nce_sends_no_gradient_to_the_key_or_the_queue() {
    for with_queue in [false, true] {
        let model = TwoBranches::new(3, 41);
        let queue = with_queue.then(|| model.target(2).detach().require_grad());
        let loss = info_nce(model.online(0), model.target(1), queue.clone(), 0.2);
        let grads = loss.backward();
        assert_eq!(
            layer_grad(&model.target, &grads),
            0.0,
            "queue={with_queue}: the key's layer got a gradient through info_nce"
        );
        if let Some(queue) = queue {
            assert!(
                queue.grad(&grads).is_none(),
                "the queue got a gradient through info_nce"
            );
        }
        let online = layer_grad(&model.online, &grads);
        assert!(
            online > 1e-4,
            "queue={with_queue}: the query's layer must get a gradient, got max |grad| {online}"
        );
    }
}

#[test]
fn without_detach_the_key_and_the_queue_do_get_a_gradient() {
    for with_queue in [false, true] {
        let model = TwoBranches::new(3, 41);
        let queue = with_queue.then(|| model.target(2).detach().require_grad());
        let loss = info_nce_without_detach(model.online(0), model.target(1), queue.clone(), 0.2);
        let library = info_nce(
            model.online(0).detach(),
            model.target(1).detach(),
            queue.clone().map(|q| q.detach()),
            0.2,
        );
        assert_close(
            &format!("queue={with_queue}: the twin computes the same loss"),
            scalar(loss.clone()),
            scalar(library),
        );
        let grads = loss.backward();
        let target = layer_grad(&model.target, &grads);
        assert!(
            target > 1e-4,
            "queue={with_queue}: without detach the key's layer must get a gradient, got {target}"
        );
        if let Some(queue) = queue {
            let g = values(queue.grad(&grads).expect("a queue gradient"));
            assert!(
                g.iter().any(|v| v.abs() > 1e-4),
                "without detach the queue must get a gradient"
            );
        }
    }
}

// --- DINO --------------------------------------------------------------------------------------

/// The test-local twin of `dino` *without* the stop-gradient, by its definition over pairs.
fn dino_without_detach(
    teacher: &[Tensor<2>],
    student: &[Tensor<2>],
    center: Tensor<2>,
    teacher_temp: f64,
    student_temp: f64,
) -> Tensor<1> {
    let mut total: Option<Tensor<1>> = None;
    let mut pairs = 0;
    for (i, t) in teacher.iter().enumerate() {
        let target = activation::softmax((t.clone() - center.clone()).div_scalar(teacher_temp), 1);
        for (j, s) in student.iter().enumerate() {
            if i == j {
                continue;
            }
            let log_probs = activation::log_softmax(s.clone().div_scalar(student_temp), 1);
            let term = -(target.clone() * log_probs).sum_dim(1).mean();
            total = Some(total.map_or(term.clone(), |x| x + term));
            pairs += 1;
        }
    }
    total.expect("a pair").div_scalar(pairs as f64)
}

#[test]
fn dino_sends_no_gradient_to_the_teacher() {
    let model = TwoBranches::new(4, 42);
    let teacher = [model.target(0), model.target(1)];
    let student: Vec<Tensor<2>> = (0..4).map(|v| model.online(v)).collect();
    let center = Tensor::<2>::zeros([1, D_OUT], &autodiff_device()).require_grad();
    let grads = dino(&teacher, &student, center.clone(), 0.04, 0.1).backward();
    assert_eq!(
        layer_grad(&model.target, &grads),
        0.0,
        "the teacher's layer got a gradient through dino"
    );
    assert!(
        center.grad(&grads).is_none(),
        "the centre got a gradient through dino"
    );
    let online = layer_grad(&model.online, &grads);
    assert!(
        online > 1e-4,
        "the student's layer must get a gradient, got max |grad| {online}"
    );
}

#[test]
fn without_detach_the_teacher_does_get_a_gradient() {
    let model = TwoBranches::new(4, 42);
    let teacher = [model.target(0), model.target(1)];
    let student: Vec<Tensor<2>> = (0..4).map(|v| model.online(v)).collect();
    let center = Tensor::<2>::zeros([1, D_OUT], &autodiff_device());
    let loss = dino_without_detach(&teacher, &student, center.clone(), 0.04, 0.1);
    let detached = |views: &[Tensor<2>]| -> Vec<Tensor<2>> {
        views.iter().map(|v| v.clone().detach()).collect()
    };
    let library = dino(&detached(&teacher), &detached(&student), center, 0.04, 0.1);
    assert_close(
        "the twin computes the same loss",
        scalar(loss.clone()),
        scalar(library),
    );
    let grads = loss.backward();
    let target = layer_grad(&model.target, &grads);
    assert!(
        target > 1e-4,
        "without detach the teacher's layer must get a gradient, got {target}"
    );
}

// --- SwAV --------------------------------------------------------------------------------------

/// The test-local twin of `sinkhorn` *without* the stop-gradient (same log-domain rounds).
fn sinkhorn_without_detach(scores: Tensor<2>, iterations: usize, epsilon: f64) -> Tensor<2> {
    let lse = |x: Tensor<2>, dim: usize| {
        let max = x.clone().max_dim(dim).detach();
        (x - max.clone()).exp().sum_dim(dim).log() + max
    };
    let [b, k] = scores.dims();
    let log_b = (b as f64).ln();
    let log_q = scores.div_scalar(epsilon);
    let mut log_q = log_q.clone() - lse(log_q.reshape([1, b * k]), 1);
    for _ in 0..iterations {
        log_q = log_q.clone() - lse(log_q, 0);
        log_q = log_q.clone() - lse(log_q, 1);
        log_q = log_q.sub_scalar(log_b);
    }
    log_q.add_scalar(log_b).exp()
}

/// `Σ codes · weights`: a scalar through the codes, with a tracked `weights` so that the graph
/// exists whether or not the codes carry one.
fn through_codes(codes: Tensor<2>, weights: Tensor<2>) -> Tensor<1> {
    (codes * weights).sum()
}

#[test]
fn sinkhorn_output_carries_no_gradient_to_its_input() {
    let device = autodiff_device();
    let mut rng = Rng::new(43);
    let (b, k) = (N, D_OUT);
    let scores = tensor(&rng.matrix(b, k), [b, k], &device).require_grad();
    let weights = tensor(&rng.matrix(b, k), [b, k], &device).require_grad();
    let codes = sinkhorn(scores.clone(), 3, 0.05);
    assert!(!codes.is_tracked(), "the codes are detached");
    let grads = through_codes(codes, weights.clone()).backward();
    assert!(
        scores.grad(&grads).is_none(),
        "the scores got a gradient through sinkhorn"
    );
    assert!(weights.grad(&grads).is_some(), "the graph itself is alive");
}

#[test]
fn without_detach_sinkhorn_does_send_a_gradient() {
    let device = autodiff_device();
    let mut rng = Rng::new(43);
    let (b, k) = (N, D_OUT);
    let scores = tensor(&rng.matrix(b, k), [b, k], &device).require_grad();
    let weights = tensor(&rng.matrix(b, k), [b, k], &device).require_grad();
    let codes = sinkhorn_without_detach(scores.clone(), 3, 0.05);
    assert_all_close(
        "the twin computes the same codes",
        &values(codes.clone()),
        &values(sinkhorn(scores.clone(), 3, 0.05))
            .into_iter()
            .map(f64::from)
            .collect::<Vec<_>>(),
    );
    let grads = through_codes(codes, weights).backward();
    let g = values(scores.grad(&grads).expect("a gradient without detach"));
    assert!(
        g.iter().any(|v| v.abs() > 1e-4),
        "without detach the scores must get a gradient: {g:?}"
    );
}

/// In `swav`, a view's scores get gradient only through its log-softmax predictions: the loss's
/// gradient equals that of the same loss with the codes computed beforehand, as constants, and
/// the queue gets none.
#[test]
fn swav_scores_get_gradient_only_through_the_predictions() {
    let device = autodiff_device();
    let mut rng = Rng::new(44);
    let (b, k, q) = (4, 5, 6);
    let config = SwavLossConfig::new();
    let matrix = |rng: &mut Rng, rows: usize| {
        tensor(&rng.matrix(rows, k), [rows, k], &device)
            .div_scalar(3.0)
            .require_grad()
    };
    let high = [matrix(&mut rng, b), matrix(&mut rng, b)];
    let low = [matrix(&mut rng, b)];
    let queue = [matrix(&mut rng, q), matrix(&mut rng, q)];

    let grads = swav(&high, &low, Some(&queue), &config).backward();
    for (i, view) in queue.iter().enumerate() {
        assert!(
            view.grad(&grads).is_none(),
            "queue[{i}] got a gradient through swav"
        );
    }

    // The same loss by hand, the codes computed from plain (non-autodiff) copies of the scores.
    let codes: Vec<Tensor<2>> = (0..2)
        .map(|i| {
            let scores = Tensor::cat(vec![high[i].clone(), queue[i].clone()], 0).inner();
            let codes = sinkhorn(scores, config.sinkhorn_iterations, config.sinkhorn_epsilon);
            Tensor::from_inner(codes.narrow(0, 0, b))
        })
        .collect();
    let fresh: Vec<Tensor<2>> = high
        .iter()
        .chain(&low)
        .map(|v| v.clone().detach().require_grad())
        .collect();
    let predict = |z: &Tensor<2>, codes: &Tensor<2>| {
        let log_probs = activation::log_softmax(z.clone().div_scalar(config.temperature), 1);
        -(codes.clone() * log_probs).sum_dim(1).mean()
    };
    let by_hand = (predict(&fresh[1], &codes[0])
        + predict(&fresh[2], &codes[0])
        + predict(&fresh[0], &codes[1])
        + predict(&fresh[2], &codes[1]))
    .div_scalar(2.0 * 2.0);
    let by_hand_grads = by_hand.backward();
    for (v, (library, hand)) in high.iter().chain(&low).zip(&fresh).enumerate() {
        let expected: Vec<f64> = values(hand.grad(&by_hand_grads).expect("a gradient"))
            .into_iter()
            .map(f64::from)
            .collect();
        assert_all_close(
            &format!("view {v}: swav's gradient vs the constant-codes loss"),
            &values(library.grad(&grads).expect("a gradient")),
            &expected,
        );
    }

    // Control: with codes that carry a gradient, view 0's gradient differs.
    let live_codes: Vec<Tensor<2>> = (0..2)
        .map(|i| {
            let scores = Tensor::cat(vec![fresh[i].clone(), queue[i].clone().detach()], 0);
            sinkhorn_without_detach(scores, config.sinkhorn_iterations, config.sinkhorn_epsilon)
                .narrow(0, 0, b)
        })
        .collect();
    let live = (predict(&fresh[1], &live_codes[0])
        + predict(&fresh[2], &live_codes[0])
        + predict(&fresh[0], &live_codes[1])
        + predict(&fresh[2], &live_codes[1]))
    .div_scalar(4.0);
    let live_grads = live.backward();
    let differs = values(fresh[0].grad(&live_grads).expect("a gradient"))
        .iter()
        .zip(values(high[0].grad(&grads).expect("a gradient")))
        .any(|(a, b)| (a - b).abs() > 1e-4);
    assert!(
        differs,
        "live codes must change view 0's gradient (else this test could not fail)"
    );
}
