// Smallest program that decodes one JPEG file with this crate (build-cost / binary-size probe).
fn main() {
    let data = std::fs::read(std::env::args().nth(1).expect("file")).unwrap();
    let img: turbojpeg::Image<Vec<u8>> = turbojpeg::decompress(&data, turbojpeg::PixelFormat::RGB).unwrap();
    println!("{}x{}", img.width, img.height);
}
