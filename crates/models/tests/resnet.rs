//! ResNet: torchvision's state-dict names, shapes and parameter counts; output shapes for both
//! stems; outputs of small ResNets with PyTorch's weights; contracts.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use selfsup_models::resnet::{BlockKind, ResNetConfig, Stem};

use crate::support::{
    architectures, as_f32s, as_shape, as_usize, assert_close, counts, forward_golden,
    golden_entries, load_torch_state, state_entries, tensor, values,
};

const ARCHS: [&str; 3] = ["resnet18", "resnet34", "resnet50"];
const STEMS: [(Stem, &str); 2] = [(Stem::Cifar, "cifar"), (Stem::ImageNet, "imagenet")];

fn config(arch: &str, stem: Stem) -> ResNetConfig {
    match arch {
        "resnet18" => ResNetConfig::resnet18(stem),
        "resnet34" => ResNetConfig::resnet34(stem),
        "resnet50" => ResNetConfig::resnet50(stem),
        _ => unreachable!("unknown arch {arch}"),
    }
}

/// Every parameter and running statistic has torchvision's name and shape, so a torchvision
/// state dict maps by name (golden: `torchvision.models.resnetXX()` with the usual CIFAR
/// CIFAR stem
/// swap or untouched, `fc = nn.Identity()`).
#[test]
fn state_dict_names_and_shapes_match_torchvision() {
    let device = Device::flex();
    for arch in ARCHS {
        for (stem, stem_name) in STEMS {
            let model = config(arch, stem).init(&device);
            let golden = &architectures()["resnets"][format!("{arch}_{stem_name}")];
            let expected = golden_entries(&golden["entries"]);
            let actual = state_entries(&model);
            assert_eq!(
                actual.len(),
                expected.len(),
                "{arch} {stem_name}: number of tensors"
            );
            for (a, e) in actual.iter().zip(&expected) {
                assert_eq!(a, e, "{arch} {stem_name}");
            }
        }
    }
}

/// Parameter counts equal PyTorch's `sum(p.numel() for p in model.parameters())`, with and
/// without a 10-class `fc`; Burn's `num_params` also counts the running statistics.
#[test]
fn parameter_counts_match_torchvision() {
    let device = Device::flex();
    for arch in ARCHS {
        for (stem, stem_name) in STEMS {
            for (num_classes, suffix) in [(None, ""), (Some(10), "_fc10")] {
                let key = format!("{arch}_{stem_name}{suffix}");
                let golden = &architectures()["resnets"][&key];
                let model = config(arch, stem)
                    .with_num_classes(num_classes)
                    .init(&device);
                let (params, running) = counts(&model);
                assert_eq!(params, as_usize(&golden["params"]), "{key}: parameters");
                assert_eq!(
                    running,
                    as_usize(&golden["running"]),
                    "{key}: running stats"
                );
                assert_eq!(model.num_params(), params + running, "{key}: num_params");
            }
        }
    }
    // The parameter count of ResNet-18 with the CIFAR stem (11.17 M).
    let resnet18_cifar = as_usize(&architectures()["resnets"]["resnet18_cifar"]["params"]);
    assert_eq!(resnet18_cifar / 10_000, 1116, "ResNet-18 CIFAR ≈ 11.17 M");
}

/// `forward_features` is `[B, 512]` for ResNet-18/34 and `[B, 2048]` for ResNet-50, for both
/// stems; `forward` with a classifier is `[B, num_classes]`.
#[test]
fn output_shapes_for_both_stems() {
    let device = Device::flex();
    for arch in ARCHS {
        let c = if arch == "resnet50" { 2048 } else { 512 };
        for (stem, input) in [
            (Stem::Cifar, [2, 3, 32, 32]),
            (Stem::ImageNet, [1, 3, 64, 64]),
        ] {
            let config = config(arch, stem).with_num_classes(Some(10));
            assert_eq!(
                config.feature_dim(),
                c,
                "{arch} {stem:?}: config feature_dim"
            );
            let model = config.init(&device);
            assert_eq!(
                model.feature_dim(),
                c,
                "{arch} {stem:?}: module feature_dim"
            );
            let x = Tensor::<4>::random(input, Distribution::Default, &device);
            let features = model.forward_features(x.clone());
            assert_eq!(features.dims(), [input[0], c], "{arch} {stem:?}: features");
            assert_eq!(
                model.forward(x).dims(),
                [input[0], 10],
                "{arch} {stem:?}: logits"
            );
        }
    }
}

fn check_forward_golden(case: &str) {
    let g = &forward_golden()[case];
    let widths: Vec<usize> = as_shape(&g["widths"]);
    let arch = g["arch"].as_str().unwrap();
    let stem = match g["stem"].as_str().unwrap() {
        "cifar" => Stem::Cifar,
        _ => Stem::ImageNet,
    };
    let num_classes = g["num_classes"].as_u64().map(|n| n as usize);
    let config = config(arch, stem)
        .with_widths(widths.try_into().unwrap())
        .with_num_classes(num_classes);
    let out_shape = as_shape(&g["eval_output_shape"]);
    // float32 against PyTorch's float64.
    let (abs, rel) = (1e-4, 1e-3);

    // Eval: a plain device, batch norms use the running statistics.
    let device = Device::flex();
    let model = load_torch_state(config.init(&device), &g["state"]);
    let x = tensor::<4>(&g["input"], &g["input_shape"], &device);
    let features = model.forward_features(x.clone());
    assert_close(
        &format!("{case} eval features"),
        &values(features),
        &as_f32s(&g["eval_features"]),
        abs,
        rel,
    );
    let out = match num_classes {
        Some(_) => model.forward(x),
        None => model.forward_features(x),
    };
    assert_eq!(out.dims().to_vec(), out_shape, "{case}: output shape");
    assert_close(
        &format!("{case} eval output"),
        &values(out),
        &as_f32s(&g["eval_output"]),
        abs,
        rel,
    );

    // Train: an autodiff device, batch norms use the batch statistics.
    let device = device.autodiff();
    let model = load_torch_state(config.init(&device), &g["state"]);
    let x = tensor::<4>(&g["input"], &g["input_shape"], &device);
    let out = match num_classes {
        Some(_) => model.forward(x),
        None => model.forward_features(x),
    };
    assert_close(
        &format!("{case} train output"),
        &values(out),
        &as_f32s(&g["train_output"]),
        abs,
        rel,
    );
}

