//! Heads: parameter counts against the PyTorch `nn.Sequential`s of `tools/golden_resnet.py`
//! (SimCLR, SimSiam) and against lightly's / the reference code's modules derived by hand (BYOL,
//! MoCo, Barlow Twins, VICReg, SwAV, DINO), a train-mode forward of SimSiam's projection head with
//! PyTorch's weights, `NonAffineBatchNorm` against `BatchNorm1d(affine=False)`, DINO's head
//! against a loop oracle, the unit norm of the weight-normalised layers and the gradient through
//! it, and the contracts.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::Distribution;
use selfsup_models::mlp::{MlpBlockConfig, MlpConfig, MlpNorm, MlpNormLayer};
use selfsup_models::{
    BarlowTwinsProjectionHeadConfig, ByolPredictionHeadConfig, ByolProjectionHeadConfig,
    DinoHeadConfig, MocoPredictionHeadConfig, MocoProjectionHeadConfig, NnclrPredictionHeadConfig,
    NnclrProjectionHeadConfig, NonAffineBatchNormConfig, SimClrProjectionHeadConfig,
    SimSiamPredictionHeadConfig, SimSiamProjectionHeadConfig, SwavProjectionHeadConfig,
    SwavPrototypesConfig, VicRegProjectionHeadConfig,
};

use crate::support::{
    architectures, as_f32s, as_shape, as_usize, assert_close, counts, forward_golden,
    load_torch_state, state_entries, tensor, values,
};

/// Learnable parameters and running statistics of every head equal PyTorch's.
#[test]
fn head_parameter_counts_match_pytorch() {
    let device = Device::flex();
    let heads = [
        ("simclr_default", SimClrProjectionHeadConfig::new().mlp()),
        (
            "simclr_resnet50",
            SimClrProjectionHeadConfig::resnet50().mlp(),
        ),
        (
            "simsiam_projection_default",
            SimSiamProjectionHeadConfig::new().mlp(),
        ),
        (
            "simsiam_projection_paper",
            SimSiamProjectionHeadConfig::new()
                .with_input_dim(2048)
                .mlp(),
        ),
        (
            "simsiam_prediction_default",
            SimSiamPredictionHeadConfig::new().mlp(),
        ),
        (
            "simsiam_prediction_seed000",
            SimSiamPredictionHeadConfig::new()
                .with_hidden_batch_norm(false)
                .mlp(),
        ),
        (
            "simsiam_prediction_paper",
            SimSiamPredictionHeadConfig::paper().mlp(),
        ),
    ];
    for (name, config) in heads {
        let golden = &architectures()["heads"][name];
        let (params, running) = counts(&config.init(&device));
        assert_eq!(params, as_usize(&golden["params"]), "{name}: parameters");
        assert_eq!(
            running,
            as_usize(&golden["running"]),
            "{name}: running stats"
        );
    }
}

/// The paper's dimensions: the default SimSiam projector ends in 2048, the paper's predictor maps
/// 2048 → 512 → 2048, the SimCLR default maps 512 → 128.
#[test]
fn head_dimensions() {
    let projector = SimSiamProjectionHeadConfig::new().mlp();
    assert_eq!((projector.input_dim(), projector.output_dim()), (512, 2048));
    let predictor = SimSiamPredictionHeadConfig::paper().mlp();
    assert_eq!(predictor.blocks[0].output_dim, 512);
    assert_eq!(
        (predictor.input_dim(), predictor.output_dim()),
        (2048, 2048)
    );
    let simclr = SimClrProjectionHeadConfig::new().mlp();
    assert_eq!((simclr.input_dim(), simclr.output_dim()), (512, 128));
}

/// SimSiam's projection head (6 → 5 → 5 → 4) with PyTorch's weights, one train-mode forward:
/// the output and the running statistics of its non-affine output batch norm equal PyTorch's.
#[test]
fn simsiam_projection_head_matches_pytorch_in_train_mode() {
    let g = &forward_golden()["simsiam_projection_head"];
    let dims = as_shape(&g["dims"]);
    let device = Device::flex().autodiff();
    let head = SimSiamProjectionHeadConfig::new()
        .with_input_dim(dims[0])
        .with_hidden_dim(dims[1])
        .with_output_dim(dims[2])
        .init(&device);
    let head = load_torch_state(head, &g["state"]);
    let x = tensor::<2>(&g["input"], &g["input_shape"], &device);
    let out = head.forward(x);
    assert_close(
        "projection head output",
        &values(out),
        &as_f32s(&g["train_output"]),
        1e-4,
        1e-3,
    );
    let Some(MlpNormLayer::NonAffine(bn)) = &head.blocks[2].norm else {
        panic!("the output block has a non-affine batch norm");
    };
    for (name, state) in [
        ("running_mean", &bn.running_mean),
        ("running_var", &bn.running_var),
    ] {
        assert_close(
            name,
            &values(state.value_sync()),
            &as_f32s(&g["running_after"][format!("blocks.2.norm.{name}")]),
            1e-5,
            1e-4,
        );
    }
}

