//! `selfsup embed`: a 2-D map of an encoder's frozen features, coloured by class: a PNG
//! scatter with a legend, and the coordinates as CSV (the UMAP / t-SNE figures of
//! self-supervised papers).
//!
//! UMAP is not offered: no maintained Rust crate does it on its own (`umap-rs` wants the
//! neighbour graph and initial layout from the caller; others pull in another Burn version).
//! t-SNE shows the same cluster structure; the CSV feeds `umap-learn` for those who want it.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use selfsup::embedding::{TsneConfig, pca_2d, tsne};
use selfsup::train::extract_features;

use crate::Result;
use crate::args::{DeviceArgs, EncoderSource};
use crate::data::{DataArgs, Part, subset_or_default};
use crate::plots::draw_scatter;

/// How to map the features to 2-D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Projection {
    /// The top two principal components (linear; seconds).
    Pca,
    /// t-SNE (van der Maaten & Hinton 2008), exact, scikit-learn's defaults (about a minute
    /// for 2 000 points).
    Tsne,
}

/// `selfsup embed`.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub encoder: EncoderSource,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The projection.
    #[arg(long, value_enum, default_value_t = Projection::Tsne)]
    pub method: Projection,
    /// Test images to map (class-balanced; default 2000, or all of them when there are fewer;
    /// at most the images there are).
    #[arg(long)]
    pub images: Option<usize>,
    /// t-SNE's perplexity.
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    /// The PNG to write; the coordinates go beside it with the extension `.csv`.
    #[arg(long, default_value = "embedding.png")]
    pub out: PathBuf,
    /// Seed of the subset, the random init and t-SNE.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `selfsup embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    let device = args.device.device()?;
    let (backbone, _, what) = args
        .encoder
        .load(&device, args.data.image_size(), args.seed)?;
    let test = args.data.open(Part::Test)?;
    let indices = subset_or_default(
        test.dataset.as_ref(),
        args.images,
        2000,
        args.seed,
        "--images",
        "test images",
    )?;
    tracing::info!("encoding {} images with {what}", indices.len());
    let features = extract_features(
        &backbone,
        test.dataset.as_ref(),
        &indices,
        Some(&args.data.normalize()),
        256,
        &device,
    )?;
    let [n, d] = features.features.dims();
    let values: Vec<f32> = features.features.into_data().try_to_vec::<f32>()?;
    tracing::info!("projecting {n} × {d} features with {:?}", args.method);
    let (points, axes, caption) = project(&args, &values, d)?;

    let csv = args.out.with_extension("csv");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&csv).map_err(|e| format!("cannot write {}: {e}", csv.display()))?,
    );
    writeln!(file, "index,label,class,x,y")?;
    for ((&index, &label), p) in indices.iter().zip(&features.labels).zip(&points) {
        let class = test.classes.get(label).map_or("", String::as_str);
        writeln!(file, "{index},{label},{class},{},{}", p[0], p[1])?;
    }
    file.flush()?;

    let title = format!("{caption} of {} images: {what}", points.len());
    draw_scatter(
        &args.out,
        &title,
        axes,
        &points,
        &features.labels,
        &test.classes,
    )?;
    println!("wrote {} and {}", args.out.display(), csv.display());
    Ok(())
}

/// The 2-D points, the axis names and a caption.
type Projected = (Vec<[f32; 2]>, (&'static str, &'static str), String);

/// Maps `values` (rows of `d` features) to 2-D.
fn project(args: &EmbedArgs, values: &[f32], d: usize) -> Result<Projected> {
    Ok(match args.method {
        Projection::Pca => {
            let pca = pca_2d(values, d)?;
            let [r1, r2] = pca.explained_variance_ratio;
            let caption = format!(
                "PCA ({:.1} % + {:.1} % of the variance)",
                100.0 * r1,
                100.0 * r2
            );
            (pca.coords, ("PC 1", "PC 2"), caption)
        }
        Projection::Tsne => {
            let config = TsneConfig::new()
                .with_perplexity(args.perplexity)
                .with_seed(args.seed);
            let out = tsne(values, d, &config)?;
            tracing::info!(
                "t-SNE: {} iterations, KL divergence {:.3}",
                out.iterations,
                out.kl_divergence
            );
            let caption = format!("t-SNE (perplexity {})", args.perplexity);
            (out.embedding, ("t-SNE 1", "t-SNE 2"), caption)
        }
    })
}
