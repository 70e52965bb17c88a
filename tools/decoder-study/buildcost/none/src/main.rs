// Smallest program that decodes one JPEG file with this crate (build-cost / binary-size probe).
fn main() {
    let data = std::fs::read(std::env::args().nth(1).expect("file")).unwrap();
    println!("{}", data.iter().map(|&b| b as u64).sum::<u64>());
}
