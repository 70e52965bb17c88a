// Smallest program that decodes one JPEG file with this crate (build-cost / binary-size probe).
fn main() {
    let data = std::fs::read(std::env::args().nth(1).expect("file")).unwrap();
    use mozjpeg_sys::*;
    unsafe {
        let mut err: jpeg_error_mgr = std::mem::zeroed();
        let mut c: jpeg_decompress_struct = std::mem::zeroed();
        c.common.err = jpeg_std_error(&mut err);
        jpeg_create_decompress(&mut c);
        jpeg_mem_src(&mut c, data.as_ptr(), data.len() as _);
        jpeg_read_header(&mut c, 1);
        c.out_color_space = J_COLOR_SPACE::JCS_RGB;
        jpeg_start_decompress(&mut c);
        let (w, h) = (c.output_width as usize, c.output_height as usize);
        let mut px = vec![0u8; w * h * 3];
        while (c.output_scanline as usize) < h {
            let mut row = px.as_mut_ptr().add(c.output_scanline as usize * w * 3);
            jpeg_read_scanlines(&mut c, &mut row, 1);
        }
        jpeg_finish_decompress(&mut c);
        jpeg_destroy_decompress(&mut c);
        println!("{w}x{h} {}", px.len());
    }
}
