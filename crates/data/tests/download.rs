//! Download against a local HTTP server on 127.0.0.1 serving a small synthetic tarball: never
//! the internet.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use md5::{Digest, Md5};
use selfsup_data::{Archive, CifarDataset, Error, Split, download_archive};

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
    let test = CifarDataset::cifar10(&dir, Split::Test).unwrap();
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
    // What a killed run leaves behind: a partial file and a half-unpacked directory.
    std::fs::write(
        cache.path().join(".cifar-10-batches-bin.1.tar.gz.part"),
        b"half",
    )
    .unwrap();
    std::fs::create_dir(cache.path().join(".cifar-10-batches-bin.1.unpack")).unwrap();
    let archive = Archive {
        url: &url,
        md5: &md5,
        dir_name: "cifar-10-batches-bin",
    };
    let dir = download_archive(&archive, cache.path()).unwrap();
    assert_eq!(CifarDataset::cifar10(&dir, Split::Train).unwrap().len(), 5);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(
        leftovers(cache.path()).is_empty(),
        "{:?}",
        leftovers(cache.path())
    );
}
