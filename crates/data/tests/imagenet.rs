//! ImageNet and ImageNet-100 file lists: classes, labels and order on tiny trees with real
//! synset names, both `val/` layouts, the devkit's `meta.mat` (scipy's fixtures and files laid
//! out as MATLAB writes them), and an error naming the problem for every broken layout.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use selfsup_data::{
    Error, IMAGENET_SETUP, IMAGENET100_CLASSES, ImageNetClasses, ImageNetFiles, ImageNetOptions,
    ImageNetSplit, read_meta_mat,
};

const TRAIN: ImageNetSplit = ImageNetSplit::Train;
const VAL: ImageNetSplit = ImageNetSplit::Val;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// A small valid JPEG, encoded once.
fn jpeg() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let img = image::RgbImage::from_fn(4, 3, |x, y| image::Rgb([x as u8 * 60, y as u8, 9]));
        let mut out = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        out
    })
}

/// Writes a JPEG at `root/relative`, creating the folders.
fn put(root: &Path, relative: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, jpeg()).unwrap();
}

fn options(classes: ImageNetClasses) -> ImageNetOptions {
    ImageNetOptions {
        classes,
        ..Default::default()
    }
}

fn list(root: &Path, split: ImageNetSplit, classes: ImageNetClasses) -> ImageNetFiles {
    ImageNetFiles::list(root, split, &options(classes)).unwrap()
}

fn list_err(root: &Path, split: ImageNetSplit, options: &ImageNetOptions) -> String {
    match ImageNetFiles::list(root, split, options) {
        Ok(files) => panic!("expected an error, listed {} files", files.len()),
        Err(err) => err.to_string(),
    }
}

/// `(path relative to root, label)` pairs.
fn relative(root: &Path, files: &ImageNetFiles) -> Vec<(String, usize)> {
    files
        .files()
        .iter()
        .map(|(p, l)| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (rel, *l)
        })
        .collect()
}

fn pairs(expected: &[(&str, usize)]) -> Vec<(String, usize)> {
    expected.iter().map(|(p, l)| (p.to_string(), *l)).collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The synsets scipy reads back from the fixtures (`tools/make_imagenet_meta_fixture.py`).
fn golden_synsets() -> Vec<(u32, String, String, u32)> {
    let text = fs::read_to_string(golden("imagenet_meta.json")).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap() as u32,
                r["wnid"].as_str().unwrap().to_string(),
                r["words"].as_str().unwrap().to_string(),
                r["num_children"].as_u64().unwrap() as u32,
            )
        })
        .collect()
}

/// Puts a devkit in `devkit` with `meta` as its meta.mat and `truth` as the ground truth.
fn put_devkit(devkit: &Path, meta: &[u8], truth: &str) {
    fs::create_dir_all(devkit.join("data")).unwrap();
    fs::write(devkit.join("data/meta.mat"), meta).unwrap();
    fs::write(
        devkit.join("data/ILSVRC2012_validation_ground_truth.txt"),
        truth,
    )
    .unwrap();
}

fn val_name(k: usize) -> String {
    format!("val/ILSVRC2012_val_{k:08}.JPEG")
}

// ---------------------------------------------------------------------------------------------
// A level-5 MAT-file writer, laid out as MATLAB writes meta.mat (and unlike scipy): chars as
// miUINT16, integer-valued doubles stored as the smallest integer type (mxDOUBLE_CLASS with
// miUINT8 / miUINT16 data), empty arrays as miMATRIX elements of no bytes. Written from
// MathWorks' "MAT-File Format" document, independently of the reader.

