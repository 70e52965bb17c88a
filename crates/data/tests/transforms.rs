//! The augmentation transforms: the deterministic ops against torchvision goldens
//! (`tools/golden_transforms.py`), torchvision's parameter sampling (crop boxes, fallback, factor
//! ranges), determinism per `(seed, epoch, index)` whatever the threading, the rejection of
//! every bad hyper-parameter, cheap statistical checks of the probabilities, and the method
//! presets (BYOL's asymmetric pair, DINO's and SwAV's multi-crop, the CIFAR-10 recipes of
//! lightly and solo-learn).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rand::RngCore;
use selfsup_data::transforms::{
    AffineParams, BlurConfig, ByolTransform, ColorJitter, ColorJitterParams, ColorPretext, Compose,
    CropBox, Cutout, GaussianBlur, Image, Interpolation, MocoV2Transform, MultiCropTransform,
    MultiView, MultiViewTransform, Normalize, PretextLabels, PretextTasks, PretextTransform,
    RandomAffine, RandomApply, RandomGrayscale, RandomHorizontalFlip, RandomResizedCrop,
    RandomSolarize, RotationPretext, ShearPretext, SimClrTransform, SimSiamTransform, Transform,
    TransformError, TransformRng, TwoViewConfig, TwoViews, VicRegTransform, adjust_brightness,
    adjust_contrast, adjust_hue, adjust_saturation, affine, apply_color_jitter,
    central_crop_fallback, cutout_at, gaussian_blur, hflip, invert, random_resized_crop_params,
    resized_crop, rgb_to_grayscale, rng_for, rotate_quarter_turns, shear_x, solarize,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Golden values from torchvision.
// ---------------------------------------------------------------------------------------------

fn golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/transforms.json");
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{path}: {e} (run tools/golden_transforms.py)"));
        serde_json::from_str(&text).expect("golden JSON parses")
    })
}

fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}")) as usize
}

fn opt_f64(v: &Value) -> Option<f64> {
    if v.is_null() { None } else { Some(f64_of(v)) }
}

fn f32_list(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| f64_of(x) as f32)
        .collect()
}

/// A golden input image, through `Image::from_chw_u8` (i.e. `ToTensor`).
fn golden_image(name: &str) -> Image {
    let img = &golden()["images"][name];
    let bytes: Vec<u8> = img["chw_u8"]
        .as_array()
        .expect("bytes")
        .iter()
        .map(|b| u8::try_from(b.as_u64().expect("byte")).expect("u8"))
        .collect();
    Image::from_chw_u8(&bytes, 3, usize_of(&img["height"]), usize_of(&img["width"])).unwrap()
}

