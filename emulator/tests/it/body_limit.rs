//! The emulator's body limit, the way front proxies apply theirs: a body over
//! `max_body_size` is answered 413 right after its head, without being read, and the
//! connection is closed. Raw TCP clients, so what is (not) sent is under control.

use std::io::ErrorKind;
use std::io::{Read, Write};
use std::net::Shutdown;

use serde_json::json;
use wix_media_emulator::EmulatorConfig;

use wix_media_testkit::emulator::Emu;
use wix_media_testkit::http::{
    agent, connect, patch_head, put_head, raw_exchange, read_continue, send,
};

const MIB: u64 = 1024 * 1024;
/// The body the "still writing" clients try to send: far more than socket buffers hold.
const HUGE: u64 = 512 * MIB;

/// A tus upload of `len` bytes; its URL path.
fn tus_upload(emu: &Emu, len: u64) -> String {
    let token = emu.token_for(&json!({"mimeType": "text/plain"}));
    let url = emu.new_upload(&token, len as usize);
    url.strip_prefix(emu.emu.base_url())
        .expect("path")
        .to_string()
}

/// A simple upload URL; its path.
fn simple_upload(emu: &Emu) -> String {
    let url = emu.upload_url(&json!({"mimeType": "text/plain", "fileName": "a.txt"}));
    url.strip_prefix(emu.emu.base_url())
        .expect("path")
        .to_string()
}

/// The head of a PATCH of `len` bytes at offset 0 (and `extra` header lines).
fn patch_of(path: &str, len: u64, extra: &str) -> String {
    patch_head(path, 0, &format!("Content-Length: {len}\r\n{extra}"))
}

/// The head of a simple upload of `len` bytes to `path` (and `extra` header lines).
fn put_of(path: &str, len: u64, extra: &str) -> String {
    put_head(
        &format!("{path}?filename=a.txt"),
        &format!("Content-Length: {len}\r\n{extra}"),
    )
}

