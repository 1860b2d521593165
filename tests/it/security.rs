//! Security-minded checks: file names that need escaping survive the whole Wix route, metadata
//! keys that would break the `Upload-Metadata` header are refused, and TLS cannot be talked
//! out of verifying.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::raw_server::RawServer;
use crate::support::upload::upload_file_to_wix;
use crate::support::{TempDir, temp_file_with};
use wix_media_emulator::Emulator;
use wix_media_tus::Metadata;
use wix_media_upload::wix::{
    self, GenerateUploadUrlRequest, ResumableTarget, finalize, generate_resumable_upload_url,
};
use wix_media_upload::{Credentials, Error, RetryPolicy, Secret, Source, UploadOptions, Uploader};

/// Names a URL query, a path or a form decoder could mangle, each with what makes it awkward.
const NAMES: &[(&str, &str)] = &[
    ("my holiday photo.png", "spaces"),
    ("ünïcødé 写真 🙂.png", "non-ASCII letters, CJK and an emoji"),
    ("a&b=c.png", "a query's separators"),
    ("what?.png", "the start of a query"),
    ("dir/evil.png", "a path separator"),
    ("../../etc/passwd", "a path out of the upload dir"),
    ("..", "the parent dir alone"),
    ("a+b.png", "a plus a form decoder reads as a space"),
    (
        "100% %41 %zz %2F.png",
        "percent signs, valid and broken escapes",
    ),
    (
        "#frag;x,y'\"<>.png",
        "a fragment, quotes and angle brackets",
    ),
    ("../a b&c?d/e+f%20g=h#i.png", "all of the above at once"),
    (" leading and trailing ", "spaces at both ends"),
];

#[test]
fn awkward_file_names_round_trip_to_the_finalized_file() {
    let dir = TempDir::new("wmu-sec-names");
    let emu = Emulator::start(dir.path()).unwrap();
    let creds = Credentials::site("key", "site").with_api_base(emu.base_url());
    let uploader = Uploader::builder().build().unwrap();
    for (i, &(name, why)) in NAMES.iter().enumerate() {
        let (file, bytes) = temp_file_with(1000 + i, 60 + i as u64);
        // No fileName at generate: the finalize query is the only place the name comes from.
        let request = GenerateUploadUrlRequest::new("image/png").size_in_bytes(bytes.len() as u64);
        let mut target = generate_resumable_upload_url(&uploader, &creds, &request).unwrap();
        target.file_name = Some(name.to_owned());
        let token = target.upload_token.expose().to_owned();
        let descriptor = upload_file_to_wix(&uploader, &target, file.path())
            .unwrap_or_else(|e| panic!("{name:?} ({why}): {e}"));
        assert_eq!(
            descriptor.display_name.as_deref(),
            Some(name),
            "displayName of {name:?} ({why})"
        );
        let upload = emu.upload(&token).expect("the token's upload");
        assert_eq!(
            upload.metadata.get("filename").map(String::as_str),
            Some(name),
            "tus metadata filename of {name:?} ({why})"
        );
        assert_eq!(upload.metadata.get("contentType").unwrap(), "image/png");
        assert_eq!(emu.stored_bytes(&token).unwrap(), bytes, "{name:?} ({why})");
        // The name never became a path on the server side.
        assert!(
            upload.path.starts_with(dir.path()),
            "{name:?} ({why}) stored at {}",
            upload.path.display()
        );
    }
    let finalized = emu.finalized_files();
    let shown: Vec<&str> = finalized
        .iter()
        .map(|f| f["displayName"].as_str().unwrap())
        .collect();
    let names: Vec<&str> = NAMES.iter().map(|&(name, _)| name).collect();
    assert_eq!(shown, names);
}

#[test]
fn metadata_keys_that_break_the_header_are_refused() {
    for key in [
        "file name",
        "a,b",
        "",
        " ",
        "tab\there",
        "new\nline",
        "ünï",
        "k\u{0}",
    ] {
        // Refused before anything is sent: nothing listens at the endpoint, and no retries.
        let uploader = Uploader::builder()
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let source = Source::seekable(std::io::Cursor::new(b"data".to_vec())).unwrap();
        let options = UploadOptions::new()
            .metadata("filename", "ok.bin")
            .metadata(key, "v");
        match uploader.upload("http://127.0.0.1:1/files", source, options) {
            Err(Error::InvalidInput(msg)) => assert!(msg.contains("metadata key"), "{msg}"),
            other => panic!("{key:?}: expected InvalidInput, got {other:?}"),
        }
        // The tus crate's own check.
        let mut m = Metadata::new();
        assert!(matches!(
            m.insert(key, "v"),
            Err(wix_media_tus::Error::Usage(
                wix_media_tus::Usage::BadMetadataKey(_)
            ))
        ));
        assert!(m.is_empty(), "{key:?} was kept");
    }
    // Values may hold anything: they travel in base64.
    let m = Metadata::new()
        .with("filename", "a b,c\nd ü")
        .unwrap()
        .with("x-y_z.1", "")
        .unwrap();
    assert_eq!(m.encode(), "filename YSBiLGMKZCDDvA==,x-y_z.1");
}

