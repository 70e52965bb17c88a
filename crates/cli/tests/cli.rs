//! The `selfsup` binary end to end, on small datasets written by the tests: every command runs,
//! writes what it says, and refuses bad input with a message naming the flag to fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::fake_cifar10;

fn selfsup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(args)
        .env_remove("SELFSUP_MIRROR")
        .output()
        .expect("the selfsup binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `selfsup args`, asserts success and returns stdout.
fn ok(args: &[&str]) -> String {
    let out = selfsup(args);
    assert!(
        out.status.success(),
        "selfsup {args:?} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs `selfsup` expecting it to fail; returns its standard error.
fn refused(args: &[&str]) -> String {
    let out = selfsup(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    text(&out.stderr)
}

/// The accuracy a command printed (`accuracy: NN.NN%`).
fn accuracy(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("accuracy: "))
        .unwrap_or_else(|| panic!("no accuracy line in:\n{stdout}"));
    let value: f64 = line.trim_end_matches('%').parse().unwrap();
    assert!((0.0..=100.0).contains(&value), "{line}");
    value
}

fn png_size(path: &Path) -> (u32, u32) {
    let image = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (image.width(), image.height())
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn pretrain_then_every_evaluation_reads_the_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("run");
    let data_args = [
        "--data-dir",
        s(&data),
        "--labels",
        "100",
        "--test-limit",
        "50",
    ];

    let out = selfsup(&[
        "pretrain",
        "simsiam",
        "--limit",
        "100",
        "--data-dir",
        s(&data),
        "--backbone",
        "small-cnn",
        "--epochs",
        "2",
        "--batch-size",
        "20",
        "--out-dir",
        s(&run),
        "--knn-every",
        "1",
        "--knn-train",
        "50",
        "--knn-test",
        "20",
        "--online-linear",
        "--workers",
        "1",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Off a terminal, the progress comes as log lines, and the epoch lines are logged too.
    assert!(stderr.contains("epoch 1/2 step 5/5"), "{stderr}");
    assert!(stderr.contains("kNN top-1"), "{stderr}");
    assert!(stderr.contains("online linear top-1"), "{stderr}");
    // The method's published recipe for CIFAR, named and shown in full, with the flags that
    // override it.
    assert!(
        stderr.contains("recipe: solo-learn's scripts/pretrain/cifar/simsiam.yaml")
            && stderr.contains("--epochs 2, --batch-size 20"),
        "{stderr}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let training = &config["training"];
    assert_eq!(training["lr"], 0.5, "solo-learn's SimSiam LR");
    assert_eq!(training["optimizer"]["weight_decay"], 1e-5);
    assert_eq!(
        training["warmup_epochs"], 1,
        "10 of 1000 epochs, scaled to 2 and rounded up"
    );
    assert!(
        config["method_config"]["fix_predictor_lr"]
            .as_bool()
            .unwrap()
    );
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("history.json")).unwrap()).unwrap();
    for epoch in history["epochs"].as_array().unwrap() {
        let top1 = epoch["online_linear_top1"]
            .as_f64()
            .expect("logged every epoch");
        assert!((0.0..=1.0).contains(&top1), "{top1}");
    }
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert!(log.contains("epoch 2/2: loss"), "{log}");
    assert_eq!(png_size(&run.join("loss.png")), (900, 540));
    // LR, kNN, online linear and the collapse monitor: four panels.
    assert_eq!(png_size(&run.join("metrics.png")), (900, 1240));
    std::fs::remove_file(run.join("loss.png")).unwrap();
    let redrawn = ok(&["plot", s(&run)]);
    assert!(
        redrawn.contains("loss.png") && run.join("loss.png").is_file(),
        "{redrawn}"
    );

    // The same command again refuses to overwrite the finished run.
    let again = selfsup(&[
        "pretrain",
        "simsiam",
        "--limit",
        "100",
        "--data-dir",
        s(&data),
        "--backbone",
        "small-cnn",
        "--epochs",
        "2",
        "--batch-size",
        "20",
        "--out-dir",
        s(&run),
    ]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--overwrite"),
        "{}",
        text(&again.stderr)
    );

    // --verify-md5 catches files that are not the official ones (these are synthetic).
    let out = selfsup(&[
        "knn",
        "--random-init",
        "--backbone",
        "small-cnn",
        "--verify-md5",
        "--data-dir",
        s(&data),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    // Both digests: the file's own and the official one.
    let batch = data.join("data_batch_1.bin");
    let official = selfsup::data::CifarVariant::Cifar10
        .official_md5("data_batch_1.bin")
        .unwrap();
    let actual = match selfsup::data::verify_md5(&batch, official) {
        Err(selfsup::data::Error::ChecksumMismatch { actual, .. }) => actual,
        other => panic!("the synthetic batch matched the official digest: {other:?}"),
    };
    assert!(
        stderr.contains(&format!(
            "{}: md5 {actual} does not match the expected {official}",
            batch.display()
        )),
        "{stderr}"
    );

    // A label budget that does not split over the classes names its flag.
    let out = selfsup(&[&["knn", s(&run), "--data-dir", s(&data), "--labels", "95"][..]].concat());
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--labels 95") && stderr.contains("10 classes"),
        "{stderr}"
    );

    let knn = ok(&[&["knn", s(&run), "--k", "5"][..], &data_args].concat());
    accuracy(&knn);
    assert!(knn.contains("airplane"), "classes are named: {knn}");
    // The checkpoint file works where the directory does.
    let checkpoint = run.join("checkpoint.ckpt");
    accuracy(&ok(&[
        &["probe", s(&checkpoint), "--epochs", "2"][..],
        &data_args,
    ]
    .concat()));
    accuracy(&ok(&[
        &["knn", "--random-init", "--backbone", "small-cnn"][..],
        &data_args,
    ]
    .concat()));

    let map = tmp.path().join("map.png");
    let embed = ok(&[
        "embed",
        s(&run),
        "--method",
        "pca",
        "--images",
        "20",
        "--out",
        s(&map),
        "--data-dir",
        s(&data),
    ]);
    assert!(embed.contains("map.csv"), "{embed}");
    let csv = std::fs::read_to_string(tmp.path().join("map.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "index,label,class,x,y");
    assert_eq!(rows.len(), 21, "{csv}");
    for row in &rows[1..] {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 5, "{row}");
        assert!(fields[3].parse::<f32>().unwrap().is_finite(), "{row}");
    }
    assert_eq!(png_size(&map), (1080, 800));

    let finetune = ok(&[
        "finetune",
        s(&run),
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--limit",
        "20",
        "--test-limit",
        "20",
        "--out-dir",
        s(&tmp.path().join("ft")),
        "--workers",
        "1",
        "--data-dir",
        s(&data),
    ]);
    accuracy(&finetune);

    // The small CNN has no torchvision counterpart: export says so.
    let export = selfsup(&[
        "export",
        s(&run),
        "--out",
        s(&tmp.path().join("e.safetensors")),
    ]);
    assert!(!export.status.success());
    assert!(
        text(&export.stderr).contains("small CNN"),
        "{}",
        text(&export.stderr)
    );
}

#[test]
fn a_resnet_run_exports_torchvision_names_and_views_draw() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("baseline");
    let stdout = ok(&[
        "baseline",
        "--limit",
        "10",
        "--test-limit",
        "10",
        "--data-dir",
        s(&data),
        "--backbone",
        "resnet18",
        "--max-steps",
        "1",
        "--batch-size",
        "10",
        "--epochs",
        "1",
        "--out-dir",
        s(&run),
        "--workers",
        "1",
    ]);
    accuracy(&stdout);
    let file = tmp.path().join("resnet18.safetensors");
    let printed = ok(&["export", s(&run), "--out", s(&file)]);
    assert!(
        printed.contains("torchvision.models.resnet18()"),
        "{printed}"
    );
    assert!(
        printed.contains("model.maxpool = torch.nn.Identity()"),
        "{printed}"
    );
    let bytes = std::fs::read(&file).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    for key in [
        "conv1.weight",
        "bn1.running_var",
        "layer4.1.bn2.num_batches_tracked",
    ] {
        assert!(header.get(key).is_some(), "{key} missing from {header}");
    }
    assert!(
        header.get("fc.weight").is_none(),
        "the encoder alone is exported"
    );

    let views = tmp.path().join("views.png");
    let printed = ok(&[
        "views",
        "byol",
        "--data-dir",
        s(&data),
        "--n",
        "3",
        "--out",
        s(&views),
    ]);
    assert!(printed.contains("2 views"), "{printed}");
    // 3 rows × (original + 2 views) of 32 × 4 pixels, 2-pixel gaps around each.
    assert_eq!(png_size(&views), (3 * 128 + 4 * 2, 3 * 128 + 4 * 2));
}

#[test]
fn own_image_folders_train_and_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("images");
    for (class, shade) in [("cats", 40u8), ("dogs", 200u8)] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        for i in 0..6u32 {
            // Different sizes and aspect ratios: the crops see each image at its own size.
            let (w, h) = (40 + 7 * i, 36 + 5 * (5 - i));
            let image = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([shade, (x * 5) as u8, (y * 5) as u8])
            });
            image
                .save(folder.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let run = tmp.path().join("run");
    let args = [
        "--dataset",
        "folder",
        "--data-dir",
        s(&folder),
        "--image-size",
        "32",
    ];
    ok(&[
        &["pretrain", "simclr"][..],
        &args,
        &[
            "--backbone",
            "small-cnn",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--workers",
            "1",
        ],
        &["--out-dir", s(&run)],
    ]
    .concat());
    let knn = ok(&[
        &["knn", s(&run), "--k", "3", "--test-dir", s(&folder)][..],
        &args,
    ]
    .concat());
    assert!(knn.contains("cats") && knn.contains("dogs"), "{knn}");
    accuracy(&knn);
    // Without held-out images the evaluation says which flag is missing.
    let out = selfsup(&[&["knn", s(&run)][..], &args].concat());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--test-dir"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn without_data_or_network_it_fails_at_once_saying_how_to_point_at_a_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let run = |extra: &[(&str, &str)], offline: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_selfsup"));
        command
            .args(["knn", "--random-init", "--backbone", "small-cnn"])
            .env("SELFSUP_CACHE_DIR", &cache);
        if offline {
            command.arg("--offline");
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let started = std::time::Instant::now();
        let out = command.output().unwrap();
        (out, started.elapsed())
    };
    // "At once": no retries, no waiting for a time-out (CI's loaded machine included).
    let (out, took) = run(&[], true);
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--offline") && stderr.contains("--data-dir"),
        "{stderr}"
    );

    // A download that cannot connect (a closed local port as the mirror) fails with the same
    // advice, and leaves nothing behind in the cache.
    let (out, took) = run(&[("SELFSUP_MIRROR", "http://127.0.0.1:9")], false);
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("could not download"), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:9/cifar-10-binary.tar.gz"),
        "{stderr}"
    );
    assert!(stderr.contains("--data-dir"), "{stderr}");
    let left: Vec<PathBuf> = std::fs::read_dir(&cache)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bad_flags_are_refused_naming_them() {
    let out = selfsup(&["pretrain", "simsam"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("simsam") && stderr.contains("barlow-twins"),
        "{stderr}"
    );

    let out = selfsup(&["pretrain", "byol", "--dataset", "folder"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--data-dir"),
        "{}",
        text(&out.stderr)
    );

    let help = ok(&["pretrain", "--help"]);
    for method in [
        "simclr",
        "simsiam",
        "byol",
        "moco",
        "moco-v3",
        "barlow-twins",
        "vicreg",
        "dino",
        "swav",
        "nnclr",
        "mae",
    ] {
        assert!(help.contains(method), "{method} missing from:\n{help}");
    }
    // Bad hyper-parameters are refused before any data is read (there is none here), naming
    // the flag.
    let empty = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--batch-size", "0"),
        ("--lr", "NaN"),
        ("--lr", "-0.1"),
        ("--epochs", "0"),
    ] {
        let out = selfsup(&[
            "pretrain",
            "simsiam",
            &format!("{flag}={value}"),
            "--data-dir",
            s(empty.path()),
            "--out-dir",
            s(&empty.path().join("run")),
        ]);
        assert!(!out.status.success(), "{flag}={value} accepted");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("error: {flag}: ")),
            "{flag}={value}: {stderr}"
        );
    }

    let out = selfsup(&["probe", "/nonexistent/run"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/nonexistent/run"),
        "{}",
        text(&out.stderr)
    );
}

/// Writes `n` JPEG photographs of various sizes into `dir/<class>/`.
fn jpeg_folder(dir: &Path, classes: &[&str], n: u32) {
    for (c, class) in classes.iter().enumerate() {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..n {
            let (w, h) = (60 + 9 * i, 48 + 4 * (n - i));
            let image = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(40 + 150 * c) as u8, (x * 3) as u8, (y * 4 + i) as u8])
            });
            image
                .save(dir.join(class).join(format!("{i}.jpg")))
                .unwrap();
        }
    }
}

