//! DINO's self-distillation loss, its centre update and its teacher-temperature schedule.
//!
//! DINO (Caron et al. 2021, Algorithm 1 and eq. 3): the teacher's outputs on the global views are
//! centred and sharpened into targets, and every student view, global or local, is trained to
//! predict the target of every *other* view:
//!
//! ```text
//! P_t(i) = softmax((t_i − C) / τ_t)           (teacher view i, detached)
//! log P_s(j) = log_softmax(s_j / τ_s)         (student view j)
//! L = Σ_{i ≠ j} Σ_b −P_t(i)_b · log P_s(j)_b / (#pairs · B)
//! C ← m·C + (1 − m)·mean over every row of every teacher view
//! ```
//!
//! As lightly's `DINOLoss`, the student's views are listed with the teacher's (global) views
//! first, in the same order: pair `(i, j)` is skipped when `i = j`, the same crop, and `#pairs =
//! T·S − min(T, S)` for `T` teacher and `S` student views.

use burn::prelude::*;
use burn::tensor::activation;

use crate::contract::{check_positive, check_views};

/// The DINO loss: cross-entropy between the teacher's centred and sharpened output on each
/// global view and the student's output on every other view, averaged over the pairs of
/// different views and over the batch.
///
/// Teacher view `i` and student view `i` are the same crop (for `i < min(T, S)`) and are not
/// paired; the student's extra views (the local crops) pair with every teacher view. This is
/// lightly's `DINOLoss.forward` (`loss.fill_diagonal_(0)`, divided by `n_terms · batch_size`) for
/// the given temperatures; with two views each it is DINO's Algorithm 1,
/// `H(t1, s2)/2 + H(t2, s1)/2`. The centre is not updated here: see [`dino_center`].
///
/// # Stop-gradient
///
/// **The teacher outputs (and `center`) are detached inside this function (`detach()`): no
/// gradient ever flows into them, or into the teacher network, through this loss.** This is
/// DINO's stop-gradient (Algorithm 1: `t = t.detach()`; the teacher is updated by an exponential
/// moving average instead), and this function is the one place where it happens. Only the
/// student views receive gradients. lightly's `DINOLoss` leaves this to its caller, which runs
/// the teacher under `torch.no_grad()`.
///
/// # Shapes
/// - `teacher`: `T ≥ 1` views of `[B, D]`, `B ≥ 1`, `D ≥ 1` (teacher outputs on the global views)
/// - `student`: `S ≥ 1` views of `[B, D]` (student outputs: the global views in the teacher's
///   order, then the local views); `T·S − min(T, S) ≥ 1`
/// - `center`: `[1, D]` (the running centre, see [`dino_center`]; zeros at the start)
/// - output: `[1]`
///
/// # Panics
/// If a list is empty, the views' shapes differ, `center` is not `[1, D]`, there is no pair of
/// different views (one teacher and one student view), or a temperature is not positive and
/// finite.
pub fn dino(
    teacher: &[Tensor<2>],
    student: &[Tensor<2>],
    center: Tensor<2>,
    teacher_temp: f64,
    student_temp: f64,
) -> Tensor<1> {
    let [b, d] = check_views("dino", "teacher", teacher);
    let student_shape = check_views("dino", "student", student);
    assert!(
        student_shape == [b, d],
        "dino: teacher and student views must have the same shape, got teacher {:?} and \
         student {student_shape:?}",
        [b, d]
    );
    check_center("dino", &center, d);
    check_positive("dino", "teacher_temp", teacher_temp);
    check_positive("dino", "student_temp", student_temp);
    let (n_teacher, n_student) = (teacher.len(), student.len());
    let pairs = n_teacher * n_student - n_teacher.min(n_student);
    assert!(
        pairs >= 1,
        "dino: needs a pair of different views, got {n_teacher} teacher view and {n_student} \
         student view"
    );

    // DINO's stop-gradient: the one place it happens.
    let teacher: Vec<Tensor<2>> = teacher.iter().map(|t| t.clone().detach()).collect();
    let center = center.detach();

    // Row i of `targets` holds teacher view i's B target distributions, flattened; row j of
    // `log_probs` student view j's log-probabilities: one matmul gives every pair's cross-term.
    let teacher = Tensor::cat(teacher, 0); // [T·B, D]
    let targets = activation::softmax((teacher - center).div_scalar(teacher_temp), 1)
        .reshape([n_teacher, b * d]);
    let student = Tensor::cat(student.to_vec(), 0); // [S·B, D]
    let log_probs =
        activation::log_softmax(student.div_scalar(student_temp), 1).reshape([n_student, b * d]);
    let cross = targets.matmul(log_probs.transpose()); // [T, S]: Σ_b P_t(i)_b · log P_s(j)_b

    // 1 for a pair of different views, 0 for teacher view i with student view i (the same crop).
    let different_views: Vec<f32> = (0..n_teacher * n_student)
        .map(|k| f32::from(u8::from(k / n_student != k % n_student)))
        .collect();
    let different_views = Tensor::<2>::from_data(
        TensorData::new(different_views, [n_teacher, n_student]),
        &cross.device(),
    );
    -(cross * different_views)
        .sum()
        .div_scalar((pairs * b) as f64)
}