/// A plain-TCP server on 127.0.0.1 that answers every connection with `reply` (not TLS).
fn garbage_server(reply: &'static [u8]) -> RawServer {
    RawServer::start_raw(move |mut conn| {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 1024];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(reply);
        let _ = conn.flush();
    })
}

fn no_retry() -> Uploader {
    Uploader::builder()
        .retry(RetryPolicy::from_millis(&[]))
        .connect_timeout(Some(Duration::from_secs(5)))
        .stall_timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap()
}

fn assert_transport(what: &str, r: wix_media_upload::Result<impl std::fmt::Debug>) {
    match r {
        Err(Error::Transport { source: e, .. }) => eprintln!("{what}: refused as expected: {e}"),
        other => panic!("{what}: expected a transport (TLS) error, got {other:?}"),
    }
}

/// There is no switch to turn TLS verification off; an `https://` URL whose server does not
/// speak TLS fails with a transport error, on every route, even when the bytes it sends back
/// would be a valid tus or Wix answer over plain HTTP.
#[test]
fn https_to_a_server_that_does_not_speak_tls_fails() {
    let plausible = garbage_server(
        b"HTTP/1.1 201 Created\r\nTus-Resumable: 1.0.0\r\nLocation: /files/x\r\n\
          Upload-Offset: 0\r\nContent-Length: 0\r\n\r\n",
    );
    let noise = garbage_server(b"\x16\x03\x01\x00\x05garbage that is no TLS record at all");
    let silent_close = garbage_server(b"");
    for server in [plausible, noise, silent_close] {
        let base = format!("https://{}", server.addr());
        let uploader = no_retry();
        let started = Instant::now();
        let source = Source::seekable(std::io::Cursor::new(vec![7u8; 100])).unwrap();
        assert_transport(
            &format!("upload to {base}"),
            uploader.upload(&format!("{base}/files"), source, UploadOptions::new()),
        );
        let target = ResumableTarget::new(
            format!("{base}/upload/tus"),
            "T",
            Some("a.png".into()),
            "image/png",
        );
        let source = Source::seekable(std::io::Cursor::new(vec![7u8; 100])).unwrap();
        assert_transport(
            &format!("upload_to_wix at {base}"),
            wix::upload(&uploader, &target, source, UploadOptions::new()),
        );
        assert_transport(
            &format!("finalize at {base}"),
            finalize(
                &uploader,
                &format!("{base}/upload/tus"),
                &Secret::new("T"),
                Some("a.png"),
            ),
        );
        let creds = Credentials::site("key", "site").with_api_base(&base);
        assert_transport(
            &format!("generate at {base}"),
            generate_resumable_upload_url(
                &uploader,
                &creds,
                &GenerateUploadUrlRequest::new("image/png"),
            ),
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

/// An `openssl` command with these first arguments, its output thrown away.
fn openssl(args: &[&str]) -> Command {
    let mut command = Command::new("openssl");
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// `openssl s_server` with a self-signed certificate for 127.0.0.1: a real TLS server whose
/// certificate no trusted CA signed. The upload must fail on the certificate. Needs the
/// `openssl` command (.ci/run installs it): without it the test fails, it is not skipped.
#[test]
fn https_with_a_self_signed_certificate_fails() {
    let version = Command::new("openssl").arg("version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "this test runs a TLS server with the `openssl` command, which cannot be run \
         ({version:?}); install it (Debian: apt-get install openssl)"
    );
    let dir = TempDir::new("wmu-sec-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let new_key = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ];
    let subject = [
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ];
    let made = openssl(&new_key)
        .args(subject)
        .args(["-keyout", key, "-out", cert])
        .status()
        .unwrap();
    assert!(made.success(), "openssl req failed");
    // A free port: bind, note it, release it for s_server.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let accept = format!("127.0.0.1:{port}");
    let _server = Kill(
        openssl(&["s_server", "-quiet", "-www", "-accept", &accept])
            .args(["-cert", cert, "-key", key])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not listen");
        thread::sleep(Duration::from_millis(50));
    }
    let source = Source::seekable(std::io::Cursor::new(vec![7u8; 100])).unwrap();
    let err = no_retry()
        .upload(
            &format!("https://127.0.0.1:{port}/files"),
            source,
            UploadOptions::new(),
        )
        .unwrap_err();
    let text = format!("{err} {err:?}").to_ascii_lowercase();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        text.contains("certificate") || text.contains("issuer"),
        "not a certificate error: {err:?}"
    );
}
