//! The memory allocator's settings for a training process.
//!
//! A training step allocates the same large tensors every step (a ResNet-18's activations at
//! batch 64 are blocks of 16 and 32 MiB) and frees them by the end of it. glibc's `malloc` gives
//! each block from 32 MiB up (its dynamic `mmap` threshold tops out there) its own `mmap` and
//! unmaps it when freed, so every step maps them again and the kernel zeroes each of their pages
//! on first touch. [`keep_freed_memory`] has them come from the heap and stay there, to be reused
//! by the next step. PyTorch's performance tuning guide suggests jemalloc or TCMalloc for the
//! same reason; this is the setting without a second allocator. It applies to the whole
//! process: Rust's allocations and libtorch's alike (both go through `malloc`).

/// Keeps freed memory in the process for reuse instead of returning it to the system: on Linux
/// with glibc, `mallopt(M_MMAP_MAX, 0)` (no block gets its own mapping) and
/// `mallopt(M_TRIM_THRESHOLD, i32::MAX)` (the heap's free top stays, up to 2 GiB). Measured on
/// the SimSiam ResNet-18 train step: ~2 % faster on tch and flex, peak memory within a few
/// percent (docs/benchmarks.md). Returns whether the settings took: `false` on other platforms
/// and C libraries, where it does nothing.
///
/// Call it once at the start of `main`, before large allocations (blocks already mapped stay
/// mapped until freed). The `selfsup` command line and the train-step benchmark do. It covers
/// the heap of the main thread, where the train step allocates; glibc's per-thread arenas still
/// map a block larger than their 64 MiB heaps on its own.
pub fn keep_freed_memory() -> bool {
    imp::keep_freed_memory()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    #[allow(unsafe_code)]
    pub(super) fn keep_freed_memory() -> bool {
        // SAFETY: `mallopt` only changes glibc's allocator parameters, which it reads under its
        // own lock; both values are in the ranges glibc documents for these parameters.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub(super) fn keep_freed_memory() -> bool {
        false
    }
}