/// Sends `head` with `Expect: 100-continue` and no body; returns all the server answers.
/// The server must answer and close without the body (else this read would hang until the
/// 30 s read timeout, and the answer would not be a 413).
fn expect_exchange(emu: &Emu, head: &str) -> String {
    let mut s = connect(emu.emu.addr());
    s.write_all(head.as_bytes()).expect("write head");
    let mut out = Vec::new();
    let read = s.read_to_end(&mut out);
    assert!(read.is_ok(), "the server closed cleanly: {read:?}");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn with_expect_continue_a_body_over_the_limit_gets_413_instead_of_100() {
    let emu = Emu::with(EmulatorConfig::new().max_body_size(MIB));
    let path = tus_upload(&emu, 10 * MIB);
    let out = expect_exchange(&emu, &patch_of(&path, 10 * MIB, "Expect: 100-continue\r\n"));
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(!out.contains("100 Continue"), "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    assert!(out.contains("Tus-Resumable: 1.0.0"), "{out}");
    assert!(out.contains("applicationError"), "Wix-shaped: {out}");
    assert_eq!(emu.emu.uploads()[0].offset, 0);

    // The simple upload and a creation POST carrying bytes have the same limit.
    let simple = simple_upload(&emu);
    let out = expect_exchange(&emu, &put_of(&simple, 2 * MIB, "Expect: 100-continue\r\n"));
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    let post = format!(
        "POST /upload/tus HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 9\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        2 * MIB
    );
    assert!(expect_exchange(&emu, &post).starts_with("HTTP/1.1 413"));
    assert!(emu.emu.files().is_empty());
    assert_eq!(emu.emu.uploads().len(), 1);

    // Within the limit, Expect gets its 100 Continue.
    let mut s = connect(emu.emu.addr());
    let head = patch_of(&path, 4, "Expect: 100-continue\r\nConnection: close\r\n");
    s.write_all(head.as_bytes()).expect("write");
    read_continue(&mut s);
}

/// What a client that writes `HUGE` bytes after `head` saw.
struct Refused {
    /// Bytes the client managed to write before the connection failed.
    written: u64,
    /// The write error, if writing stopped on one.
    write_error: Option<ErrorKind>,
    /// What it could read (possibly nothing, if the reset came first).
    answer: String,
}

/// Writes `head` then up to `HUGE` bytes while another thread reads the answer.
fn refused_while_writing(emu: &Emu, head: &str) -> Refused {
    let mut s = connect(emu.emu.addr());
    let mut reader = s.try_clone().expect("clone");
    let answer = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Until EOF or a reset: a reset may also come before the answer could be read.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    s.write_all(head.as_bytes()).expect("write head");
    let chunk = vec![b'z'; 256 * 1024];
    let mut written = 0u64;
    let mut write_error = None;
    while written < HUGE {
        match s.write(&chunk) {
            Ok(n) => written += n as u64,
            Err(e) => {
                write_error = Some(e.kind());
                break;
            }
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    Refused {
        written,
        write_error,
        answer: answer.join().expect("reader"),
    }
}

fn assert_refused_early(r: &Refused) {
    assert!(
        r.written < HUGE,
        "the server read the whole {HUGE}-byte body instead of closing (answer: {})",
        r.answer
    );
    assert!(
        matches!(
            r.write_error,
            Some(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted)
        ),
        "the server closed the connection: {:?}",
        r.write_error
    );
    assert!(
        r.answer.is_empty() || r.answer.starts_with("HTTP/1.1 413"),
        "{}",
        r.answer
    );
    if !r.answer.is_empty() {
        assert!(r.answer.contains("Connection: close"), "{}", r.answer);
    }
    eprintln!(
        "client wrote {} MiB, then {:?}; answer read: {}",
        r.written / MIB,
        r.write_error,
        !r.answer.is_empty()
    );
}

#[test]
fn without_expect_a_body_over_the_limit_is_refused_while_the_client_writes() {
    let emu = Emu::with(EmulatorConfig::new().max_body_size(MIB));
    let path = tus_upload(&emu, HUGE);
    let r = refused_while_writing(&emu, &patch_of(&path, HUGE, ""));
    assert_refused_early(&r);
    let up = &emu.emu.uploads()[0];
    assert_eq!(up.offset, 0);
    assert_eq!(std::fs::metadata(&up.path).expect("data file").len(), 0);

    let simple = simple_upload(&emu);
    let r = refused_while_writing(&emu, &put_of(&simple, HUGE, ""));
    assert_refused_early(&r);
    assert!(emu.emu.files().is_empty());
    // The URL was not used up by the refusal.
    let url = format!("{}{simple}", emu.emu.base_url());
    let ok = send(&agent(), "PUT", &url, &[], b"small");
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[test]
fn a_chunked_body_is_cut_off_with_413_once_past_the_limit() {
    let emu = Emu::with(EmulatorConfig::new().max_body_size(1000));
    let path = tus_upload(&emu, 5000);
    let mut req = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..3 {
        req.extend_from_slice(b"1f4\r\n");
        req.extend_from_slice(&[b'c'; 500]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let out = raw_exchange(emu.emu.addr(), &req);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    assert_eq!(emu.emu.uploads()[0].offset, 0);
    assert_eq!(
        std::fs::metadata(&emu.emu.uploads()[0].path)
            .expect("file")
            .len(),
        0
    );
}

#[test]
fn drain_mode_reads_the_body_then_answers_413_on_a_live_connection() {
    let emu = Emu::with(
        EmulatorConfig::new()
            .max_body_size(MIB)
            .drain_rejected_bodies(true),
    );
    let path = tus_upload(&emu, 8 * MIB);
    let url = format!("{}{path}", emu.emu.base_url());
    // ureq writes the whole body before it reads: it sees the 413 only in this mode.
    let patch = |body: &[u8]| emu.patch(&url, 0, body, &[]);
    let r = patch(&vec![1u8; 8 * MIB as usize]);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.header("Connection"), None, "kept alive");
    let r = patch(&vec![1u8; MIB as usize]);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("Upload-Offset"), Some("1048576"));
    // Expect still gets the early answer.
    let out = expect_exchange(&emu, &patch_of(&path, 2 * MIB, "Expect: 100-continue\r\n"));
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
}

#[test]
fn rest_bodies_are_not_held_to_the_upload_limit() {
    let emu = Emu::with(EmulatorConfig::new().max_body_size(4));
    let url = emu.upload_url(
        &json!({"mimeType": "text/plain", "fileName": "a.txt", "labels": ["a", "b", "c"]}),
    );
    // The simple upload is: 5 bytes over a 4-byte limit.
    let url = format!("{url}?filename=a.txt");
    let r = send(&agent(), "PUT", &url, &[], b"12345");
    assert_eq!(r.status, 413, "{}", r.body);
    let r = send(&agent(), "PUT", &url, &[], b"1234");
    assert_eq!(r.status, 200, "{}", r.body);
}
