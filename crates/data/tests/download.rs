//! Download against a local HTTP server on 127.0.0.1 serving a small synthetic tarball: never
//! the internet.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use md5::{Digest, Md5};
use selfsup_data::{
    Archive, CifarDataset, CifarOptions, CifarVariant, DownloadProgress, Error, Split,
    default_cache_dir, download_archive, download_archive_with_progress,
};

/// The tarball's batch files hold one record each: not the official 10 000.
const SMALL: CifarOptions = CifarOptions {
    check_official_counts: false,
    verify_md5: false,
};

/// Serves `body` with `status` to every request on a fresh port; counts the requests.
fn serve(status: &'static str, body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-10-binary.tar.gz",
        listener.local_addr().unwrap()
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, hits)
}

/// A `.tar.gz` holding `cifar-10-batches-bin/` with tiny but valid batch files.
fn synthetic_tarball(dir_name: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (k, name) in crate::CIFAR10_FILES.iter().enumerate() {
        let mut bytes = vec![k as u8];
        bytes.extend(std::iter::repeat_n(7u8, 3072));
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{dir_name}/{name}"), &bytes[..])
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn downloads_verifies_unpacks_and_then_reuses_the_cache() {
    let tarball = synthetic_tarball("cifar-10-batches-bin");
    let md5 = md5_hex(&tarball);
    let (url, hits) = serve("200 OK", tarball);
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive {
        url: &url,
        md5: &md5,
        dir_name: "cifar-10-batches-bin",
    };
    let dir = download_archive(&archive, cache.path()).unwrap();
    assert_eq!(dir, cache.path().join("cifar-10-batches-bin"));
    let test = CifarDataset::open_with(&dir, CifarVariant::Cifar10, Split::Test, &SMALL).unwrap();
    assert_eq!(test.labels(), &[5]);
    assert!(
        leftovers(cache.path()).is_empty(),
        "{:?}",
        leftovers(cache.path())
    );

    // Second call: already complete, no request made.
    download_archive(&archive, cache.path()).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn checksum_mismatch_leaves_nothing_that_looks_complete() {
    let tarball = synthetic_tarball("cifar-10-batches-bin");
    let (url, _) = serve("200 OK", tarball);
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive {
        url: &url,
        md5: "00000000000000000000000000000000",
        dir_name: "cifar-10-batches-bin",
    };
    let err = download_archive(&archive, cache.path()).unwrap_err();
    assert!(matches!(&err, Error::ChecksumMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("does not match"), "{err}");
    assert!(!cache.path().join("cifar-10-batches-bin").exists());
    assert!(
        leftovers(cache.path()).is_empty(),
        "{:?}",
        leftovers(cache.path())
    );
}

#[test]
fn http_error_and_wrong_layout_are_reported() {
    let (url, _) = serve("404 Not Found", b"no such file".to_vec());
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive {
        url: &url,
        md5: "00000000000000000000000000000000",
        dir_name: "cifar-10-batches-bin",
    };
    let err = download_archive(&archive, cache.path()).unwrap_err();
    assert!(matches!(&err, Error::Download { .. }), "{err:?}");
    assert!(err.to_string().contains("404"), "{err}");

    let tarball = synthetic_tarball("something-else");
    let md5 = md5_hex(&tarball);
    let (url, _) = serve("200 OK", tarball);
    let archive = Archive {
        url: &url,
        md5: &md5,
        dir_name: "cifar-10-batches-bin",
    };
    let err = download_archive(&archive, cache.path()).unwrap_err();
    assert!(matches!(&err, Error::Archive { .. }), "{err:?}");
    assert!(!cache.path().join("cifar-10-batches-bin").exists());
    assert!(leftovers(cache.path()).is_empty());
}

#[test]
fn an_interrupted_earlier_run_does_not_count_as_complete() {
    let tarball = synthetic_tarball("cifar-10-batches-bin");
    let md5 = md5_hex(&tarball);
    let (url, hits) = serve("200 OK", tarball);
    let cache = tempfile::tempdir().unwrap();
    // What a killed run leaves behind: a partial file, a half-unpacked directory and its lock
    // file, which the system unlocked when the process died (and, from an earlier version of
    // selfsup, the same without a lock file).
    for stem in [".cifar-10-batches-bin.1-0", ".cifar-10-batches-bin.1"] {
        let cache = cache.path();
        std::fs::write(cache.join(format!("{stem}.tar.gz.part")), b"half").unwrap();
        std::fs::create_dir(cache.join(format!("{stem}.unpack"))).unwrap();
    }
    std::fs::write(cache.path().join(".cifar-10-batches-bin.1-0.lock"), b"").unwrap();
    let archive = Archive {
        url: &url,
        md5: &md5,
        dir_name: "cifar-10-batches-bin",
    };
    let dir = download_archive(&archive, cache.path()).unwrap();
    let train = CifarDataset::open_with(&dir, CifarVariant::Cifar10, Split::Train, &SMALL).unwrap();
    assert_eq!(train.len(), 5);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(
        leftovers(cache.path()).is_empty(),
        "{:?}",
        leftovers(cache.path())
    );
}

#[test]
fn progress_is_reported_up_to_the_file_size() {
    let tarball = synthetic_tarball("cifar-10-batches-bin");
    let (size, md5) = (tarball.len() as u64, md5_hex(&tarball));
    let (url, _) = serve("200 OK", tarball);
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive {
        url: &url,
        md5: &md5,
        dir_name: "cifar-10-batches-bin",
    };
    let mut seen: Vec<DownloadProgress> = Vec::new();
    download_archive_with_progress(&archive, cache.path(), &mut |p| seen.push(p)).unwrap();
    assert_eq!(
        seen.first(),
        Some(&DownloadProgress {
            downloaded: 0,
            total: Some(size)
        })
    );
    assert_eq!(
        seen.last(),
        Some(&DownloadProgress {
            downloaded: size,
            total: Some(size)
        })
    );
    assert!(
        seen.windows(2).all(|w| w[0].downloaded <= w[1].downloaded),
        "{seen:?}"
    );

    // Already in the cache: nothing to report.
    seen.clear();
    download_archive_with_progress(&archive, cache.path(), &mut |p| seen.push(p)).unwrap();
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn an_unreachable_server_is_a_download_error_naming_the_address() {
    // A port that was just free: nothing listens there, so the connection is refused at once.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/stl10_binary.tar.gz");
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive {
        url: &url,
        md5: "00000000000000000000000000000000",
        dir_name: "stl10_binary",
    };
    let err = download_archive(&archive, cache.path()).unwrap_err();
    assert!(matches!(&err, Error::Download { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(leftovers(cache.path()).is_empty());
}

#[test]
fn the_official_archives_are_torchvisions() {
    // torchvision.datasets.STL10.url / tgz_md5, and the CIFAR pages' binary versions.
    assert_eq!(
        (
            Archive::STL10.url,
            Archive::STL10.md5,
            Archive::STL10.dir_name
        ),
        (
            "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
            "91f7769df0f17e558f3565bffb0c7dfb",
            "stl10_binary"
        )
    );
    assert_eq!(
        (
            Archive::CIFAR100.url,
            Archive::CIFAR100.md5,
            Archive::CIFAR100.dir_name
        ),
        (
            "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            "03b5dce01913d631647c71ecec9e9cb8",
            "cifar-100-binary"
        )
    );
}

/// Set in the child process of [`the_default_cache_dir_follows_the_environment`].
const CHILD: &str = "SELFSUP_DATA_TEST_PRINT_CACHE_DIR";

/// Environment variables cannot be set safely in a threaded test, so this test runs itself
/// again as a child process with the variables under test, and the child prints the answer.
#[test]
fn the_default_cache_dir_follows_the_environment() {
    if std::env::var_os(CHILD).is_some() {
        println!("cache dir = {:?}", default_cache_dir());
        return;
    }
    let run = |vars: &[(&str, &str)]| {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "download::the_default_cache_dir_follows_the_environment",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1");
        for name in ["SELFSUP_CACHE_DIR", "XDG_CACHE_HOME", "HOME"] {
            command.env_remove(name);
        }
        command.envs(vars.iter().copied());
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        // The harness prints the test's name on the same line, before the answer.
        let answer = stdout
            .lines()
            .find_map(|l| l.split_once("cache dir = "))
            .unwrap_or_else(|| panic!("no answer from the child: {stdout}"))
            .1;
        answer.to_string()
    };
    let all = [
        ("SELFSUP_CACHE_DIR", "/data/cache"),
        ("XDG_CACHE_HOME", "/xdg"),
        ("HOME", "/home/u"),
    ];
    assert_eq!(run(&all), r#"Some("/data/cache")"#);
    assert_eq!(run(&all[1..]), r#"Some("/xdg/selfsup")"#);
    assert_eq!(run(&all[2..]), r#"Some("/home/u/.cache/selfsup")"#);
    // Empty values count as unset.
    let empty = [
        ("SELFSUP_CACHE_DIR", ""),
        ("XDG_CACHE_HOME", ""),
        ("HOME", "/h"),
    ];
    assert_eq!(run(&empty), r#"Some("/h/.cache/selfsup")"#);
    assert_eq!(run(&[]), "None");
}

/// Serves `body` to every request, each on its own thread; the first response stops after half
/// the body until `release` is sent (or dropped).
fn serve_holding_the_first(body: Vec<u8>) -> (String, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-10-binary.tar.gz",
        listener.local_addr().unwrap()
    );
    let (release, held) = std::sync::mpsc::channel::<()>();
    let body = Arc::new(body);
    std::thread::spawn(move || {
        let mut held = Some(held);
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (body, held) = (body.clone(), held.take());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let half = body.len() / 2;
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body[..half]);
                let _ = stream.flush();
                if let Some(held) = held {
                    let _ = held.recv();
                }
                let _ = stream.write_all(&body[half..]);
            });
        }
    });
    (url, release)
}

/// Two downloads of one dataset into one cache at once (two threads of one process: the same
/// process id, the hardest case for temporary names). Before, they shared the temporary names:
/// the second truncated the first's partial tarball and, on finishing, deleted it, and the
/// first failed. Now each has its own names and a lock, and the clean-up of one spares the
/// other's.
#[test]
fn two_downloads_into_one_cache_at_once_both_succeed_and_the_result_is_intact() {
    let tarball = synthetic_tarball("cifar-10-batches-bin");
    let md5 = md5_hex(&tarball);
    let (url, release) = serve_holding_the_first(tarball);
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive {
        url: &url,
        md5: &md5,
        dir_name: "cifar-10-batches-bin",
    };
    let partial = || {
        std::fs::read_dir(cache.path()).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".tar.gz.part")
                && e.metadata().unwrap().len() > 0
        })
    };
    std::thread::scope(|scope| {
        let first = scope.spawn(|| download_archive(&archive, cache.path()));
        // The first download is half-way: its partial tarball is on disk.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !partial() {
            assert!(
                std::time::Instant::now() < deadline,
                "the first download never began"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The second runs from start to end meanwhile, clean-up included.
        let second = download_archive(&archive, cache.path());
        release.send(()).unwrap();
        let first = first.join().unwrap();
        let dir = cache.path().join("cifar-10-batches-bin");
        assert_eq!(first.unwrap(), dir);
        assert_eq!(second.unwrap(), dir);
    });
    let dir = cache.path().join("cifar-10-batches-bin");
    let train = CifarDataset::open_with(&dir, CifarVariant::Cifar10, Split::Train, &SMALL).unwrap();
    assert_eq!(train.labels(), &[0, 1, 2, 3, 4]);
    let test = CifarDataset::open_with(&dir, CifarVariant::Cifar10, Split::Test, &SMALL).unwrap();
    assert_eq!(test.labels(), &[5]);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, crate::CIFAR10_FILES);
    assert!(
        leftovers(cache.path()).is_empty(),
        "{:?}",
        leftovers(cache.path())
    );
}