fn element(kind: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if data.len() <= 4 && kind != 14 {
        out.extend((((data.len() as u32) << 16) | kind).to_le_bytes());
        out.extend(data);
        out.resize(8, 0);
    } else {
        out.extend(kind.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out.resize(out.len().next_multiple_of(8), 0);
    }
    out
}

fn matrix(class: u8, dims: &[i32], name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = element(6, &[class, 0, 0, 0, 0, 0, 0, 0]);
    let dims: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
    body.extend(element(5, &dims));
    body.extend(element(1, name.as_bytes()));
    body.extend(data);
    element(14, &body)
}

fn matlab_text(s: &str) -> Vec<u8> {
    let units: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    matrix(
        4,
        &[1, s.encode_utf16().count() as i32],
        "",
        &element(4, &units),
    )
}

fn matlab_double(v: u32) -> Vec<u8> {
    let data = if v < 256 {
        element(2, &[v as u8])
    } else {
        element(4, &(v as u16).to_le_bytes())
    };
    matrix(6, &[1, 1], "", &data)
}

/// `synsets` as in the devkit: `(ILSVRC2012_ID, WNID, words)`, the other fields filled in
/// (`children` empty), preceded by another variable, each variable compressed or not.
fn matlab_meta(synsets: &[(u32, &str, &str)], compressed: bool) -> Vec<u8> {
    const FIELDS: [&str; 8] = [
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    ];
    let mut body = element(5, &32i32.to_le_bytes());
    let names: Vec<u8> = FIELDS
        .iter()
        .flat_map(|f| {
            let mut name = f.as_bytes().to_vec();
            name.resize(32, 0);
            name
        })
        .collect();
    body.extend(element(1, &names));
    for (id, wnid, words) in synsets {
        body.extend(matlab_double(*id));
        body.extend(matlab_text(wnid));
        body.extend(matlab_text(words));
        body.extend(matlab_text("a gloss"));
        body.extend(matlab_double(0));
        body.extend(element(14, &[]));
        body.extend(matlab_double(0));
        body.extend(matlab_double(1300));
    }
    let variables = [
        matrix(
            4,
            &[1, 3],
            "version",
            &element(4, &[b'1', 0, b'.', 0, b'0', 0]),
        ),
        matrix(2, &[synsets.len() as i32, 1], "synsets", &body),
    ];
    let mut header = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: test".to_vec();
    header.resize(116, b' ');
    header.extend([0; 8]);
    header.extend(0x0100u16.to_le_bytes());
    header.extend(b"IM");
    for variable in variables {
        if compressed {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&variable).unwrap();
            let z = z.finish().unwrap();
            header.extend(15u32.to_le_bytes());
            header.extend((z.len() as u32).to_le_bytes());
            header.extend(z);
        } else {
            header.extend(variable);
        }
    }
    header
}

// ---------------------------------------------------------------------------------------------

#[test]
fn imagenet100_is_cmcs_list_of_100_distinct_wnids() {
    assert_eq!(IMAGENET100_CLASSES.len(), 100);
    for wnid in IMAGENET100_CLASSES {
        let (n, digits) = wnid.split_at(1);
        assert!(
            n == "n" && digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{wnid:?} is not a WNID"
        );
    }
    let distinct: HashSet<&str> = IMAGENET100_CLASSES.iter().copied().collect();
    assert_eq!(distinct.len(), 100);
    // The first and last lines of CMC's imagenet100.txt.
    assert_eq!(IMAGENET100_CLASSES[0], "n02869837");
    assert_eq!(IMAGENET100_CLASSES[99], "n02090622");
}

