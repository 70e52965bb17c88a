// Smallest program that decodes one JPEG file with this crate (build-cost / binary-size probe).
fn main() {
    let data = std::fs::read(std::env::args().nth(1).expect("file")).unwrap();
    let img = image::load_from_memory(&data).unwrap().into_rgb8();
    println!("{}x{}", img.width(), img.height());
}
