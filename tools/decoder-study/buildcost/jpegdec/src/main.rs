// Smallest program that decodes one JPEG file with this crate (build-cost / binary-size probe).
fn main() {
    let data = std::fs::read(std::env::args().nth(1).expect("file")).unwrap();
    let mut d = jpeg_decoder::Decoder::new(&data[..]);
    let px = d.decode().unwrap();
    println!("{:?} {}", d.info(), px.len());
}
