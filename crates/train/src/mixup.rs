//! Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) of a batch with itself reversed, with
//! label smoothing: timm's `Mixup` in its `"batch"` mode, as MAE's fine-tuning and solo-learn's
//! `main_linear.py` use it (`mixup_alpha` 0.8, `cutmix_alpha` 1.0, `switch_prob` 0.5, `prob` 1,
//! `correct_lam`, `label_smoothing` 0.1).
//!
//! Per batch: with probability `switch_prob` CutMix, else Mixup (when both α are positive); λ is
//! drawn from Beta(α, α) of the chosen one. Mixup blends every image with the image at the
//! mirrored position of the batch (`x·λ + x.flip(0)·(1 − λ)`); CutMix pastes a box of the
//! mirrored image (timm's `rand_bbox`: sides `⌊H·√(1 − λ)⌋`, centre uniform, clipped to the
//! image) and sets λ to the share of the image left uncovered. The targets are the smoothed
//! one-hot vectors (`1 − s + s/K` on the class, `s/K` elsewhere) mixed the same way, for a
//! soft-target cross-entropy.
//!
//! The draws come from the run's seed and the step, so a resumed run mixes what an
//! uninterrupted one would.

use rand::RngCore;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};

/// Mixup and CutMix of a batch (timm's `Mixup`, `mode="batch"`, `prob=1`, `correct_lam=True`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixupConfig {
    /// Mixup's Beta(α, α) parameter; 0 turns Mixup off.
    pub mixup_alpha: f64,
    /// CutMix's Beta(α, α) parameter; 0 turns CutMix off.
    pub cutmix_alpha: f64,
    /// The probability of CutMix rather than Mixup when both are on.
    pub switch_prob: f64,
}

impl MixupConfig {
    /// MAE's fine-tuning (and solo-learn's `finetune/*/mae.yaml`): Mixup 0.8, CutMix 1.0, switch
    /// probability 0.5.
    pub fn mae() -> Self {
        Self {
            mixup_alpha: 0.8,
            cutmix_alpha: 1.0,
            switch_prob: 0.5,
        }
    }

    /// Checks the parameters, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        const CONFIG: &str = "mixup config";
        error::non_negative(CONFIG, "mixup_alpha", self.mixup_alpha)?;
        error::non_negative(CONFIG, "cutmix_alpha", self.cutmix_alpha)?;
        if self.mixup_alpha == 0.0 && self.cutmix_alpha == 0.0 {
            return Err(Error::invalid(
                CONFIG,
                "mixup_alpha",
                0,
                "and cutmix_alpha are both 0: leave mixup out instead",
            ));
        }
        error::closed_unit_interval(CONFIG, "switch_prob", self.switch_prob)
    }

    /// Draws one batch's mixing for images of `height × width`.
    pub fn draw(&self, height: usize, width: usize, rng: &mut dyn RngCore) -> Mix {
        let cutmix = match (self.mixup_alpha > 0.0, self.cutmix_alpha > 0.0) {
            (true, true) => unit(rng) < self.switch_prob,
            (false, _) => true,
            (true, false) => false,
        };
        let alpha = if cutmix {
            self.cutmix_alpha
        } else {
            self.mixup_alpha
        };
        let lam = Beta::new(alpha, alpha)
            .expect("validated α")
            .sample(&mut RngAdapter(rng));
        if !cutmix {
            return Mix::Blend { lam };
        }
        // timm's rand_bbox and cutmix_bbox_and_lam(correct_lam=True).
        let ratio = (1.0 - lam).sqrt();
        let (cut_h, cut_w) = (
            (height as f64 * ratio) as usize,
            (width as f64 * ratio) as usize,
        );
        let cy = below(rng, height);
        let cx = below(rng, width);
        let rows = cy.saturating_sub(cut_h / 2)..(cy + cut_h / 2).min(height);
        let cols = cx.saturating_sub(cut_w / 2)..(cx + cut_w / 2).min(width);
        let area = rows.len() * cols.len();
        Mix::Box {
            rows,
            cols,
            lam: 1.0 - area as f64 / (height * width) as f64,
        }
    }
}