#[test]
fn train_lists_synset_folders_with_sorted_labels_in_path_order() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    put(r, "train/n01484850/d.png");
    put(r, "train/n01443537/b.JPEG");
    put(r, "train/n01443537/a.jpeg");
    put(r, "train/n01443537/.hidden.JPEG");
    put(r, "train/n01440764/n01440764_10026.JPEG");
    put(r, "train/n01484850/c.JPEG");
    put(r, "train/.cache/x.JPEG");
    fs::write(r.join("train/n01443537/notes.txt"), "not an image").unwrap();
    fs::write(r.join("train/n01440764.tar"), "an archive left behind").unwrap();

    let files = list(r, TRAIN, ImageNetClasses::All);
    assert_eq!(
        files.classes(),
        strings(&["n01440764", "n01443537", "n01484850"])
    );
    assert_eq!(files.num_classes(), 3);
    assert!(!files.is_complete());
    assert_eq!(files.split(), TRAIN);
    assert_eq!(files.left_out(), 0);
    assert_eq!(
        relative(r, &files),
        pairs(&[
            ("train/n01440764/n01440764_10026.JPEG", 0),
            ("train/n01443537/a.jpeg", 1),
            ("train/n01443537/b.JPEG", 1),
            ("train/n01484850/c.JPEG", 2),
            ("train/n01484850/d.png", 2),
        ])
    );
    let mut sorted = files.files().to_vec();
    sorted.sort();
    assert_eq!(files.files(), sorted.as_slice());

    for threads in [1, 2, 7] {
        let again = ImageNetFiles::list(
            r,
            TRAIN,
            &ImageNetOptions {
                threads,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(again, files, "{threads} threads");
    }
}

#[test]
fn an_empty_synset_folder_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "train/n01440764/a.JPEG");
    fs::create_dir_all(root.path().join("train/n01443537")).unwrap();
    fs::write(root.path().join("train/n01443537/readme.txt"), "no images").unwrap();
    let err = ImageNetFiles::list(root.path(), TRAIN, &ImageNetOptions::default()).unwrap_err();
    match err {
        Error::EmptyFolder { path } => assert!(path.ends_with("train/n01443537"), "{path:?}"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn folders_that_are_not_wnids_are_an_error_naming_them() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for folder in [
        "n01440764",
        "foo",
        "n0144076",
        "N01443537",
        "n01443537x",
        ".git",
    ] {
        put(r, &format!("train/{folder}/a.JPEG"));
    }
    let err = list_err(r, TRAIN, &ImageNetOptions::default());
    for bad in [
        "\"foo\"",
        "\"n0144076\"",
        "\"N01443537\"",
        "\"n01443537x\"",
        "4 in all",
    ] {
        assert!(err.contains(bad), "{bad} not in: {err}");
    }
    assert!(!err.contains(".git"), "{err}");
    assert!(
        err.contains(&r.join("train").display().to_string()),
        "{err}"
    );

    // The same check for val/'s folders.
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "train/n01440764/a.JPEG");
    put(root.path(), "val/n01440764/b.JPEG");
    put(root.path(), "val/tench/c.JPEG");
    let err = list_err(root.path(), VAL, &ImageNetOptions::default());
    assert!(err.contains("\"tench\" (1 in all)"), "{err}");
}

#[test]
fn val_synset_folders_take_the_labels_of_train() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for class in ["n01440764", "n01443537", "n01484850"] {
        put(r, &format!("train/{class}/t.JPEG"));
    }
    put(r, "val/n01484850/ILSVRC2012_val_00000002.JPEG");
    put(r, "val/n01443537/ILSVRC2012_val_00000003.JPEG");
    put(r, "val/n01443537/ILSVRC2012_val_00000001.JPEG");

    let val = list(r, VAL, ImageNetClasses::All);
    assert_eq!(
        val.classes(),
        strings(&["n01440764", "n01443537", "n01484850"])
    );
    assert_eq!(
        relative(r, &val),
        pairs(&[
            ("val/n01443537/ILSVRC2012_val_00000001.JPEG", 1),
            ("val/n01443537/ILSVRC2012_val_00000003.JPEG", 1),
            ("val/n01484850/ILSVRC2012_val_00000002.JPEG", 2),
        ])
    );

    // A val/ class that train/ lacks has no label.
    put(r, "val/n01491361/x.JPEG");
    let err = list_err(r, VAL, &ImageNetOptions::default());
    assert!(err.contains("n01491361") && err.contains("train"), "{err}");
}

#[test]
fn a_val_holding_both_layouts_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "train/n01440764/a.JPEG");
    put(root.path(), "val/n01440764/b.JPEG");
    put(root.path(), "val/ILSVRC2012_val_00000001.JPEG");
    let err = list_err(root.path(), VAL, &ImageNetOptions::default());
    assert!(err.contains("both synset folders"), "{err}");
}

