//! Lists the boxes whose partial decode differs from full decode + crop, for a given pad.
//! Usage: debug_pad DIR PAD
use decoder_study::moz::{MozDecoder, Opts};
use decoder_study::*;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(&a[1]);
    let pad: u32 = a[2].parse().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut m = MozDecoder::new();
    let opts = Opts { crop_pad: pad, ..Opts::default() };
    let mut rng = Rng(1);
    for p in files.iter().take(200) {
        let d = std::fs::read(p).unwrap();
        let full = m.decode(&d, None, &opts).unwrap();
        for _ in 0..200 {
            let (x0, x1) = { let a = rng.below(full.w); let b = rng.below(full.w); (a.min(b), a.max(b) + 1) };
            let (y0, y1) = { let a = rng.below(full.h); let b = rng.below(full.h); (a.min(b), a.max(b) + 1) };
            let b = BoxXywh { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
            let part = m.decode(&d, Some(b), &opts).unwrap();
            let want = full.crop(b);
            if part.data != want.data {
                let (mut cols, mut rows) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
                for y in 0..b.h {
                    for x in 0..b.w {
                        let i = ((y * b.w + x) * 3) as usize;
                        if part.data[i..i + 3] != want.data[i..i + 3] {
                            cols.insert(x + b.x);
                            rows.insert(y + b.y);
                        }
                    }
                }
                println!(
                    "{} {}x{} box {:?} x1={} y1={} cols {:?} rows {}..={} ({} rows)",
                    p.file_name().unwrap().to_string_lossy(), full.w, full.h, b, b.x + b.w, b.y + b.h,
                    cols.iter().take(6).collect::<Vec<_>>(), rows.first().unwrap(), rows.last().unwrap(), rows.len()
                );
            }
        }
    }
}
