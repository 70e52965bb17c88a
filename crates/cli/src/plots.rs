//! The pictures: a run's loss curve and per-epoch metrics (drawn after every epoch), and the
//! scatter of an embedding map. Drawn with `plotters` into PNG files, text in DejaVu Sans.

use std::path::{Path, PathBuf};
use std::sync::Once;

use clap::Args;
use plotters::prelude::*;
use selfsup::train::{History, files};

use crate::Result;

/// A run's loss curve.
pub const LOSS_PLOT: &str = "loss.png";
/// A run's per-epoch LR, kNN accuracy and collapse monitor.
pub const METRICS_PLOT: &str = "metrics.png";

const LIGHT: RGBColor = RGBColor(158, 202, 225);
const DARK: RGBColor = RGBColor(8, 81, 156);

/// `selfsup plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The run directory (holding history.json).
    pub run: PathBuf,
}

/// Runs `selfsup plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    let path = args.run.join(files::HISTORY);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let history: History = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a run's history: {e}", path.display()))?;
    let config: serde_json::Value = std::fs::read_to_string(args.run.join(files::CONFIG))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let method = config["method"].as_str().unwrap_or("run");
    let written = draw_run(&args.run, method, &history)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn register_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if plotters::style::register_font("sans-serif", style, dejavu::sans::regular()).is_err()
            {
                tracing::warn!("could not load the plots' font");
            }
        }
    });
}

/// Draws `loss.png` and, when there is more than the loss to show, `metrics.png` into `dir`;
/// returns the files written.
pub fn draw_run(dir: &Path, method: &str, history: &History) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if !history.step_losses.is_empty() {
        let path = dir.join(LOSS_PLOT);
        draw_loss(&path, method, history)?;
        written.push(path);
    }
    if !history.epochs.is_empty() {
        let path = dir.join(METRICS_PLOT);
        draw_metrics(&path, method, history)?;
        written.push(path);
    }
    Ok(written)
}

/// Renders into an RGB buffer of `size` and saves it as PNG.
fn save_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let mut buffer = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(root.clone())?;
        root.present().map_err(plot_error)?;
    }
    let image = image::RgbImage::from_raw(size.0, size.1, buffer).expect("buffer of the size");
    // Through a temporary file, so that a reader never sees half a picture.
    let tmp = path.with_extension("png.tmp");
    image
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

fn plot_error(err: impl std::fmt::Display) -> Box<dyn std::error::Error + Send + Sync> {
    format!("drawing failed: {err}").into()
}

/// The `[lo, hi]` range of finite values, widened a little (and made non-empty).
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    Some((lo - pad, hi + pad))
}

fn draw_loss(path: &Path, method: &str, history: &History) -> Result<()> {
    let steps = history.step_losses.len();
    let per_step = history
        .step_losses
        .iter()
        .enumerate()
        .map(|(i, &l)| ((i + 1) as f64, f64::from(l)));
    let per_epoch: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .map(|e| (e.steps as f64, e.loss))
        .collect();
    let Some((lo, hi)) = range(
        per_step
            .clone()
            .map(|p| p.1)
            .chain(per_epoch.iter().map(|p| p.1)),
    ) else {
        return Ok(());
    };
    save_png(path, (900, 540), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{method}: training loss"), ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..steps.max(1) as f64, lo..hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc("loss")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                per_step.filter(|p| p.1.is_finite()),
                LIGHT.stroke_width(1),
            ))
            .map_err(plot_error)?
            .label("per step")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], LIGHT.stroke_width(2)));
        if !per_epoch.is_empty() {
            // Each epoch's mean as a segment over the epoch's steps.
            let mut start = 0.0;
            let segments: Vec<[(f64, f64); 2]> = per_epoch
                .iter()
                .map(|&(end, loss)| {
                    let segment = [(start, loss), (end, loss)];
                    start = end;
                    segment
                })
                .collect();
            chart
                .draw_series(
                    segments
                        .into_iter()
                        .map(|s| PathElement::new(s, DARK.stroke_width(3))),
                )
                .map_err(plot_error)?
                .label("epoch mean")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], DARK.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_error)?;
        Ok(())
    })
}

