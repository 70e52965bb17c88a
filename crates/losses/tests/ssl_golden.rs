//! Barlow Twins, VICReg, InfoNCE, DINO and SwAV against lightly 1.6.0 (float64), and NNCLR
//! against solo-learn's `nnclr_loss_func` and `find_nn` transcribed in torch (float64), from
//! `tools/golden_ssl_losses.py` (run `.venv/bin/python tools/golden_ssl_losses.py` to regenerate
//! `tests/golden/ssl_losses.json`): values and the gradient of every input that receives one.
//! Tolerance: `common::ABS_TOL` + `common::REL_TOL`·|expected| (1e-5 + 1e-4·|e|, float32 against
//! float64).

use std::sync::OnceLock;

use burn::prelude::*;
use burn::tensor::Gradients;
use selfsup_losses::{
    BarlowTwinsConfig, DinoLossConfig, InfoNceConfig, NnclrLossConfig, SwavLossConfig,
    VicRegConfig, dino, dino_center, nearest_neighbour, nnclr_loss, sinkhorn, vicreg,
};
use serde_json::Value;

use crate::common::{
    assert_all_close, assert_close, autodiff_device, device, grad_or_zeros, scalar, tensor_f64,
    values,
};

fn golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        serde_json::from_str(include_str!("golden/ssl_losses.json"))
            .expect("ssl_losses.json parses")
    })
}

fn cases(key: &str) -> &'static [Value] {
    let cases = golden()[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden key {key} missing"));
    assert!(!cases.is_empty(), "golden {key} has cases");
    cases
}

fn num(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("golden key {key} missing"))
}

fn count(case: &Value, key: &str) -> usize {
    case[key]
        .as_u64()
        .unwrap_or_else(|| panic!("golden key {key} missing")) as usize
}

/// The row-major values of a golden `{"shape", "data"}` tensor.
fn data(t: &Value) -> Vec<f64> {
    t["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a golden tensor: {t}"))
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

fn shape(t: &Value) -> [usize; 2] {
    let s: Vec<usize> = t["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("not a golden tensor: {t}"))
        .iter()
        .map(|v| v.as_u64().expect("a count") as usize)
        .collect();
    s.try_into().expect("a 2-d shape")
}

/// A golden tensor on `device`, tracked for gradients.
fn input(t: &Value, device: &Device) -> Tensor<2> {
    tensor_f64(&data(t), shape(t), device).require_grad()
}

/// A golden list of tensors on `device`, each tracked for gradients.
fn inputs(list: &Value, device: &Device) -> Vec<Tensor<2>> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of golden tensors: {list}"))
        .iter()
        .map(|t| input(t, device))
        .collect()
}

/// Panics unless `t` has a gradient close to the golden tensor `expected`.
fn assert_grad(what: &str, t: &Tensor<2>, grads: &Gradients, expected: &Value) {
    let grad = t
        .grad(grads)
        .unwrap_or_else(|| panic!("{what}: no gradient"));
    assert_all_close(what, &values(grad), &data(expected));
}

// The numbers come from lightly 1.6.0 (tools/golden_ssl_losses.py, float64):
//
//     loss = BarlowTwinsLoss(lambda_param=lam)(z_a, z_b)
//     loss.backward()  # -> z_a.grad, z_b.grad
#[test]
fn barlow_twins_loss_and_gradients_match_lightly() {
    let device = autodiff_device();
    for case in cases("barlow_twins") {
        let lambda = num(case, "lambda");
        let (z_a, z_b) = (input(&case["z_a"], &device), input(&case["z_b"], &device));
        let what = format!("barlow_twins {:?} lambda={lambda}", z_a.dims());
        let loss = BarlowTwinsConfig::new()
            .with_lambda(lambda)
            .loss(z_a.clone(), z_b.clone());
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        assert_grad(&format!("{what}: d/dz_a"), &z_a, &grads, &case["grad_z_a"]);
        assert_grad(&format!("{what}: d/dz_b"), &z_b, &grads, &case["grad_z_b"]);
    }
}

