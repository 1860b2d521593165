//! Request-body caps in front of real tus servers: the [`CapProxy`] (testkit/src/proxy/cap.rs)
//! answers an oversized body with an early `413` + `Connection: close` and closes without
//! reading it, as front proxies do (nginx's `client_max_body_size`), either honouring
//! `Expect: 100-continue` or ignoring it. The first tests prove the proxy itself on raw
//! connections; then uploads through it to the official Node server and to the Python server.
//!
//! The 300 MB default (single-PATCH) uploads through an 8 MiB or a 256 MiB cap must end
//! byte-identical. The client does not yet survive an early 413 (issue 9: `Expect:
//! 100-continue` on large bodies, halving the body after connection errors at the same
//! offset); those tests are ignored until it does. Files are streamed from disk and compared by
//! digest.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::time::Duration;

use crate::support::http::{connect, patch_head, read_head};
use crate::support::proxy::cap::{CapConfig, CapProxy};
use crate::support::py_server::PyTusServer;
use crate::support::raw_server::{Next, RawServer, respond};
use crate::support::server_process::ServerProcess;
use crate::support::{TusServer, big_temp_file_with, file_digest};
use wix_media_upload::{RetryPolicy, Source, UploadOptions, Uploader};

const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The proxy itself, on raw connections
// ---------------------------------------------------------------------------------------------

/// An upstream that answers every request `204` after reading its body, keeping connections.
fn echo_upstream() -> RawServer {
    RawServer::start(|req, stream| {
        let len = req.body.len().to_string();
        let _ = respond(stream, 204, &[("X-Body-Length", &len)], b"");
        Next::KeepAlive
    })
}

/// The head of a PATCH of `len` bytes, asking for `100 Continue` when `expect`.
fn patch_of(len: u64, expect: bool) -> String {
    let expect = if expect {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    patch_head("/files/x", 0, &format!("Content-Length: {len}\r\n{expect}"))
}

/// A new connection to `addr` on which the head of a PATCH of `len` bytes was sent (see
/// [`patch_of`]).
fn patch_sent(addr: std::net::SocketAddr, len: u64, expect: bool) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(patch_of(len, expect).as_bytes()).unwrap();
    s
}

/// Sends `len` bytes of `byte` as the body on `s`: the upstream's answer comes back, a `204`
/// that read all of it.
fn assert_body_relayed(s: &mut TcpStream, len: usize, byte: u8) {
    s.write_all(&vec![byte; len]).unwrap();
    let resp = read_head(s);
    assert!(resp.starts_with("HTTP/1.1 204 "), "{resp}");
    assert!(
        resp.contains(&format!("X-Body-Length: {len}\r\n")),
        "{resp}"
    );
}

/// The proxy's refusal: a `413` that closes the connection.
fn assert_refused(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
}

/// The upstream got `n` requests: no refused one was relayed.
fn assert_upstream_saw(upstream: &RawServer, n: usize) {
    assert_eq!(
        upstream.requests().len(),
        n,
        "a refused request was relayed"
    );
}

/// Nothing comes back for a while (300 ms) after a head whose body was not sent.
fn assert_no_answer_before_the_body(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let early = s.read(&mut [0u8; 1]);
    assert!(
        early.is_err(),
        "the proxy answered before the body: {early:?}"
    );
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
}

#[test]
fn honouring_cap_refuses_at_the_head_and_answers_100_continue_under_it() {
    let upstream = echo_upstream();
    let proxy = CapProxy::to_url(&upstream.base_url(), CapConfig::honouring_expect(1000));

    // Under the cap, on one kept-alive connection: 100 Continue from the proxy, then the
    // upstream's answer; then a second request without Expect.
    let mut s = patch_sent(proxy.addr(), 1000, true);
    assert_eq!(read_head(&mut s), "HTTP/1.1 100 Continue\r\n\r\n");
    assert_body_relayed(&mut s, 1000, 1);
    s.write_all(patch_of(10, false).as_bytes()).unwrap();
    assert_body_relayed(&mut s, 10, 2);
    // The upstream never saw the Expect header.
    let seen = upstream.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|r| r.header("Expect").is_none()),
        "{seen:?}"
    );

    // Over the cap: the 413 comes to the head alone, and the connection ends.
    let mut s = patch_sent(proxy.addr(), 1001, true);
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_refused(&answer);
    // Without Expect, too (the body may be on its way: no reading it).
    let mut s = patch_sent(proxy.addr(), 5000, false);
    assert_refused(&read_head(&mut s));
    assert_upstream_saw(&upstream, 2);

    let st = proxy.stats();
    assert_eq!(st.count("PATCH"), 4);
    assert_eq!(st.refused_of("PATCH"), 2);
    assert_eq!(st.expect_continue, 2);
    assert_eq!(st.largest_relayed, 1000);
    let log = proxy.requests();
    assert!(log[0].sent_continue && !log[0].refused && log[0].status == 204);
    assert!(log[2].refused && log[2].body_bytes == 0 && log[2].status == 413);
}