/// A narrow ResNet-18 (CIFAR stem, 5-class `fc`) with PyTorch's weights, loaded by torchvision
/// name, gives PyTorch's outputs in eval and train mode.
#[test]
fn narrow_resnet18_cifar_matches_pytorch() {
    check_forward_golden("resnet18_cifar");
}

/// A narrow ResNet-50 (ImageNet stem, 37×37 input: odd sizes through the strided convolutions
/// and the max-pool) with PyTorch's weights gives PyTorch's features in eval and train mode.
#[test]
fn narrow_resnet50_imagenet_matches_pytorch() {
    check_forward_golden("resnet50_imagenet");
}

/// The CIFAR stem keeps the resolution (8× total downsampling), the ImageNet stem divides it by 4
/// (32× total): the last stage sees 4×4 resp. 1×1 maps of a 32×32 image. Checked through the
/// stem layers themselves.
#[test]
fn stems_have_the_documented_layers() {
    let device = Device::flex();
    let cifar = ResNetConfig::resnet18(Stem::Cifar).init(&device);
    assert_eq!(cifar.conv1.kernel_size, [3, 3]);
    assert_eq!(cifar.conv1.stride, [1, 1]);
    assert!(cifar.conv1.bias.is_none());
    assert!(cifar.maxpool.is_none());
    let imagenet = ResNetConfig::resnet18(Stem::ImageNet).init(&device);
    assert_eq!(imagenet.conv1.kernel_size, [7, 7]);
    assert_eq!(imagenet.conv1.stride, [2, 2]);
    assert!(imagenet.conv1.bias.is_none());
    assert!(imagenet.maxpool.is_some());
    assert!(imagenet.fc.is_none());
}

#[test]
#[should_panic(expected = "no classifier")]
fn forward_without_classifier_panics() {
    let device = Device::flex();
    let model = ResNetConfig::resnet18(Stem::Cifar)
        .with_widths([2, 2, 2, 2])
        .init(&device);
    model.forward(Tensor::zeros([1, 3, 8, 8], &device));
}

#[test]
#[should_panic(expected = "expected images [B, 3, H, W], got 1 channels")]
fn wrong_input_channels_panic() {
    let device = Device::flex();
    let model = ResNetConfig::resnet18(Stem::Cifar)
        .with_widths([2, 2, 2, 2])
        .init(&device);
    model.forward_features(Tensor::zeros([1, 1, 8, 8], &device));
}

#[test]
#[should_panic(expected = "every stage needs at least one block")]
fn empty_stage_is_rejected() {
    ResNetConfig::new([2, 0, 2, 2], BlockKind::Basic, Stem::Cifar).init(&Device::flex());
}

#[test]
#[should_panic(expected = "num_classes must be positive")]
fn zero_classes_are_rejected() {
    ResNetConfig::resnet18(Stem::Cifar)
        .with_num_classes(Some(0))
        .init(&Device::flex());
}

/// The shortcut projection subsamples, then convolves with stride 1: the same values and the
/// same gradients as the strided 1×1 convolution, on odd and even sizes.
#[test]
fn the_subsampled_projection_equals_the_strided_convolution() {
    use burn::nn::conv::Conv2dConfig;
    use selfsup_models::resnet::block::project;

    let device = Device::flex().autodiff();
    for [h, w] in [[7, 8], [8, 8], [5, 3]] {
        let conv = Conv2dConfig::new([4, 6], [1, 1])
            .with_stride([2, 2])
            .with_bias(false)
            .init(&device);
        let x = Tensor::<4>::random([2, 4, h, w], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let reference = conv.forward(x.clone());
        let ours = project(&conv, x.clone());
        assert_eq!(ours.dims(), reference.dims());
        assert_close(
            "projection",
            &values(ours.clone().inner()),
            &values(reference.clone().inner()),
            1e-6,
            1e-5,
        );
        // A weighted sum, so that each output element has its own gradient.
        let weights = Tensor::<4>::random(reference.dims(), Distribution::Default, &device);
        let grads_ours = (ours * weights.clone()).sum().backward();
        let grads_reference = (reference * weights).sum().backward();
        assert_close(
            "input gradient",
            &values(x.grad(&grads_ours).unwrap()),
            &values(x.grad(&grads_reference).unwrap()),
            1e-6,
            1e-5,
        );
        assert_close(
            "weight gradient",
            &values(conv.weight.grad(&grads_ours).unwrap()),
            &values(conv.weight.grad(&grads_reference).unwrap()),
            1e-5,
            1e-5,
        );
    }
}
