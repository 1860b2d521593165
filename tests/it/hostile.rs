//! Hostile and broken servers: a scripted raw HTTP server (testkit/src/raw_server.rs) answers
//! with missing headers, HTML, lies about offsets, redirects, silence, dribbles, endless bodies,
//! garbage and resets. Every case must end in a typed [`Error`] with a clear message, within a
//! bounded time, without reading unbounded data; the 413 case must succeed.
//!
//! Elapsed-time assertions are hang guards only (generous bounds), never performance checks.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::raw_server::{
    Next, RawRequest, RawServer, read_exact_len, respond, wait_for_close,
};
use crate::support::temp_file_with;
use wix_media_tus::Violation;
use wix_media_upload::{
    CreationMode, Error, Progress, RetryPolicy, Source, UploadOptions, Uploaded, Uploader,
    UploaderBuilder,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// Hang guard: no case may take this long (the real bound is a few stall timeouts).
const HANG_GUARD: Duration = Duration::from_secs(20);
const STALL: Duration = Duration::from_secs(2);

fn builder(retry: RetryPolicy) -> wix_media_upload::UploaderBuilder {
    Uploader::builder()
        .stall_timeout(Some(STALL))
        .connect_timeout(Some(STALL))
        .retry(retry)
        .creation(CreationMode::Plain)
        .checksum(false)
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::from_millis(&[0, 10])
}

/// Runs `f` on a thread and fails the test (instead of hanging) when it takes longer than
/// [`HANG_GUARD`]. Returns its result and how long it took.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(v) => (v, started.elapsed()),
        Err(_) => panic!("the upload did not end within {HANG_GUARD:?}: a hang"),
    }
}

/// Uploads `len` pseudo-random bytes from a file to `endpoint`, bounded by [`HANG_GUARD`].
fn upload(uploader: Uploader, endpoint: String, len: usize) -> (Result<Uploaded, Error>, Duration) {
    bounded(move || {
        let (file, _) = temp_file_with(len, 7);
        let source = Source::file(file.path()).unwrap();
        uploader.upload(&endpoint, source, UploadOptions::new())
    })
}

/// Uploads `len` bytes to `server` with an uploader of `builder`, and returns the error it must
/// end in (printed) and how long it took (within the hang guard).
fn fails(server: &RawServer, builder: UploaderBuilder, len: usize) -> (Error, Duration) {
    let (res, took) = upload(builder.build().unwrap(), server.url("/files"), len);
    let err = res.unwrap_err();
    eprintln!("observed: {err}");
    (err, took)
}

/// Asserts `err` is a `Status` error of `status` answered to a `method` request.
fn assert_status(err: &Error, status: u16, method: &str) {
    assert!(
        matches!(err, Error::Status { status: got, request, .. }
            if *got == status && request.method().as_str() == method),
        "{err:?}"
    );
}

