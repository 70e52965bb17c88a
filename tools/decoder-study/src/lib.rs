//! JPEG decoder study for selfsup: thin wrappers around each candidate decoder,
//! torchvision-style RandomResizedCrop box sampling, and pixel comparison helpers.
//!
//! Every decoder returns interleaved 8-bit RGB (`Rgb`), row-major, no padding.

use std::io::Cursor;

/// An 8-bit RGB image, rows packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    pub w: u32,
    pub h: u32,
    pub data: Vec<u8>,
}

/// A pixel box: columns `x..x+w`, rows `y..y+h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxXywh {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl BoxXywh {
    pub fn union(self, o: BoxXywh) -> BoxXywh {
        let x0 = self.x.min(o.x);
        let y0 = self.y.min(o.y);
        let x1 = (self.x + self.w).max(o.x + o.w);
        let y1 = (self.y + self.h).max(o.y + o.h);
        BoxXywh { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
    }
    pub fn area(self) -> u64 {
        self.w as u64 * self.h as u64
    }
}

impl Rgb {
    /// Copy of the pixels inside `b`.
    pub fn crop(&self, b: BoxXywh) -> Rgb {
        assert!(b.x + b.w <= self.w && b.y + b.h <= self.h);
        let mut data = Vec::with_capacity(b.area() as usize * 3);
        let stride = self.w as usize * 3;
        for y in b.y..b.y + b.h {
            let s = y as usize * stride + b.x as usize * 3;
            data.extend_from_slice(&self.data[s..s + b.w as usize * 3]);
        }
        Rgb { w: b.w, h: b.h, data }
    }
}

/// Differences between two images of the same size.
#[derive(Clone, Copy, Debug, Default)]
pub struct Diff {
    pub pixels: u64,
    pub differing_pixels: u64,
    pub max_abs: u8,
    pub sum_abs: u64,
}

impl Diff {
    pub fn of(a: &[u8], b: &[u8]) -> Diff {
        assert_eq!(a.len(), b.len());
        let mut d = Diff { pixels: (a.len() / 3) as u64, ..Diff::default() };
        for (pa, pb) in a.chunks_exact(3).zip(b.chunks_exact(3)) {
            let mut any = false;
            for c in 0..3 {
                let e = pa[c].abs_diff(pb[c]);
                if e != 0 {
                    any = true;
                    d.max_abs = d.max_abs.max(e);
                    d.sum_abs += e as u64;
                }
            }
            d.differing_pixels += any as u64;
        }
        d
    }
    pub fn add(&mut self, o: Diff) {
        self.pixels += o.pixels;
        self.differing_pixels += o.differing_pixels;
        self.max_abs = self.max_abs.max(o.max_abs);
        self.sum_abs += o.sum_abs;
    }
}

// ---------------------------------------------------------------------------
// RandomResizedCrop boxes (torchvision.transforms.RandomResizedCrop.get_params)
// ---------------------------------------------------------------------------

/// SplitMix64: small, deterministic, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    /// Integer in [0, n).
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n as u64) as u32
    }
}

/// torchvision's RandomResizedCrop.get_params, on a `w`×`h` image: ten tries of
/// (area scale, log-uniform aspect ratio), then the centre-crop fallback.
pub fn rrc_box(rng: &mut Rng, w: u32, h: u32, scale: (f64, f64), ratio: (f64, f64)) -> BoxXywh {
    let area = w as f64 * h as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.uniform(scale.0, scale.1);
        let aspect = rng.uniform(lr0, lr1).exp();
        let cw = (target * aspect).sqrt().round() as i64;
        let ch = (target / aspect).sqrt().round() as i64;
        if 0 < cw && cw <= w as i64 && 0 < ch && ch <= h as i64 {
            let (cw, ch) = (cw as u32, ch as u32);
            let y = rng.below(h - ch + 1);
            let x = rng.below(w - cw + 1);
            return BoxXywh { x, y, w: cw, h: ch };
        }
    }
    let in_ratio = w as f64 / h as f64;
    let (cw, ch) = if in_ratio < ratio.0 {
        (w, (w as f64 / ratio.0).round() as u32)
    } else if in_ratio > ratio.1 {
        ((h as f64 * ratio.1).round() as u32, h)
    } else {
        (w, h)
    };
    BoxXywh { x: (w - cw) / 2, y: (h - ch) / 2, w: cw, h: ch }
}

pub const RATIO: (f64, f64) = (3.0 / 4.0, 4.0 / 3.0);

/// Bounding box of the union of `boxes`.
pub fn union_all(boxes: &[BoxXywh]) -> BoxXywh {
    boxes.iter().copied().reduce(BoxXywh::union).expect("at least one box")
}

// ---------------------------------------------------------------------------
// Rust decoders
// ---------------------------------------------------------------------------

/// `image` 0.25 as selfsup uses it (ImageReader → decoder → DynamicImage → into_rgb8),
/// from memory instead of a file.
pub fn decode_image(data: &[u8]) -> Result<Rgb, String> {
    use image::{DynamicImage, ImageDecoder, ImageReader};
    let reader = ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let _orientation = decoder.orientation().map_err(|e| e.to_string())?;
    let img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    let rgb = img.into_rgb8();
    Ok(Rgb { w: rgb.width(), h: rgb.height(), data: rgb.into_raw() })
}

/// zune-jpeg 0.5 directly: `DecoderOptions::new_fast()` (all intrinsics, unsafe paths,
/// lenient mode), RGB out.
pub fn decode_zune(data: &[u8]) -> Result<Rgb, String> {
    use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let opts = DecoderOptions::new_fast()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(1 << 16)
        .set_max_height(1 << 16);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), opts);
    let px = d.decode().map_err(|e| format!("{e:?}"))?;
    let (w, h) = d.dimensions().ok_or("no dimensions")?;
    Ok(Rgb { w: w as u32, h: h as u32, data: px })
}

/// jpeg-decoder 0.3, without its `rayon` feature (single thread).
pub fn decode_jpeg_decoder(data: &[u8]) -> Result<Rgb, String> {
    let mut d = jpeg_decoder::Decoder::new(data);
    let px = d.decode().map_err(|e| e.to_string())?;
    let info = d.info().ok_or("no info")?;
    if info.pixel_format != jpeg_decoder::PixelFormat::RGB24 {
        return Err(format!("pixel format {:?}", info.pixel_format));
    }
    Ok(Rgb { w: info.width as u32, h: info.height as u32, data: px })
}

pub mod moz;