/// `NonAffineBatchNorm` behaves like `BatchNorm1d(affine=False)`: train-mode output and running
/// statistics (unbiased variance) after one step, then eval-mode output with those statistics.
#[test]
fn non_affine_batch_norm_matches_pytorch() {
    let g = &forward_golden()["non_affine_batch_norm"];
    let n = as_usize(&g["num_features"]);
    let device = Device::flex().autodiff();
    let bn = NonAffineBatchNormConfig::new(n).init(&device);
    let (params, running) = counts(&bn);
    assert_eq!((params, running), (0, 2 * n), "no learnable parameters");

    let x = tensor::<2>(&g["input"], &g["input_shape"], &device);
    let out = bn.forward(x);
    assert_close(
        "train output",
        &values(out),
        &as_f32s(&g["train_output"]),
        1e-5,
        1e-4,
    );
    assert_close(
        "running_mean",
        &values(bn.running_mean.value_sync()),
        &as_f32s(&g["running_mean"]),
        1e-5,
        1e-4,
    );
    assert_close(
        "running_var",
        &values(bn.running_var.value_sync()),
        &as_f32s(&g["running_var"]),
        1e-5,
        1e-4,
    );

    let bn = bn.valid();
    let plain = Device::flex();
    let x = tensor::<2>(&g["eval_input"], &g["eval_input_shape"], &plain);
    assert_close(
        "eval output",
        &values(bn.forward(x)),
        &as_f32s(&g["eval_output"]),
        1e-5,
        1e-4,
    );
}

/// Gradients flow through the non-affine batch norm to the layer before it.
#[test]
fn non_affine_batch_norm_passes_gradients() {
    let device = Device::flex().autodiff();
    let block = MlpBlockConfig::new(3, 4)
        .with_norm(MlpNorm::BatchNormNoAffine)
        .init(&device);
    let x = Tensor::<2>::random([5, 3], Distribution::Default, &device);
    // Weighted sum: a plain sum of batch-normalised outputs has zero gradient.
    let w = Tensor::<2>::random([5, 4], Distribution::Default, &device);
    let grads = (block.forward(x) * w).sum().backward();
    let grad = block
        .linear
        .weight
        .val()
        .grad(&grads)
        .expect("weight gradient");
    assert!(values(grad.abs().sum()).iter().all(|&g| g > 0.0));
}

#[test]
#[should_panic(expected = "block 0 outputs 4 features but block 1 takes 5")]
fn mlp_rejects_unchained_blocks() {
    MlpConfig::new(vec![MlpBlockConfig::new(3, 4), MlpBlockConfig::new(5, 2)])
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "needs at least one block")]
fn mlp_rejects_no_blocks() {
    MlpConfig::new(vec![]).init(&Device::flex());
}

#[test]
#[should_panic(expected = "expected input [B, 512], got [B, 3]")]
fn mlp_rejects_wrong_input_width() {
    let device = Device::flex();
    let head = SimClrProjectionHeadConfig::new().init(&device);
    head.forward(Tensor::zeros([2, 3], &device));
}

// ---------------------------------------------------------------------------------------------
// BYOL, MoCo, Barlow Twins, VICReg, SwAV and DINO heads.
// ---------------------------------------------------------------------------------------------