#[test]
fn loader_bench_prints_images_per_second_last_for_two_views_and_multi_crop() {
    let tmp = tempfile::tempdir().unwrap();
    jpeg_folder(tmp.path(), &["a", "b"], 6);
    for views in ["byol", "dino"] {
        let out = ok(&[
            "loader-bench",
            s(tmp.path()),
            "--views",
            views,
            "--batch-size",
            "4",
            "--batches",
            "4",
            "--workers",
            "2",
            // Above 96 pixels: BYOL's ImageNet pair, DINO's ImageNet multi-crop (2 + 6).
            "--image-size",
            "112",
            "--storage",
            "stream",
        ]);
        assert!(out.contains("indexed 12 images"), "{out}");
        let expected_views = if views == "byol" { 2 } else { 8 };
        assert!(
            out.contains(&format!("{expected_views} views per image")),
            "{out}"
        );
        let last = out.lines().last().unwrap();
        let rate: f64 = last
            .strip_suffix(" images/s")
            .unwrap_or_else(|| panic!("{out}"))
            .parse()
            .unwrap();
        assert!(rate > 0.0, "{out}");
    }
}

#[test]
fn a_streamed_folder_trains_logging_its_storage_and_data_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("photos");
    jpeg_folder(&folder, &["a", "b"], 6);
    let run = tmp.path().join("run");
    let out = selfsup(&[
        "pretrain",
        "byol",
        "--dataset",
        "folder",
        "--data-dir",
        s(&folder),
        "--image-size",
        "32",
        "--storage",
        "stream",
        "--backbone",
        "small-cnn",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--workers",
        "2",
        "--out-dir",
        s(&run),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert!(log.contains("s for data"), "{log}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("streamed from disk"), "{stderr}");
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("history.json")).unwrap()).unwrap();
    assert!(history["epochs"][0]["data_wait_seconds"].as_f64().is_some());
}

