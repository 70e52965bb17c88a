//! `selfsup export`: a run's encoder as a safetensors state dict in torchvision's layout (a
//! ResNet) or timm's (a ViT).

use std::path::PathBuf;

use clap::Args;
use selfsup::models::resnet::{BlockKind, RESNET18_DEPTHS, RESNET34_DEPTHS, RESNET50_DEPTHS};
use selfsup::models::{BackboneConfig, PositionEmbedding, Stem, VitConfig};

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
    backbone.save_pytorch_safetensors(&args.out)?;
    tracing::info!("wrote {what} to {}", args.out.display());
    let resnet = match config {
        BackboneConfig::ResNet(resnet) => resnet,
        BackboneConfig::Vit(vit) => {
            print_timm(&vit, &args.out);
            return Ok(());
        }
        BackboneConfig::SmallCnn(_) => unreachable!("the small CNN does not export"),
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

/// How to load an exported ViT into timm: `create_model` with the network's arguments.
fn print_timm(vit: &VitConfig, out: &std::path::Path) {
    let mut kwargs = format!(
        "img_size={}, patch_size={}, embed_dim={}, depth={}, num_heads={}, mlp_ratio={}, \
         in_chans={}, num_classes=0",
        vit.image_size,
        vit.patch_size,
        vit.dim,
        vit.depth,
        vit.heads,
        vit.mlp_ratio,
        vit.in_channels
    );
    if vit.registers > 0 {
        kwargs.push_str(&format!(", reg_tokens={}", vit.registers));
    }
    if !vit.class_position {
        kwargs.push_str(", no_embed_class=True");
    }
    if !vit.qkv_bias {
        kwargs.push_str(", qkv_bias=False");
    }
    let fixed = match vit.position {
        PositionEmbedding::SinCos => {
            "\n# pos_embed holds the fixed sine-cosine table (MAE's); freeze it to keep it so"
        }
        PositionEmbedding::Learned => "",
    };
    println!(
        "Load it in timm (safetensors.torch.load_file, or any safetensors reader):\n\n\
         from safetensors.torch import load_file\n\
         from timm.models.vision_transformer import VisionTransformer\n\
         model = VisionTransformer({kwargs})\n\
         model.load_state_dict(load_file(\"{}\"), strict=True){fixed}",
        out.display()
    );
}
