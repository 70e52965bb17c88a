//! libjpeg-turbo's decoder as vendored by `mozjpeg-sys` (static, built with `cc`).
//!
//! One `MozDecoder` (one `jpeg_decompress_struct`) is reused for every image, as a loader
//! thread would. Errors: libjpeg's `error_exit` panics (needs mozjpeg-sys's `unwinding`
//! feature, which compiles the C with `-fexceptions`) and `decode` catches the panic.
//!
//! Partial decode: `jpeg_skip_scanlines` to the box's first row, `jpeg_crop_scanline`
//! on the box's columns (libjpeg widens the left edge down to an iMCU boundary, 16 px for
//! 4:2:0), read the box's rows, crop the widened rows in memory, `jpeg_abort_decompress`.

use crate::{BoxXywh, Rgb};
use mozjpeg_sys::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Options of one decode.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// libjpeg's default (TRUE) is what PIL uses.
    pub fancy_upsampling: bool,
    /// `JDCT_ISLOW` is libjpeg's and PIL's default.
    pub dct: J_DCT_METHOD,
    /// DCT-domain scaling 1/`scale_denom` (1 = none); like PIL's `draft`.
    pub scale_denom: u32,
    /// Columns added on each side of the requested box before `jpeg_crop_scanline`
    /// (then cut off in memory). 0 = ask libjpeg for exactly the box.
    pub crop_pad: u32,
}

impl Default for Opts {
    fn default() -> Self {
        Opts { fancy_upsampling: true, dct: J_DCT_METHOD::JDCT_ISLOW, scale_denom: 1, crop_pad: 2 }
    }
}

struct ErrPayload(String);

unsafe extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
    let mut buf = [0u8; 80];
    if let Some(fmt) = (*cinfo.err).format_message {
        fmt(cinfo, &buf);
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf[n..].fill(0);
    std::panic::resume_unwind(Box::new(ErrPayload(String::from_utf8_lossy(&buf[..n]).into_owned())));
}

/// Warnings (corrupt data and the like) are not printed.
unsafe extern "C-unwind" fn emit_message(_cinfo: &mut jpeg_common_struct, _level: i32) {}

pub struct MozDecoder {
    cinfo: Box<jpeg_decompress_struct>,
    _err: Box<jpeg_error_mgr>,
}

impl Default for MozDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl MozDecoder {
    pub fn new() -> Self {
        unsafe {
            let mut err: Box<jpeg_error_mgr> = Box::new(std::mem::zeroed());
            jpeg_std_error(&mut err);
            err.error_exit = Some(error_exit);
            err.emit_message = Some(emit_message);
            let mut cinfo: Box<jpeg_decompress_struct> = Box::new(std::mem::zeroed());
            cinfo.common.err = &mut *err;
            jpeg_create_decompress(&mut *cinfo);
            MozDecoder { cinfo, _err: err }
        }
    }

    /// Full decode (`roi` = None) or the pixels of `roi` only, bit-exact with a full
    /// decode cropped to `roi` when `opts.crop_pad` is large enough (see the study).
    pub fn decode(&mut self, data: &[u8], roi: Option<BoxXywh>, opts: &Opts) -> Result<Rgb, String> {
        let cinfo = &mut *self.cinfo;
        let r = catch_unwind(AssertUnwindSafe(|| unsafe { decode_inner(cinfo, data, roi, opts) }));
        unsafe { jpeg_abort_decompress(cinfo) };
        match r {
            Ok(r) => r,
            Err(p) => match p.downcast::<ErrPayload>() {
                Ok(e) => Err(e.0),
                Err(p) => std::panic::resume_unwind(p),
            },
        }
    }
}

impl Drop for MozDecoder {
    fn drop(&mut self) {
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) }
    }
}

unsafe fn read_rows(cinfo: &mut jpeg_decompress_struct, buf: &mut [u8], rows: u32) {
    let stride = cinfo.output_width as usize * cinfo.output_components as usize;
    let mut done = 0u32;
    let mut ptrs: [*mut u8; 16] = [std::ptr::null_mut(); 16];
    while done < rows {
        let n = (rows - done).min(16);
        for i in 0..n {
            ptrs[i as usize] = buf.as_mut_ptr().add((done + i) as usize * stride);
        }
        let got = jpeg_read_scanlines(cinfo, ptrs.as_mut_ptr(), n);
        if got == 0 {
            panic!("jpeg_read_scanlines returned no row");
        }
        done += got;
    }
}

unsafe fn decode_inner(
    cinfo: &mut jpeg_decompress_struct,
    data: &[u8],
    roi: Option<BoxXywh>,
    opts: &Opts,
) -> Result<Rgb, String> {
    jpeg_mem_src(cinfo, data.as_ptr(), data.len() as _);
    jpeg_read_header(cinfo, 1);
    cinfo.out_color_space = J_COLOR_SPACE::JCS_RGB;
    cinfo.do_fancy_upsampling = opts.fancy_upsampling as boolean;
    cinfo.dct_method = opts.dct;
    if opts.scale_denom > 1 {
        cinfo.scale_num = 1;
        cinfo.scale_denom = opts.scale_denom;
    }
    jpeg_start_decompress(cinfo);
    if cinfo.output_components != 3 {
        return Err(format!("{} output components", cinfo.output_components));
    }
    let (w, h) = (cinfo.output_width, cinfo.output_height);
    match roi {
        None => {
            let mut px = vec![0u8; w as usize * h as usize * 3];
            read_rows(cinfo, &mut px, h);
            Ok(Rgb { w, h, data: px })
        }
        Some(b) => {
            if b.w == 0 || b.h == 0 || b.x + b.w > w || b.y + b.h > h {
                return Err(format!("box {b:?} outside {w}x{h}"));
            }
            let cx0 = b.x.saturating_sub(opts.crop_pad);
            let cx1 = (b.x + b.w + opts.crop_pad).min(w);
            let (mut xoff, mut cw) = (cx0, cx1 - cx0);
            jpeg_crop_scanline(cinfo, &mut xoff, &mut cw);
            debug_assert!(xoff <= b.x && xoff + cw >= b.x + b.w);
            if b.y > 0 {
                let skipped = jpeg_skip_scanlines(cinfo, b.y);
                if skipped != b.y {
                    return Err(format!("skipped {skipped} of {} rows", b.y));
                }
            }
            let stride = cw as usize * 3;
            let mut wide = vec![0u8; stride * b.h as usize];
            read_rows(cinfo, &mut wide, b.h);
            if xoff == b.x && cw == b.w {
                return Ok(Rgb { w: b.w, h: b.h, data: wide });
            }
            let mut px = Vec::with_capacity(b.area() as usize * 3);
            let s = (b.x - xoff) as usize * 3;
            for row in wide.chunks_exact(stride) {
                px.extend_from_slice(&row[s..s + b.w as usize * 3]);
            }
            Ok(Rgb { w: b.w, h: b.h, data: px })
        }
    }
}

/// True when the C library was built with libjpeg-turbo's SIMD (nasm) code.
pub fn simd_built() -> bool {
    cfg!(feature = "moz-simd")
}