#[test]
fn imagenet100_says_where_to_get_imagenet_and_reads_its_layout() {
    let tmp = tempfile::tempdir().unwrap();
    // No data: the error says how to get ImageNet and what layout is expected.
    let out = selfsup(&[
        "loader-bench",
        "--dataset",
        "imagenet100",
        "--data-dir",
        s(&tmp.path().join("nowhere")),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("image-net.org") && stderr.contains("ILSVRC2012_img_train.tar"),
        "{stderr}"
    );
    // A tiny ImageNet with all of ImageNet-100's classes (one image each) and one other class.
    let root = tmp.path().join("imagenet");
    let mut classes: Vec<&str> = selfsup::data::IMAGENET100_CLASSES.to_vec();
    classes.push("n01440764"); // tench: not one of the 100
    for split in ["train", "val"] {
        jpeg_folder(&root.join(split), &classes, 1);
    }
    let out = ok(&[
        "loader-bench",
        "--dataset",
        "imagenet100",
        "--data-dir",
        s(&root),
        "--views",
        "byol",
        "--image-size",
        "32",
        "--batch-size",
        "10",
        "--batches",
        "2",
        "--workers",
        "1",
    ]);
    assert!(out.contains("100 images"), "{out}");
    assert!(
        out.contains("ImageNet-100") || out.contains("imagenet100"),
        "{out}"
    );
}

#[test]
fn a_budget_or_limit_larger_than_the_data_is_refused_naming_the_flag_and_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let refused = |args: &[&str], message: &str| {
        let out = selfsup(args);
        assert!(!out.status.success(), "{args:?} accepted");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("error: {message}")),
            "{args:?}: {stderr}"
        );
    };
    let random = [
        "--random-init",
        "--backbone",
        "small-cnn",
        "--data-dir",
        s(&data),
    ];
    refused(
        &[&["knn"][..], &random, &["--labels", "100000"]].concat(),
        "--labels 100000: the training images number 50000",
    );
    refused(
        &[&["probe"][..], &random, &["--test-limit", "10001"]].concat(),
        "--test-limit 10001: the test images number 10000",
    );
    refused(
        &[&["embed"][..], &random, &["--images", "20000"]].concat(),
        "--images 20000: the test images number 10000",
    );
    let run = tmp.path().join("run");
    let pretrain = [
        "pretrain",
        "simsiam",
        "--data-dir",
        s(&data),
        "--backbone",
        "small-cnn",
        "--max-steps",
        "1",
        "--out-dir",
        s(&run),
    ];
    refused(
        &[&pretrain[..], &["--limit", "1000000"]].concat(),
        "--limit 1000000: the training images number 50000",
    );
    refused(
        &[&pretrain[..], &["--knn-every", "1", "--knn-train", "50001"]].concat(),
        "--knn-train 50001: the training images number 50000",
    );
    refused(
        &[&pretrain[..], &["--online-linear", "--knn-test", "10001"]].concat(),
        "--knn-test 10001: the test images number 10000",
    );
    // Nothing was trained.
    assert!(!run.join("checkpoint.ckpt").exists());

    // Defaults larger than the data (the online kNN's 5 000 and 1 000, embed's 2 000) take
    // every image there is.
    let folder = tmp.path().join("photos");
    jpeg_folder(&folder, &["a", "b"], 4);
    let folder_args = [
        "--dataset",
        "folder",
        "--data-dir",
        s(&folder),
        "--test-dir",
        s(&folder),
        "--image-size",
        "32",
    ];
    ok(&[
        &["pretrain", "simsiam"][..],
        &folder_args,
        &[
            "--backbone",
            "small-cnn",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--workers",
            "1",
            "--knn-every",
            "1",
            "--out-dir",
            s(&tmp.path().join("folder-run")),
        ],
    ]
    .concat());
    let map = tmp.path().join("map.png");
    ok(&[
        &["embed", "--random-init", "--backbone", "small-cnn"][..],
        &folder_args,
        &["--method", "pca", "--out", s(&map)],
    ]
    .concat());
    let csv = std::fs::read_to_string(tmp.path().join("map.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8, "{csv}");
}

/// The methods `selfsup pretrain` lists (clap's possible values, from its error for an unknown
/// one): every entry of `METHODS`.
fn every_method() -> Vec<String> {
    let out = selfsup(&["pretrain", "no-such-method"]);
    let stderr = text(&out.stderr);
    let list = stderr
        .split_once("possible values: ")
        .and_then(|(_, rest)| rest.split_once(']'))
        .unwrap_or_else(|| panic!("no list of methods in: {stderr}"))
        .0;
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn every_method_pretrains_on_a_folder_of_images_of_mixed_sizes() {
    let methods = every_method();
    assert!(
        methods.len() >= 10 && methods.iter().any(|m| m == "pretext"),
        "{methods:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("images");
    for (class, shade) in [("cats", 40u8), ("dogs", 200u8)] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        // Smaller and larger than the views, portrait and landscape.
        for (i, (w, h)) in [(24u32, 30u32), (57, 41), (33, 90)].into_iter().enumerate() {
            let image = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([shade, (x * 5) as u8, (y * 3) as u8])
            });
            image
                .save(folder.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    // 40 pixels: the CIFAR recipes; 72: the ImageNet-100 ones.
    for size in ["40", "72"] {
        for method in &methods {
            let run = tmp.path().join(format!("{method}-{size}"));
            let out = selfsup(
                &[
                    "pretrain",
                    method.as_str(),
                    "--dataset",
                    "folder",
                    "--data-dir",
                    s(&folder),
                    "--image-size",
                    size,
                    "--backbone",
                    // MAE masks the patches of a ViT.
                    if method == "mae" {
                        "vit-tiny"
                    } else {
                        "small-cnn"
                    },
                    "--max-steps",
                    "1",
                    "--batch-size",
                    "4",
                    "--workers",
                    "1",
                    "--out-dir",
                    s(&run),
                ]
                .into_iter()
                .chain(if method == "mae" {
                    vec!["--patch-size", "8"]
                } else {
                    vec![]
                })
                .collect::<Vec<_>>(),
            );
            assert!(
                out.status.success(),
                "{method} at {size} pixels:\n{}",
                text(&out.stderr)
            );
            let config: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap())
                    .unwrap();
            assert_eq!(
                config["run"]["image_size"].as_u64(),
                size.parse().ok(),
                "{config}"
            );
            assert!(run.join("checkpoint.ckpt").is_file(), "{method} at {size}");
        }
    }
    // The pretext views are --image-size square, whatever the image's size.
    let views = tmp.path().join("pretext.png");
    let printed = ok(&[
        "views",
        "pretext",
        "--dataset",
        "folder",
        "--data-dir",
        s(&folder),
        "--image-size",
        "40",
        "--n",
        "3",
        "--scale",
        "1",
        "--out",
        s(&views),
    ]);
    assert!(printed.contains("1 views"), "{printed}");
    // 3 rows × (original + 1 view) of 40 × 40 pixels, 2-pixel gaps around each.
    assert_eq!(png_size(&views), (2 * 40 + 3 * 2, 3 * 40 + 4 * 2));
}

/// `pretrain` for one step of a batch of 4 from 10 images of `data` into `run`: `args` are the
/// method and its flags.
fn one_step(args: &[&str], data: &Path, run: &Path) -> String {
    let mut command = vec!["pretrain"];
    command.extend(args);
    command.extend([
        "--limit",
        "10",
        "--data-dir",
        s(data),
        "--max-steps",
        "1",
        "--batch-size",
        "4",
        "--workers",
        "1",
        "--out-dir",
        s(run),
    ]);
    ok(&command)
}

#[test]
fn a_vit_run_draws_its_attention_maps_and_exports_to_timm() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("dino-vit");
    one_step(
        &[
            "dino",
            "--backbone",
            "vit-tiny",
            "--vit-depth",
            "2",
            "--vit-width",
            "128",
            "--vit-registers",
            "4",
            // The DINO paper's additions to solo-learn's dino_vit.yaml.
            "--clip-grad",
            "3",
            "--weight-decay",
            "0.04",
            "--weight-decay-end",
            "0.4",
        ],
        &data,
        &run,
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let text_config = config.to_string();
    for expected in [
        "\"clip_grad\":3.0",
        "\"weight_decay_end\":0.4",
        "\"weight_decay\":0.04",
    ] {
        assert!(
            text_config.contains(expected),
            "{expected} in {text_config}"
        );
    }
    let picture = tmp.path().join("photo.png");
    image::RgbImage::from_fn(50, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 90])
    })
    .save(&picture)
    .unwrap();
    let out = tmp.path().join("attention.png");
    let printed = ok(&[
        "attention",
        s(&run),
        "--image",
        s(&picture),
        "--out",
        s(&out),
    ]);
    assert!(printed.contains("2 heads"), "{printed}");
    // One row: the image, the mean over heads, then 2 heads; 32 × 4 pixels, 2-pixel gaps.
    assert_eq!(png_size(&out), (4 * 128 + 5 * 2, 128 + 2 * 2));
    let err = refused(&["attention", s(&run), "--image", s(&picture), "--size", "30"]);
    assert!(err.contains("multiple of the patch size 4"), "{err}");

    let file = tmp.path().join("vit.safetensors");
    let printed = ok(&["export", s(&run), "--out", s(&file)]);
    assert!(
        printed.contains(
            "VisionTransformer(img_size=32, patch_size=4, embed_dim=128, depth=2, num_heads=2"
        ) && printed.contains("reg_tokens=4")
            && printed.contains("no_embed_class=True"),
        "{printed}"
    );
    let bytes = std::fs::read(&file).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    for key in [
        "cls_token",
        "pos_embed",
        "patch_embed.proj.weight",
        "blocks.1.attn.qkv.weight",
        "norm.bias",
        "reg_token",
    ] {
        assert!(header.get(key).is_some(), "{key} missing from {header}");
    }
    assert_eq!(
        header["blocks.0.attn.qkv.weight"]["shape"],
        serde_json::json!([384, 128])
    );
    // Four registers; the position embedding covers the 64 patches only.
    assert_eq!(header["reg_token"]["shape"], serde_json::json!([1, 4, 128]));
    assert_eq!(
        header["pos_embed"]["shape"],
        serde_json::json!([1, 64, 128])
    );

    // A convolutional run has no attention maps, and the message says what does.
    let cnn = tmp.path().join("cnn");
    one_step(&["simsiam", "--backbone", "small-cnn"], &data, &cnn);
    let err = refused(&["attention", s(&cnn), "--image", s(&picture)]);
    assert!(err.contains("--backbone vit-tiny"), "{err}");
    // --patch-size is a ViT's.
    let err = refused(&[
        "pretrain",
        "simsiam",
        "--backbone",
        "small-cnn",
        "--patch-size",
        "4",
        "--data-dir",
        s(&data),
        "--out-dir",
        s(&tmp.path().join("no")),
    ]);
    assert!(err.contains("--patch-size is a ViT's"), "{err}");
    // A ViT width must make heads of 64; a decoder is MAE's, of heads of 32.
    for (args, message) in [
        (
            ["dino", "--backbone", "vit-tiny", "--vit-width", "100"],
            "--vit-width 100: a positive multiple of 64",
        ),
        (
            ["dino", "--backbone", "small-cnn", "--vit-registers", "4"],
            "--vit-registers is a ViT's",
        ),
        (
            ["simclr", "--backbone", "small-cnn", "--clip-grad", "3"],
            "--clip-grad is DINO's",
        ),
        (
            [
                "simsiam",
                "--backbone",
                "small-cnn",
                "--weight-decay-end",
                "0.4",
            ],
            "schedules AdamW's decoupled decay",
        ),
        (
            ["dino", "--backbone", "vit-tiny", "--decoder-width", "64"],
            "are MAE's; dino has no decoder",
        ),
        (
            ["mae", "--backbone", "vit-tiny", "--decoder-width", "48"],
            "--decoder-width 48: a positive multiple of 32",
        ),
    ] {
        let mut command = vec!["pretrain"];
        command.extend(args);
        let out_dir = tmp.path().join("no");
        command.extend(["--data-dir", s(&data), "--out-dir", s(&out_dir)]);
        let err = refused(&command);
        assert!(err.contains(message), "{command:?}: {err}");
    }
}

