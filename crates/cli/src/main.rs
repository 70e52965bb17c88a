//! `selfsup`: self-supervised pre-training, evaluation, embedding maps and export to PyTorch,
//! from the command line.
//!
//! ```text
//! selfsup pretrain simsiam                      # CIFAR-10, downloaded into the user cache
//! selfsup probe runs/simsiam                    # linear probe of the run's encoder
//! selfsup knn runs/simsiam                      # weighted kNN
//! selfsup embed runs/simsiam --out map.png      # 2-D map of the features (+ map.csv)
//! selfsup export runs/simsiam --out resnet18.safetensors
//! ```
//!
//! `selfsup help <command>` lists a command's flags.

mod args;
mod attention;
mod data;
mod embed;
mod eval;
mod export;
mod loader_bench;
mod logging;
mod plots;
mod pretrain;
mod reconstruct;
mod resume;
mod stop;
mod train;
mod views;

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

/// What a command returns: any error, shown to the user with its causes.
pub type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// Self-supervised visual representation learning on Burn.
#[derive(Parser, Debug)]
#[command(name = "selfsup", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print warnings and errors only (no progress bar, no log lines).
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Pre-train an encoder with a self-supervised method.
    Pretrain(pretrain::PretrainArgs),
    /// Linear probe: a linear classifier on the frozen encoder's features.
    Probe(eval::ProbeArgs),
    /// Weighted k-nearest-neighbour classification on the frozen encoder's features.
    Knn(eval::KnnArgs),
    /// Fine-tune a pre-trained encoder with a classifier on a label budget, then test it.
    Finetune(eval::FinetuneArgs),
    /// Train the same classifier from scratch on the same label budget, then test it.
    Baseline(eval::BaselineArgs),
    /// A 2-D map (PCA or t-SNE) of the frozen encoder's features: PNG and CSV.
    Embed(embed::EmbedArgs),
    /// Write the encoder as a safetensors state dict in torchvision's (ResNet) or timm's (ViT)
    /// layout.
    Export(export::ExportArgs),
    /// A ViT run's attention maps over an image: the class token's attention in the last block,
    /// one panel per head (the DINO paper's figure).
    Attention(attention::AttentionArgs),
    /// An MAE run's reconstructions: originals, masked inputs and reconstructions in one grid.
    Reconstruct(reconstruct::ReconstructArgs),
    /// A grid of images and their augmented views.
    Views(views::ViewsArgs),
    /// Redraw a run's plots from its history.json.
    Plot(plots::PlotArgs),
    /// Measure the loader: a method's views from a folder, in batches; prints images/s last.
    LoaderBench(loader_bench::LoaderBenchArgs),
}

fn main() -> ExitCode {
    // Each training step's large tensors are reused, not mapped afresh (see the function).
    selfsup::train::memory::keep_freed_memory();
    let definition = Cli::command();
    let matches = definition.clone().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    logging::init(cli.quiet);
    let result = resumed(&definition, &matches, cli).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<train::Interrupted>() => ExitCode::from(130),
        Err(err) => {
            logging::clear_bar();
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// The command as typed, or, with `--resume RUN`, the run's own command with the flags that
/// may change on resume (see [`resume`]).
fn resumed(definition: &clap::Command, matches: &ArgMatches, cli: Cli) -> Result<Cli> {
    let Some((name, now)) = matches.subcommand() else {
        return Ok(cli);
    };
    let Ok(Some(path)) = now.try_get_one::<PathBuf>("resume") else {
        return Ok(cli);
    };
    let Some((recorded, words)) = resume::check(definition, name, now, path)? else {
        return Ok(cli);
    };
    let mut run = Cli::from_arg_matches(&recorded)?;
    run.quiet = cli.quiet;
    let command = std::iter::once("selfsup".to_string())
        .chain(words)
        .collect::<Vec<_>>();
    let (train, typed) = match (&mut run.command, &cli.command) {
        (Command::Pretrain(run), Command::Pretrain(typed)) => (&mut run.train, &typed.train),
        (Command::Finetune(run), Command::Finetune(typed)) => {
            (&mut run.supervised.train, &typed.supervised.train)
        }
        (Command::Baseline(run), Command::Baseline(typed)) => {
            (&mut run.supervised.train, &typed.supervised.train)
        }
        _ => unreachable!("resume::check compared the subcommands"),
    };
    resume::carry(train, typed, now);
    train.command = Some(command);
    Ok(run)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Pretrain(args) => pretrain::run(args),
        Command::Probe(args) => eval::probe(args),
        Command::Knn(args) => eval::knn(args),
        Command::Finetune(args) => eval::finetune(args),
        Command::Baseline(args) => eval::baseline(args),
        Command::Embed(args) => embed::run(args),
        Command::Export(args) => export::run(args),
        Command::Attention(args) => attention::run(args),
        Command::Reconstruct(args) => reconstruct::run(args),
        Command::Views(args) => views::run(args),
        Command::Plot(args) => plots::run(args),
        Command::LoaderBench(args) => loader_bench::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use proptest::prelude::*;

    use super::Cli;

    /// clap's own consistency checks of every command and flag (conflicts, defaults, names).
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Words that make up command lines: commands, flags, values good and bad.
    const WORDS: &[&str] = &[
        "pretrain",
        "probe",
        "knn",
        "finetune",
        "baseline",
        "embed",
        "export",
        "views",
        "plot",
        "simsiam",
        "simclr",
        "dino",
        "swav",
        "bogus",
        "--epochs",
        "--batch-size",
        "--lr",
        "--limit",
        "--labels",
        "--dataset",
        "folder",
        "stl10",
        "cifar100",
        "--device",
        "flex",
        "tch-cuda:7",
        "wgpu",
        "--random-init",
        "--backbone",
        "resnet50",
        "--stem",
        "--resume",
        "--out-dir",
        "--image-size",
        "--method",
        "tsne",
        "pca",
        "--k",
        "--temperature",
        "0",
        "-1",
        "NaN",
        "inf",
        "1e309",
        "18446744073709551616",
        "",
        "--",
        "-q",
        "--quiet",
        "--help",
        "--version",
        "runs/x",
        "é",
        "--seed",
        "--max-side",
        "--verify-md5",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Any sequence of those words parses or is refused with clap's error: never a panic.
        #[test]
        fn arbitrary_command_lines_parse_or_are_refused(
            words in proptest::collection::vec(proptest::sample::select(WORDS), 0..8),
        ) {
            let args = std::iter::once("selfsup").chain(words.iter().copied());
            match Cli::try_parse_from(args) {
                Ok(_) => {}
                Err(err) => prop_assert!(!err.to_string().is_empty()),
            }
        }
    }
}
