//! `selfsup export`: a run's encoder as a safetensors state dict in torchvision's layout.

use std::path::PathBuf;

use clap::Args;
use selfsup::models::resnet::{BlockKind, RESNET18_DEPTHS, RESNET34_DEPTHS, RESNET50_DEPTHS};
use selfsup::models::{BackboneConfig, Stem};

use crate::Result;
use crate::args::{DeviceArgs, load_run_backbone};

/// `selfsup export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The run directory (or its checkpoint file).
    pub run: PathBuf,
    /// The safetensors file to write.
    #[arg(long, default_value = "encoder.safetensors")]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Runs `selfsup export`: writes the file and prints how to load it in PyTorch.
pub fn run(args: ExportArgs) -> Result<()> {
    let device = args.device.device()?;
    let (backbone, config, what) = load_run_backbone(&args.run, &device)?;
    backbone.save_torchvision_safetensors(&args.out)?;
    tracing::info!("wrote {what} to {}", args.out.display());
    let BackboneConfig::ResNet(resnet) = config else {
        unreachable!("only a ResNet exports")
    };
    let arch = match (resnet.depths, resnet.block) {
        (RESNET18_DEPTHS, BlockKind::Basic) => "resnet18",
        (RESNET34_DEPTHS, BlockKind::Basic) => "resnet34",
        (RESNET50_DEPTHS, BlockKind::Bottleneck) => "resnet50",
        (depths, block) => {
            println!(
                "a {block:?} ResNet of depths {depths:?}: build its torchvision ResNet by hand"
            );
            return Ok(());
        }
    };
    let stem = match resnet.stem {
        Stem::Cifar => {
            "model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)\n\
             model.maxpool = torch.nn.Identity()\n"
        }
        Stem::ImageNet => "",
    };
    println!(
        "Load it in PyTorch (safetensors.torch.load_file, or any safetensors reader):\n\n\
         import torch, torchvision\n\
         from safetensors.torch import load_file\n\
         model = torchvision.models.{arch}()\n\
         {stem}model.fc = torch.nn.Identity()\n\
         model.load_state_dict(load_file(\"{}\"), strict=True)",
        args.out.display()
    );
    Ok(())
}