#[test]
fn an_mae_run_draws_its_reconstructions() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    fake_cifar10(&data);
    let run = tmp.path().join("mae");
    one_step(
        &[
            "mae",
            "--backbone",
            "vit-tiny",
            "--patch-size",
            "8",
            "--decoder-width",
            "64",
            "--decoder-depth",
            "1",
        ],
        &data,
        &run,
    );
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(
        config.contains("mae.yaml"),
        "the recipe is solo-learn's: {config}"
    );
    assert!(
        config.contains("\"decoder_dim\":64") || config.contains("\"decoder_dim\": 64"),
        "the decoder of --decoder-width: {config}"
    );
    let out = tmp.path().join("reconstruction.png");
    let printed = ok(&[
        "reconstruct",
        s(&run),
        "--data-dir",
        s(&data),
        "--n",
        "3",
        "--out",
        s(&out),
    ]);
    // 16 patches of 8 pixels at 75 %: 4 seen.
    assert!(printed.contains("the 4 of 16 patches"), "{printed}");
    // 3 rows × (original, masked, reconstruction) of 32 × 4 pixels, 2-pixel gaps.
    assert_eq!(png_size(&out), (3 * 128 + 4 * 2, 3 * 128 + 4 * 2));

    // Fine-tuned as MAE reports it: MAE's recipe, recorded in the run.
    let tuned = tmp.path().join("tuned");
    let finetune = ok(&[
        "finetune",
        s(&run),
        "--recipe",
        "published",
        "--drop-path",
        "0.25",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--limit",
        "10",
        "--test-limit",
        "10",
        "--workers",
        "1",
        "--data-dir",
        s(&data),
        "--out-dir",
        s(&tuned),
    ]);
    accuracy(&finetune);
    let config = std::fs::read_to_string(tuned.join("config.json")).unwrap();
    for expected in [
        "finetune/imagenet-100/mae.yaml",
        "layer_decay",
        "cutmix_alpha",
    ] {
        assert!(config.contains(expected), "{expected} in {config}");
    }
    assert!(
        config.contains("\"drop_path\":0.25") || config.contains("\"drop_path\": 0.25"),
        "--drop-path replaces the recipe's 0.1: {config}"
    );
    // Stochastic depth drops a ViT's blocks; a convolutional encoder is refused.
    let err = refused(&[
        "baseline",
        "--backbone",
        "small-cnn",
        "--drop-path",
        "0.1",
        "--data-dir",
        s(&data),
        "--out-dir",
        s(&tmp.path().join("no")),
    ]);
    assert!(
        err.contains("--drop-path 0.1") && err.contains("not a ViT"),
        "{err}"
    );
    // A convolutional encoder has no layers to decay: the message names the way out.
    let err = refused(&[
        "baseline",
        "--backbone",
        "small-cnn",
        "--recipe",
        "published",
        "--data-dir",
        s(&data),
        "--out-dir",
        s(&tmp.path().join("no")),
    ]);
    assert!(err.contains("use simsiam-cifar or adam-constant"), "{err}");

    // MAE refuses a convolutional encoder before training, naming the flag.
    let err = refused(&[
        "pretrain",
        "mae",
        "--backbone",
        "small-cnn",
        "--data-dir",
        s(&data),
        "--out-dir",
        s(&tmp.path().join("no")),
    ]);
    assert!(err.contains("--backbone vit-"), "{err}");
    // Only an MAE run has a decoder to draw with.
    let cnn = tmp.path().join("cnn");
    one_step(&["simsiam", "--backbone", "small-cnn"], &data, &cnn);
    let err = refused(&["reconstruct", s(&cnn), "--data-dir", s(&data)]);
    assert!(err.contains("not a mae one"), "{err}");
}