/// DINO's centre update: `momentum · center + (1 − momentum) · mean(teacher)`, the mean over
/// every row of every teacher view, as lightly's `DINOLoss.update_center`.
///
/// The result is detached (the centre is a running statistic, not a parameter): on an autodiff
/// device it is a constant of the graph. Call it after
/// [`dino`] with the same teacher outputs: the loss uses the centre from before the update.
///
/// # Shapes
/// - `center`: `[1, D]`
/// - `teacher`: `T ≥ 1` views of `[B, D]`, `B ≥ 1`
/// - output: `[1, D]`
///
/// # Panics
/// If `teacher` is empty, its views' shapes differ, `center` is not `[1, D]`, or `momentum` is
/// not in `[0, 1]`.
pub fn dino_center(center: Tensor<2>, teacher: &[Tensor<2>], momentum: f64) -> Tensor<2> {
    let [_, d] = check_views("dino_center", "teacher", teacher);
    check_center("dino_center", &center, d);
    assert!(
        (0.0..=1.0).contains(&momentum),
        "dino_center: momentum must be in [0, 1], got {momentum}"
    );
    let graph = center.is_autodiff();
    // A running statistic: computed off the autodiff graph.
    let teacher: Vec<Tensor<2>> = teacher.iter().map(|t| t.clone().detach().inner()).collect();
    let batch_center = Tensor::cat(teacher, 0).mean_dim(0); // [1, D]
    let center =
        center.detach().inner().mul_scalar(momentum) + batch_center.mul_scalar(1.0 - momentum);
    if graph { center.autodiff() } else { center }
}

/// Panics unless `center` is `[1, d]`.
fn check_center(function: &str, center: &Tensor<2>, d: usize) {
    let shape = center.dims();
    assert!(
        shape == [1, d],
        "{function}: center must be [1, {d}] (one entry per output dimension), got {shape:?}"
    );
}

/// The hyper-parameters of [`dino`] and [`dino_center`], with lightly's `DINOLoss` defaults, for
/// saving inside a training configuration.
#[derive(Config, Debug)]
pub struct DinoLossConfig {
    /// The teacher temperature `τ_t` after the warm-up; positive and finite. Default 0.04:
    /// lightly's `DINOLoss(teacher_temp=0.04)` and DINO's starting value (the paper raises it to
    /// 0.07 for ViTs).
    #[config(default = 0.04)]
    pub teacher_temp: f64,
    /// The teacher temperature at epoch 0, raised linearly to `teacher_temp` over
    /// `warmup_teacher_temp_epochs`. Default 0.04 (lightly's `warmup_teacher_temp`).
    #[config(default = 0.04)]
    pub warmup_teacher_temp: f64,
    /// The number of warm-up epochs of the teacher temperature. Default 30 (DINO; lightly's
    /// `warmup_teacher_temp_epochs`).
    #[config(default = 30)]
    pub warmup_teacher_temp_epochs: usize,
    /// The student temperature `τ_s`; positive and finite. Default 0.1 (DINO; lightly's
    /// `student_temp`).
    #[config(default = 0.1)]
    pub student_temp: f64,
    /// The momentum `m` of the centre's moving average, in `[0, 1]`. Default 0.9 (DINO;
    /// lightly's `center_momentum`).
    #[config(default = 0.9)]
    pub center_momentum: f64,
}

impl DinoLossConfig {
    /// The teacher temperature of `epoch` (from 0): lightly's schedule, `torch.linspace(
    /// warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs)[epoch]` during the warm-up
    /// and `teacher_temp` after it.
    ///
    /// The last warm-up epoch already reaches `teacher_temp`; with one warm-up epoch, epoch 0
    /// uses `warmup_teacher_temp`; with none, every epoch uses `teacher_temp`.
    pub fn teacher_temp_at(&self, epoch: usize) -> f64 {
        let epochs = self.warmup_teacher_temp_epochs;
        if epoch >= epochs {
            return self.teacher_temp;
        }
        if epochs == 1 {
            return self.warmup_teacher_temp;
        }
        let progress = epoch as f64 / (epochs - 1) as f64;
        self.warmup_teacher_temp + (self.teacher_temp - self.warmup_teacher_temp) * progress
    }

    /// [`dino`] at the teacher temperature of `epoch` ([`teacher_temp_at`](Self::teacher_temp_at))
    /// and this configuration's student temperature.
    ///
    /// # Shapes
    /// As [`dino`].
    ///
    /// # Panics
    /// As [`dino`].
    pub fn loss(
        &self,
        teacher: &[Tensor<2>],
        student: &[Tensor<2>],
        center: Tensor<2>,
        epoch: usize,
    ) -> Tensor<1> {
        dino(
            teacher,
            student,
            center,
            self.teacher_temp_at(epoch),
            self.student_temp,
        )
    }

    /// [`dino_center`] at this configuration's momentum.
    ///
    /// # Shapes
    /// As [`dino_center`].
    ///
    /// # Panics
    /// As [`dino_center`].
    pub fn update_center(&self, center: Tensor<2>, teacher: &[Tensor<2>]) -> Tensor<2> {
        dino_center(center, teacher, self.center_momentum)
    }
}
