//! The same loop compiled twice: for the baseline x86-64 (SSE2) and for AVX2, chosen at run time.
//!
//! Rust builds for the baseline x86-64 CPU, so an image loop vectorises four `f32` lanes wide.
//! Loops that dominate the augmentations (the Gaussian blur's rows, the hue shift) are compiled
//! a second time with AVX2 enabled (eight lanes) and that copy runs when the CPU has AVX2. The
//! copies do the same operations in the same order, without fused multiply-adds (FMA is not
//! enabled), so their results are identical, bit for bit, whatever CPU runs them.

/// Defines `$name`, which runs `$body` compiled for AVX2 when the CPU has it, and as compiled
/// for the baseline otherwise; `$body` is the inlined function `$inner`.
macro_rules! avx2_dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $inner:ident) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $inner($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: `avx2` is only compiled with more instructions allowed; the CPU
                    // has them, as checked on the line above.
                    #[allow(unsafe_code)]
                    unsafe {
                        return avx2($($arg),*);
                    }
                }
            }
            $inner($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;
