//! With the `tch` feature, bakes the libtorch directory that torch-sys linked against into the
//! rpath of the `selfsup` binary, so it finds `libtorch_cpu.so` / `libtorch_cuda.so` without
//! `LD_LIBRARY_PATH`.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
