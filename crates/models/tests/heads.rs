//! Heads: parameter counts against the PyTorch `nn.Sequential`s of `tools/golden_resnet.py`,
//! a train-mode forward of SimSiam's projection head with PyTorch's weights, and
//! `NonAffineBatchNorm` against `BatchNorm1d(affine=False)`.

use burn::prelude::*;
use burn::tensor::Distribution;
use selfsup_models::mlp::{MlpBlockConfig, MlpConfig, MlpNorm, MlpNormLayer};
use selfsup_models::{
    NonAffineBatchNormConfig, SimClrProjectionHeadConfig, SimSiamPredictionHeadConfig,
    SimSiamProjectionHeadConfig,
};

use crate::support::{
    architectures, as_f32s, as_shape, as_usize, assert_close, counts, forward_golden,
    load_torch_state, tensor, values,
};

/// Learnable parameters and running statistics of every head equal PyTorch's.
#[test]
fn head_parameter_counts_match_pytorch() {
    let device = Device::flex();
    let heads = [
        ("simclr_default", SimClrProjectionHeadConfig::new().mlp()),
        ("simclr_cs231n", SimClrProjectionHeadConfig::cs231n().mlp()),
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
