//! decoder-study: time and cross-check JPEG decoders for selfsup.
//!
//!   decoder-study bench  DIR [REPS] [LABEL]   single-thread timings → results/bench-LABEL.csv
//!   decoder-study verify DIR [PIL_RAW_DIR]    partial-decode exactness + cross-decoder diffs
//!   decoder-study floor  DIR [REPS]           full decode vs last-row-only (Huffman floor)
//!
//! Files are read into memory before anything is timed.

use decoder_study::moz::{MozDecoder, Opts};
use decoder_study::*;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn load_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// The per-image crop boxes the bench and the checks use (deterministic per image index).
struct Boxes {
    one: BoxXywh,
    two: [BoxXywh; 2],
    dino: [BoxXywh; 8],
}

fn boxes_for(i: usize, w: u32, h: u32) -> Boxes {
    let mut rng = Rng(0xD15C0 + i as u64);
    let one = rrc_box(&mut rng, w, h, (0.08, 1.0), RATIO);
    let two = [rrc_box(&mut rng, w, h, (0.08, 1.0), RATIO), rrc_box(&mut rng, w, h, (0.08, 1.0), RATIO)];
    let mut dino = [one; 8];
    for (k, b) in dino.iter_mut().enumerate() {
        let scale = if k < 2 { (0.4, 1.0) } else { (0.05, 0.4) };
        *b = rrc_box(&mut rng, w, h, scale, RATIO);
    }
    Boxes { one, two, dino }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn bench(dir: &Path, reps: usize, label: &str) {
    let imgs = load_dir(dir);
    let mut moz = MozDecoder::new();
    let opts = Opts::default();
    let mut half = opts;
    half.scale_denom = 2;
    let dims: Vec<(u32, u32)> = imgs
        .iter()
        .map(|(_, d)| {
            let r = moz.decode(d, None, &opts).unwrap();
            (r.w, r.h)
        })
        .collect();
    let boxes: Vec<Boxes> = dims.iter().enumerate().map(|(i, &(w, h))| boxes_for(i, w, h)).collect();
    let bytes: usize = imgs.iter().map(|(_, d)| d.len()).sum();
    let pixels: u64 = dims.iter().map(|&(w, h)| w as u64 * h as u64).sum();
    let frac = |f: &dyn Fn(&Boxes) -> BoxXywh| -> f64 {
        boxes.iter().zip(&dims).map(|(b, &(w, h))| f(b).area() as f64 / (w as f64 * h as f64)).sum::<f64>()
            / imgs.len() as f64
    };
    println!(
        "{} images from {}, mean {:.1} KB, mean {:.0} px; mean box area / image: 1 RRC {:.2}, 2-box union {:.2}, 8-box union {:.2}",
        imgs.len(),
        dir.display(),
        bytes as f64 / imgs.len() as f64 / 1024.0,
        pixels as f64 / imgs.len() as f64,
        frac(&|b| b.one),
        frac(&|b| union_all(&b.two)),
        frac(&|b| union_all(&b.dino)),
    );
    type Run<'a> = Box<dyn FnMut(usize, &[u8]) -> usize + 'a>;
    let moz = std::cell::RefCell::new(moz);
    let bx = &boxes;
    let full_crop = |r: Rgb, b: BoxXywh| r.crop(b).data.len();
    let mut variants: Vec<(&str, Run)> = vec![
        ("image 0.25 (zune) full", Box::new(|_, d| decode_image(d).unwrap().data.len())),
        ("zune-jpeg 0.5 full", Box::new(|_, d| decode_zune(d).unwrap().data.len())),
        ("jpeg-decoder 0.3 full", Box::new(|_, d| decode_jpeg_decoder(d).unwrap().data.len())),
        ("libjpeg (mozjpeg-sys) full", Box::new(|_, d| moz.borrow_mut().decode(d, None, &opts).unwrap().data.len())),
        ("zune-jpeg full + crop 2-box union", Box::new(|i, d| full_crop(decode_zune(d).unwrap(), union_all(&bx[i].two)))),
        ("libjpeg 1 RRC box", Box::new(|i, d| moz.borrow_mut().decode(d, Some(bx[i].one), &opts).unwrap().data.len())),
        (
            "libjpeg 2-box union",
            Box::new(|i, d| moz.borrow_mut().decode(d, Some(union_all(&bx[i].two)), &opts).unwrap().data.len()),
        ),
        (
            "libjpeg 2 boxes, 2 decodes",
            Box::new(|i, d| {
                let mut m = moz.borrow_mut();
                m.decode(d, Some(bx[i].two[0]), &opts).unwrap().data.len()
                    + m.decode(d, Some(bx[i].two[1]), &opts).unwrap().data.len()
            }),
        ),
        (
            "libjpeg 8-box union (DINO)",
            Box::new(|i, d| moz.borrow_mut().decode(d, Some(union_all(&bx[i].dino)), &opts).unwrap().data.len()),
        ),
        ("libjpeg full, 1/2 DCT scale", Box::new(|_, d| moz.borrow_mut().decode(d, None, &half).unwrap().data.len())),
    ];
    // warm-up pass
    for (i, (_, d)) in imgs.iter().enumerate() {
        for (_, f) in variants.iter_mut() {
            black_box(f(i, d));
        }
    }
    // times[v][i][r]; variants interleaved per image so that load spikes hit all alike
    let mut times = vec![vec![Vec::with_capacity(reps); imgs.len()]; variants.len()];
    for _ in 0..reps {
        for (i, (_, d)) in imgs.iter().enumerate() {
            for (v, (_, f)) in variants.iter_mut().enumerate() {
                let t = Instant::now();
                black_box(f(i, black_box(d)));
                times[v][i].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let simd = if decoder_study::moz::simd_built() { "libjpeg SIMD (nasm)" } else { "libjpeg no SIMD" };
    println!("{simd}; {reps} reps, variants interleaved per image. Per image: median (and min) of the reps;");
    println!("columns: median over images of the per-image median, mean of it, p10/p90 of it, median over images of the per-image min (ms)");
    println!("{:<36} {:>8} {:>8} {:>8} {:>8} {:>8}", "variant", "median", "mean", "p10", "p90", "min-med");
    let mut csv = String::from("variant,median_ms,mean_ms,p10_ms,p90_ms,median_of_min_ms,images,reps,simd\n");
    for (v, (name, _)) in variants.iter().enumerate() {
        let mut mins: Vec<f64> = times[v].iter().map(|t| t.iter().cloned().fold(f64::INFINITY, f64::min)).collect();
        let mut per: Vec<f64> = times[v].iter_mut().map(|t| median(t)).collect();
        let mean = per.iter().sum::<f64>() / per.len() as f64;
        let med = median(&mut per);
        let p10 = per[per.len() / 10];
        let p90 = per[per.len() * 9 / 10];
        let mmin = median(&mut mins);
        println!("{name:<36} {med:>8.3} {mean:>8.3} {p10:>8.3} {p90:>8.3} {mmin:>8.3}");
        csv += &format!("{name},{med:.4},{mean:.4},{p10:.4},{p90:.4},{mmin:.4},{},{reps},{}\n", per.len(), decoder_study::moz::simd_built());
    }
    std::fs::create_dir_all("results").unwrap();
    std::fs::write(format!("results/bench-{label}.csv"), csv).unwrap();
}

fn random_boxes(rng: &mut Rng, w: u32, h: u32, n: usize) -> Vec<BoxXywh> {
    let mut v = Vec::new();
    for k in 0..n {
        let b = match k % 4 {
            0 => rrc_box(rng, w, h, (0.08, 1.0), RATIO),
            1 => rrc_box(rng, w, h, (0.05, 0.4), RATIO),
            2 => {
                // any box, including 1-pixel-wide ones
                let (x0, x1) = { let a = rng.below(w); let b = rng.below(w); (a.min(b), a.max(b) + 1) };
                let (y0, y1) = { let a = rng.below(h); let b = rng.below(h); (a.min(b), a.max(b) + 1) };
                BoxXywh { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
            }
            _ => {
                // touching an image edge
                let bw = 1 + rng.below(w);
                let bh = 1 + rng.below(h);
                let x = if rng.below(2) == 0 { 0 } else { w - bw };
                let y = if rng.below(2) == 0 { 0 } else { h - bh };
                BoxXywh { x, y, w: bw, h: bh }
            }
        };
        v.push(b);
    }
    v
}

fn verify(dir: &Path, pil: Option<&Path>) {
    let imgs = load_dir(dir);
    let simd = if decoder_study::moz::simd_built() { "SIMD" } else { "no SIMD" };
    println!("== exactness of libjpeg partial decode ({simd}) vs full decode + crop, {} images ==", imgs.len());
    let mut moz = MozDecoder::new();
    let per_image = 24;
    for fancy in [true, false] {
        for pad in [0u32, 1, 2, 16] {
            let opts = Opts { fancy_upsampling: fancy, crop_pad: pad, ..Opts::default() };
            let (mut n, mut bad, mut bad_w, mut bad_h) = (0u64, 0u64, 0u64, 0u64);
            let mut diff = Diff::default();
            for (i, (_, d)) in imgs.iter().enumerate() {
                let full = moz.decode(d, None, &opts).unwrap();
                let mut rng = Rng(7_000 + i as u64);
                let mut bs = random_boxes(&mut rng, full.w, full.h, per_image);
                let b = boxes_for(i, full.w, full.h);
                bs.push(b.one);
                bs.push(union_all(&b.two));
                bs.push(union_all(&b.dino));
                for bx in bs {
                    let part = moz.decode(d, Some(bx), &opts).unwrap();
                    let want = full.crop(bx);
                    let df = Diff::of(&part.data, &want.data);
                    n += 1;
                    if df.differing_pixels > 0 {
                        bad += 1;
                        if bad <= 6 && pad > 0 {
                            println!("   differs: {} {}x{} box {bx:?} (x1 {}, y1 {}): {} px", imgs[i].0, full.w, full.h, bx.x + bx.w, bx.y + bx.h, df.differing_pixels);
                        }
                        bad_w += (bx.x % 16 == 0 || bx.x + bx.w != full.w) as u64;
                        bad_h += (bx.y > 0) as u64;
                        diff.add(df);
                    }
                }
            }
            println!(
                "fancy_upsampling={fancy:<5} pad={pad:>2}: {bad}/{n} boxes differ ({} px differ, max abs {})",
                diff.differing_pixels, diff.max_abs
            );
            let _ = (bad_w, bad_h);
        }
    }

    println!("\n== full decodes compared (differing pixels / all pixels, max abs diff, mean abs diff per channel value) ==");
    let opts = Opts::default();
    let half = Opts { scale_denom: 2, ..Opts::default() };
    type Get<'a> = Box<dyn FnMut(&str, &[u8]) -> Option<Rgb> + 'a>;
    let moz = std::cell::RefCell::new(moz);
    let mut decs: Vec<(&str, Get)> = vec![
        ("libjpeg", Box::new(|_, d| Some(moz.borrow_mut().decode(d, None, &opts).unwrap()))),
        ("zune-jpeg", Box::new(|_, d| Some(decode_zune(d).unwrap()))),
        ("image", Box::new(|_, d| Some(decode_image(d).unwrap()))),
        ("jpeg-decoder", Box::new(|_, d| Some(decode_jpeg_decoder(d).unwrap()))),
    ];
    let read_raw = |dir: &Path, name: &str, suffix: &str| -> Option<Rgb> {
        let p = dir.join(format!("{name}.{suffix}"));
        let b = std::fs::read(p).ok()?;
        let (hdr, px) = b.split_at(8);
        let w = u32::from_le_bytes(hdr[0..4].try_into().unwrap());
        let h = u32::from_le_bytes(hdr[4..8].try_into().unwrap());
        Some(Rgb { w, h, data: px.to_vec() })
    };
    if let Some(p) = pil {
        decs.push(("PIL", Box::new(move |name, _| read_raw(p, name, "rgb"))));
    }
    let k = decs.len();
    let mut pairs = vec![vec![(0u64, Diff::default()); k]; k];
    let mut half_diff = (0u64, Diff::default());
    for (name, d) in &imgs {
        let outs: Vec<Option<Rgb>> = decs.iter_mut().map(|(_, f)| f(name, d)).collect();
        for a in 0..k {
            for b in a + 1..k {
                if let (Some(x), Some(y)) = (&outs[a], &outs[b]) {
                    assert_eq!((x.w, x.h), (y.w, y.h), "{name}");
                    let df = Diff::of(&x.data, &y.data);
                    pairs[a][b].0 += (df.differing_pixels == 0) as u64;
                    pairs[a][b].1.add(df);
                }
            }
        }
        if let Some(p) = pil {
            if let Some(ph) = read_raw(p, name, "half.rgb") {
                let mh = moz.borrow_mut().decode(d, None, &half).unwrap();
                if (mh.w, mh.h) == (ph.w, ph.h) {
                    let df = Diff::of(&mh.data, &ph.data);
                    half_diff.0 += (df.differing_pixels == 0) as u64;
                    half_diff.1.add(df);
                } else {
                    println!("{name}: 1/2 scale sizes differ {}x{} vs {}x{}", mh.w, mh.h, ph.w, ph.h);
                }
            }
        }
    }
    for a in 0..k {
        for b in a + 1..k {
            let (same, df) = pairs[a][b];
            if df.pixels == 0 {
                continue;
            }
            println!(
                "{:>12} vs {:<12}: identical images {same}/{}; differing px {:.3}%; max abs {}; mean abs {:.4}",
                decs[a].0,
                decs[b].0,
                imgs.len(),
                100.0 * df.differing_pixels as f64 / df.pixels as f64,
                df.max_abs,
                df.sum_abs as f64 / (3 * df.pixels) as f64,
            );
        }
    }
    if half_diff.1.pixels > 0 {
        let (same, df) = half_diff;
        println!(
            "libjpeg 1/2 scale vs PIL draft 1/2: identical images {same}/{}; differing px {:.3}%; max abs {}",
            imgs.len(),
            100.0 * df.differing_pixels as f64 / df.pixels as f64,
            df.max_abs
        );
    }
}

/// How much of a libjpeg decode is Huffman decoding, which crop/skip cannot avoid:
/// full decode vs a decode of only the last row (everything above is entropy-decoded
/// and skipped), interleaved per image.
fn floor(dir: &Path, reps: usize) {
    let imgs = load_dir(dir);
    let mut moz = MozDecoder::new();
    let opts = Opts::default();
    let dims: Vec<(u32, u32)> = imgs.iter().map(|(_, d)| { let r = moz.decode(d, None, &opts).unwrap(); (r.w, r.h) }).collect();
    let mut t = [vec![Vec::new(); imgs.len()], vec![Vec::new(); imgs.len()]];
    for _ in 0..reps {
        for (i, (_, d)) in imgs.iter().enumerate() {
            let (w, h) = dims[i];
            for (k, roi) in [None, Some(BoxXywh { x: 0, y: h - 1, w, h: 1 })].into_iter().enumerate() {
                let t0 = Instant::now();
                black_box(moz.decode(black_box(d), roi, &opts).unwrap());
                t[k][i].push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let simd = if decoder_study::moz::simd_built() { "SIMD" } else { "no SIMD" };
    for (k, name) in ["full decode", "last row only (Huffman floor)"].iter().enumerate() {
        let mut mins: Vec<f64> = t[k].iter().map(|v| v.iter().cloned().fold(f64::INFINITY, f64::min)).collect();
        let mut meds: Vec<f64> = t[k].iter_mut().map(|v| median(v)).collect();
        println!("libjpeg ({simd}) {name:<32} median {:.3} ms, median of per-image min {:.3} ms", median(&mut meds), median(&mut mins));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("bench") => bench(
            Path::new(&args[2]),
            args.get(3).map_or(5, |s| s.parse().unwrap()),
            args.get(4).map_or("run", |s| s.as_str()),
        ),
        Some("floor") => floor(Path::new(&args[2]), args.get(3).map_or(5, |s| s.parse().unwrap())),
        Some("verify") => verify(Path::new(&args[2]), args.get(3).map(Path::new)),
        _ => eprintln!("usage: decoder-study bench DIR [REPS] [LABEL] | verify DIR [PIL_RAW_DIR]"),
    }
}