#[test]
fn flat_val_is_labelled_through_the_devkits_ground_truth_and_meta_mat() {
    let synsets = golden_synsets();
    let leaves: Vec<&(u32, String, String, u32)> = synsets.iter().filter(|s| s.3 == 0).collect();
    // The fixture's IDs are not in sorted-WNID order, so a label is not ID - 1.
    let mut sorted: Vec<&str> = leaves.iter().map(|s| s.1.as_str()).collect();
    sorted.sort();
    assert_ne!(
        sorted,
        leaves.iter().map(|s| s.1.as_str()).collect::<Vec<_>>()
    );
    let truth_ids = [3, 1, 5, 2, 4, 1];

    for fixture in ["imagenet_meta.mat", "imagenet_meta_compressed.mat"] {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for wnid in &sorted {
            put(r, &format!("train/{wnid}/t.JPEG"));
        }
        for k in 1..=truth_ids.len() {
            put(r, &val_name(k));
        }
        fs::write(r.join("val/LOC_val_solution.csv"), "not an image").unwrap();
        let truth: String = truth_ids.iter().map(|id| format!("{id}\n")).collect();
        put_devkit(
            &r.join("ILSVRC2012_devkit_t12"),
            &fs::read(golden(fixture)).unwrap(),
            &truth,
        );

        let val = list(r, VAL, ImageNetClasses::All);
        let expected: Vec<(String, usize)> = truth_ids
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let wnid = &leaves.iter().find(|s| s.0 == *id).unwrap().1;
                let label = sorted.iter().position(|w| w == wnid).unwrap();
                (val_name(k + 1), label)
            })
            .collect();
        assert_eq!(relative(r, &val), expected, "{fixture}");
        assert_eq!(val.classes(), strings(&sorted));
        assert!(
            val.files()
                .iter()
                .all(|(p, _)| p.starts_with(r.join("val")))
        );
    }
}

#[test]
fn the_devkit_can_be_given_explicitly_and_its_absence_is_named() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let r = root.path();
    put(r, "train/n02119789/t.JPEG");
    put(r, &val_name(1));
    let meta = fs::read(golden("imagenet_meta.mat")).unwrap();

    let err = ImageNetFiles::list(r, VAL, &ImageNetOptions::default()).unwrap_err();
    match err {
        Error::MissingFile { path } => assert_eq!(
            path,
            r.join("ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt")
        ),
        other => panic!("unexpected {other}"),
    }

    let devkit = elsewhere.path().join("devkit");
    put_devkit(&devkit, &meta, "1\n");
    let options = ImageNetOptions {
        devkit: Some(devkit.clone()),
        ..Default::default()
    };
    let val = ImageNetFiles::list(r, VAL, &options).unwrap();
    assert_eq!(relative(r, &val), pairs(&[(&val_name(1), 0)]));

    fs::remove_file(devkit.join("data/meta.mat")).unwrap();
    let err = ImageNetFiles::list(r, VAL, &options).unwrap_err();
    assert!(
        matches!(&err, Error::MissingFile { path } if *path == devkit.join("data/meta.mat")),
        "{err}"
    );
}

#[test]
fn bad_ground_truth_lines_are_errors_naming_the_file_and_line() {
    let meta = fs::read(golden("imagenet_meta_compressed.mat")).unwrap();
    let cases = [
        ("1\nx\n3\n", "line 2"),
        ("1\n2\n0\n", "line 3"),
        ("1\n\n3\n", "line 2"),
        ("1\n-2\n3\n", "line 2"),
        // 1001 is in meta.mat, but an inner node; 999 is not in it.
        ("1\n999\n3\n", "line 2: ILSVRC2012_ID 999 is not in"),
        ("1\n2\n", "2 lines of ground truth"),
        ("1\n2\n3\n4\n", "4 lines of ground truth"),
    ];
    for (truth, expected) in cases {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for wnid in ["n02119789", "n02100735", "n02110185"] {
            put(r, &format!("train/{wnid}/t.JPEG"));
        }
        for k in 1..=3 {
            put(r, &val_name(k));
        }
        put_devkit(&r.join("ILSVRC2012_devkit_t12"), &meta, truth);
        let err = list_err(r, VAL, &ImageNetOptions::default());
        assert!(err.contains(expected), "{truth:?}: {err}");
        assert!(
            err.contains("ILSVRC2012_validation_ground_truth.txt"),
            "{truth:?}: {err}"
        );
    }

    // Trailing blank lines and a CRLF file are fine.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for wnid in ["n02119789", "n02100735", "n02110185"] {
        put(r, &format!("train/{wnid}/t.JPEG"));
    }
    for k in 1..=3 {
        put(r, &val_name(k));
    }
    put_devkit(&r.join("ILSVRC2012_devkit_t12"), &meta, "1\r\n2\r\n3\r\n\n");
    let val = list(r, VAL, ImageNetClasses::All);
    // Sorted: n02100735 (ID 2), n02110185 (ID 3), n02119789 (ID 1).
    assert_eq!(
        val.files().iter().map(|f| f.1).collect::<Vec<_>>(),
        [2, 0, 1]
    );

    // 1001 is an inner node of meta.mat: a class without a train/ folder.
    put_devkit(&r.join("ILSVRC2012_devkit_t12"), &meta, "1\n1001\n3\n");
    let err = list_err(r, VAL, &ImageNetOptions::default());
    assert!(
        err.contains("line 2") && err.contains("n02084071") && err.contains("train"),
        "{err}"
    );
}

