//! Proves the test harness: the official tus server starts, speaks tus 1.0, and the helpers
//! read back what it stored. Uses raw `ureq` requests only (no SDK code).

use std::net::TcpStream;
use std::time::Duration;

use crate::support::{TusServer, TusServerOptions, digest, file_digest, pseudo_random_bytes};
use ureq::Agent;
use ureq::http::Response;

type Resp = Response<ureq::Body>;

fn agent() -> Agent {
    Agent::new_with_defaults()
}

fn header<'a>(resp: &'a Resp, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn options(url: &str) -> Resp {
    agent()
        .options(url)
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .call()
        .expect("OPTIONS")
}

/// POST (creation) without a body.
fn create(endpoint: &str, length: u64, metadata: Option<&str>) -> Resp {
    let mut req = agent()
        .post(endpoint)
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Content-Length", "0");
    if let Some(m) = metadata {
        req = req.header("Upload-Metadata", m);
    }
    req.send(&[][..]).expect("POST")
}

fn patch(url: &str, offset: u64, body: &[u8]) -> Resp {
    agent()
        .patch(url)
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Length", body.len().to_string())
        .send(body)
        .expect("PATCH")
}

fn head(url: &str) -> Resp {
    agent()
        .head(url)
        .config()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .header("Tus-Resumable", "1.0.0")
        .call()
        .expect("HEAD")
}

fn location(resp: &Resp) -> String {
    header(resp, "location")
        .expect("201 without Location")
        .to_string()
}

#[test]
fn options_advertises_the_file_store_extensions() {
    let server = TusServer::start();
    let resp = options(&server.endpoint());
    assert!(
        resp.status() == 200 || resp.status() == 204,
        "{}",
        resp.status()
    );
    assert_eq!(header(&resp, "tus-version"), Some("1.0.0"));
    assert_eq!(header(&resp, "tus-resumable"), Some("1.0.0"));
    let extensions: Vec<&str> = header(&resp, "tus-extension")
        .expect("Tus-Extension")
        .split(',')
        .map(str::trim)
        .collect();
    for ext in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "expiration",
    ] {
        assert!(extensions.contains(&ext), "{ext} missing in {extensions:?}");
    }
    assert!(!extensions.contains(&"concatenation"), "{extensions:?}");
    assert!(header(&resp, "tus-max-size").is_none());
}

#[test]
fn create_patch_head_and_read_back() {
    let server = TusServer::start();
    assert!(server.endpoint().starts_with("http://127.0.0.1:"));
    assert!(server.endpoint().ends_with("/files"));
    assert!(server.uploads().is_empty());

    // POST: creation, filename "hello".
    let resp = create(&server.endpoint(), 11, Some("filename aGVsbG8="));
    assert_eq!(resp.status(), 201);
    let url = location(&resp);
    assert!(
        url.starts_with(&format!("{}/", server.endpoint())),
        "Location {url}"
    );
    let id = crate::support::upload_id(&url).to_string();
    assert_eq!(server.uploads(), vec![id.clone()]);
    assert_eq!(server.stored_bytes(&url), b"");
    let info = server.info(&url);
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["size"], 11);
    assert_eq!(info["metadata"]["filename"], "hello");

    // HEAD before any data.
    let resp = head(&url);
    assert!(resp.status() == 200 || resp.status() == 204);
    assert_eq!(header(&resp, "upload-offset"), Some("0"));
    assert_eq!(header(&resp, "upload-length"), Some("11"));
    assert_eq!(header(&resp, "cache-control"), Some("no-store"));

    // PATCH all 11 bytes.
    let resp = patch(&url, 0, b"hello world");
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "upload-offset"), Some("11"));
    assert_eq!(header(&resp, "tus-resumable"), Some("1.0.0"));
    assert!(header(&resp, "upload-expires").is_none());

    // HEAD shows it; the stored bytes are what was sent.
    let resp = head(&url);
    assert_eq!(header(&resp, "upload-offset"), Some("11"));
    assert_eq!(server.stored_bytes(&url), b"hello world");
    assert_eq!(server.stored_bytes(&id), b"hello world");
    assert_eq!(server.stored_path(&url), server.dir().join(&id));
}

