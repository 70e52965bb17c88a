// Smallest program that decodes one JPEG file with this crate (build-cost / binary-size probe).
fn main() {
    let data = std::fs::read(std::env::args().nth(1).expect("file")).unwrap();
    let mut d = zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(&data[..]));
    let px = d.decode().unwrap();
    println!("{:?} {}", d.dimensions(), px.len());
}
