//! `loss.png`: the per-step loss curve (light) and its per-epoch mean (dark), drawn without a
//! plotting dependency.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 400;
const MARGIN: u32 = 24;

/// Draws `step_losses` (one per optimizer step) and `epoch_losses` (one per epoch, at the
/// epoch's last step) into a PNG at `path`. Non-finite values are skipped.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn plot_losses(path: &Path, step_losses: &[f32], epoch_ends: &[(usize, f64)]) -> Result<()> {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    let finite = step_losses
        .iter()
        .map(|&l| f64::from(l))
        .chain(epoch_ends.iter().map(|&(_, l)| l))
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    // Axes.
    let (x0, y0, x1, y1) = (MARGIN, MARGIN, WIDTH - MARGIN, HEIGHT - MARGIN);
    for x in x0..=x1 {
        img.put_pixel(x, y1, Rgb([0, 0, 0]));
    }
    for y in y0..=y1 {
        img.put_pixel(x0, y, Rgb([0, 0, 0]));
    }
    if lo.is_finite() && step_losses.len() > 1 {
        let span = if hi > lo { hi - lo } else { 1.0 };
        let last = (step_losses.len() - 1) as f64;
        let point = |step: usize, loss: f64| {
            let x = f64::from(x0) + step as f64 / last * f64::from(x1 - x0);
            let y = f64::from(y1) - (loss - lo) / span * f64::from(y1 - y0);
            (x, y)
        };
        let steps: Vec<_> = step_losses
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(s, &l)| point(s, f64::from(l)))
            .collect();
        polyline(&mut img, &steps, Rgb([150, 180, 230]));
        let epochs: Vec<_> = epoch_ends
            .iter()
            .filter(|(_, l)| l.is_finite())
            .map(|&(s, l)| point(s.min(step_losses.len() - 1), l))
            .collect();
        polyline(&mut img, &epochs, Rgb([20, 60, 160]));
    }
    img.save(path)
        .map_err(|e| Error::io("cannot write", path, e))
}

fn polyline(img: &mut RgbImage, points: &[(f64, f64)], color: Rgb<u8>) {
    for pair in points.windows(2) {
        let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
        let n = ((xb - xa).abs().max((yb - ya).abs()).ceil() as usize).max(1);
        for k in 0..=n {
            let t = k as f64 / n as f64;
            let (x, y) = (xa + t * (xb - xa), ya + t * (yb - ya));
            let (x, y) = (x.round() as u32, y.round() as u32);
            if x < img.width() && y < img.height() {
                img.put_pixel(x, y, color);
            }
        }
    }
    if let [(x, y)] = points {
        img.put_pixel(*x as u32, *y as u32, color);
    }
}