#[test]
fn ignoring_cap_strips_expect_and_refuses_only_once_the_body_streams() {
    let upstream = echo_upstream();
    let proxy = CapProxy::to_url(&upstream.base_url(), CapConfig::ignoring_expect(1000));

    // Under the cap: no 100 Continue; the body is relayed when it comes.
    let mut s = patch_sent(proxy.addr(), 600, true);
    assert_no_answer_before_the_body(&mut s);
    assert_body_relayed(&mut s, 600, 3);
    assert!(upstream.requests()[0].header("Expect").is_none());

    // Over the cap: nothing until the body streams; after the first `limit` bytes, a 413.
    let mut s = patch_sent(proxy.addr(), 5000, true);
    assert_no_answer_before_the_body(&mut s);
    s.write_all(&[4u8; 1000]).unwrap();
    assert_refused(&read_head(&mut s));
    assert_upstream_saw(&upstream, 1);
    let st = proxy.stats();
    assert_eq!(st.refused_of("PATCH"), 1);
    let log = proxy.requests();
    assert!(!log[0].sent_continue && !log[1].sent_continue);
    assert_eq!(log[1].body_bytes, 1000);
}

// ---------------------------------------------------------------------------------------------
// Uploads through a cap
// ---------------------------------------------------------------------------------------------

/// The server behind the cap.
enum Upstream {
    Node(TusServer),
    Python(PyTusServer),
}

impl Upstream {
    fn node() -> Upstream {
        Upstream::Node(TusServer::start())
    }

    fn python() -> Upstream {
        Upstream::Python(PyTusServer::start())
    }
}

impl Deref for Upstream {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        match self {
            Upstream::Node(s) => s,
            Upstream::Python(s) => s,
        }
    }
}

/// Uploads a fresh `len`-byte file through `cap` in front of `upstream`, with `chunk_size`
/// (None: the default single PATCH); checks the stored bytes by digest. Retries are quick
/// (7 attempts, under a second of waits): what is tested is surviving the cap, not the delays.
fn upload_through_cap(upstream: &Upstream, cap: CapConfig, len: u64, chunk: Option<u64>) {
    let proxy = CapProxy::to_url(&upstream.base_url(), cap);
    let endpoint = proxy.url_for(&upstream.endpoint());
    let (file, digest) = big_temp_file_with(len, len ^ cap.limit);
    let mut b = Uploader::builder().retry(RetryPolicy::from_millis(&[0, 20, 50, 100, 200, 500]));
    if let Some(c) = chunk {
        b = b.chunk_size(c);
    }
    let uploader = b.build().unwrap();
    let started = std::time::Instant::now();
    let result = uploader.upload(
        &endpoint,
        Source::file(file.path()).unwrap(),
        UploadOptions::new().metadata("filename", "big.bin"),
    );
    let st = proxy.stats();
    // Shown with a failure (and with --nocapture): what happened, how long it took.
    eprintln!(
        "{len} B through {cap:?}: {:?} after {:.1?}; {st:?}",
        result.as_ref().map(|d| &d.url),
        started.elapsed()
    );
    let done = result.unwrap_or_else(|e| panic!("{e} ({e:?}); through the cap: {st:?}"));
    assert_eq!(done.size, len);
    assert_eq!(
        upstream.uploads().len(),
        1,
        "more than one upload was created"
    );
    assert_eq!(
        file_digest(upstream.stored_path(&done.url)),
        digest,
        "stored bytes differ"
    );
    assert!(st.largest_relayed <= cap.limit, "{st:?}");
    if chunk.is_none_or(|c| c > cap.limit) {
        assert!(st.refused_of("PATCH") >= 1, "the cap was never met: {st:?}");
    } else {
        assert_eq!(st.refused_total(), 0, "{st:?}");
    }
}

/// Chunks under the cap go through untouched: the proxy relays a long keep-alive sequence of
/// PATCHes to either server (and refuses nothing).
#[test]
fn chunks_under_the_cap_pass_to_both_servers() {
    type Start = fn() -> Upstream;
    for start in [Upstream::node as Start, Upstream::python] {
        for cap in [
            CapConfig::honouring_expect(8 * MIB),
            CapConfig::ignoring_expect(8 * MIB),
        ] {
            upload_through_cap(&start(), cap, 20_000_000, Some(4 * MIB));
        }
    }
}

const BIG: u64 = 300_000_000;

/// One test per server and cap: a 300 MB default (single-PATCH) upload through it.
macro_rules! big_upload_through_a_cap {
    ($($name:ident: $server:ident, $cap:ident($limit:expr);)*) => {$(
        #[test]
        fn $name() {
            upload_through_cap(&Upstream::$server(), CapConfig::$cap($limit), BIG, None);
        }
    )*};
}

big_upload_through_a_cap! {
    tus_server_300_mb_through_an_8_mib_cap_honouring_expect: node, honouring_expect(8 * MIB);
    tus_server_300_mb_through_an_8_mib_cap_ignoring_expect: node, ignoring_expect(8 * MIB);
    tus_server_300_mb_through_a_256_mib_cap_honouring_expect: node, honouring_expect(256 * MIB);
    tus_server_300_mb_through_a_256_mib_cap_ignoring_expect: node, ignoring_expect(256 * MIB);
    python_server_300_mb_through_an_8_mib_cap_honouring_expect: python, honouring_expect(8 * MIB);
    python_server_300_mb_through_an_8_mib_cap_ignoring_expect: python, ignoring_expect(8 * MIB);
    python_server_300_mb_through_a_256_mib_cap_honouring_expect: python, honouring_expect(256 * MIB);
    python_server_300_mb_through_a_256_mib_cap_ignoring_expect: python, ignoring_expect(256 * MIB);
}