/// 100 ImageNet-100 folders and two others, each with one image.
fn imagenet100_train(root: &Path, except: &[&str]) -> [&'static str; 2] {
    let others = ["n01440764", "n01443537"];
    for wnid in others {
        assert!(!IMAGENET100_CLASSES.contains(&wnid));
        put(root, &format!("train/{wnid}/{wnid}_1.JPEG"));
    }
    for wnid in IMAGENET100_CLASSES {
        if !except.contains(&wnid) {
            put(root, &format!("train/{wnid}/{wnid}_1.JPEG"));
            put(root, &format!("train/{wnid}/{wnid}_2.JPEG"));
        }
    }
    others
}

#[test]
fn imagenet100_keeps_its_100_classes_sorted_and_leaves_the_others_out() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    imagenet100_train(r, &[]);
    let mut sorted: Vec<&str> = IMAGENET100_CLASSES.to_vec();
    sorted.sort();

    let train = list(r, TRAIN, ImageNetClasses::ImageNet100);
    assert_eq!(train.classes(), strings(&sorted));
    assert!(train.is_complete());
    assert_eq!(train.selection(), ImageNetClasses::ImageNet100);
    let expected: Vec<(String, usize)> = sorted
        .iter()
        .enumerate()
        .flat_map(|(label, wnid)| [1, 2].map(|i| (format!("train/{wnid}/{wnid}_{i}.JPEG"), label)))
        .collect();
    assert_eq!(relative(r, &train), expected);

    // Full ImageNet on the same root keeps every folder.
    let all = list(r, TRAIN, ImageNetClasses::All);
    assert_eq!(all.num_classes(), 102);
    assert_eq!(all.len(), 202);

    // A flat val/: images of other classes are left out; train/ is not needed.
    let picked = [IMAGENET100_CLASSES[5], IMAGENET100_CLASSES[0], "n01440764"];
    let meta = matlab_meta(
        &[
            (7, picked[0], "a class"),
            (449, picked[2], "tench, Tinca tinca"),
            (12, picked[1], "another class"),
        ],
        true,
    );
    fs::rename(r.join("train"), r.join("elsewhere")).unwrap();
    for k in 1..=4 {
        put(r, &val_name(k));
    }
    put_devkit(&r.join("ILSVRC2012_devkit_t12"), &meta, "12\n449\n7\n12\n");
    let val = list(r, VAL, ImageNetClasses::ImageNet100);
    let label = |wnid: &str| sorted.iter().position(|w| *w == wnid).unwrap();
    assert_eq!(
        relative(r, &val),
        vec![
            (val_name(1), label(picked[1])),
            (val_name(3), label(picked[0])),
            (val_name(4), label(picked[1])),
        ]
    );
    assert_eq!(val.left_out(), 1);
    assert_eq!(val.num_classes(), 100);
}