#[test]
fn chunked_patches_conflicts_and_missing_tus_resumable() {
    let server = TusServer::start();
    let data = pseudo_random_bytes(300_001, 7);
    let url = location(&create(&server.endpoint(), data.len() as u64, None));

    // Two PATCHes.
    let resp = patch(&url, 0, &data[..100_000]);
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "upload-offset"), Some("100000"));
    assert_eq!(server.stored_bytes(&url), &data[..100_000]);

    // Wrong offset → 409, nothing written.
    let resp = patch(&url, 5, &data[5..10]);
    assert_eq!(resp.status(), 409);
    assert_eq!(header(&head(&url), "upload-offset"), Some("100000"));

    let resp = patch(&url, 100_000, &data[100_000..]);
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "upload-offset"), Some("300001"));
    assert_eq!(digest(&server.stored_bytes(&url)), digest(&data));
    assert_eq!(file_digest(server.stored_path(&url)), digest(&data));

    // Missing Tus-Resumable → 412.
    let resp = agent()
        .head(&url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .expect("HEAD");
    assert_eq!(resp.status(), 412);

    // Unknown upload → 404.
    let resp = head(&format!("{}/doesnotexist", server.endpoint()));
    assert_eq!(resp.status(), 404);
}

#[test]
fn options_from_env_max_size_and_expiration() {
    let server = TusServer::start_with(TusServerOptions {
        expiration_ms: Some(60_000),
        max_size: Some(1000),
    });
    let resp = options(&server.endpoint());
    assert_eq!(header(&resp, "tus-max-size"), Some("1000"));

    let resp = create(&server.endpoint(), 1001, None);
    assert_eq!(resp.status(), 413);
    assert!(server.uploads().is_empty());

    let resp = create(&server.endpoint(), 10, None);
    assert_eq!(resp.status(), 201);
    let expires = header(&resp, "upload-expires")
        .expect("Upload-Expires on POST")
        .to_string();
    assert!(expires.ends_with(" GMT"), "{expires}");
    let url = location(&resp);
    // A partial PATCH repeats Upload-Expires; the completing one does not.
    let resp = patch(&url, 0, b"01234");
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "upload-expires"), Some(expires.as_str()));
    let resp = patch(&url, 5, b"56789");
    assert_eq!(resp.status(), 204);
    assert!(header(&resp, "upload-expires").is_none());
    assert_eq!(server.stored_bytes(&url), b"0123456789");
}

#[test]
fn servers_are_isolated_and_cleaned_up_on_drop() {
    let a = TusServer::start();
    let b = TusServer::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());

    let url = location(&create(&a.endpoint(), 3, None));
    assert_eq!(patch(&url, 0, b"abc").status(), 204);
    assert_eq!(a.uploads().len(), 1);
    assert!(b.uploads().is_empty());

    let (port, dir) = (a.port(), a.dir().to_path_buf());
    assert!(dir.is_dir());
    drop(a);
    assert!(!dir.exists(), "storage dir not removed: {}", dir.display());
    let refused =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .is_err();
    assert!(refused, "server still accepting on port {port} after drop");

    // b is unaffected.
    assert_eq!(options(&b.endpoint()).status(), 204);
}

#[test]
fn stop_makes_the_server_unreachable() {
    let mut server = TusServer::start();
    assert_eq!(options(&server.endpoint()).status(), 204);
    server.stop();
    let err = agent().options(&server.endpoint()).call();
    assert!(err.is_err(), "request to a stopped server succeeded");
    assert!(server.dir().is_dir(), "dir kept until drop");
}

#[test]
fn temp_files_are_deterministic_and_removed() {
    let (f1, b1) = crate::support::temp_file_with(1003, 42);
    let (f2, b2) = crate::support::temp_file_with(1003, 42);
    let (_f3, b3) = crate::support::temp_file_with(1003, 43);
    assert_eq!(b1.len(), 1003);
    assert_eq!(b1, b2);
    assert_ne!(b1, b3);
    assert_ne!(f1.path(), f2.path());
    assert_eq!(std::fs::read(f1.path()).unwrap(), b1);

    let (big, d) = crate::support::big_temp_file_with(200_005, 42);
    assert_eq!(d, digest(&pseudo_random_bytes(200_005, 42)));
    assert_eq!(file_digest(big.path()), d);
    assert_eq!(&pseudo_random_bytes(200_005, 42)[..1003], &b1[..]);

    let p = f1.path().to_path_buf();
    drop(f1);
    assert!(!p.exists());

    let dir = crate::support::TempDir::new("wmu-test");
    let path = dir.path().to_path_buf();
    std::fs::write(dir.join("x"), b"x").unwrap();
    drop(dir);
    assert!(!path.exists());
}