/// One batch's mixing.
#[derive(Debug, Clone, PartialEq)]
pub enum Mix {
    /// Mixup: `x·lam + mirrored·(1 − lam)`.
    Blend {
        /// The weight of the image itself.
        lam: f64,
    },
    /// CutMix: the mirrored image inside the box.
    Box {
        /// The box's rows.
        rows: std::ops::Range<usize>,
        /// The box's columns.
        cols: std::ops::Range<usize>,
        /// The share of the image outside the box.
        lam: f64,
    },
}

impl Mix {
    /// The weight of each image's own target.
    pub fn lam(&self) -> f64 {
        match *self {
            Self::Blend { lam } | Self::Box { lam, .. } => lam,
        }
    }

    /// Mixes a batch of images `[B, C, H, W]` (row-major) in place, image `i` with image
    /// `B − 1 − i`.
    ///
    /// # Panics
    /// If `images` does not hold `shape`'s elements.
    pub fn apply(&self, images: &mut [f32], shape: [usize; 4]) {
        let [batch, channels, height, width] = shape;
        assert_eq!(
            images.len(),
            batch * channels * height * width,
            "Mix::apply"
        );
        let per_image = channels * height * width;
        let original = images.to_vec();
        for i in 0..batch {
            let own = &original[i * per_image..(i + 1) * per_image];
            let other = &original[(batch - 1 - i) * per_image..(batch - i) * per_image];
            let out = &mut images[i * per_image..(i + 1) * per_image];
            match self {
                Self::Blend { lam } => {
                    let lam = *lam as f32;
                    for ((o, &a), &b) in out.iter_mut().zip(own).zip(other) {
                        *o = a * lam + b * (1.0 - lam);
                    }
                }
                Self::Box { rows, cols, .. } => {
                    for c in 0..channels {
                        for y in rows.clone() {
                            let at = c * height * width + y * width;
                            out[at + cols.start..at + cols.end]
                                .copy_from_slice(&other[at + cols.start..at + cols.end]);
                        }
                    }
                }
            }
        }
    }

    /// The soft targets `[B, K]` (row-major) of the mixed batch: smoothed one-hot vectors of
    /// `targets` (smoothing `smoothing`), each mixed with its mirror's at [`lam`](Self::lam)
    /// (timm's `mixup_target`).
    pub fn targets(&self, targets: &[usize], classes: usize, smoothing: f64) -> Vec<f32> {
        soft_targets(targets, classes, smoothing, self.lam())
    }
}

