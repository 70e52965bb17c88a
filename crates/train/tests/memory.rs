//! `memory::keep_freed_memory`: a freed large block is reused without page faults. A test
//! binary of its own, without libtest's harness, so that it runs on the main thread of a
//! process of its own (the setting is process-wide).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn main() {
    // Without the setting each such block is a fresh mapping, whose filling faults once per
    // 4 KiB page: 16 384 times for 64 MiB (checked first, so the test can tell the two apart).
    let before = faults_of_a_large_block();
    assert!(
        before > 1000,
        "a fresh 64 MiB block faulted only {before} times"
    );
    assert!(selfsup_train::memory::keep_freed_memory());
    faults_of_a_large_block();
    let after = faults_of_a_large_block();
    assert!(
        after < 64,
        "{after} page faults refilling a freed 64 MiB block"
    );
    println!("memory: a freed 64 MiB block faulted {before} times, then {after}: ok");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    assert!(!selfsup_train::memory::keep_freed_memory());
}

/// Allocates, fills and frees 64 MiB (twice glibc's largest `mmap` threshold); returns the page
/// faults the filling took.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn faults_of_a_large_block() -> u64 {
    let before = minor_faults();
    let block = vec![1u8; 64 << 20];
    std::hint::black_box(&block);
    drop(block);
    minor_faults() - before
}

/// This thread's minor page faults so far (field 10 of `/proc/thread-self/stat`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("procfs");
    // The command name, field 2, is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
    after_name
        .split(' ')
        .nth(7)
        .and_then(|field| field.parse().ok())
        .expect("a minflt field")
}