#[test]
fn imagenet100_with_missing_classes_is_an_error_listing_them() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let missing = [
        IMAGENET100_CLASSES[3],
        IMAGENET100_CLASSES[40],
        IMAGENET100_CLASSES[77],
    ];
    imagenet100_train(r, &missing);
    let err = list_err(r, TRAIN, &options(ImageNetClasses::ImageNet100));
    assert!(err.contains("ImageNet-100"), "{err}");
    assert!(err.contains("3 of its 100 classes"), "{err}");
    for wnid in missing {
        assert!(err.contains(wnid), "{wnid} not in: {err}");
    }

    // Many missing: the first few are shown, and the count.
    let root = tempfile::tempdir().unwrap();
    put(
        root.path(),
        &format!("train/{}/a.JPEG", IMAGENET100_CLASSES[0]),
    );
    let err = list_err(root.path(), TRAIN, &options(ImageNetClasses::ImageNet100));
    assert!(
        err.contains("99 of its 100 classes") && err.contains("99 in all"),
        "{err}"
    );
    let mut sorted = IMAGENET100_CLASSES[1..].to_vec();
    sorted.sort();
    assert!(
        err.contains(sorted[0]) && !err.contains(sorted[98]),
        "{err}"
    );

    // Missing from val/'s synset folders.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for wnid in &IMAGENET100_CLASSES[1..] {
        put(r, &format!("val/{wnid}/v.JPEG"));
    }
    put(r, "val/n01440764/v.JPEG");
    let err = list_err(r, VAL, &options(ImageNetClasses::ImageNet100));
    assert!(
        err.contains("1 of its 100 classes") && err.contains(IMAGENET100_CLASSES[0]),
        "{err}"
    );
    put(r, &format!("val/{}/v.JPEG", IMAGENET100_CLASSES[0]));
    let val = list(r, VAL, ImageNetClasses::ImageNet100);
    assert_eq!(val.len(), 100);
    assert!(
        val.files()
            .iter()
            .all(|(p, _)| !p.starts_with(r.join("val/n01440764")))
    );
}

#[test]
fn a_missing_root_train_or_val_explains_how_to_get_imagenet() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let check = |err: String, missing: &Path| {
        for needed in [
            "cannot be downloaded automatically",
            "https://image-net.org",
            "ILSVRC2012_img_train.tar",
            "ILSVRC2012_img_val.tar",
            "ILSVRC2012_devkit_t12.tar.gz",
            "train/",
            "n01440764/",
            "ILSVRC2012_val_00000001.JPEG",
            "ILSVRC2012_validation_ground_truth.txt",
            "meta.mat",
        ] {
            assert!(err.contains(needed), "{needed} not in: {err}");
        }
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.ends_with(IMAGENET_SETUP));
    };
    let absent = r.join("imagenet");
    check(
        list_err(&absent, TRAIN, &ImageNetOptions::default()),
        &absent,
    );
    fs::create_dir(&absent).unwrap();
    check(
        list_err(&absent, TRAIN, &ImageNetOptions::default()),
        &absent.join("train"),
    );
    // Full ImageNet's val/ takes its labels from train/.
    put(&absent, "val/n01440764/a.JPEG");
    check(
        list_err(&absent, VAL, &ImageNetOptions::default()),
        &absent.join("train"),
    );
    fs::remove_dir_all(absent.join("val")).unwrap();
    put(&absent, "train/n01440764/a.JPEG");
    check(
        list_err(&absent, VAL, &ImageNetOptions::default()),
        &absent.join("val"),
    );
    check(
        list_err(&absent, VAL, &options(ImageNetClasses::ImageNet100)),
        &absent.join("val"),
    );
}

#[test]
fn meta_mat_fixtures_read_as_scipy_reads_them() {
    let expected: Vec<(u32, String, String)> = golden_synsets()
        .into_iter()
        .map(|(id, wnid, words, _)| (id, wnid, words))
        .collect();
    for fixture in ["imagenet_meta.mat", "imagenet_meta_compressed.mat"] {
        let synsets = read_meta_mat(golden(fixture)).unwrap();
        let got: Vec<(u32, String, String)> = synsets
            .into_iter()
            .map(|s| (s.id, s.wnid, s.words))
            .collect();
        assert_eq!(got, expected, "{fixture}");
    }
}