// The numbers come from lightly 1.6.0 (tools/golden_ssl_losses.py, float64), with per-feature
// scales that put some standard deviations under the hinge at 1 and some over it:
//
//     loss = VICRegLoss(lambda_param=lam, mu_param=mu, nu_param=nu, eps=eps)(z_a, z_b)
//     loss.backward()  # -> z_a.grad, z_b.grad
#[test]
fn vicreg_loss_and_gradients_match_lightly() {
    let device = autodiff_device();
    for case in cases("vicreg") {
        let config = VicRegConfig::new()
            .with_invariance(num(case, "invariance"))
            .with_variance(num(case, "variance"))
            .with_covariance(num(case, "covariance"))
            .with_eps(num(case, "eps"));
        let (z_a, z_b) = (input(&case["z_a"], &device), input(&case["z_b"], &device));
        let what = format!("vicreg {:?} {config:?}", z_a.dims());
        let loss = vicreg(z_a.clone(), z_b.clone(), &config);
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        assert_grad(&format!("{what}: d/dz_a"), &z_a, &grads, &case["grad_z_a"]);
        assert_grad(&format!("{what}: d/dz_b"), &z_b, &grads, &case["grad_z_b"]);
    }
}

// The numbers come from MoCo's Algorithm 1 transcribed in torch (tools/golden_ssl_losses.py,
// float64), the queue cases cross-checked there against lightly's NTXentLoss with a memory bank:
//
//     q = F.normalize(q, dim=1)
//     k = F.normalize(k, dim=1).detach()
//     if queue is None:  # in-batch negatives, MoCo v3's loss without its 2t factor
//         logits, labels = q @ k.T / t, torch.arange(N)
//     else:
//         queue = F.normalize(queue, dim=1).detach()
//         l_pos = torch.bmm(q.view(N, 1, C), k.view(N, C, 1)).view(N, 1)
//         l_neg = torch.mm(q.view(N, C), queue.T)
//         logits, labels = torch.cat([l_pos, l_neg], dim=1) / t, torch.zeros(N)
//     loss = F.cross_entropy(logits, labels)
//     loss.backward()  # -> q.grad; k.grad and queue.grad stay None
#[test]
fn info_nce_loss_and_query_gradient_match_moco() {
    let device = autodiff_device();
    let mut with_queue = 0;
    for case in cases("info_nce") {
        let tau = num(case, "temperature");
        let query = input(&case["query"], &device);
        let key = input(&case["key"], &device);
        let queue = (!case["queue"].is_null()).then(|| input(&case["queue"], &device));
        with_queue += usize::from(queue.is_some());
        let what = format!(
            "info_nce {:?} queue {:?} tau={tau}",
            query.dims(),
            queue.as_ref().map(|q| q.dims())
        );
        let loss = InfoNceConfig::new().with_temperature(tau).loss(
            query.clone(),
            key.clone(),
            queue.clone(),
        );
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        assert_grad(
            &format!("{what}: d/dquery"),
            &query,
            &grads,
            &case["grad_query"],
        );
        assert!(
            key.grad(&grads).is_none(),
            "{what}: the key must get no gradient"
        );
        if let Some(queue) = queue {
            assert!(
                queue.grad(&grads).is_none(),
                "{what}: the queue must get no gradient"
            );
        }
    }
    assert!(
        with_queue >= 1 && with_queue < cases("info_nce").len(),
        "cases with and without a queue"
    );
}