/// One panel per per-epoch series: LR always, kNN and online linear top-1 and the collapse
/// monitor when logged.
fn draw_metrics(path: &Path, method: &str, history: &History) -> Result<()> {
    type Series = (&'static str, &'static str, Vec<(i32, f64)>);
    let epochs = &history.epochs;
    let x = |e: &selfsup::train::EpochRecord| (e.epoch + 1) as i32;
    let mut panels: Vec<Series> = vec![(
        "learning rate (end of epoch)",
        "LR",
        epochs.iter().map(|e| (x(e), e.lr)).collect(),
    )];
    let knn: Vec<(i32, f64)> = epochs
        .iter()
        .filter_map(|e| e.knn_top1.map(|a| (x(e), 100.0 * a)))
        .collect();
    if !knn.is_empty() {
        panels.push(("online kNN top-1 accuracy", "accuracy (%)", knn));
    }
    let linear: Vec<(i32, f64)> = epochs
        .iter()
        .filter_map(|e| e.online_linear_top1.map(|a| (x(e), 100.0 * a)))
        .collect();
    if !linear.is_empty() {
        panels.push(("online linear top-1 accuracy", "accuracy (%)", linear));
    }
    let std: Vec<(i32, f64)> = epochs
        .iter()
        .filter_map(|e| e.embedding_std.map(|s| (x(e), s)))
        .collect();
    if !std.is_empty() {
        panels.push((
            "collapse monitor: std of the ℓ2-normalised embeddings × √d (1: healthy, 0: collapse)",
            "std × √d",
            std,
        ));
    }
    let n = panels.len();
    let last_epoch = epochs.iter().map(|e| e.epoch + 1).max().unwrap_or(1) as i32;
    save_png(path, (900, 300 * n as u32 + 40), |root| {
        let (title, body) = root.split_vertically(40);
        title
            .titled(&format!("{method}: per epoch"), ("sans-serif", 24))
            .map_err(plot_error)?;
        for (area, (caption, y_desc, points)) in body.split_evenly((n, 1)).iter().zip(panels) {
            let (lo, hi) = range(points.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(72)
                .build_cartesian_2d(0..last_epoch + 1, lo..hi)
                .map_err(plot_error)?;
            let in_run = |v: &i32| match (1..=last_epoch).contains(v) {
                true => v.to_string(),
                false => String::new(),
            };
            let y_label = |v: &f64| tick_label(*v, lo, hi);
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(y_desc)
                .x_labels((last_epoch as usize + 2).min(12))
                .x_label_formatter(&in_run)
                .y_label_formatter(&y_label)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 15))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    DARK.stroke_width(2),
                ))
                .map_err(plot_error)?;
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, DARK.filled())))
                .map_err(plot_error)?;
        }
        Ok(())
    })
}

/// A tick label with as many decimals as the range `[lo, hi]` needs (scientific for tiny
/// values such as learning rates).
fn tick_label(v: f64, lo: f64, hi: f64) -> String {
    let magnitude = lo.abs().max(hi.abs());
    if magnitude != 0.0 && magnitude < 1e-2 {
        return format!("{v:.1e}");
    }
    let step = ((hi - lo) / 8.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 8.0) as usize;
    format!("{v:.decimals$}")
}

/// Matplotlib's `tab10`, then evenly spaced hues for more classes.
fn class_color(class: usize, classes: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    if classes <= 10 {
        let (r, g, b) = TAB10[class % 10];
        return RGBColor(r, g, b);
    }
    let (r, g, b) = HSLColor(class as f64 / classes as f64, 0.65, 0.45).rgb();
    RGBColor(r, g, b)
}

/// A scatter of 2-D points coloured by class, with a legend of `names`.
pub fn draw_scatter(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    points: &[[f32; 2]],
    labels: &[usize],
    names: &[String],
) -> Result<()> {
    let x = range(points.iter().map(|p| f64::from(p[0]))).unwrap_or((-1.0, 1.0));
    let y = range(points.iter().map(|p| f64::from(p[1]))).unwrap_or((-1.0, 1.0));
    let classes = names
        .len()
        .max(labels.iter().map(|&l| l + 1).max().unwrap_or(0));
    let legend_width = if classes <= 20 { 180 } else { 0 };
    save_png(path, (900 + legend_width, 800), |root| {
        let (plot_area, legend_area) = root.split_horizontally(900);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(plot_error)?;
        let x_label = |v: &f64| tick_label(*v, x.0, x.1);
        let y_label = |v: &f64| tick_label(*v, y.0, y.1);
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(points.iter().zip(labels).map(|(p, &class)| {
                Circle::new(
                    (f64::from(p[0]), f64::from(p[1])),
                    3,
                    class_color(class, classes).mix(0.75).filled(),
                )
            }))
            .map_err(plot_error)?;
        if legend_width > 0 {
            for class in 0..classes {
                let name = names
                    .get(class)
                    .cloned()
                    .unwrap_or_else(|| class.to_string());
                let y = 60 + 26 * class as i32;
                legend_area
                    .draw(&Circle::new(
                        (16, y),
                        6,
                        class_color(class, classes).filled(),
                    ))
                    .map_err(plot_error)?;
                legend_area
                    .draw(&Text::new(name, (30, y - 8), ("sans-serif", 16)))
                    .map_err(plot_error)?;
            }
        }
        Ok(())
    })
}