/// Parameter counts of the SSL heads against their PyTorch modules, derived by hand. Each
/// expected value is written as the sum of its PyTorch tensors, read off the lightly class named
/// in the comment (`lightly/models/modules/heads.py`, lightly 1.6.0) or the reference code cited
/// in the head's docs:
/// - `nn.Linear(i, o, bias=b)`: `i·o` weight (+ `o` bias when `b`; lightly's `ProjectionHead`
///   sets `bias = not batch_norm`),
/// - `nn.BatchNorm1d(o)`: `2·o` parameters (`weight`, `bias`) and `2·o` running statistics,
/// - `nn.BatchNorm1d(o, affine=False)`: `2·o` running statistics only,
/// - `weight_norm(nn.Linear(i, o, bias=False))`: `o·i` `weight_v` and `o` `weight_g`; with the
///   norm fixed, `weight_g` is frozen (`requires_grad=False`) and has no counterpart here, so the
///   expected value is PyTorch's *trainable* count.
#[test]
fn ssl_head_parameter_counts_match_pytorch() {
    let device = Device::flex();
    let mlp_heads: Vec<(&str, MlpConfig, usize, usize)> = vec![
        (
            // BYOLProjectionHead(512, 4096, 256): Linear(512, 4096, bias=False), BN(4096),
            // ReLU, Linear(4096, 256) = 3 154 176 parameters.
            "byol projection, cifar10(512)",
            ByolProjectionHeadConfig::cifar10(512).mlp(),
            512 * 4096 + 2 * 4096 + 4096 * 256 + 256,
            2 * 4096,
        ),
        (
            // BYOLProjectionHead() (ResNet-50 input 2048) = 9 445 632 parameters.
            "byol projection, paper",
            ByolProjectionHeadConfig::new().with_input_dim(2048).mlp(),
            2048 * 4096 + 2 * 4096 + 4096 * 256 + 256,
            2 * 4096,
        ),
        (
            // BYOLPredictionHead(256, 4096, 256) = 2 105 600 parameters.
            "byol prediction, cifar10",
            ByolPredictionHeadConfig::cifar10().mlp(),
            256 * 4096 + 2 * 4096 + 4096 * 256 + 256,
            2 * 4096,
        ),
        (
            // MoCoProjectionHead(512, 2048, 128): Linear(512, 2048), ReLU, Linear(2048, 128).
            "moco v2 projection, default",
            MocoProjectionHeadConfig::new().mlp(),
            512 * 2048 + 2048 + 2048 * 128 + 128,
            0,
        ),
        (
            // solo-learn mocov2plus.py on CIFAR: Linear(512, 2048), ReLU, Linear(2048, 256).
            "moco v2 projection, cifar10(512)",
            MocoProjectionHeadConfig::cifar10(512).mlp(),
            512 * 2048 + 2048 + 2048 * 256 + 256,
            0,
        ),
        (
            // Official MoCo v3 _build_mlp(3, 2048, 4096, 256): Linear(2048, 4096, bias=False),
            // BN(4096), ReLU, Linear(4096, 4096, bias=False), BN(4096), ReLU,
            // Linear(4096, 256, bias=False), BN(256, affine=False). lightly's
            // MoCoProjectionHead(2048, 4096, 256, 3, True) has 2·256 more (affine output BN).
            "moco v3 projection, paper",
            MocoProjectionHeadConfig::v3().with_input_dim(2048).mlp(),
            2048 * 4096 + 2 * 4096 + 4096 * 4096 + 2 * 4096 + 4096 * 256,
            2 * 4096 + 2 * 4096 + 2 * 256,
        ),
        (
            // solo-learn mocov3.py, ResNet: _build_mlp(2, 512, 4096, 256).
            "moco v3 projection, v3_cifar10(512)",
            MocoProjectionHeadConfig::v3_cifar10(512).mlp(),
            512 * 4096 + 2 * 4096 + 4096 * 256,
            2 * 4096 + 2 * 256,
        ),
        (
            // MoCo v1's linear head: Linear(512, 128).
            "moco v1 projection",
            MocoProjectionHeadConfig::new().with_num_layers(1).mlp(),
            512 * 128 + 128,
            0,
        ),
        (
            // Official MoCo v3 ViT predictor _build_mlp(2, 256, 4096, 256): output BN
            // (affine=False).
            "moco v3 prediction, paper",
            MocoPredictionHeadConfig::new().mlp(),
            256 * 4096 + 2 * 4096 + 4096 * 256,
            2 * 4096 + 2 * 256,
        ),
        (
            // ResNet predictor _build_mlp(2, 256, 4096, 256, last_bn=False).
            "moco v3 prediction, cifar10",
            MocoPredictionHeadConfig::cifar10().mlp(),
            256 * 4096 + 2 * 4096 + 4096 * 256,
            2 * 4096,
        ),
        (
            // BarlowTwinsProjectionHead(512, 2048, 2048) = 9 447 424 parameters.
            "barlow twins projection, cifar10(512)",
            BarlowTwinsProjectionHeadConfig::cifar10(512).mlp(),
            512 * 2048 + 2 * 2048 + 2048 * 2048 + 2 * 2048 + 2048 * 2048 + 2048,
            2 * 2048 + 2 * 2048,
        ),
        (
            // BarlowTwinsProjectionHead() = 2048 → 8192 → 8192 → 8192: 151 035 904 parameters.
            "barlow twins projection, paper",
            BarlowTwinsProjectionHeadConfig::new()
                .with_input_dim(2048)
                .mlp(),
            2048 * 8192 + 2 * 8192 + 8192 * 8192 + 2 * 8192 + 8192 * 8192 + 8192,
            2 * 8192 + 2 * 8192,
        ),
        (
            // VICRegProjectionHead(512, 2048, 2048, 3).
            "vicreg projection, cifar10(512)",
            VicRegProjectionHeadConfig::cifar10(512).mlp(),
            512 * 2048 + 2 * 2048 + 2048 * 2048 + 2 * 2048 + 2048 * 2048 + 2048,
            2 * 2048 + 2 * 2048,
        ),
        (
            // VICRegProjectionHead(512, 64, 32, num_layers=4): three BN-ReLU layers.
            "vicreg projection, 4 layers",
            VicRegProjectionHeadConfig::new()
                .with_hidden_dim(64)
                .with_output_dim(32)
                .with_num_layers(4)
                .mlp(),
            512 * 64 + 2 * 64 + 64 * 64 + 2 * 64 + 64 * 64 + 2 * 64 + 64 * 32 + 32,
            3 * 2 * 64,
        ),
        (
            // SwaVProjectionHead(512, 2048, 128) = 1 314 944 parameters.
            "swav projection, cifar10(512)",
            SwavProjectionHeadConfig::cifar10(512).mlp(),
            512 * 2048 + 2 * 2048 + 2048 * 128 + 128,
            2 * 2048,
        ),
        (
            // NNCLRProjectionHead(512, 2048, 256): three bias-free linear layers, each followed
            // by an affine BatchNorm1d.
            "nnclr projection, default",
            NnclrProjectionHeadConfig::new().mlp(),
            512 * 2048 + 2 * 2048 + 2048 * 2048 + 2 * 2048 + 2048 * 256 + 2 * 256,
            2 * 2048 + 2 * 2048 + 2 * 256,
        ),
        (
            // NNCLRPredictionHead(256, 4096, 256): the last linear layer keeps its bias.
            "nnclr prediction, default",
            NnclrPredictionHeadConfig::new().mlp(),
            256 * 4096 + 2 * 4096 + 4096 * 256 + 256,
            2 * 4096,
        ),
    ];
    for (name, config, params, running) in mlp_heads {
        assert_eq!(
            counts(&config.init(&device)),
            (params, running),
            "{name}: (parameters, running statistics)"
        );
    }

    let dino: Vec<(&str, DinoHeadConfig, usize, usize)> = vec![
        (
            // DINOProjectionHead(512, 2048, 256, 4096): Linear(512, 2048), GELU,
            // Linear(2048, 2048), GELU, Linear(2048, 256), weight_norm(Linear(256, 4096,
            // bias=False)) with weight_g frozen: 6 820 096 trainable parameters.
            "dino, cifar10(512)",
            DinoHeadConfig::cifar10(512),
            512 * 2048 + 2048 + 2048 * 2048 + 2048 + 2048 * 256 + 256 + 4096 * 256,
            0,
        ),
        (
            // DINOProjectionHead() with a ResNet-50 and batch_norm=True: the hidden linear
            // layers lose their bias, BN(2048) twice; the paper's K = 65536.
            "dino, paper with batch norm",
            DinoHeadConfig::new()
                .with_input_dim(2048)
                .with_batch_norm(true),
            2048 * 2048 + 2 * 2048 + 2048 * 2048 + 2 * 2048 + 2048 * 256 + 256 + 65536 * 256,
            2 * 2048 + 2 * 2048,
        ),
        (
            // norm_last_layer=False: weight_g ([4096, 1]) is trainable.
            "dino, learnable last-layer norm",
            DinoHeadConfig::cifar10(512).with_norm_last_layer(false),
            512 * 2048 + 2048 + 2048 * 2048 + 2048 + 2048 * 256 + 256 + 4096 * 256 + 4096,
            0,
        ),
    ];
    for (name, config, params, running) in dino {
        assert_eq!(
            counts(&config.init(&device)),
            (params, running),
            "{name}: (parameters, running statistics)"
        );
    }

    // solo-learn's weight_norm(nn.Linear(128, 3000, bias=False)), weight_g frozen. lightly's
    // SwaVPrototypes(128, 3000) is a plain nn.Linear with bias: 3000 more.
    let prototypes = SwavPrototypesConfig::cifar10().init(&device);
    assert_eq!(counts(&prototypes), (3000 * 128, 0));
}