/// Smoothed one-hot targets mixed with their mirrors': `lam = 1` gives plain label smoothing.
pub(crate) fn soft_targets(
    targets: &[usize],
    classes: usize,
    smoothing: f64,
    lam: f64,
) -> Vec<f32> {
    let off = smoothing / classes as f64;
    let on = 1.0 - smoothing + off;
    let n = targets.len();
    let mut out = vec![0.0f64; n * classes];
    for (i, &t) in targets.iter().enumerate() {
        let row = &mut out[i * classes..(i + 1) * classes];
        let mirror = targets[n - 1 - i];
        for (k, v) in row.iter_mut().enumerate() {
            let own = if k == t { on } else { off };
            let other = if k == mirror { on } else { off };
            *v = own * lam + other * (1.0 - lam);
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}

fn unit(rng: &mut dyn RngCore) -> f64 {
    selfsup_data::transforms::unit_f64(rng)
}

/// A uniform integer in `[0, n)` (`n > 0`).
fn below(rng: &mut dyn RngCore, n: usize) -> usize {
    ((unit(rng) * n as f64) as usize).min(n - 1)
}

/// `rand_distr` samples from an `Rng`; this lends it a `dyn RngCore`.
struct RngAdapter<'a>(&'a mut dyn RngCore);

impl RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_data::transforms::rng_for;

    fn batch(n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
        (0..n * c * h * w).map(|v| v as f32).collect()
    }

    #[test]
    fn blend_mixes_each_image_with_its_mirror() {
        let shape = [3, 2, 2, 2];
        let original = batch(3, 2, 2, 2);
        let mut images = original.clone();
        Mix::Blend { lam: 0.25 }.apply(&mut images, shape);
        for i in 0..3 {
            for j in 0..8 {
                let expected = 0.25 * original[i * 8 + j] + 0.75 * original[(2 - i) * 8 + j];
                assert!((images[i * 8 + j] - expected).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn box_pastes_the_mirror_inside_only() {
        let shape = [2, 3, 4, 5];
        let original = batch(2, 3, 4, 5);
        let mut images = original.clone();
        let mix = Mix::Box {
            rows: 1..3,
            cols: 2..5,
            lam: 1.0 - 6.0 / 20.0,
        };
        mix.apply(&mut images, shape);
        for i in 0..2 {
            for c in 0..3 {
                for y in 0..4 {
                    for x in 0..5 {
                        let at = |b: usize| ((b * 3 + c) * 4 + y) * 5 + x;
                        let inside = (1..3).contains(&y) && (2..5).contains(&x);
                        let source = if inside { at(1 - i) } else { at(i) };
                        assert_eq!(images[at(i)], original[source], "{i} {c} {y} {x}");
                    }
                }
            }
        }
    }

    #[test]
    fn targets_are_smoothed_and_mixed_as_timm() {
        // timm: off = s/K, on = 1 − s + off; y·λ + y.flip(0)·(1 − λ).
        let t = Mix::Blend { lam: 0.7 }.targets(&[0, 2, 1], 4, 0.1);
        let (off, on) = (0.025f32, 0.925f32);
        // Image 0's mirror is image 2 (class 1); image 1 is its own mirror.
        let row0 = [0.7 * on + 0.3 * off, 0.7 * off + 0.3 * on, off, off];
        let row1 = [off, off, on, off];
        for (got, want) in t[..4].iter().zip(row0).chain(t[4..8].iter().zip(row1)) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        for row in t.chunks(4) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn draws_follow_the_switch_and_correct_lam() {
        let config = MixupConfig::mae();
        let (mut boxes, mut blends) = (0, 0);
        for step in 0..400 {
            let mut rng = rng_for(7, step, 0);
            match config.draw(32, 32, &mut rng) {
                Mix::Blend { lam } => {
                    blends += 1;
                    assert!((0.0..=1.0).contains(&lam));
                }
                Mix::Box { rows, cols, lam } => {
                    boxes += 1;
                    assert!(rows.end <= 32 && cols.end <= 32);
                    let uncovered = 1.0 - (rows.len() * cols.len()) as f64 / 1024.0;
                    assert_eq!(lam, uncovered);
                }
            }
        }
        // switch_prob 0.5 over 400 draws.
        assert!(
            (150..250).contains(&boxes),
            "{boxes} boxes, {blends} blends"
        );
        let again = config.draw(32, 32, &mut rng_for(7, 3, 0));
        assert_eq!(again, config.draw(32, 32, &mut rng_for(7, 3, 0)));
    }

    #[test]
    fn mixup_alone_never_cuts_and_bad_configs_are_refused() {
        let config = MixupConfig {
            cutmix_alpha: 0.0,
            ..MixupConfig::mae()
        };
        for step in 0..50 {
            assert!(matches!(
                config.draw(8, 8, &mut rng_for(1, step, 0)),
                Mix::Blend { .. }
            ));
        }
        let err = MixupConfig {
            mixup_alpha: 0.0,
            cutmix_alpha: 0.0,
            switch_prob: 0.5,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("mixup_alpha"), "{err}");
        let err = MixupConfig {
            switch_prob: 1.5,
            ..MixupConfig::mae()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("switch_prob"), "{err}");
    }
}