// The numbers come from lightly 1.6.0 (tools/golden_ssl_losses.py, float64):
//
//     loss_fn = DINOLoss(output_dim=d, warmup_teacher_temp=0.04, teacher_temp=t_temp,
//                        warmup_teacher_temp_epochs=30, student_temp=s_temp,
//                        center_momentum=momentum)
//     loss_fn.center.copy_(center.view(1, 1, d))
//     loss = loss_fn(teacher, student, teacher_temp=t_temp)  # or epoch=e: the warm-up schedule
//     loss.backward()  # -> the grad of every student view
//     center_after = loss_fn.center  # lightly's update_center, after the loss
#[test]
fn dino_loss_student_gradients_and_center_match_lightly() {
    let device = autodiff_device();
    for case in cases("dino") {
        let teacher = inputs(&case["teacher"], &device);
        let student = inputs(&case["student"], &device);
        let center = input(&case["center"], &device);
        let (teacher_temp, student_temp) = (num(case, "teacher_temp"), num(case, "student_temp"));
        let what = format!(
            "dino {} teacher and {} student views of {:?}, teacher_temp={teacher_temp}",
            teacher.len(),
            student.len(),
            teacher[0].dims()
        );
        let loss = match case["epoch"].as_u64() {
            None => dino(
                &teacher,
                &student,
                center.clone(),
                teacher_temp,
                student_temp,
            ),
            Some(epoch) => {
                // lightly's own warm-up schedule picked the temperature.
                let config = DinoLossConfig::new()
                    .with_teacher_temp(num(case, "final_teacher_temp"))
                    .with_warmup_teacher_temp(num(case, "warmup_teacher_temp"))
                    .with_warmup_teacher_temp_epochs(count(case, "warmup_teacher_temp_epochs"))
                    .with_student_temp(student_temp);
                let epoch = epoch as usize;
                assert_close(
                    &format!("{what}: teacher_temp_at({epoch})"),
                    config.teacher_temp_at(epoch),
                    teacher_temp,
                );
                config.loss(&teacher, &student, center.clone(), epoch)
            }
        };
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        let expected = case["grad_student"].as_array().expect("student gradients");
        for (j, (s, e)) in student.iter().zip(expected).enumerate() {
            assert_grad(&format!("{what}: d/dstudent[{j}]"), s, &grads, e);
        }
        for (i, t) in teacher.iter().enumerate() {
            assert!(
                t.grad(&grads).is_none(),
                "{what}: teacher[{i}] must get no gradient"
            );
        }
        assert!(
            center.grad(&grads).is_none(),
            "{what}: the center must get no gradient"
        );

        let momentum = num(case, "center_momentum");
        let updated = dino_center(center.clone(), &teacher, momentum);
        assert_eq!(updated.dims(), center.dims(), "{what}: the centre's shape");
        assert!(!updated.is_tracked(), "{what}: the new centre is detached");
        assert_all_close(
            &format!("{what}: center after dino_center(momentum={momentum})"),
            &values(updated),
            &data(&case["center_after"]),
        );
    }
}

// The temperatures come from lightly 1.6.0's DINOLoss(warmup_teacher_temp, teacher_temp,
// warmup_teacher_temp_epochs), as its forward(..., epoch=e) picks them:
//
//     schedule[e] if e < warmup_teacher_temp_epochs else teacher_temp
//
// (schedule = torch.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs)).
#[test]
fn dino_teacher_temperature_schedule_matches_lightly() {
    for case in cases("dino_teacher_temp_schedule") {
        let config = DinoLossConfig::new()
            .with_warmup_teacher_temp(num(case, "warmup_teacher_temp"))
            .with_teacher_temp(num(case, "teacher_temp"))
            .with_warmup_teacher_temp_epochs(count(case, "warmup_teacher_temp_epochs"));
        let expected = case["temperatures"].as_array().expect("temperatures");
        for (epoch, e) in expected.iter().enumerate() {
            let e = e.as_f64().expect("a number");
            let actual = config.teacher_temp_at(epoch);
            assert!(
                (actual - e).abs() <= 1e-12,
                "{config:?}: epoch {epoch}: {actual} vs lightly {e}"
            );
        }
    }
}

