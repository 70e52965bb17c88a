//! Which colour spaces the libjpeg wrapper takes: `formats FILE...` prints size or error,
//! and for each FILE.rgb beside it (raw RGB from PIL) whether the pixels match.
use decoder_study::moz::{MozDecoder, Opts};
fn main() {
    let mut m = MozDecoder::new();
    for f in std::env::args().skip(1) {
        let d = std::fs::read(&f).unwrap();
        match m.decode(&d, None, &Opts::default()) {
            Ok(r) => {
                let same = std::fs::read(f.replace(".jpg", ".rgb")).ok().map(|p| p == r.data);
                println!("{f}: {}x{} RGB; equal to PIL's convert('RGB'): {same:?}", r.w, r.h)
            }
            Err(e) => println!("{f}: error: {e}"),
        }
    }
}