fn jitter_params(p: &Value) -> ColorJitterParams {
    let order: Vec<usize> = p["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(usize_of)
        .collect();
    ColorJitterParams {
        order: order.try_into().expect("4 ops"),
        brightness: opt_f64(&p["brightness"]),
        contrast: opt_f64(&p["contrast"]),
        saturation: opt_f64(&p["saturation"]),
        hue: opt_f64(&p["hue"]),
    }
}

/// Runs one golden case with our functional op.
fn run_case(case: &Value) -> Image {
    let mut img = golden_image(case["image"].as_str().unwrap());
    let p = &case["params"];
    match case["op"].as_str().unwrap() {
        "resized_crop" => {
            let crop = CropBox {
                top: usize_of(&p["top"]),
                left: usize_of(&p["left"]),
                height: usize_of(&p["height"]),
                width: usize_of(&p["width"]),
            };
            resized_crop(
                &img,
                crop,
                usize_of(&p["out_height"]),
                usize_of(&p["out_width"]),
            )
        }
        "hflip" => hflip(&img),
        "brightness" => {
            adjust_brightness(&mut img, f64_of(&p["factor"]));
            img
        }
        "contrast" => {
            adjust_contrast(&mut img, f64_of(&p["factor"]));
            img
        }
        "saturation" => {
            adjust_saturation(&mut img, f64_of(&p["factor"]));
            img
        }
        "hue" => {
            adjust_hue(&mut img, f64_of(&p["factor"]));
            img
        }
        "grayscale" => {
            rgb_to_grayscale(&mut img);
            img
        }
        "normalize" => {
            Normalize::new(f32_list(&p["mean"]), f32_list(&p["std"]))
                .unwrap()
                .normalize_in_place(&mut img);
            img
        }
        "invert" => {
            invert(&mut img);
            img
        }
        "solarize" => {
            solarize(&mut img, f64_of(&p["threshold"]) as f32);
            img
        }
        "color_jitter" => {
            apply_color_jitter(&mut img, &jitter_params(p));
            img
        }
        "affine" => {
            let tr = p["translate"].as_array().unwrap();
            let sh = p["shear"].as_array().unwrap();
            let params = AffineParams {
                angle: f64_of(&p["angle"]),
                translate: (f64_of(&tr[0]), f64_of(&tr[1])),
                scale: f64_of(&p["scale"]),
                shear: (f64_of(&sh[0]), f64_of(&sh[1])),
            };
            let interpolation = match p["interpolation"].as_str().unwrap() {
                "nearest" => Interpolation::Nearest,
                "bilinear" => Interpolation::Bilinear,
                other => panic!("unknown interpolation {other}"),
            };
            affine(&img, &params, interpolation, 0.0)
        }
        "shear_pretext" => shear_x(&img, f64_of(&p["factor"]) as f32, Interpolation::Nearest),
        "rotate" => rotate_quarter_turns(&img, usize_of(&p["k"]) as u8),
        "gaussian_blur" => {
            let k = p["kernel"].as_array().unwrap();
            let s = p["sigma"].as_array().unwrap();
            gaussian_blur(
                &img,
                (usize_of(&k[0]), usize_of(&k[1])),
                (f64_of(&s[0]) as f32, f64_of(&s[1]) as f32),
            )
        }
        "pipeline" => {
            let c: Vec<usize> = p["crop"].as_array().unwrap().iter().map(usize_of).collect();
            let size = usize_of(&p["size"]);
            let crop = CropBox {
                top: c[0],
                left: c[1],
                height: c[2],
                width: c[3],
            };
            let mut img = hflip(&resized_crop(&img, crop, size, size));
            apply_color_jitter(&mut img, &jitter_params(&p["jitter"]));
            rgb_to_grayscale(&mut img);
            Normalize::new(f32_list(&p["mean"]), f32_list(&p["std"]))
                .unwrap()
                .normalize_in_place(&mut img);
            img
        }
        other => panic!("golden case with unknown op {other}"),
    }
}

/// Largest absolute difference and the number of values beyond `tol`.
fn compare(got: &Image, case: &Value) -> Result<(f32, usize), String> {
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(usize_of)
        .collect();
    if got.shape().as_slice() != shape.as_slice() {
        return Err(format!("shape {:?}, torchvision {shape:?}", got.shape()));
    }
    let want = f32_list(&case["output"]);
    let tol = f64_of(&case["tol"]) as f32;
    let mut max_err = 0.0f32;
    let mut bad = 0;
    for (&g, &w) in got.data().iter().zip(&want) {
        let e = (g - w).abs();
        if e.is_nan() || e > tol {
            bad += 1;
        }
        max_err = max_err.max(if e.is_nan() { f32::INFINITY } else { e });
    }
    Ok((max_err, bad))
}

/// Checks every golden case whose op is in `ops`; returns how many ran.
///
/// Tolerances (stored per case by the script): 0 for pure data movement (flip, rotate, invert,
/// solarize, nearest affine and shear), 1e-6 for the blends, hue, normalize, resize and blur
/// (PyTorch's `f32` arithmetic is transcribed op for op; most cases are bit-exact), 2e-6 for
/// bilinear affine (PyTorch computes the sampling grid with a batched matmul), 1e-5 for the
/// whole pipeline (normalize divides by ~0.2).
fn check_goldens(ops: &[&str]) -> usize {
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in golden()["cases"].as_array().unwrap() {
        let op = case["op"].as_str().unwrap();
        if !ops.contains(&op) {
            continue;
        }
        ran += 1;
        let name = case["name"].as_str().unwrap();
        let got = run_case(case);
        match compare(&got, case) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok((max_err, bad)) => {
                if bad > 0 {
                    failures.push(format!(
                        "{name}: {bad} values beyond tol {} (max error {max_err:e})",
                        case["tol"]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
    ran
}

#[test]
fn golden_file_comes_from_the_committed_script() {
    let g = golden();
    assert_eq!(g["generator"], "tools/golden_transforms.py");
    let known = [
        "resized_crop",
        "hflip",
        "brightness",
        "contrast",
        "saturation",
        "hue",
        "grayscale",
        "normalize",
        "invert",
        "solarize",
        "color_jitter",
        "affine",
        "shear_pretext",
        "rotate",
        "gaussian_blur",
        "pipeline",
    ];
    for case in g["cases"].as_array().unwrap() {
        let op = case["op"].as_str().unwrap();
        assert!(known.contains(&op), "golden op {op} is not tested");
    }
}

#[test]
fn from_chw_u8_is_to_tensor() {
    let img = golden_image("s");
    assert_eq!(img.shape(), [3, 2, 6]);
    assert_eq!(img.get(0, 0, 3), 1.0); // (255, 0, 0)
    assert_eq!(img.get(1, 1, 5), 2.0 / 255.0); // (1, 2, 3)
    // And back: rounding makes u8 -> f32 -> u8 the identity.
    let bytes: Vec<u8> = (0..=255).chain(0..=255).chain(0..=255).collect();
    let img = Image::from_chw_u8(&bytes, 3, 16, 16).unwrap();
    assert_eq!(img.to_chw_u8(), bytes);
    // HWC input lands in the same planes.
    let hwc: Vec<u8> = (0..16 * 16).flat_map(|i| [bytes[i]; 3]).collect();
    let img2 = Image::from_hwc_u8(&hwc, 3, 16, 16).unwrap();
    assert_eq!(img2.plane(0), img.plane(0));
    assert_eq!(img2.plane(2), img.plane(0));
}

#[test]
fn golden_resized_crop_antialiased_bilinear() {
    assert_eq!(check_goldens(&["resized_crop"]), 7);
}

#[test]
fn golden_photometric_ops() {
    let ops = [
        "hflip",
        "brightness",
        "contrast",
        "saturation",
        "hue",
        "grayscale",
        "normalize",
        "invert",
        "solarize",
        "color_jitter",
    ];
    assert_eq!(check_goldens(&ops), 24);
}

#[test]
fn golden_affine_and_pretext_geometry() {
    assert_eq!(check_goldens(&["affine", "shear_pretext", "rotate"]), 15);
}

#[test]
fn golden_gaussian_blur() {
    assert_eq!(check_goldens(&["gaussian_blur"]), 4);
}

#[test]
fn golden_fixed_parameter_simclr_view() {
    assert_eq!(check_goldens(&["pipeline"]), 1);
}

#[test]
fn golden_rrc_fallback_is_torchvision_central_crop() {
    let cases = golden()["rrc_fallback"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for c in cases {
        let (h, w) = (usize_of(&c["height"]), usize_of(&c["width"]));
        let s = f32_list(&c["scale"]);
        let r = f32_list(&c["ratio"]);
        let e: Vec<usize> = c["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(usize_of)
            .collect();
        let want = CropBox {
            top: e[0],
            left: e[1],
            height: e[2],
            width: e[3],
        };
        let crop = RandomResizedCrop::new(4)
            .unwrap()
            .with_scale(s[0], s[1])
            .unwrap()
            .with_ratio(r[0], r[1])
            .unwrap();
        for index in 0..20 {
            let got = crop.sample_params(h, w, &mut rng_for(1, 0, index));
            assert_eq!(got, want, "{h}x{w} scale {s:?} ratio {r:?}");
        }
        let direct = central_crop_fallback(h, w, (r[0].into(), r[1].into()));
        assert_eq!(direct, want);
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter sampling.
// ---------------------------------------------------------------------------------------------

/// Whether some unrounded `(w', h')` within ½ pixel of `(w, h)` has area in `scale·H·W` and
/// ratio `w'/h'` in `ratio` — what `round(√(area·r))`, `round(√(area/r))` guarantees.
fn box_is_consistent(b: CropBox, h: usize, w: usize, scale: (f64, f64), ratio: (f64, f64)) -> bool {
    let area = (h * w) as f64;
    let (bw, bh) = (b.width as f64, b.height as f64);
    (bw + 0.5) * (bh + 0.5) >= scale.0 * area - 1e-9
        && (bw - 0.5) * (bh - 0.5) <= scale.1 * area + 1e-9
        && (bw + 0.5) / (bh - 0.5).max(1e-9) >= ratio.0 - 1e-9
        && (bw - 0.5) / (bh + 0.5) <= ratio.1 + 1e-9
}

#[test]
fn rrc_boxes_lie_inside_and_respect_scale_and_ratio() {
    for (h, w, scale, ratio) in [
        (32, 32, (0.08, 1.0), (0.75, 4.0 / 3.0)),
        (32, 32, (0.2, 1.0), (0.75, 4.0 / 3.0)),
        (17, 23, (0.08, 1.0), (0.75, 4.0 / 3.0)),
        (5, 40, (0.05, 0.2), (2.0, 10.0)),
        (500, 400, (0.08, 1.0), (0.75, 4.0 / 3.0)),
    ] {
        let fallback = central_crop_fallback(h, w, ratio);
        let mut fallbacks = 0;
        let (mut min_frac, mut max_frac) = (f64::MAX, 0.0f64);
        for index in 0..3000 {
            let b = random_resized_crop_params(h, w, scale, ratio, &mut rng_for(3, 1, index));
            assert!(b.height > 0 && b.width > 0, "{b:?}");
            assert!(
                b.top + b.height <= h && b.left + b.width <= w,
                "{b:?} outside {h}x{w}"
            );
            if b == fallback {
                fallbacks += 1;
                continue;
            }
            assert!(
                box_is_consistent(b, h, w, scale, ratio),
                "{b:?} for {h}x{w} {scale:?} {ratio:?}"
            );
            let frac = (b.height * b.width) as f64 / (h * w) as f64;
            min_frac = min_frac.min(frac);
            max_frac = max_frac.max(frac);
            if h >= 400 {
                // Large image: rounding moves the area by well under 1 %.
                let r = b.width as f64 / b.height as f64;
                assert!(
                    frac >= scale.0 * 0.99 && frac <= scale.1 * 1.01,
                    "{b:?} area {frac}"
                );
                assert!(
                    r >= ratio.0 * 0.99 && r <= ratio.1 * 1.01,
                    "{b:?} ratio {r}"
                );
            }
        }
        assert!(
            fallbacks < 30,
            "{fallbacks} fallbacks for {h}x{w} {scale:?} {ratio:?}"
        );
        // The whole scale range is explored (not e.g. only one end of it).
        assert!(
            min_frac < scale.0 + 0.1 * (scale.1 - scale.0),
            "{h}x{w}: min area {min_frac}"
        );
        assert!(
            max_frac > scale.1 - 0.3 * (scale.1 - scale.0),
            "{h}x{w}: max area {max_frac}"
        );
    }
}

#[test]
fn rrc_offsets_are_uniform_over_every_valid_position() {
    // scale = ratio = 1 on 8x8 with area 1/4: always a 4x4 box; top, left in 0..=4 inclusive.
    let mut counts = HashMap::new();
    for index in 0..2500 {
        let b =
            random_resized_crop_params(8, 8, (0.25, 0.25), (1.0, 1.0), &mut rng_for(5, 0, index));
        assert_eq!((b.height, b.width), (4, 4));
        *counts.entry((b.top, b.left)).or_insert(0) += 1;
    }
    assert_eq!(
        counts.len(),
        25,
        "every (top, left) in 0..=4 appears: {counts:?}"
    );
    for (&pos, &n) in &counts {
        assert!(
            (50..=150).contains(&n),
            "position {pos:?} drawn {n} times of 2500"
        );
    }
}

#[test]
fn rrc_fallback_with_impossible_ratio() {
    // No 10:1 box fits an 8x8 image: torchvision's fallback, full width and round(8/10) rows.
    let b = random_resized_crop_params(8, 8, (0.9, 1.0), (10.0, 20.0), &mut rng_for(0, 0, 0));
    assert_eq!(
        b,
        CropBox {
            top: 3,
            left: 0,
            height: 1,
            width: 8
        }
    );
    // A ratio so extreme that torchvision's side would round to 0 gives 1 pixel instead.
    let b = central_crop_fallback(4, 4, (100.0, 200.0));
    assert_eq!((b.height, b.width), (1, 4));
}

#[test]
fn color_jitter_factors_follow_torchvision_ranges() {
    let cj = ColorJitter::new(0.4, 1.5, 0.0, 0.1).unwrap();
    assert_eq!(cj.brightness(), Some((0.6, 1.4)));
    assert_eq!(cj.contrast(), Some((0.0, 2.5)), "lower bound clipped at 0");
    assert_eq!(cj.saturation(), None, "strength 0 turns the op off");
    assert_eq!(cj.hue(), Some((-0.1, 0.1)));
    let mut orders = HashSet::new();
    let mut first = [0usize; 4];
    let mut rng = rng_for(9, 0, 0);
    for _ in 0..2400 {
        let p = cj.sample_params(&mut rng);
        let mut sorted = p.order;
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3]);
        orders.insert(p.order);
        first[p.order[0]] += 1;
        let b = p.brightness.unwrap();
        assert!((0.6..=1.4).contains(&(b as f32)), "brightness {b}");
        let c = p.contrast.unwrap();
        assert!((0.0..=2.5).contains(&c), "contrast {c}");
        assert_eq!(p.saturation, None);
        let h = p.hue.unwrap();
        assert!((-0.1..=0.1).contains(&(h as f32)), "hue {h}");
    }
    assert_eq!(orders.len(), 24, "every permutation of the four ops occurs");
    for n in first {
        assert!((500..=700).contains(&n), "op first {n} times of 2400");
    }
}

#[test]
fn affine_and_blur_parameters_stay_in_range() {
    let t = RandomAffine::new(20.0)
        .unwrap()
        .with_translate(0.1, 0.2)
        .unwrap()
        .with_scale(0.9, 1.1)
        .unwrap()
        .with_shear_ranges((-5.0, 10.0), Some((2.0, 3.0)))
        .unwrap();
    let mut rng = rng_for(2, 0, 0);
    for _ in 0..1000 {
        let p = t.sample_params(30, 40, &mut rng);
        assert!((-20.0..=20.0).contains(&p.angle));
        assert_eq!(p.translate.0.fract(), 0.0, "whole-pixel translation");
        assert!(
            p.translate.0.abs() <= 4.0 && p.translate.1.abs() <= 6.0,
            "{p:?}"
        );
        assert!((0.9..=1.1).contains(&(p.scale as f32)));
        assert!((-5.0..=10.0).contains(&p.shear.0) && (2.0..=3.0).contains(&p.shear.1));
    }
    let blur = GaussianBlur::new(3).unwrap();
    for _ in 0..1000 {
        let s = blur.sample_params(&mut rng);
        assert!((0.1..=2.0).contains(&s), "sigma {s}");
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour of the random transforms and combinators.
// ---------------------------------------------------------------------------------------------

fn test_image(seed: u8) -> Image {
    let bytes: Vec<u8> = (0..3 * 32 * 32)
        .map(|i: usize| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed.wrapping_mul(17))
                ^ (i / 97) as u8
        })
        .collect();
    Image::from_chw_u8(&bytes, 3, 32, 32).unwrap()
}

/// How often `t` changes the image over `n` draws from one stream.
fn fire_count(t: &dyn Transform, img: &Image, n: usize) -> usize {
    let mut rng = rng_for(11, 0, 0);
    (0..n)
        .filter(|_| t.apply(img.clone(), &mut rng) != *img)
        .count()
}

#[test]
fn probabilities_fire_at_their_rate() {
    let img = test_image(1);
    // Binomial(2000, p): 5 standard deviations are at most ±112.
    let flip = RandomHorizontalFlip::default();
    let n = fire_count(&flip, &img, 2000);
    assert!((900..=1100).contains(&n), "flip p=0.5 fired {n} of 2000");
    let gray = RandomGrayscale::new(0.2).unwrap();
    let n = fire_count(&gray, &img, 2000);
    assert!(
        (310..=490).contains(&n),
        "grayscale p=0.2 fired {n} of 2000"
    );
    let jitter = RandomApply::new(ColorJitter::new(0.4, 0.4, 0.4, 0.1).unwrap(), 0.8).unwrap();
    let n = fire_count(&jitter, &img, 2000);
    assert!((1510..=1690).contains(&n), "jitter p=0.8 fired {n} of 2000");
    let sol = RandomSolarize::new(0.5, 0.3).unwrap();
    let n = fire_count(&sol, &img, 2000);
    assert!((500..=700).contains(&n), "solarize p=0.3 fired {n} of 2000");
    // The extremes are exact.
    assert_eq!(
        fire_count(&RandomHorizontalFlip::new(0.0).unwrap(), &img, 500),
        0
    );
    assert_eq!(
        fire_count(&RandomHorizontalFlip::new(1.0).unwrap(), &img, 500),
        500
    );
    assert_eq!(
        fire_count(&RandomGrayscale::new(1.0).unwrap(), &img, 100),
        100
    );
}

#[test]
fn flip_is_a_mirror_and_an_involution() {
    let img = test_image(2);
    let f = hflip(&img);
    assert_eq!(f.get(1, 5, 0), img.get(1, 5, 31));
    assert_eq!(f.get(2, 31, 7), img.get(2, 31, 24));
    assert_eq!(hflip(&f), img);
}

#[test]
fn resize_preserves_constants_and_identity() {
    let img = Image::new(3, 7, 9, vec![0.25; 3 * 7 * 9]).unwrap();
    for (oh, ow) in [(32, 32), (3, 4), (7, 2), (20, 9)] {
        let out = selfsup_data::transforms::resize(&img, oh, ow);
        assert_eq!(out.shape(), [3, oh, ow]);
        assert!(
            out.data().iter().all(|&v| (v - 0.25).abs() < 1e-6),
            "{oh}x{ow}"
        );
    }
    let img = test_image(3);
    assert_eq!(selfsup_data::transforms::resize(&img, 32, 32), img);
}

#[test]
fn grayscale_outputs_three_equal_channels_and_keeps_one_channel_images() {
    let mut img = test_image(4);
    rgb_to_grayscale(&mut img);
    assert_eq!(img.plane(0), img.plane(1));
    assert_eq!(img.plane(1), img.plane(2));
    let mut one = Image::new(1, 2, 2, vec![0.1, 0.2, 0.3, 0.4]).unwrap();
    rgb_to_grayscale(&mut one);
    assert_eq!(one.data(), &[0.1, 0.2, 0.3, 0.4]);
}

#[test]
fn normalize_then_denormalize_round_trips() {
    let n = Normalize::cifar10();
    let img = test_image(5);
    let mut x = n.apply(img.clone(), &mut rng_for(0, 0, 0));
    assert!((x.get(0, 0, 0) - (img.get(0, 0, 0) - 0.4914) / 0.2023).abs() < 1e-6);
    n.denormalize(&mut x);
    assert_eq!(x.to_chw_u8(), img.to_chw_u8());
}

#[test]
#[should_panic(expected = "normalize has 3 channel statistics but the image has 1 channels")]
fn normalize_rejects_wrong_channel_count() {
    let img = Image::zeros(1, 2, 2);
    Normalize::cifar10().apply(img, &mut rng_for(0, 0, 0));
}

#[test]
fn cutout_zeroes_clipped_squares() {
    let ones = Image::new(2, 10, 12, vec![1.0; 2 * 10 * 12]).unwrap();
    // Interior: rows 3..7, columns 4..8.
    let mut img = ones.clone();
    cutout_at(&mut img, 5, 6, 4);
    for c in 0..2 {
        for y in 0..10 {
            for x in 0..12 {
                let inside = (3..7).contains(&y) && (4..8).contains(&x);
                assert_eq!(
                    img.get(c, y, x),
                    if inside { 0.0 } else { 1.0 },
                    "({c},{y},{x})"
                );
            }
        }
    }
    // Corner: clipped to rows 0..2, columns 9..12.
    let mut img = ones.clone();
    cutout_at(&mut img, 0, 11, 5);
    let zeros = img.data().iter().filter(|&&v| v == 0.0).count();
    assert_eq!(zeros, 2 * 2 * 3);
    assert_eq!(img.get(0, 1, 9), 0.0);
    assert_eq!(img.get(0, 2, 9), 1.0);
    // The random transform zeroes at most n_holes squares, and some pixels always.
    let t = Cutout::new(2, 4).unwrap();
    let mut rng = rng_for(0, 0, 0);
    for _ in 0..200 {
        let out = t.apply(ones.clone(), &mut rng);
        let zeros = out.data().iter().filter(|&&v| v == 0.0).count();
        assert!(zeros > 0 && zeros <= 2 * 2 * 16, "{zeros}");
    }
}

#[test]
fn blur_keeps_constant_images_and_tolerates_huge_kernels() {
    let img = Image::new(3, 4, 5, vec![0.7; 60]).unwrap();
    let out = gaussian_blur(&img, (11, 11), (3.0, 3.0));
    assert!(out.data().iter().all(|&v| (v - 0.7).abs() < 1e-6));
    let out = GaussianBlur::new(3)
        .unwrap()
        .apply(test_image(6), &mut rng_for(0, 0, 0));
    assert_eq!(out.shape(), [3, 32, 32]);
}

#[test]
fn affine_identity_is_exact_and_rotation_by_90_is_clockwise() {
    let img = test_image(7);
    for interp in [Interpolation::Nearest, Interpolation::Bilinear] {
        assert_eq!(affine(&img, &AffineParams::IDENTITY, interp, 0.0), img);
    }
    let r = affine(
        &img,
        &AffineParams {
            angle: 90.0,
            ..AffineParams::IDENTITY
        },
        Interpolation::Nearest,
        0.0,
    );
    // F.affine's angle is clockwise: 90° is three counter-clockwise quarter turns.
    assert_eq!(r, rotate_quarter_turns(&img, 3));
}

#[test]
fn compose_and_random_apply() {
    let img = test_image(8);
    let empty = Compose::new();
    assert!(empty.is_empty());
    assert_eq!(empty.apply(img.clone(), &mut rng_for(0, 0, 0)), img);
    let t = Compose::new()
        .then(RandomHorizontalFlip::new(1.0).unwrap())
        .then(RandomHorizontalFlip::new(1.0).unwrap());
    assert_eq!(t.apply(img.clone(), &mut rng_for(0, 0, 0)), img);
    let never = RandomApply::new(RandomGrayscale::new(1.0).unwrap(), 0.0).unwrap();
    assert_eq!(never.apply(img.clone(), &mut rng_for(0, 0, 0)), img);
}

// ---------------------------------------------------------------------------------------------
// Pretext tasks.
// ---------------------------------------------------------------------------------------------

#[test]
fn pretext_labels_are_uniform_and_match_their_fixed_ops() {
    let img = test_image(9);
    let mut rng = rng_for(4, 0, 0);
    let mut counts = [[0usize; 4]; 3];
    let tasks = PretextTasks::default();
    for _ in 0..1200 {
        let (out, l) = tasks.apply(img.clone(), &mut rng);
        counts[0][usize::from(l.rotation)] += 1;
        counts[1][usize::from(l.shear)] += 1;
        counts[2][usize::from(l.color)] += 1;
        assert_eq!(out, tasks.apply_with_labels(img.clone(), l));
    }
    for (task, n_classes) in [(0, 4), (1, 3), (2, 3)] {
        let expect = 1200 / n_classes;
        for (class, &n) in counts[task][..n_classes].iter().enumerate() {
            assert!(
                n.abs_diff(expect) < expect / 4,
                "task {task} class {class}: {n}"
            );
        }
        assert!(counts[task][n_classes..].iter().all(|&n| n == 0));
    }
}

#[test]
fn pretext_ops() {
    let img = test_image(10);
    let rot = RotationPretext;
    assert_eq!(rot.apply_with_label(img.clone(), 0), img);
    let quarter = rot.apply_with_label(img.clone(), 1);
    assert_eq!(
        rot.apply_with_label(quarter, 3),
        img,
        "90° then 270° is the identity"
    );
    assert_eq!(
        rot.apply_with_label(img.clone(), 2),
        rotate_quarter_turns(&rotate_quarter_turns(&img, 1), 1)
    );
    let shear = ShearPretext::default();
    assert_eq!(shear.levels(), &[0.0, 0.2, 0.4]);
    assert_eq!(shear.apply_with_label(img.clone(), 0), img);
    assert_ne!(shear.apply_with_label(img.clone(), 2), img);
    let color = ColorPretext;
    let mut gray = img.clone();
    rgb_to_grayscale(&mut gray);
    assert_eq!(color.apply_with_label(img.clone(), 1), gray);
    let inv = color.apply_with_label(img.clone(), 2);
    assert!((inv.get(0, 3, 4) - (1.0 - img.get(0, 3, 4))).abs() < 1e-7);
    let labels = PretextLabels {
        rotation: 3,
        shear: 1,
        color: 2,
    };
    let out = PretextTasks::default().apply_with_labels(img.clone(), labels);
    let mut manual = rotate_quarter_turns(&shear_x(&img, 0.2, Interpolation::Nearest), 3);
    invert(&mut manual);
    assert_eq!(out, manual);
}

#[test]
#[should_panic(expected = "shear pretext label 3 is out of range: there are 3 classes")]
fn pretext_rejects_out_of_range_label() {
    ShearPretext::default().apply_with_label(test_image(0), 3);
}

// ---------------------------------------------------------------------------------------------
// Determinism.
// ---------------------------------------------------------------------------------------------

#[test]
fn rng_for_depends_on_every_part_of_the_triple() {
    let first = |s, e, i| rng_for(s, e, i).next_u64();
    assert_eq!(first(1, 2, 3), first(1, 2, 3));
    let mut seen = HashSet::new();
    for s in 0..4 {
        for e in 0..4 {
            for i in 0..64 {
                assert!(seen.insert(first(s, e, i)), "collision at ({s}, {e}, {i})");
            }
        }
    }
    // The stream is ours, not rand's: pinned so that a dependency upgrade cannot change it.
    let mut r = TransformRng::from_u64(0);
    let words: Vec<u64> = (0..2).map(|_| r.next_u64()).collect();
    let mut again = TransformRng::from_u64(0);
    assert_eq!(words, [again.next_u64(), again.next_u64()]);
    assert_ne!(words[0], words[1]);
}

#[test]
fn same_triple_same_views_different_triple_different_views() {
    let t = SimClrTransform::cifar10();
    let img = test_image(12);
    let a = t.pair(&img, &mut rng_for(7, 3, 100));
    let b = t.pair(&img, &mut rng_for(7, 3, 100));
    assert_eq!(a, b);
    assert_ne!(a.0, a.1, "the two views are drawn independently");
    assert_ne!(a, t.pair(&img, &mut rng_for(7, 3, 101)), "other index");
    assert_ne!(a, t.pair(&img, &mut rng_for(7, 4, 100)), "other epoch");
    assert_ne!(a, t.pair(&img, &mut rng_for(8, 3, 100)), "other seed");
}

#[test]
fn parallel_batch_equals_sequential() {
    let t = SimClrTransform::cifar10();
    let images: Vec<Image> = (0..48).map(|i| test_image(i as u8)).collect();
    let views_of = |i: usize| t.views(&images[i], &mut rng_for(42, 5, i as u64));
    let sequential: Vec<Vec<Image>> = (0..images.len()).map(views_of).collect();
    // Two threads over interleaved halves, processing in reverse order.
    let n = images.len();
    let mut parallel: Vec<Option<Vec<Image>>> = vec![None; n];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|k| {
                let views_of = &views_of;
                s.spawn(move || {
                    (0..n)
                        .rev()
                        .filter(|i| i % 2 == k)
                        .map(|i| (i, views_of(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, v) in h.join().unwrap() {
                parallel[i] = Some(v);
            }
        }
    });
    let parallel: Vec<Vec<Image>> = parallel.into_iter().map(Option::unwrap).collect();
    assert_eq!(parallel, sequential);
}

#[test]
fn presets_have_the_simclr_cifar10_knobs_and_produce_normalized_views() {
    for cfg in [
        SimClrTransform::cifar10().config().clone(),
        SimSiamTransform::cifar10().config().clone(),
    ] {
        assert_eq!(cfg, TwoViewConfig::cifar10());
        assert_eq!(cfg.input_size, 32);
        assert_eq!(cfg.crop_scale, (0.2, 1.0));
        assert_eq!(cfg.hflip_prob, 0.5);
        assert_eq!(cfg.color_jitter, (0.4, 0.4, 0.4, 0.1));
        assert_eq!(cfg.color_jitter_prob, 0.8);
        assert_eq!(cfg.grayscale_prob, 0.2);
        assert_eq!(
            cfg.normalize,
            Some((vec![0.4914, 0.4822, 0.4465], vec![0.2023, 0.1994, 0.2010]))
        );
    }
    let t = SimSiamTransform::cifar10();
    assert_eq!(t.view_transform().len(), 5);
    assert_eq!(t.num_views(), 2);
    let views = t.views(&test_image(13), &mut rng_for(0, 0, 0));
    assert_eq!(views.len(), 2);
    for v in &views {
        assert_eq!(v.shape(), [3, 32, 32]);
        // Normalized: [0, 1] maps into [-2.5, 2.8].
        assert!(v.data().iter().all(|x| (-2.5..2.8).contains(x)));
    }
    // Changing knobs: upsample to 48, blur and solarize added, no normalization.
    let cfg = TwoViewConfig::cifar10()
        .with_input_size(48)
        .with_blur(Some(BlurConfig {
            kernel_size: 5,
            sigma: (0.1, 2.0),
            p: 0.5,
        }))
        .with_solarize(Some(selfsup_data::transforms::SolarizeConfig {
            threshold: 0.5,
            p: 0.2,
        }))
        .with_normalize(None);
    let t = SimClrTransform::new(cfg).unwrap();
    assert_eq!(t.view_transform().len(), 6);
    let (a, _) = t.pair(&test_image(14), &mut rng_for(0, 0, 1));
    assert_eq!(a.shape(), [3, 48, 48]);
    assert!(a.data().iter().all(|x| (0.0..=1.0).contains(x)));
}

#[test]
fn multi_view_draws_independent_views() {
    let mv = MultiView::repeat(4, || {
        Compose::new()
            .then(RandomResizedCrop::new(16).unwrap())
            .then(RandomHorizontalFlip::default())
    })
    .unwrap();
    assert_eq!(mv.num_views(), 4);
    let views = mv.views(&test_image(15), &mut rng_for(0, 0, 0));
    assert_eq!(views.len(), 4);
    let distinct: HashSet<Vec<u8>> = views.iter().map(Image::to_chw_u8).collect();
    assert_eq!(distinct.len(), 4);
    let two = TwoViews(RandomResizedCrop::new(8).unwrap());
    let (a, b) = two.pair(&test_image(15), &mut rng_for(0, 0, 0));
    assert_ne!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Bad hyper-parameters fail at construction, naming the parameter and value.
// ---------------------------------------------------------------------------------------------

fn err<T: std::fmt::Debug>(r: Result<T, TransformError>) -> String {
    r.expect_err("bad hyper-parameter accepted").to_string()
}

#[test]
fn bad_hyper_parameters_are_rejected_with_their_name() {
    let rrc = || RandomResizedCrop::new(32).unwrap();
    let cases: Vec<(String, &[&str])> = vec![
        (err(RandomResizedCrop::new(0)), &["size", "0"]),
        (err(RandomResizedCrop::with_output(0, 4)), &["height"]),
        (err(RandomResizedCrop::with_output(4, 0)), &["width"]),
        (err(rrc().with_scale(0.0, 1.0)), &["scale", "0", "(0, 1]"]),
        (err(rrc().with_scale(0.5, 1.2)), &["scale", "1.2"]),
        (
            err(rrc().with_scale(0.9, 0.2)),
            &["scale", "(0.9, 0.2)", "min must not exceed max"],
        ),
        (err(rrc().with_scale(f32::NAN, 1.0)), &["scale", "NaN"]),
        (err(rrc().with_ratio(0.0, 1.0)), &["ratio", "0"]),
        (err(rrc().with_ratio(-1.0, 1.0)), &["ratio", "-1"]),
        (err(rrc().with_ratio(2.0, 1.0)), &["ratio", "(2, 1)"]),
        (
            err(RandomHorizontalFlip::new(-0.1)),
            &["p", "-0.1", "[0, 1]"],
        ),
        (err(RandomHorizontalFlip::new(1.5)), &["p", "1.5"]),
        (err(RandomHorizontalFlip::new(f32::NAN)), &["p", "NaN"]),
        (
            err(ColorJitter::new(-0.1, 0.0, 0.0, 0.0)),
            &["brightness", "-0.1"],
        ),
        (
            err(ColorJitter::new(0.0, -1.0, 0.0, 0.0)),
            &["contrast", "-1"],
        ),
        (
            err(ColorJitter::new(0.0, 0.0, -0.5, 0.0)),
            &["saturation", "-0.5"],
        ),
        (
            err(ColorJitter::new(0.0, 0.0, 0.0, 0.6)),
            &["hue", "0.6", "[0, 0.5]"],
        ),
        (err(ColorJitter::new(0.0, 0.0, 0.0, -0.1)), &["hue", "-0.1"]),
        (
            err(ColorJitter::new(f32::INFINITY, 0.0, 0.0, 0.0)),
            &["brightness", "inf"],
        ),
        (
            err(ColorJitter::new(0.0, 0.0, 0.0, 0.0)
                .unwrap()
                .with_brightness_range(1.2, 0.8)),
            &["brightness", "(1.2, 0.8)"],
        ),
        (
            err(ColorJitter::new(0.0, 0.0, 0.0, 0.0)
                .unwrap()
                .with_hue_range(-0.6, 0.0)),
            &["hue", "-0.6"],
        ),
        (
            err(ColorJitter::new(0.0, 0.0, 0.0, 0.0)
                .unwrap()
                .with_saturation_range(-1.0, 1.0)),
            &["saturation", "-1"],
        ),
        (
            err(ColorJitter::new(0.0, 0.0, 0.0, 0.0)
                .unwrap()
                .with_contrast_range(2.0, 1.0)),
            &["contrast", "(2, 1)"],
        ),
        (
            err(RandomApply::new(RandomHorizontalFlip::default(), 1.1)),
            &["p", "1.1"],
        ),
        (err(RandomGrayscale::new(-0.5)), &["p", "-0.5"]),
        (err(RandomSolarize::new(1.5, 0.5)), &["threshold", "1.5"]),
        (err(RandomSolarize::new(0.5, 2.0)), &["p", "2"]),
        (
            err(Normalize::new(vec![0.5, 0.5], vec![0.2, 0.0])),
            &["std", "0", "positive"],
        ),
        (err(Normalize::new(vec![0.5], vec![-1.0])), &["std", "-1"]),
        (
            err(Normalize::new(vec![0.5, 0.5, 0.5], vec![0.2, 0.2])),
            &["std", "2 values", "3"],
        ),
        (err(Normalize::new(vec![], vec![])), &["mean", "empty"]),
        (
            err(Normalize::new(vec![f32::NAN], vec![1.0])),
            &["mean", "NaN"],
        ),
        (err(Cutout::new(0, 8)), &["n_holes", "0"]),
        (err(Cutout::new(1, 0)), &["length", "0"]),
        (err(RandomAffine::new(-5.0)), &["degrees", "-5"]),
        (
            err(RandomAffine::new(0.0)
                .unwrap()
                .with_degrees_range(10.0, -10.0)),
            &["degrees", "(10, -10)"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_translate(1.5, 0.0)),
            &["translate", "1.5"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_translate(0.1, -0.1)),
            &["translate", "-0.1"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_scale(0.0, 1.0)),
            &["scale", "0"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_scale(1.2, 0.8)),
            &["scale", "(1.2, 0.8)"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_shear(-3.0)),
            &["shear", "-3"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_shear(95.0)),
            &["shear", "95"],
        ),
        (
            err(RandomAffine::new(0.0)
                .unwrap()
                .with_shear_ranges((0.0, 1.0), Some((5.0, 2.0)))),
            &["shear", "(5, 2)"],
        ),
        (
            err(RandomAffine::new(0.0).unwrap().with_fill(f32::NAN)),
            &["fill", "NaN"],
        ),
        (err(GaussianBlur::new(0)), &["kernel_size", "0"]),
        (err(GaussianBlur::new(4)), &["kernel_size", "4", "odd"]),
        (err(GaussianBlur::with_kernel(3, 6)), &["kernel_size", "6"]),
        (
            err(GaussianBlur::new(3).unwrap().with_sigma(0.0, 1.0)),
            &["sigma", "0"],
        ),
        (
            err(GaussianBlur::new(3).unwrap().with_sigma(2.0, 1.0)),
            &["sigma", "(2, 1)"],
        ),
        (err(ShearPretext::new(vec![])), &["levels", "empty"]),
        (
            err(ShearPretext::new(vec![0.0, f32::NAN])),
            &["levels", "NaN"],
        ),
        (err(MultiView::new(vec![])), &["transforms", "empty"]),
        (
            err(MultiView::repeat(0, RandomHorizontalFlip::default)),
            &["n", "0"],
        ),
        (
            err(Image::new(3, 4, 4, vec![0.0; 47])),
            &["image data", "47", "48"],
        ),
        (
            err(Image::from_chw_u8(&[0; 10], 3, 2, 2)),
            &["image data", "10", "12"],
        ),
        (
            err(SimClrTransform::new(
                TwoViewConfig::cifar10().with_grayscale_prob(1.5),
            )),
            &["p", "1.5"],
        ),
        (
            err(SimClrTransform::new(
                TwoViewConfig::cifar10().with_input_size(0),
            )),
            &["size", "0"],
        ),
        (
            err(SimSiamTransform::new(
                TwoViewConfig::cifar10().with_color_jitter(0.4, 0.4, 0.4, 0.7),
            )),
            &["hue", "0.7"],
        ),
        (
            err(SimClrTransform::new(
                TwoViewConfig::cifar10().with_crop_scale(0.5, 0.2),
            )),
            &["scale", "(0.5, 0.2)"],
        ),
        (
            err(SimClrTransform::new(
                TwoViewConfig::cifar10().with_normalize(Some((vec![0.5; 3], vec![0.0; 3]))),
            )),
            &["std", "0"],
        ),
    ];
    for (msg, needles) in cases {
        for needle in needles {
            assert!(
                msg.contains(needle),
                "error {msg:?} does not mention {needle:?}"
            );
        }
        assert!(
            msg.chars().next().unwrap().is_lowercase(),
            "error message {msg:?} is not lowercase"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// BYOL's asymmetric pair, multi-crop (DINO, SwAV) and the other methods' CIFAR-10 presets.
// ---------------------------------------------------------------------------------------------

/// The knobs every preset here shares with SimCLR's CIFAR view: flip 0.5, jitter p 0.8,
/// grayscale 0.2, default crop ratio.
fn assert_common_knobs(cfg: &TwoViewConfig) {
    assert_eq!(cfg.hflip_prob, 0.5);
    assert_eq!(cfg.color_jitter_prob, 0.8);
    assert_eq!(cfg.grayscale_prob, 0.2);
    assert_eq!(cfg.crop_ratio, RandomResizedCrop::DEFAULT_RATIO);
}

fn blur_p(cfg: &TwoViewConfig) -> Option<f32> {
    cfg.blur.as_ref().map(|b| b.p)
}

fn solarize_p(cfg: &TwoViewConfig) -> Option<f32> {
    cfg.solarize.as_ref().map(|s| s.p)
}

fn cifar_normalize() -> Option<(Vec<f32>, Vec<f32>)> {
    Some((
        Normalize::CIFAR10_MEAN.to_vec(),
        Normalize::CIFAR10_STD.to_vec(),
    ))
}

fn imagenet_normalize() -> Option<(Vec<f32>, Vec<f32>)> {
    Some((
        Normalize::IMAGENET_MEAN.to_vec(),
        Normalize::IMAGENET_STD.to_vec(),
    ))
}

#[test]
fn byol_presets_have_the_papers_and_solo_learns_knobs() {
    // BYOL Table 6 / lightly BYOLTransform.
    let t = ByolTransform::imagenet();
    for cfg in [t.view1_config(), t.view2_config()] {
        assert_common_knobs(cfg);
        assert_eq!(cfg.input_size, 224);
        assert_eq!(cfg.crop_scale, (0.08, 1.0));
        assert_eq!(cfg.color_jitter, (0.4, 0.4, 0.2, 0.1));
        assert_eq!(cfg.normalize, imagenet_normalize());
        let blur = cfg.blur.as_ref().expect("blur on both views");
        assert_eq!((blur.kernel_size, blur.sigma), (23, (0.1, 2.0)));
    }
    assert_eq!(blur_p(t.view1_config()), Some(1.0));
    assert_eq!(blur_p(t.view2_config()), Some(0.1));
    assert_eq!(solarize_p(t.view1_config()), None);
    assert_eq!(solarize_p(t.view2_config()), Some(0.2));
    assert_eq!(t.view2_config().solarize.as_ref().unwrap().threshold, 0.5);

    // solo-learn asymmetric.yaml.
    let t = ByolTransform::cifar10();
    for cfg in [t.view1_config(), t.view2_config()] {
        assert_common_knobs(cfg);
        assert_eq!(cfg.input_size, 32);
        assert_eq!(cfg.crop_scale, (0.08, 1.0));
        assert_eq!(cfg.color_jitter, (0.4, 0.4, 0.2, 0.1));
        assert_eq!(cfg.normalize, cifar_normalize());
        assert_eq!(blur_p(cfg), None, "no blur on 32 × 32 images");
    }
    assert_eq!(solarize_p(t.view1_config()), None);
    assert_eq!(solarize_p(t.view2_config()), Some(0.2));
    // crop, flip, jitter, grayscale, normalize; view 2 adds the solarization.
    assert_eq!(t.view1_transform().len(), 5);
    assert_eq!(t.view2_transform().len(), 6);
}

#[test]
fn byol_views_come_from_their_own_pipelines_in_order() {
    let t = ByolTransform::cifar10();
    let img = test_image(20);
    assert_eq!(t.num_views(), 2);
    let views = t.views(&img, &mut rng_for(3, 1, 4));
    assert_eq!(views.len(), 2);
    assert!(views.iter().all(|v| v.shape() == [3, 32, 32]));
    // View 1 from view 1's pipeline, then view 2 from view 2's, from one stream.
    let mut rng = rng_for(3, 1, 4);
    let a = t.view1_transform().apply_ref(&img, &mut rng);
    let b = t.view2_transform().apply_ref(&img, &mut rng);
    assert_eq!(views, vec![a, b]);
    // Determinism per (seed, epoch, index).
    assert_eq!(
        t.pair(&img, &mut rng_for(3, 1, 4)),
        (views[0].clone(), views[1].clone())
    );
    assert_ne!(views, t.views(&img, &mut rng_for(3, 1, 5)));
    // The ImageNet pair: 224-pixel views.
    let imagenet = ByolTransform::imagenet();
    let (a, b) = imagenet.pair(&img, &mut rng_for(0, 0, 0));
    assert_eq!((a.shape(), b.shape()), ([3, 224, 224], [3, 224, 224]));
}

#[test]
fn other_method_cifar10_presets_follow_solo_learn() {
    // vicreg.yaml: symmetric, scale (0.2, 1), jitter (0.4, 0.4, 0.2, 0.1), solarize 0.1.
    let vicreg = VicRegTransform::cifar10();
    let cfg = vicreg.config();
    assert_common_knobs(cfg);
    assert_eq!(cfg.input_size, 32);
    assert_eq!(cfg.crop_scale, (0.2, 1.0));
    assert_eq!(cfg.color_jitter, (0.4, 0.4, 0.2, 0.1));
    assert_eq!(blur_p(cfg), None);
    assert_eq!(solarize_p(cfg), Some(0.1));
    assert_eq!(cfg.normalize, cifar_normalize());
    assert_eq!(vicreg.num_views(), 2);

    // mocov2plus.yaml → symmetric_weak.yaml: scale (0.08, 1), jitter (0.4, 0.4, 0.4, 0.1),
    // blur 0.5, no solarization.
    let moco = MocoV2Transform::cifar10();
    let cfg = moco.config();
    assert_common_knobs(cfg);
    assert_eq!(cfg.crop_scale, (0.08, 1.0));
    assert_eq!(cfg.color_jitter, (0.4, 0.4, 0.4, 0.1));
    assert_eq!(blur_p(cfg), Some(0.5));
    assert_eq!(cfg.blur.as_ref().unwrap().kernel_size, 13);
    assert_eq!(solarize_p(cfg), None);
    let (a, b) = moco.pair(&test_image(21), &mut rng_for(0, 0, 0));
    assert_eq!((a.shape(), b.shape()), ([3, 32, 32], [3, 32, 32]));

    // SimCLR / SimSiam keep their preset.
    assert_eq!(
        SimClrTransform::cifar10().config(),
        &TwoViewConfig::cifar10()
    );
}

#[test]
fn dino_and_swav_multi_crop_follow_lightly() {
    let img = test_image(22);
    let dino = MultiCropTransform::dino();
    assert_eq!((dino.n_global(), dino.n_local()), (2, 6));
    assert_eq!((dino.global_size(), dino.local_size()), (224, 96));
    for cfg in dino.global_configs() {
        assert_common_knobs(cfg);
        assert_eq!(cfg.crop_scale, (0.4, 1.0));
        assert_eq!(cfg.color_jitter, (0.4, 0.4, 0.2, 0.1));
        assert_eq!(cfg.normalize, imagenet_normalize());
    }
    let [g0, g1] = dino.global_configs() else {
        panic!("two global views")
    };
    let local = dino.local_config();
    assert_eq!(local.crop_scale, (0.05, 0.4));
    assert_eq!(local.color_jitter, (0.4, 0.4, 0.2, 0.1));
    assert_eq!(
        (blur_p(g0), blur_p(g1), blur_p(local)),
        (Some(1.0), Some(0.1), Some(0.5))
    );
    assert_eq!(
        (solarize_p(g0), solarize_p(g1), solarize_p(local)),
        (None, Some(0.2), None)
    );

    let swav = MultiCropTransform::swav();
    assert_eq!((swav.n_global(), swav.n_local()), (2, 6));
    assert_eq!((swav.global_size(), swav.local_size()), (224, 96));
    for cfg in swav.global_configs() {
        assert_common_knobs(cfg);
        assert_eq!(cfg.crop_scale, (0.14, 1.0));
        assert_eq!(cfg.color_jitter, (0.8, 0.8, 0.8, 0.2));
        assert_eq!((blur_p(cfg), solarize_p(cfg)), (Some(0.5), None));
    }
    assert_eq!(swav.local_config().crop_scale, (0.05, 0.14));
    assert_eq!(blur_p(swav.local_config()), Some(0.5));

    for t in [&dino, &swav] {
        assert_eq!(t.num_views(), 8);
        let views = t.views(&img, &mut rng_for(1, 2, 3));
        assert_eq!(views.len(), 8);
        for (k, v) in views.iter().enumerate() {
            let side = if k < t.n_global() { 224 } else { 96 };
            assert_eq!(v.shape(), [3, side, side], "view {k}");
        }
    }
}

#[test]
fn multi_crop_cifar10_presets_and_local_views() {
    let img = test_image(23);
    // dino.yaml takes asymmetric.yaml: the BYOL pair, no local crops.
    let dino = MultiCropTransform::dino_cifar10();
    let byol = ByolTransform::cifar10();
    assert_eq!(
        dino.global_configs(),
        &[byol.view1_config().clone(), byol.view2_config().clone()]
    );
    assert_eq!(
        (dino.n_global(), dino.n_local(), dino.num_views()),
        (2, 0, 2)
    );
    // Same configs, same stream: the same views as the BYOL pair.
    let views = dino.views(&img, &mut rng_for(5, 0, 9));
    let (a, b) = byol.pair(&img, &mut rng_for(5, 0, 9));
    assert_eq!(views, vec![a, b]);

    // swav.yaml takes symmetric.yaml.
    let swav = MultiCropTransform::swav_cifar10();
    assert_eq!((swav.n_global(), swav.n_local()), (2, 0));
    for cfg in swav.global_configs() {
        assert_common_knobs(cfg);
        assert_eq!(cfg.input_size, 32);
        assert_eq!(cfg.crop_scale, (0.08, 1.0));
        assert_eq!(cfg.color_jitter, (0.8, 0.8, 0.8, 0.2));
        assert_eq!((blur_p(cfg), solarize_p(cfg)), (Some(0.5), None));
        assert_eq!(cfg.normalize, cifar_normalize());
    }

    // Local views: the first global view's colour pipeline at a new size and scale.
    let t = MultiCropTransform::dino_cifar10()
        .with_local_views(6, 16, (0.05, 0.4))
        .unwrap();
    assert_eq!((t.n_global(), t.n_local(), t.num_views()), (2, 6, 8));
    assert_eq!((t.global_size(), t.local_size()), (32, 16));
    let expected_local = t.global_configs()[0]
        .clone()
        .with_input_size(16)
        .with_crop_scale(0.05, 0.4);
    assert_eq!(t.local_config(), &expected_local);
    let views = t.views(&img, &mut rng_for(7, 7, 7));
    let shapes: Vec<[usize; 3]> = views.iter().map(Image::shape).collect();
    assert_eq!(
        shapes,
        [vec![[3, 32, 32]; 2], vec![[3, 16, 16]; 6]].concat()
    );
    // Global views are drawn first: adding local views leaves them unchanged.
    assert_eq!(views[..2], dino.views(&img, &mut rng_for(7, 7, 7))[..]);
    // Every local view is its own draw.
    let distinct: HashSet<Vec<u8>> = views[2..].iter().map(Image::to_chw_u8).collect();
    assert_eq!(distinct.len(), 6);
    // Removing them again.
    let none = t.with_local_views(0, 16, (0.05, 0.4)).unwrap();
    assert_eq!(none.num_views(), 2);
}

#[test]
fn multi_crop_is_deterministic_per_triple() {
    let t = MultiCropTransform::swav_cifar10()
        .with_local_views(4, 8, (0.05, 0.14))
        .unwrap();
    let img = test_image(24);
    let a = t.views(&img, &mut rng_for(7, 3, 100));
    assert_eq!(a, t.views(&img, &mut rng_for(7, 3, 100)));
    assert_ne!(a, t.views(&img, &mut rng_for(7, 3, 101)), "other index");
    assert_ne!(a, t.views(&img, &mut rng_for(7, 4, 100)), "other epoch");
    assert_ne!(a, t.views(&img, &mut rng_for(8, 3, 100)), "other seed");
    assert_ne!(a[0], a[1], "the global views are independent draws");
}

#[test]
fn multi_crop_rejects_bad_hyper_parameters() {
    let cases: Vec<(String, &[&str])> = vec![
        (
            err(MultiCropTransform::new(vec![], TwoViewConfig::cifar10(), 2)),
            &["global", "empty"],
        ),
        (
            err(MultiCropTransform::dino_cifar10().with_local_views(2, 0, (0.05, 0.4))),
            &["size", "0"],
        ),
        (
            err(MultiCropTransform::dino_cifar10().with_local_views(2, 8, (0.5, 0.2))),
            &["scale", "(0.5, 0.2)"],
        ),
        (
            err(MultiCropTransform::new(
                vec![TwoViewConfig::cifar10().with_hflip_prob(2.0)],
                TwoViewConfig::cifar10(),
                0,
            )),
            &["p", "2"],
        ),
        (
            err(ByolTransform::new(
                TwoViewConfig::cifar10(),
                TwoViewConfig::cifar10().with_grayscale_prob(-1.0),
            )),
            &["p", "-1"],
        ),
    ];
    for (msg, needles) in cases {
        for needle in needles {
            assert!(
                msg.contains(needle),
                "error {msg:?} does not mention {needle:?}"
            );
        }
    }
}

/// Pretext views are one size whatever the image's (a folder's photographs), and on images
/// already that size (CIFAR) they are the CIFAR pipeline's, draw for draw.
#[test]
fn pretext_views_are_image_size_squares_and_cifars_on_cifar() {
    use selfsup_data::PretextViews;
    let views = PretextViews::new(32, Normalize::cifar10()).unwrap();
    for (h, w) in [(20, 45), (90, 33), (32, 32), (32, 64)] {
        let img = Image::new(
            3,
            h,
            w,
            (0..3 * h * w).map(|i| (i % 17) as f32 / 16.0).collect(),
        )
        .unwrap();
        let (made, labels) = views.labeled_views(&img, &mut TransformRng::from_u64(3));
        assert_eq!(made[0].shape(), [3, 32, 32], "{h}×{w}");
        assert_eq!(labels.len(), 3);
        if (h, w) == (32, 32) {
            let cifar = PretextViews::cifar10().labeled_views(&img, &mut TransformRng::from_u64(3));
            assert_eq!(cifar.1, labels);
            assert_eq!(cifar.0[0].data(), made[0].data());
        }
    }
    assert!(PretextViews::new(0, Normalize::cifar10()).is_err());
}