/// Asserts `err` is a give-up after `attempts` attempts that each timed out.
fn assert_timed_out(err: &Error, attempts: u32) {
    match err {
        Error::GaveUp { attempts: n, last } if *n == attempts => {
            assert!(matches!(**last, Error::Timeout { .. }), "{last:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("timed out"), "{err}");
}

/// Asserts `err` is a protocol error that found `violation`.
fn assert_violation(err: &Error, violation: &Violation) {
    assert!(
        matches!(err, Error::Protocol { violation: v, .. } if **v == *violation),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A minimal in-memory tus server for the parts of a script that behave
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Tus {
    length: u64,
    data: Vec<u8>,
    patches_acked: usize,
}

/// Answers a well-behaved tus request (the body already read into `body`).
fn tus(st: &mut Tus, req: &RawRequest, body: &[u8], s: &mut TcpStream) -> Next {
    let r = match req.method.as_str() {
        "OPTIONS" => respond(
            s,
            204,
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Tus-Version", "1.0.0"),
                ("Tus-Extension", "creation"),
            ],
            b"",
        ),
        "POST" => {
            st.length = req
                .header("Upload-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            st.data.clear();
            respond(
                s,
                201,
                &[("Tus-Resumable", "1.0.0"), ("Location", "/files/1")],
                b"",
            )
        }
        "HEAD" => {
            let offset = st.data.len().to_string();
            let length = st.length.to_string();
            respond(
                s,
                200,
                &[
                    ("Tus-Resumable", "1.0.0"),
                    ("Upload-Offset", &offset),
                    ("Upload-Length", &length),
                    ("Cache-Control", "no-store"),
                ],
                b"",
            )
        }
        "PATCH" => {
            if req.upload_offset() != Some(st.data.len() as u64) {
                let offset = st.data.len().to_string();
                respond(s, 409, &[("Upload-Offset", &offset)], b"")
            } else {
                st.data.extend_from_slice(body);
                st.patches_acked += 1;
                let offset = st.data.len().to_string();
                respond(
                    s,
                    204,
                    &[("Tus-Resumable", "1.0.0"), ("Upload-Offset", &offset)],
                    b"",
                )
            }
        }
        _ => respond(s, 405, &[], b""),
    };
    if r.is_err() {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

/// A well-behaved tus server, but for the requests `hook` answers itself (it returns `Some`);
/// the server's state is shared with the test.
fn tus_but(
    hook: impl Fn(&Mutex<Tus>, &RawRequest, &mut TcpStream) -> Option<Next> + Send + Sync + 'static,
) -> (RawServer, Arc<Mutex<Tus>>) {
    let state = Arc::new(Mutex::new(Tus::default()));
    let st = Arc::clone(&state);
    let server = RawServer::start(move |req, s| {
        hook(&st, req, s).unwrap_or_else(|| tus(&mut st.lock().unwrap(), req, &req.body, s))
    });
    (server, state)
}

// ---------------------------------------------------------------------------------------------
// 1, 2: creation answers that are not tus
// ---------------------------------------------------------------------------------------------

#[test]
fn creation_201_without_location_is_a_protocol_error() {
    let server = RawServer::start(|_, s| {
        let _ = respond(s, 201, &[("Tus-Resumable", "1.0.0")], b"");
        Next::KeepAlive
    });
    let (err, _) = fails(&server, builder(quick_retries()), 1000);
    assert_violation(&err, &Violation::MissingLocation);
    assert_eq!(server.lines(), ["POST /files"], "not retried");
}

#[test]
fn html_page_instead_of_tus_is_a_typed_error() {
    const HTML: &[u8] = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>";
    // On the creation POST.
    let server = RawServer::start(|_, s| {
        let _ = respond(s, 200, &[("Content-Type", "text/html")], HTML);
        Next::KeepAlive
    });
    let (err, _) = fails(&server, builder(quick_retries()), 1000);
    assert_violation(&err, &Violation::MissingLocation);

    // On a PATCH (a proxy's error page with 200).
    let (server, _) = tus_but(|_, req, s| {
        (req.method == "PATCH").then(|| {
            let _ = respond(s, 200, &[("Content-Type", "text/html")], HTML);
            Next::KeepAlive
        })
    });
    let (err, _) = fails(&server, builder(quick_retries()), 1000);
    assert_violation(&err, &Violation::MissingOffset);
    assert_eq!(server.count("PATCH"), 1);
}

// ---------------------------------------------------------------------------------------------
// 3: lies about the offset
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_patch_offsets_are_protocol_errors() {
    const LEN: usize = 4000;
    const CHUNK: u64 = 1000;
    let not_a_count = |value: &str| Violation::NotAByteCount {
        header: "Upload-Offset",
        value: value.into(),
    };
    // (name, the offset the second PATCH is answered with, what was wrong)
    let cases: [(&str, &str, Violation); 6] = [
        ("non-numeric", "abc", not_a_count("abc")),
        ("negative", "-1000", not_a_count("-1000")),
        (
            "huge",
            "99999999999999999999999",
            not_a_count("99999999999999999999999"),
        ),
        (
            "backwards",
            "500",
            Violation::OffsetBackwards {
                from: 1000,
                to: 500,
            },
        ),
        (
            "beyond what was sent",
            "3000",
            Violation::OffsetPastSent {
                offset: 3000,
                sent_end: 2000,
            },
        ),
        (
            "beyond the length",
            "4001",
            Violation::OffsetPastLength {
                offset: 4001,
                length: 4000,
            },
        ),
    ];
    for (name, bad, says) in cases {
        let bad = bad.to_owned();
        // The first chunk is acknowledged properly, the second gets the bad offset.
        let (server, _) = tus_but(move |st, req, s| {
            (req.method == "PATCH" && st.lock().unwrap().patches_acked == 1).then(|| {
                let _ = respond(s, 204, &[("Upload-Offset", &bad)], b"");
                Next::KeepAlive
            })
        });
        let (err, took) = fails(&server, builder(quick_retries()).chunk_size(CHUNK), LEN);
        assert!(
            matches!(&err, Error::Protocol { violation, .. } if **violation == says),
            "{name}: {err:?}"
        );
        assert_eq!(server.count("PATCH"), 2, "{name}: not retried");
        assert!(took < HANG_GUARD);
    }
}

// ---------------------------------------------------------------------------------------------
// 4: redirects are not followed
// ---------------------------------------------------------------------------------------------

#[test]
fn redirect_answered_to_a_patch_is_not_followed() {
    for status in [307u16, 308] {
        let target = RawServer::start(|_, s| {
            let _ = respond(s, 204, &[("Upload-Offset", "1000")], b"");
            Next::KeepAlive
        });
        let elsewhere = target.url("/elsewhere/1");
        let (server, _) = tus_but(move |_, req, s| {
            (req.method == "PATCH").then(|| {
                let _ = respond(s, status, &[("Location", &elsewhere)], b"");
                Next::KeepAlive
            })
        });
        let (err, _) = fails(&server, builder(quick_retries()), 1000);
        match &err {
            Error::Status {
                status: got,
                request,
                ..
            } => assert_eq!((*got, request.method().as_str()), (status, "PATCH")),
            other => panic!("{status}: {other:?}"),
        }
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert_eq!(target.connections(), 0, "{status} was followed");
        assert!(target.requests().is_empty());
        assert_eq!(server.count("PATCH"), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// 5, 6: silence and dribbling
// ---------------------------------------------------------------------------------------------

#[test]
fn patch_never_answered_times_out() {
    let (server, _) = tus_but(|_, req, s| {
        (req.method == "PATCH").then(|| {
            // The body was read whole; no answer ever comes.
            wait_for_close(s);
            Next::Close
        })
    });
    let (err, took) = fails(&server, builder(quick_retries()), 100 * KIB);
    assert_timed_out(&err, 3);
    assert_eq!(server.count("PATCH"), 3);
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .all(|r| r.body.len() == 100 * KIB)
    );
    assert!(took >= STALL && took < HANG_GUARD, "{took:?}");
}

/// Writes `prefix`, then one byte of `drip` every 500 ms until the client hangs up.
fn dribble(s: &mut TcpStream, prefix: &[u8], drip: u8) {
    if s.write_all(prefix).is_err() {
        return;
    }
    let started = Instant::now();
    while started.elapsed() < crate::support::raw_server::MAX_WAIT {
        thread::sleep(Duration::from_millis(500));
        if s.write_all(&[drip]).and_then(|()| s.flush()).is_err() {
            return;
        }
    }
}

#[test]
fn dribbled_response_head_times_out() {
    let server = RawServer::start(|_, s| {
        dribble(s, b"HTTP/1.1 201 Created\r\nX-Slow: ", b'a');
        Next::Close
    });
    let (err, _) = fails(&server, builder(quick_retries()), 1000);
    assert_timed_out(&err, 3);
    assert_eq!(server.count("POST"), 3);
}

#[test]
fn dribbled_error_body_is_cut_off() {
    let server = RawServer::start(|_, s| {
        dribble(
            s,
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100000\r\n\r\n",
            b'x',
        );
        Next::Close
    });
    let (err, _) = fails(&server, builder(RetryPolicy::none()), 1000);
    assert_status(&err, 500, "POST");
}

// ---------------------------------------------------------------------------------------------
// 7, 8: permanent failure, gone
// ---------------------------------------------------------------------------------------------

#[test]
fn permanent_503_gives_up_after_every_attempt() {
    let server = RawServer::start(|_, s| {
        let _ = respond(
            s,
            503,
            &[("Content-Type", "text/plain")],
            b"service unavailable",
        );
        Next::KeepAlive
    });
    let delays = [0u64, 10];
    let (err, _) = fails(&server, builder(RetryPolicy::from_millis(&delays)), 1000);
    let expected = delays.len() as u32 + 1;
    match &err {
        Error::GaveUp { attempts, last } => {
            assert_eq!(*attempts, expected);
            assert!(
                matches!(**last, Error::Status { status: 503, .. }),
                "{last:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.status(), Some(503));
    let text = err.to_string();
    assert!(
        text.contains(&format!("after {expected} attempts")),
        "{text}"
    );
    assert!(text.contains("503"), "{text}");
    assert_eq!(server.count("POST"), expected as usize);
}

#[test]
fn gone_in_the_middle_of_an_upload() {
    let (server, state) = tus_but(|st, req, s| {
        (req.method == "PATCH" && st.lock().unwrap().patches_acked >= 3).then(|| {
            let _ = respond(s, 404, &[], b"not found");
            Next::KeepAlive
        })
    });
    let (err, took) = fails(&server, builder(quick_retries()).chunk_size(1000), 10_000);
    assert!(matches!(err, Error::Gone { status: 404 }), "{err:?}");
    assert!(err.to_string().contains("gone"), "{err}");
    assert_eq!(state.lock().unwrap().data.len(), 3000);
    assert_eq!(server.count("PATCH"), 4, "a 404 is not retried");
    assert!(took < HANG_GUARD);
}

// ---------------------------------------------------------------------------------------------
// 9, 10: endless bodies and broken HTTP
// ---------------------------------------------------------------------------------------------

#[test]
fn huge_error_body_is_read_only_a_bounded_prefix() {
    const ANNOUNCED: u64 = 200 * 1024 * 1024;
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (w, d) = (Arc::clone(&written), Arc::clone(&done));
    let server = RawServer::start(move |_, s| {
        let head = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\
             Content-Length: {ANNOUNCED}\r\n\r\n"
        );
        if s.write_all(head.as_bytes()).is_ok() {
            let block = vec![b'e'; 64 * KIB];
            // Lazily, until the client hangs up (or everything went, which fails the test).
            while w.load(Ordering::SeqCst) < ANNOUNCED {
                if s.write_all(&block).is_err() {
                    break;
                }
                w.fetch_add(block.len() as u64, Ordering::SeqCst);
            }
        }
        d.store(true, Ordering::SeqCst);
        Next::Close
    });
    let (err, _) = fails(&server, builder(RetryPolicy::none()), 1000);
    assert_status(&err, 500, "POST");
    // Not a Wix error: at most a short excerpt of its text.
    assert!(err.wix().is_none() && err.to_string().len() < 400, "{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        done.load(Ordering::SeqCst),
        "the client kept the connection open without reading"
    );
    let sent = written.load(Ordering::SeqCst);
    eprintln!("observed: the server wrote {sent} body bytes before the client hung up");
    assert!(
        sent < 16 * MIB as u64,
        "the server wrote {sent} bytes before the client hung up"
    );
}

#[test]
fn unparsable_responses_are_transport_or_protocol_errors() {
    let mut endless_header = b"HTTP/1.1 201 Created\r\nX-Big: ".to_vec();
    endless_header.extend(std::iter::repeat_n(b'a', 1024 * KIB));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("non-numeric status", b"HTTP/1.1 abc\r\n\r\n".to_vec()),
        ("status line only", b"HTTP/1.1 abc\r\n".to_vec()),
        (
            "binary garbage",
            b"\x00\xff\xfe\x16\x03\x01garbage\r\n\r\n".to_vec(),
        ),
        ("not http", b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
        (
            "bad header line",
            b"HTTP/1.1 201 Created\r\nLocation /files/1\r\n\r\n".to_vec(),
        ),
        (
            "bad content-length",
            b"HTTP/1.1 201 Created\r\nLocation: /files/1\r\nContent-Length: -5\r\n\r\n".to_vec(),
        ),
        ("nothing at all", Vec::new()),
        ("1 MiB header line", endless_header),
    ];
    for (name, bytes) in cases {
        let server = RawServer::start(move |_, s| {
            let _ = s.write_all(&bytes);
            Next::Close
        });
        let (err, took) = fails(&server, builder(RetryPolicy::none()), 1000);
        assert!(
            matches!(err, Error::Transport { .. } | Error::Protocol { .. }),
            "{name}: {err:?}"
        );
        assert!(took < HANG_GUARD, "{name}: {took:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 11: the source changes under the upload
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Change {
    /// After the first chunk is acknowledged, cut the file to half.
    ShrinkBetweenChunks,
    /// After the first chunk is acknowledged, append 1 MiB.
    GrowBetweenChunks,
    /// After the first chunk is acknowledged, rewrite a byte (same size, new mtime).
    RewriteInPlace,
    /// While the first chunk is being sent, cut the file below the bytes already read.
    ShrinkMidBody,
}

#[test]
fn source_changed_during_the_upload() {
    const LEN: usize = 8 * MIB;
    // Large enough that progress is reported within the first chunk (once per MiB sent).
    const CHUNK: u64 = 2 * MIB as u64;
    for change in [
        Change::ShrinkBetweenChunks,
        Change::GrowBetweenChunks,
        Change::RewriteInPlace,
        Change::ShrinkMidBody,
    ] {
        let (server, state) = tus_but(|_, _, _| None);
        let endpoint = server.url("/files");
        let ((res, expected_found), took) = bounded(move || {
            let (file, _) = temp_file_with(LEN, 11);
            let path = file.path().to_owned();
            let source = Source::file(&path).unwrap();
            let up = builder(RetryPolicy::from_millis(&[0, 10]))
                .chunk_size(CHUNK)
                .build()
                .unwrap();
            let mut changed = false;
            let mut found = None;
            let options = UploadOptions::new().progress(|p: Progress| {
                let trigger = match change {
                    Change::ShrinkMidBody => p.acked == 0 && p.sent >= CHUNK / 2,
                    _ => p.acked >= CHUNK,
                };
                if changed || !trigger {
                    return;
                }
                changed = true;
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                match change {
                    Change::ShrinkBetweenChunks => {
                        f.set_len(LEN as u64 / 2).unwrap();
                        found = Some(LEN as u64 / 2);
                    }
                    Change::GrowBetweenChunks => {
                        f.set_len(LEN as u64 + MIB as u64).unwrap();
                        found = Some(LEN as u64 + MIB as u64);
                    }
                    Change::RewriteInPlace => {
                        // Past the coarse timestamp granularity, so the mtime surely moves.
                        thread::sleep(Duration::from_millis(20));
                        let mut f = f;
                        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(5 * MIB as u64))
                            .unwrap();
                        f.write_all(b"changed").unwrap();
                        found = Some(LEN as u64);
                    }
                    Change::ShrinkMidBody => {
                        f.set_len(1000).unwrap();
                        found = Some(1000);
                    }
                }
            });
            let res = up.upload(&endpoint, source, options);
            drop(file);
            (res, found)
        });
        let err = res.unwrap_err();
        eprintln!("observed: {err}");
        match (&err, expected_found) {
            (Error::SourceChanged { expected, found }, Some(want)) => {
                assert_eq!((*expected, *found), (LEN as u64, want), "{change:?}")
            }
            other => panic!("{change:?}: {other:?}"),
        }
        assert!(err.to_string().contains("source changed"), "{err}");
        let stored = state.lock().unwrap().data.len();
        assert!(
            stored < LEN,
            "{change:?}: the server got all {stored} bytes"
        );
        match change {
            Change::ShrinkMidBody => assert_eq!(stored, 0, "{change:?}"),
            _ => assert_eq!(stored as u64, CHUNK, "{change:?}: no byte after the change"),
        }
        assert!(took < HANG_GUARD, "{change:?}: {took:?}");
        assert!(took < HANG_GUARD, "{change:?}: {took:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 12: 413 teaches the chunk size
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Limited {
    tus: Tus,
    /// (content length, status) of every PATCH, in order.
    patches: Vec<(u64, u16)>,
}

/// A tus server that refuses PATCH bodies over `limit` with 413, answered as soon as the head
/// is in (then the body is drained, as nginx does).
fn limited_server(limit: u64) -> (RawServer, Arc<Mutex<Limited>>) {
    let state = Arc::new(Mutex::new(Limited::default()));
    let st = Arc::clone(&state);
    let server = RawServer::start_head_only(move |req, s| {
        if req.method == "PATCH" && req.content_length > limit {
            st.lock().unwrap().patches.push((req.content_length, 413));
            if respond(s, 413, &[("Content-Type", "text/plain")], b"too large").is_err()
                || read_exact_len(s, req.content_length, false).is_err()
            {
                return Next::Close;
            }
            return Next::KeepAlive;
        }
        let Ok(body) = read_exact_len(s, req.content_length, true) else {
            return Next::Close;
        };
        let mut g = st.lock().unwrap();
        let before = g.tus.patches_acked;
        let next = tus(&mut g.tus, req, &body, s);
        if req.method == "PATCH" {
            let status = if g.tus.patches_acked > before {
                204
            } else {
                409
            };
            g.patches.push((req.content_length, status));
        }
        next
    });
    (server, state)
}

#[test]
fn too_large_bodies_shrink_the_chunk_and_the_size_is_kept() {
    const LIMIT: u64 = MIB as u64;
    // (chunk size: None is one PATCH for the whole file; file length)
    for (chunk, len) in [(None, 8 * MIB), (Some(3 * MIB as u64), 8 * MIB + 123)] {
        let (server, state) = limited_server(LIMIT);
        let endpoint = server.url("/files");
        let ((res, bytes), took) = bounded(move || {
            let (file, bytes) = temp_file_with(len, 12);
            let mut b = builder(quick_retries());
            if let Some(c) = chunk {
                b = b.chunk_size(c);
            }
            let res = b.build().unwrap().upload(
                &endpoint,
                Source::file(file.path()).unwrap(),
                UploadOptions::new(),
            );
            (res, bytes)
        });
        let done = res.unwrap_or_else(|e| panic!("{chunk:?}: {e}"));
        assert_eq!(done.size, len as u64);
        let st = state.lock().unwrap();
        assert!(st.tus.data == bytes, "{chunk:?}: stored bytes differ");
        let first_ok = st
            .patches
            .iter()
            .position(|(_, s)| *s == 204)
            .expect("a PATCH succeeded");
        assert!(
            st.patches[first_ok..].iter().all(|(_, s)| *s == 204),
            "{chunk:?}: 413 recurred after the size was learned: {:?}",
            st.patches
        );
        let refused: Vec<u64> = st.patches[..first_ok].iter().map(|(n, _)| *n).collect();
        let learned = st.patches[first_ok].0;
        assert!(learned <= LIMIT && learned >= 256 * KIB as u64, "{learned}");
        for (i, (n, _)) in st.patches[first_ok..].iter().enumerate() {
            let last = first_ok + i == st.patches.len() - 1;
            assert!(
                *n == learned || (last && *n < learned),
                "{chunk:?}: the learned size {learned} was not kept: {:?}",
                st.patches
            );
        }
        match chunk {
            None => assert_eq!(refused, [8 * MIB as u64, 4 * MIB as u64, 2 * MIB as u64]),
            Some(c) => assert_eq!(refused, [c, c / 2]),
        }
        assert!(took < HANG_GUARD, "{took:?}");
    }
}

#[test]
fn too_large_even_at_the_floor_is_a_status_error() {
    let (server, state) = limited_server(100 * KIB as u64);
    let (err, _) = fails(&server, builder(quick_retries()), MIB);
    assert_status(&err, 413, "PATCH");
    let sizes: Vec<u64> = state.lock().unwrap().patches.iter().map(|p| p.0).collect();
    assert_eq!(
        sizes,
        [MIB as u64, 512 * KIB as u64, 256 * KIB as u64],
        "halved down to the 256 KiB floor, then gave up"
    );
}

#[test]
fn emulator_max_body_size_is_learned() {
    use wix_media_emulator::EmulatorConfig;
    use wix_media_upload::Credentials;
    use wix_media_upload::wix;
    use wix_media_upload::wix::GenerateUploadUrlRequest;

    use crate::support::upload::upload_file_to_wix;

    let dir = crate::support::TempDir::new("wmu-hostile-emu");
    let emu = EmulatorConfig::new()
        .max_body_size(MIB as u64)
        .start(dir.join("emu"))
        .expect("start emulator");
    let base = emu.base_url().to_owned();
    let ((res, token, bytes), took) = bounded(move || {
        let len = 8 * MIB;
        let (file, bytes) = temp_file_with(len, 13);
        // Default creation (Auto): OPTIONS, then a POST carrying the first bytes.
        let up = Uploader::builder()
            .stall_timeout(Some(STALL))
            .connect_timeout(Some(STALL))
            .retry(quick_retries())
            .build()
            .unwrap();
        let creds = Credentials::site("key", "site").with_api_base(base);
        let req = GenerateUploadUrlRequest::new("application/octet-stream")
            .file_name("big.bin")
            .size_in_bytes(len as u64);
        let target = wix::generate_resumable_upload_url(&up, &creds, &req).unwrap();
        let token = target.upload_token.expose().to_owned();
        let res = upload_file_to_wix(&up, &target, file.path());
        (res, token, bytes)
    });
    res.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        emu.stored_bytes(&token) == Some(bytes),
        "stored bytes differ"
    );
    let counts = emu.request_counts();
    // 8 MiB, 4 MiB and 2 MiB are refused (each followed by a HEAD), then eight 1 MiB chunks.
    assert_eq!(counts.get("PATCH"), Some(&(3 + 8)), "{counts:?}");
    assert_eq!(counts.get("HEAD"), Some(&3), "{counts:?}");
    assert!(took < HANG_GUARD, "{took:?}");
}

// ---------------------------------------------------------------------------------------------
// 13: resets
// ---------------------------------------------------------------------------------------------

#[test]
fn connection_dropped_on_accept_is_a_transport_error() {
    let server = RawServer::start_raw(drop);
    let (err, _) = fails(&server, builder(RetryPolicy::none()), 1000);
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().contains("POST http://127.0.0.1:") && err.to_string().contains("failed"),
        "{err}"
    );

    // With retries: every attempt fails the same way.
    let (res, _) = upload(
        builder(quick_retries()).build().unwrap(),
        server.url("/files"),
        1000,
    );
    match res.unwrap_err() {
        Error::GaveUp { attempts: 3, last } => {
            assert!(matches!(*last, Error::Transport { .. }), "{last:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn connection_refused_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (res, took) = upload(
        builder(RetryPolicy::none()).build().unwrap(),
        format!("http://127.0.0.1:{port}/files"),
        1000,
    );
    let err = res.unwrap_err();
    eprintln!("observed: {err}");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(took < HANG_GUARD);
}