// The numbers come from lightly 1.6.0 (tools/golden_ssl_losses.py, float64), the scores being
// cosine similarities of random features with unit prototypes:
//
//     loss_fn = SwaVLoss(temperature=tau, sinkhorn_iterations=iterations,
//                        sinkhorn_epsilon=epsilon)
//     loss = loss_fn(high, low, queue)  # queue: None or one tensor per high-resolution view
//     loss.sum().backward()  # -> the grad of every view; the queue's stays None
#[test]
fn swav_loss_and_gradients_match_lightly() {
    let device = autodiff_device();
    let mut with_queue = 0;
    for case in cases("swav") {
        let config = SwavLossConfig::new()
            .with_temperature(num(case, "temperature"))
            .with_sinkhorn_iterations(count(case, "sinkhorn_iterations"))
            .with_sinkhorn_epsilon(num(case, "sinkhorn_epsilon"));
        let high = inputs(&case["high_resolution"], &device);
        let low = inputs(&case["low_resolution"], &device);
        let queue = (!case["queue"].is_null()).then(|| inputs(&case["queue"], &device));
        with_queue += usize::from(queue.is_some());
        let what = format!(
            "swav {} high- and {} low-resolution views of {:?}, queue {:?}, {config:?}",
            high.len(),
            low.len(),
            high[0].dims(),
            queue.as_ref().map(|q| q[0].dims())
        );
        let loss = config.loss(&high, &low, queue.as_deref());
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        for (name, views) in [("high_resolution", &high), ("low_resolution", &low)] {
            let expected = case[format!("grad_{name}").as_str()]
                .as_array()
                .expect("gradients");
            assert_eq!(views.len(), expected.len(), "{what}: {name} views");
            // A lone high-resolution view only makes codes: no gradient (zeros in the golden).
            for (v, (z, e)) in views.iter().zip(expected).enumerate() {
                let what = format!("{what}: d/d{name}[{v}]");
                assert_all_close(&what, &grad_or_zeros(z, &grads), &data(e));
            }
        }
        for (i, q) in queue.iter().flatten().enumerate() {
            assert!(
                q.grad(&grads).is_none(),
                "{what}: queue[{i}] must get no gradient"
            );
        }
    }
    assert!(with_queue >= 1, "a case with a queue");
}

// The numbers come from lightly 1.6.0 (tools/golden_ssl_losses.py, float64):
//
//     codes = lightly.loss.swav_loss.sinkhorn(scores, iterations=iterations, epsilon=epsilon)
//
// The last case's scores / epsilon reach 100, beyond float32's exp range.
#[test]
fn sinkhorn_codes_match_lightly() {
    let device = device();
    for case in cases("sinkhorn") {
        let (iterations, epsilon) = (count(case, "iterations"), num(case, "epsilon"));
        let scores = tensor_f64(&data(&case["scores"]), shape(&case["scores"]), &device);
        let what = format!(
            "sinkhorn {:?} iterations={iterations} epsilon={epsilon}",
            scores.dims()
        );
        let codes = sinkhorn(scores, iterations, epsilon);
        assert_all_close(&what, &values(codes), &data(&case["codes"]));
    }
}

/// After many rounds Sinkhorn-Knopp reaches an equipartition: each row sums to 1 and each
/// prototype receives `B/K` of the batch.
#[test]
fn sinkhorn_converges_to_an_equipartition() {
    let device = device();
    let mut rng = crate::common::Rng::new(31);
    let (b, k) = (12, 4);
    let scores = crate::common::tensor(&rng.matrix(b, k), [b, k], &device).div_scalar(4.0);
    let codes = sinkhorn(scores, 100, 0.05);
    let rows = values(codes.clone().sum_dim(1));
    let columns = values(codes.sum_dim(0));
    for (i, r) in rows.iter().enumerate() {
        assert_close(&format!("row {i} sum"), *r as f64, 1.0);
    }
    for (j, c) in columns.iter().enumerate() {
        assert_close(&format!("prototype {j} sum"), *c as f64, (b / k) as f64);
    }
}