#[test]
fn meta_mat_laid_out_as_matlab_writes_it() {
    let synsets = [
        (1, "n02119789", "kit fox, Vulpes macrotis"),
        (449, "n01440764", "tench, Tinca tinca"),
        (1001, "n02084071", "dog, domestic dog, Canis familiaris"),
    ];
    for compressed in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.mat");
        fs::write(&path, matlab_meta(&synsets, compressed)).unwrap();
        let got: Vec<(u32, String, String)> = read_meta_mat(&path)
            .unwrap()
            .into_iter()
            .map(|s| (s.id, s.wnid, s.words))
            .collect();
        let expected: Vec<(u32, String, String)> = synsets
            .iter()
            .map(|(id, w, words)| (*id, w.to_string(), words.to_string()))
            .collect();
        assert_eq!(got, expected, "compressed: {compressed}");
    }
}

fn meta_err(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.mat");
    fs::write(&path, bytes).unwrap();
    match read_meta_mat(&path) {
        Ok(s) => panic!("expected an error, read {} synsets", s.len()),
        Err(err) => {
            let err = err.to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            err
        }
    }
}

#[test]
fn a_truncated_meta_mat_is_an_error_at_every_length() {
    for fixture in ["imagenet_meta.mat", "imagenet_meta_compressed.mat"] {
        let bytes = fs::read(golden(fixture)).unwrap();
        for len in 0..bytes.len() {
            meta_err(&bytes[..len]);
        }
    }
    let bytes = matlab_meta(&[(1, "n02119789", "kit fox")], false);
    for len in 0..bytes.len() {
        meta_err(&bytes[..len]);
    }
}

#[test]
fn a_corrupted_meta_mat_is_an_error_not_a_panic() {
    let bytes = fs::read(golden("imagenet_meta.mat")).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());

    let mut big_endian = bytes.clone();
    big_endian[126..128].copy_from_slice(b"MI");
    assert!(meta_err(&big_endian).contains("big-endian"));
    let mut v73 = bytes.clone();
    v73[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
    assert!(meta_err(&v73).contains("7.3"));
    assert!(meta_err(b"not a MAT-file at all").contains("header"));

    // The variable's tag claims 4 GiB.
    assert_eq!(u32_at(128), 14, "miMATRIX");
    let mut huge = bytes.clone();
    huge[132..136].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(meta_err(&huge).contains("remain"));

    // The struct claims 2^31 - 1 elements (its first dimension: after the 16-byte flags
    // element, the dimensions' 8-byte tag).
    assert_eq!(u32_at(152), 5, "miINT32 dimensions");
    let mut many = bytes.clone();
    many[160..164].copy_from_slice(&i32::MAX.to_le_bytes());
    assert!(meta_err(&many).contains("synsets"));

    // The variable renamed: no `synsets`.
    let mut renamed = bytes.clone();
    let at = bytes.windows(7).position(|w| w == b"synsets").unwrap();
    renamed[at] = b'S';
    assert!(meta_err(&renamed).contains("no variable `synsets`"));

    // A field renamed: no ILSVRC2012_ID.
    let mut field = bytes.clone();
    let at = bytes
        .windows(13)
        .position(|w| w == b"ILSVRC2012_ID")
        .unwrap();
    field[at] = b'X';
    assert!(meta_err(&field).contains("ILSVRC2012_ID"));

    // A garbled zlib stream.
    let mut compressed = fs::read(golden("imagenet_meta_compressed.mat")).unwrap();
    for b in &mut compressed[140..200] {
        *b ^= 0x5a;
    }
    meta_err(&compressed);

    // Every byte overwritten, one at a time: an error or a result, never a panic.
    for fixture in ["imagenet_meta.mat", "imagenet_meta_compressed.mat"] {
        let bytes = fs::read(golden(fixture)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.mat");
        for at in 0..bytes.len() {
            for value in [0xff, bytes[at] ^ 0x80] {
                let mut corrupt = bytes.clone();
                corrupt[at] = value;
                fs::write(&path, &corrupt).unwrap();
                let _ = read_meta_mat(&path);
            }
        }
    }
}