/// The PyTorch names of the new modules' tensors: the weight-normalised layers carry PyTorch's
/// `weight_v` / `weight_g` in PyTorch's `[out, in]` / `[out, 1]` layout.
#[test]
fn weight_normalised_layers_have_pytorch_names_and_shapes() {
    let device = Device::flex();
    let head = DinoHeadConfig::new()
        .with_input_dim(6)
        .with_hidden_dim(5)
        .with_bottleneck_dim(4)
        .with_output_dim(3)
        .with_norm_last_layer(false)
        .init(&device);
    let entries: Vec<(String, Vec<usize>)> = state_entries(&head)
        .into_iter()
        .map(|e| (e.name, e.torch_shape))
        .collect();
    let expected: Vec<(String, Vec<usize>)> = [
        ("last_layer.weight_g", vec![3, 1]),
        ("last_layer.weight_v", vec![3, 4]),
        ("mlp.blocks.0.linear.bias", vec![5]),
        ("mlp.blocks.0.linear.weight", vec![5, 6]),
        ("mlp.blocks.1.linear.bias", vec![5]),
        ("mlp.blocks.1.linear.weight", vec![5, 5]),
        ("mlp.blocks.2.linear.bias", vec![4]),
        ("mlp.blocks.2.linear.weight", vec![4, 5]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(entries, expected);
    let prototypes = SwavPrototypesConfig::new()
        .with_input_dim(4)
        .with_n_prototypes(7)
        .init(&device);
    let names: Vec<String> = state_entries(&prototypes)
        .into_iter()
        .map(|e| format!("{} {:?}", e.name, e.torch_shape))
        .collect();
    assert_eq!(names, ["linear.weight_v [7, 4]"]);
}

/// Every SSL head maps `[B, input_dim]` to `[B, output_dim]`, in training (autodiff, batch
/// statistics) and in evaluation.
#[test]
fn ssl_head_output_shapes() {
    let train = Device::flex().autodiff();
    let eval = Device::flex();
    let mlp_heads: Vec<(&str, MlpConfig)> = vec![
        (
            "byol projection",
            ByolProjectionHeadConfig::cifar10(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "byol prediction",
            ByolPredictionHeadConfig::new()
                .with_input_dim(8)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "moco v2 projection",
            MocoProjectionHeadConfig::cifar10(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "moco v3 projection",
            MocoProjectionHeadConfig::v3()
                .with_input_dim(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "moco v3 prediction",
            MocoPredictionHeadConfig::new()
                .with_input_dim(8)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "barlow twins projection",
            BarlowTwinsProjectionHeadConfig::cifar10(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "vicreg projection",
            VicRegProjectionHeadConfig::cifar10(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "swav projection",
            SwavProjectionHeadConfig::cifar10(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "nnclr projection",
            NnclrProjectionHeadConfig::new()
                .with_input_dim(12)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
        (
            "nnclr prediction",
            NnclrPredictionHeadConfig::new()
                .with_input_dim(8)
                .with_hidden_dim(16)
                .with_output_dim(8)
                .mlp(),
        ),
    ];
    for (name, config) in mlp_heads {
        for device in [&train, &eval] {
            let head = config.init(device);
            let x = Tensor::<2>::random([4, config.input_dim()], Distribution::Default, device);
            assert_eq!(head.forward(x).dims(), [4, config.output_dim()], "{name}");
        }
    }
    for device in [&train, &eval] {
        let dino = DinoHeadConfig::cifar10(12)
            .with_hidden_dim(16)
            .with_bottleneck_dim(8)
            .with_output_dim(32)
            .with_batch_norm(true)
            .init(device);
        assert_eq!((dino.input_dim(), dino.output_dim()), (12, 32));
        let x = Tensor::<2>::random([4, 12], Distribution::Default, device);
        assert_eq!(dino.forward(x).dims(), [4, 32]);
        let prototypes = SwavPrototypesConfig::new()
            .with_input_dim(8)
            .with_n_prototypes(30)
            .init(device);
        assert_eq!(prototypes.n_prototypes(), 30);
        let z = Tensor::<2>::random([4, 8], Distribution::Default, device);
        assert_eq!(prototypes.forward(z).dims(), [4, 30]);
    }
}

/// The paper defaults of the new heads.
#[test]
fn ssl_head_paper_dimensions() {
    let byol = ByolProjectionHeadConfig::new();
    assert_eq!((byol.hidden_dim, byol.output_dim), (4096, 256));
    let moco = MocoProjectionHeadConfig::new();
    assert_eq!(
        (
            moco.hidden_dim,
            moco.output_dim,
            moco.num_layers,
            moco.batch_norm
        ),
        (2048, 128, 2, false)
    );
    let v3 = MocoProjectionHeadConfig::v3().mlp();
    assert_eq!(v3.blocks.len(), 3);
    assert!(v3.blocks.iter().all(|b| b.norm != MlpNorm::None && !b.bias));
    assert_eq!(v3.output_dim(), 256);
    assert_eq!(
        MocoProjectionHeadConfig::v3_cifar10(512).mlp().blocks.len(),
        2
    );
    let barlow = BarlowTwinsProjectionHeadConfig::new();
    assert_eq!((barlow.hidden_dim, barlow.output_dim), (8192, 8192));
    let vicreg = VicRegProjectionHeadConfig::new();
    assert_eq!((vicreg.hidden_dim, vicreg.output_dim), (8192, 8192));
    let swav = SwavProjectionHeadConfig::new();
    assert_eq!((swav.hidden_dim, swav.output_dim), (2048, 128));
    assert_eq!(SwavPrototypesConfig::new().n_prototypes, 3000);
    let nnclr = NnclrProjectionHeadConfig::new().mlp();
    assert_eq!(nnclr.blocks.len(), 3);
    assert!(
        nnclr
            .blocks
            .iter()
            .all(|b| b.norm == MlpNorm::BatchNorm && !b.bias)
    );
    assert!(nnclr.blocks[..2].iter().all(|b| b.relu) && !nnclr.blocks[2].relu);
    assert_eq!(
        (
            nnclr.output_dim(),
            NnclrPredictionHeadConfig::new().hidden_dim
        ),
        (256, 4096)
    );
    let dino = DinoHeadConfig::new();
    assert_eq!(
        (
            dino.hidden_dim,
            dino.bottleneck_dim,
            dino.output_dim,
            dino.num_layers
        ),
        (2048, 256, 65536, 3)
    );
    assert!(dino.norm_last_layer && !dino.batch_norm);
    let blocks = dino.mlp().blocks;
    assert!(blocks[..2].iter().all(|b| b.gelu && !b.relu));
    assert!(!blocks[2].gelu && !blocks[2].relu);
}

fn row_norms(w: Tensor<2>) -> Vec<f32> {
    values(w.square().sum_dim(1).sqrt())
}

/// DINO's head is `normalize(mlp(x)) · normalize_rows(v)ᵀ`, checked against a loop over plain
/// numbers; the last layer's rows have norm 1.
#[test]
fn dino_head_matches_a_loop_oracle_and_has_unit_rows() {
    let device = Device::flex();
    let head = DinoHeadConfig::new()
        .with_input_dim(6)
        .with_hidden_dim(5)
        .with_bottleneck_dim(4)
        .with_output_dim(7)
        .init(&device);
    for n in row_norms(head.last_layer.weight()) {
        assert!((n - 1.0).abs() < 1e-6, "row norm {n}");
    }
    let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
    let out = values(head.forward(x.clone()));
    let h = values(head.mlp.forward(x)); // [3, 4]
    let v = values(head.last_layer.weight_v.val()); // [7, 4]
    let norm = |r: &[f32]| r.iter().map(|a| a * a).sum::<f32>().sqrt();
    let mut expected = Vec::new();
    for hb in h.chunks(4) {
        for vk in v.chunks(4) {
            let dot: f32 = hb.iter().zip(vk).map(|(a, b)| a * b).sum();
            expected.push(dot / (norm(hb) * norm(vk)));
        }
    }
    assert_close("dino head output", &out, &expected, 1e-5, 1e-4);
    // Cosine similarities: bounded by 1.
    assert!(out.iter().all(|o| o.abs() <= 1.0 + 1e-5));
}

/// DINO's MLP starts from N(0, 0.02²) weights and zero biases.
#[test]
fn dino_head_initialisation() {
    let device = Device::flex();
    let head = DinoHeadConfig::cifar10(512).init(&device);
    let w = values(head.mlp.blocks[0].linear.weight.val());
    let n = w.len() as f32;
    let mean = w.iter().sum::<f32>() / n;
    let std = (w.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / n).sqrt();
    assert!(mean.abs() < 1e-3, "mean {mean}");
    assert!((std - 0.02).abs() < 0.001, "std {std}");
    for block in &head.mlp.blocks {
        let bias = block.linear.bias.as_ref().expect("no batch norm: a bias");
        assert!(values(bias.val()).iter().all(|&b| b == 0.0));
    }
}

/// The gradient reaches the last layer's `weight_v` through the row normalisation, and is
/// orthogonal to each row (the normalisation removes the radial component).
#[test]
fn dino_last_layer_gets_a_gradient_through_the_normalisation() {
    let device = Device::flex().autodiff();
    let head = DinoHeadConfig::new()
        .with_input_dim(6)
        .with_hidden_dim(5)
        .with_bottleneck_dim(4)
        .with_output_dim(7)
        .init(&device);
    let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
    let w = Tensor::<2>::random([3, 7], Distribution::Default, &device);
    let grads = (head.forward(x) * w).sum().backward();
    let grad = head
        .last_layer
        .weight_v
        .val()
        .grad(&grads)
        .expect("weight_v gradient");
    let g = values(grad);
    assert!(g.iter().map(|a| a.abs()).sum::<f32>() > 0.0, "non-zero");
    let v = values(head.last_layer.weight_v.val());
    for (k, (vk, gk)) in v.chunks(4).zip(g.chunks(4)).enumerate() {
        let dot: f32 = vk.iter().zip(gk).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-5, "row {k}: v·∂L/∂v = {dot}");
    }
    // The MLP below gets gradients too.
    assert!(
        head.mlp.blocks[0]
            .linear
            .weight
            .val()
            .grad(&grads)
            .is_some()
    );
}

/// With `norm_last_layer = false` the row norms are the learnable `weight_g`, starting at 1.
#[test]
fn dino_learnable_last_layer_norm() {
    let device = Device::flex().autodiff();
    let head = DinoHeadConfig::new()
        .with_input_dim(6)
        .with_hidden_dim(5)
        .with_bottleneck_dim(4)
        .with_output_dim(7)
        .with_norm_last_layer(false)
        .init(&device);
    let g = head.last_layer.weight_g.as_ref().expect("a learnable norm");
    assert!(values(g.val()).iter().all(|&x| x == 1.0));
    let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
    let w = Tensor::<2>::random([3, 7], Distribution::Default, &device);
    let grads = (head.forward(x) * w).sum().backward();
    assert!(g.val().grad(&grads).is_some(), "weight_g is trained");
}

/// SwAV's prototypes have unit rows; the scores are cosine similarities, so scaling the input
/// changes nothing.
#[test]
fn swav_prototypes_are_unit_vectors_and_inputs_are_normalised() {
    let device = Device::flex();
    let prototypes = SwavPrototypesConfig::new()
        .with_input_dim(8)
        .with_n_prototypes(50)
        .init(&device);
    let c = prototypes.prototypes();
    assert_eq!(c.dims(), [50, 8]);
    for n in row_norms(c) {
        assert!((n - 1.0).abs() < 1e-6, "prototype norm {n}");
    }
    let z = Tensor::<2>::random([5, 8], Distribution::Default, &device);
    let scores = values(prototypes.forward(z.clone()));
    assert!(scores.iter().all(|s| s.abs() <= 1.0 + 1e-5));
    let scaled = values(prototypes.forward(z.mul_scalar(3.0)));
    assert_close("scale invariance", &scaled, &scores, 1e-6, 1e-5);
}

/// The prototypes' direction parameter is trained through the normalisation.
#[test]
fn swav_prototypes_get_a_gradient() {
    let device = Device::flex().autodiff();
    let prototypes = SwavPrototypesConfig::new()
        .with_input_dim(8)
        .with_n_prototypes(10)
        .init(&device);
    let z = Tensor::<2>::random([5, 8], Distribution::Default, &device);
    let w = Tensor::<2>::random([5, 10], Distribution::Default, &device);
    let grads = (prototypes.forward(z) * w).sum().backward();
    let g = prototypes
        .linear
        .weight_v
        .val()
        .grad(&grads)
        .expect("weight_v gradient");
    assert!(values(g).iter().any(|&x| x != 0.0));
}

/// A configuration saved before `MlpBlockConfig` had its `gelu` field still loads, as ReLU
/// blocks; SimCLR's and SimSiam's heads have no GELU.
#[test]
fn old_mlp_config_json_without_gelu_still_loads() {
    let old = r#"{
        "blocks": [
            {"input_dim": 6, "output_dim": 5, "bias": false, "norm": "BatchNorm", "relu": true},
            {"input_dim": 5, "output_dim": 4, "bias": true, "norm": "None", "relu": false}
        ]
    }"#;
    let config = MlpConfig::load_binary(old.as_bytes()).expect("an old MlpConfig loads");
    assert!(config.blocks.iter().all(|b| !b.gelu));
    assert!(config.blocks[0].relu);
    assert_eq!(config.blocks[0].norm, MlpNorm::BatchNorm);
    let mlp = config.init(&Device::flex());
    assert!(mlp.blocks[0].relu.is_some() && mlp.blocks[0].gelu.is_none());
    // The same JSON as the current serialisation, minus the new field.
    let mut now: serde_json::Value = serde_json::from_str(&config.to_string()).unwrap();
    for block in now["blocks"].as_array_mut().unwrap() {
        assert_eq!(block["gelu"], serde_json::Value::Bool(false));
        block.as_object_mut().unwrap().remove("gelu");
    }
    let old: serde_json::Value = serde_json::from_str(old).unwrap();
    assert_eq!(now, old, "the old JSON is the old serialisation");
    for config in [
        SimClrProjectionHeadConfig::new().mlp(),
        SimClrProjectionHeadConfig::resnet50().mlp(),
        SimSiamProjectionHeadConfig::new().mlp(),
        SimSiamPredictionHeadConfig::paper().mlp(),
    ] {
        assert!(config.blocks.iter().all(|b| !b.gelu));
    }
}

#[test]
#[should_panic(expected = "relu and gelu are both set")]
fn mlp_block_rejects_two_activations() {
    MlpBlockConfig::new(3, 4)
        .with_relu(true)
        .with_gelu(true)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "MlpBlockConfig: dimensions must be positive, got 512 → 0")]
fn byol_head_rejects_zero_width() {
    ByolProjectionHeadConfig::new()
        .with_hidden_dim(0)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "MlpBlockConfig: dimensions must be positive, got 0 → 2048")]
fn barlow_head_rejects_zero_input() {
    BarlowTwinsProjectionHeadConfig::cifar10(0).init(&Device::flex());
}

#[test]
#[should_panic(expected = "num_layers must be at least 1, got 0")]
fn moco_head_rejects_zero_layers() {
    MocoProjectionHeadConfig::new()
        .with_num_layers(0)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "num_layers must be at least 2, got 1")]
fn vicreg_head_rejects_one_layer() {
    VicRegProjectionHeadConfig::new()
        .with_num_layers(1)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "WeightNormLinearConfig: dimensions must be positive, got 256 → 0")]
fn dino_head_rejects_zero_outputs() {
    DinoHeadConfig::new()
        .with_output_dim(0)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "MlpBlockConfig: dimensions must be positive, got 2048 → 0")]
fn dino_head_rejects_zero_bottleneck() {
    DinoHeadConfig::new()
        .with_bottleneck_dim(0)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "WeightNormLinearConfig: dimensions must be positive, got 128 → 0")]
fn swav_prototypes_reject_zero_prototypes() {
    SwavPrototypesConfig::new()
        .with_n_prototypes(0)
        .init(&Device::flex());
}

#[test]
#[should_panic(expected = "Mlp::forward: expected input [B, 512], got [B, 3]")]
fn dino_head_rejects_wrong_input_width() {
    let device = Device::flex();
    let head = DinoHeadConfig::new().with_output_dim(8).init(&device);
    head.forward(Tensor::zeros([2, 3], &device));
}

#[test]
#[should_panic(expected = "WeightNormLinear::forward: expected input [B, 128], got [B, 3]")]
fn swav_prototypes_reject_wrong_input_width() {
    let device = Device::flex();
    let prototypes = SwavPrototypesConfig::new().init(&device);
    prototypes.forward(Tensor::zeros([2, 3], &device));
}