// The numbers come from solo-learn's NNCLR transcribed in torch (tools/golden_ssl_losses.py,
// float64; `gather` is the identity on one device):
//
//     def nnclr_loss_func(nn, p, temperature):             # solo/losses/nnclr.py
//         nn, p = F.normalize(nn, dim=-1), F.normalize(p, dim=-1)
//         return F.cross_entropy(nn @ p.T / temperature, torch.arange(nn.size(0)))
//     idx1 = (z1 @ queue.T).max(dim=1)[1]; nn1 = queue[idx1]   # NNCLR.find_nn, under no_grad
//     idx2 = (z2 @ queue.T).max(dim=1)[1]; nn2 = queue[idx2]
//     loss = nnclr_loss_func(nn1, p2, tau) / 2 + nnclr_loss_func(nn2, p1, tau) / 2
//     loss.backward()  # -> p1.grad, p2.grad
#[test]
fn nnclr_neighbours_loss_and_prediction_gradients_match_solo_learn() {
    let device = autodiff_device();
    for case in cases("nnclr") {
        let tau = num(case, "temperature");
        let queue = input(&case["queue"], &device);
        let (z1, z2) = (input(&case["z1"], &device), input(&case["z2"], &device));
        let (p1, p2) = (input(&case["p1"], &device), input(&case["p2"], &device));
        let what = format!("nnclr {:?} queue {:?} tau={tau}", p1.dims(), queue.dims());
        let (index1, nn1) = nearest_neighbour(z1, queue.clone());
        let (index2, nn2) = nearest_neighbour(z2, queue.clone());
        for (index, key) in [(index1, "index1"), (index2, "index2")] {
            let ours: Vec<i64> = index.into_data().iter::<i64>().collect();
            let theirs: Vec<i64> = case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(ours, theirs, "{what}: {key}");
        }
        let term = nnclr_loss(nn1.clone(), p2.clone(), tau);
        assert_close(
            &format!("{what}: one term"),
            scalar(term),
            num(case, "loss_nn1_p2"),
        );
        let config = NnclrLossConfig::new().with_temperature(tau);
        let loss = (config.loss(nn1, p2.clone()) + config.loss(nn2, p1.clone())).div_scalar(2.0);
        let grads = loss.backward();
        assert_close(&format!("{what}: loss"), scalar(loss), num(case, "loss"));
        assert_grad(&format!("{what}: d/dp1"), &p1, &grads, &case["grad_p1"]);
        assert_grad(&format!("{what}: d/dp2"), &p2, &grads, &case["grad_p2"]);
        assert!(
            queue.grad(&grads).is_none(),
            "{what}: the queue must get no gradient"
        );
    }
}

/// The configurations carry the defaults of the papers and of lightly 1.6.0's constructors.
#[test]
fn configs_hold_the_paper_defaults() {
    assert_eq!(BarlowTwinsConfig::new().lambda, 5e-3);
    let vicreg = VicRegConfig::new();
    assert_eq!(
        (
            vicreg.invariance,
            vicreg.variance,
            vicreg.covariance,
            vicreg.eps
        ),
        (25.0, 25.0, 1.0, 1e-4)
    );
    assert_eq!(InfoNceConfig::new().temperature, 0.2);
    assert_eq!(NnclrLossConfig::new().temperature, 0.2);
    let dino = DinoLossConfig::new();
    assert_eq!(
        (
            dino.teacher_temp,
            dino.warmup_teacher_temp,
            dino.warmup_teacher_temp_epochs,
            dino.student_temp,
            dino.center_momentum
        ),
        (0.04, 0.04, 30, 0.1, 0.9)
    );
    let swav = SwavLossConfig::new();
    assert_eq!(
        (
            swav.temperature,
            swav.sinkhorn_iterations,
            swav.sinkhorn_epsilon
        ),
        (0.1, 3, 0.05)
    );
}
