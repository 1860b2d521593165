//! A fault-injecting HTTP/1.1 proxy for the reliability tests (std threads only, 127.0.0.1 only).
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and relays to an upstream `127.0.0.1` address:
//! one thread and one upstream connection per client connection, request by request, so a
//! client's kept-alive connections work. It reads each request head (until `\r\n\r\n`), streams
//! the body by its framing (`Content-Length` or chunked), then streams the response back by its
//! framing (none for HEAD/1xx/204/304, `Content-Length`, chunked, or until close). Per request,
//! with the configured probability and until a global cap is reached, a seeded [`XorShift`]
//! picks a [`Fault`]; every injected fault is counted by kind ([`FaultProxy::counts`]).
//!
//! A `Location` that names the upstream is rewritten to name the proxy, so that a server which
//! answers absolute URLs of its own (the emulator) keeps the client on the proxy.
//!
//! Every request is also recorded ([`FaultProxy::requests`]): method, target, headers and how
//! many body bytes the client sent, so tests can count PATCHes ([`FaultProxy::count`]), check
//! that a POST carried the first bytes ([`FaultProxy::body_bytes`]) or that a header was sent.
//! [`ProxyConfig::corrupt_patches`] flips one byte in the body of the first PATCHes, so that a
//! server checking `Upload-Checksum` refuses them.
//!
//! A response is read only after the whole request was relayed: an upstream that answers early
//! and closes (a 413 before the body, as the Python server does) looks to the client like a
//! connection cut mid-body. Tests of early answers use [`super::cap_proxy`] or no proxy.
//!
//! Everything is bounded: sockets have 10 s read and write timeouts, and dropping the proxy
//! stops accepting, shuts every socket down and joins every thread.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::XorShift;

/// Read and write timeout of every socket.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Relay buffer size.
const BUF: usize = 64 * 1024;

/// A fault the proxy can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Forward the head and a random part of the request body, then close both connections.
    /// (A request without a body gets [`Fault::CutResponse`] instead.)
    CutRequestBody,
    /// Forward the whole request, then close after a random part of the response.
    CutResponse,
    /// Answer 500, 502 or 503 without forwarding: either after reading the body (the
    /// connection stays usable) or at once, closing the connection.
    ErrorStatus,
    /// Accept a connection and close it at once.
    ResetOnConnect,
    /// Sleep 5–200 ms before forwarding.
    Delay,
}

impl Fault {
    /// Every kind.
    pub const ALL: [Fault; 5] = [
        Fault::CutRequestBody,
        Fault::CutResponse,
        Fault::ErrorStatus,
        Fault::ResetOnConnect,
        Fault::Delay,
    ];

    fn index(self) -> usize {
        match self {
            Fault::CutRequestBody => 0,
            Fault::CutResponse => 1,
            Fault::ErrorStatus => 2,
            Fault::ResetOnConnect => 3,
            Fault::Delay => 4,
        }
    }
}

/// What to inject.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Seed of the fault choices (each connection derives its own generator from it).
    pub seed: u64,
    /// Chance that a request gets a fault; a new connection is reset with a third of it
    /// (clients open about one connection per request once faults close them).
    pub probability: f64,
    /// No more faults than this in all.
    pub max_faults: u64,
    /// The kinds to choose from, uniformly.
    pub faults: Vec<Fault>,
    /// Added before every request is forwarded: a link's round-trip time.
    pub latency: Option<Duration>,
    /// Request-body bytes per second on each connection: a window-limited stream on a long
    /// link (each connection gets this much; more connections get more in all).
    pub rate_per_connection: Option<u64>,
    /// Flip one byte (the middle one) of the body of the first this-many PATCH requests that
    /// have a `Content-Length` body (not counted as faults; see [`SeenRequest::corrupted`]).
    pub corrupt_patches: u64,
}

impl ProxyConfig {
    /// Every kind of fault with `probability`, up to `max_faults`.
    pub fn new(seed: u64, probability: f64, max_faults: u64) -> ProxyConfig {
        ProxyConfig {
            seed,
            probability,
            max_faults,
            faults: Fault::ALL.to_vec(),
            latency: None,
            rate_per_connection: None,
            corrupt_patches: 0,
        }
    }

    /// A plain relay: no faults.
    pub fn transparent() -> ProxyConfig {
        ProxyConfig::new(0, 0.0, 0)
    }
}

/// Faults injected so far, by kind, and what went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Connections accepted.
    pub connections: u64,
    /// Request heads read.
    pub requests: u64,
    /// [`Fault::CutRequestBody`].
    pub cut_request_body: u64,
    /// [`Fault::CutResponse`].
    pub cut_response: u64,
    /// [`Fault::ErrorStatus`].
    pub error_status: u64,
    /// [`Fault::ResetOnConnect`].
    pub reset_on_connect: u64,
    /// [`Fault::Delay`].
    pub delay: u64,
}

impl FaultCounts {
    /// All injected faults.
    pub fn total(&self) -> u64 {
        self.cut_request_body
            + self.cut_response
            + self.error_status
            + self.reset_on_connect
            + self.delay
    }

    /// Element-wise sum.
    pub fn plus(&self, o: &FaultCounts) -> FaultCounts {
        FaultCounts {
            connections: self.connections + o.connections,
            requests: self.requests + o.requests,
            cut_request_body: self.cut_request_body + o.cut_request_body,
            cut_response: self.cut_response + o.cut_response,
            error_status: self.error_status + o.error_status,
            reset_on_connect: self.reset_on_connect + o.reset_on_connect,
            delay: self.delay + o.delay,
        }
    }
}

/// One request as it went through the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// 0-based index of the connection it came on.
    pub conn: u64,
    /// Method, as sent.
    pub method: String,
    /// Request target (path and query).
    pub target: String,
    /// Headers in order, as the client sent them.
    pub headers: Vec<(String, String)>,
    /// Body bytes read from the client (chunk framing included); fewer than declared when a
    /// fault or a failure cut the body.
    pub body_bytes: u64,
    /// Whether [`ProxyConfig::corrupt_patches`] flipped a byte of this body.
    pub corrupted: bool,
}

impl SeenRequest {
    /// First value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// `Content-Length` as a number.
    pub fn content_length(&self) -> Option<u64> {
        self.header("Content-Length").and_then(|v| v.parse().ok())
    }
}

/// Requests and body bytes of one method ([`FaultProxy::methods`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MethodCount {
    /// Requests whose head was read.
    pub requests: u64,
    /// Body bytes read from the client, in all.
    pub body_bytes: u64,
}

struct Shared {
    config: ProxyConfig,
    upstream: SocketAddr,
    addr: SocketAddr,
    stop: AtomicBool,
    injected: AtomicU64,
    by_kind: [AtomicU64; 5],
    connections: AtomicU64,
    requests: AtomicU64,
    seen: Mutex<Vec<SeenRequest>>,
    corrupted: AtomicU64,
    // Clones of every open socket, by connection number, to shut them down on drop.
    sockets: Mutex<HashMap<u64, Vec<TcpStream>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn enabled(&self, f: Fault) -> bool {
        self.config.faults.contains(&f)
    }

    // True with probability `p`, while the cap allows (the fault is then reserved).
    fn roll(&self, rng: &mut XorShift, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
            && self
                .injected
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < self.config.max_faults).then_some(n + 1)
                })
                .is_ok()
    }

    fn count(&self, f: Fault) {
        self.by_kind[f.index()].fetch_add(1, Ordering::SeqCst);
    }

    fn register(&self, conn: u64, s: &TcpStream) {
        if let Ok(clone) = s.try_clone() {
            self.sockets
                .lock()
                .unwrap()
                .entry(conn)
                .or_default()
                .push(clone);
        }
    }
}

/// The running proxy; stopped on drop.
pub struct FaultProxy {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (a 127.0.0.1 address).
    pub fn start(upstream: SocketAddr, config: ProxyConfig) -> FaultProxy {
        assert!(
            upstream.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST),
            "the fault proxy only relays to 127.0.0.1, not {upstream}"
        );
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the fault proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            config,
            upstream,
            addr,
            stop: AtomicBool::new(false),
            injected: AtomicU64::new(0),
            by_kind: Default::default(),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
            corrupted: AtomicU64::new(0),
            sockets: Mutex::new(HashMap::new()),
            workers: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(&s, &listener))
            .expect("spawn the proxy's accept thread");
        FaultProxy {
            shared,
            accept: Some(accept),
        }
    }

    /// Starts a proxy to the `http://127.0.0.1:PORT...` server of `url`.
    pub fn to_url(url: &str, config: ProxyConfig) -> FaultProxy {
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("not an http URL: {url}"));
        let authority = rest.split('/').next().unwrap_or(rest);
        let upstream: SocketAddr = authority
            .parse()
            .unwrap_or_else(|e| panic!("{authority} is not an IP address and port: {e}"));
        FaultProxy::start(upstream, config)
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `url` (on the upstream) with its `http://host:port` replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let up = format!("http://{}", self.shared.upstream);
        match url.strip_prefix(&up) {
            Some(rest) => format!("http://{}{rest}", self.shared.addr),
            None => panic!("{url} is not on the upstream {up}"),
        }
    }

    /// Faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        let k = |f: Fault| self.shared.by_kind[f.index()].load(Ordering::SeqCst);
        FaultCounts {
            connections: self.shared.connections.load(Ordering::SeqCst),
            requests: self.shared.requests.load(Ordering::SeqCst),
            cut_request_body: k(Fault::CutRequestBody),
            cut_response: k(Fault::CutResponse),
            error_status: k(Fault::ErrorStatus),
            reset_on_connect: k(Fault::ResetOnConnect),
            delay: k(Fault::Delay),
        }
    }

    /// Every request so far, in the order their heads arrived.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The requests of `method` so far.
    pub fn requests_of(&self, method: &str) -> Vec<SeenRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .collect()
    }

    /// How many requests of `method` went through.
    pub fn count(&self, method: &str) -> u64 {
        self.methods()
            .get(&method.to_ascii_uppercase())
            .map_or(0, |m| m.requests)
    }

    /// Body bytes the client sent with requests of `method`, in all.
    pub fn body_bytes(&self, method: &str) -> u64 {
        self.methods()
            .get(&method.to_ascii_uppercase())
            .map_or(0, |m| m.body_bytes)
    }

    /// Requests and body bytes by (upper-case) method.
    pub fn methods(&self) -> BTreeMap<String, MethodCount> {
        let mut by = BTreeMap::<String, MethodCount>::new();
        for r in self.shared.seen.lock().unwrap().iter() {
            let m = by.entry(r.method.to_ascii_uppercase()).or_default();
            m.requests += 1;
            m.body_bytes += r.body_bytes;
        }
        by
    }

    /// PATCH bodies corrupted so far ([`ProxyConfig::corrupt_patches`]).
    pub fn corrupted(&self) -> u64 {
        self.shared.corrupted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for socks in self.shared.sockets.lock().unwrap().values() {
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        let workers = std::mem::take(&mut *self.shared.workers.lock().unwrap());
        for h in workers {
            let _ = h.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let conn = shared.connections.fetch_add(1, Ordering::SeqCst);
        // Registered before the worker starts, so a drop always finds it to shut it down.
        shared.register(conn, &stream);
        let s = Arc::clone(shared);
        let worker = thread::Builder::new()
            .name(format!("fault-proxy-{conn}"))
            .spawn(move || {
                let _ = serve(&s, conn, stream);
                if let Some(socks) = s.sockets.lock().unwrap().remove(&conn) {
                    for sock in socks {
                        let _ = sock.shutdown(Shutdown::Both);
                    }
                }
            })
            .expect("spawn a proxy thread");
        let mut workers = shared.workers.lock().unwrap();
        workers.retain(|h| !h.is_finished());
        workers.push(worker);
    }
}

/// A parsed request or response head.
pub(super) struct Head {
    // Request line or status line, without CRLF.
    pub(super) start: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    pub(super) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub(super) fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }

    pub(super) fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub(super) fn target(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or("")
    }

    pub(super) fn bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str(&self.start);
        out.push_str("\r\n");
        for (k, v) in &self.headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    // How the body that follows this head is framed.
    pub(super) fn framing(&self) -> io::Result<Framing> {
        if self.has_token("Transfer-Encoding", "chunked") {
            return Ok(Framing::Chunked);
        }
        match self.header("Content-Length") {
            Some(v) => v
                .parse()
                .map(Framing::Length)
                .map_err(|_| bad(format!("bad Content-Length {v:?}"))),
            None => Ok(Framing::Length(0)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

pub(super) fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

// Reads one line (with its line end) of at most `left` bytes.
fn read_line(r: &mut impl BufRead, out: &mut Vec<u8>, left: usize) -> io::Result<usize> {
    let n = r.by_ref().take(left as u64 + 1).read_until(b'\n', out)?;
    if n > left {
        return Err(bad("head too long"));
    }
    Ok(n)
}

// Reads a head; `None` on a clean end of stream before its first byte.
pub(super) fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        let n = read_line(r, &mut raw, MAX_HEAD.saturating_sub(start))?;
        if n == 0 {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::from(io::ErrorKind::UnexpectedEof))
            };
        }
        let line = &raw[start..];
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                // Stray line end between messages.
                raw.clear();
                continue;
            }
            break;
        }
    }
    let text = String::from_utf8(raw).map_err(|_| bad("head is not UTF-8"))?;
    let mut lines = text.lines();
    let start = lines.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(Some(Head { start, headers }))
}

/// The error a [`Cut`] writer returns once its budget is spent.
#[derive(Debug)]
struct CutHere;

impl std::fmt::Display for CutHere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault proxy cut the stream")
    }
}

impl std::error::Error for CutHere {}

fn is_cut(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<CutHere>())
}

/// Passes on at most `left` bytes, then fails with [`CutHere`]; unlimited when `None`.
struct Cut<W> {
    inner: W,
    left: Option<u64>,
}

impl<W: Write> Write for Cut<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let want = match self.left {
            None => buf.len(),
            Some(0) if !buf.is_empty() => return Err(io::Error::other(CutHere)),
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
        };
        let n = self.inner.write(&buf[..want])?;
        if let Some(left) = self.left.as_mut() {
            *left -= n as u64;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Paces writes to `rate` bytes per second (unlimited when `None`).
struct Throttle<W> {
    inner: W,
    rate: Option<u64>,
    started: std::time::Instant,
    written: u64,
}

impl<W: Write> Throttle<W> {
    fn new(inner: W, rate: Option<u64>) -> Self {
        Throttle {
            inner,
            rate,
            started: std::time::Instant::now(),
            written: 0,
        }
    }
}

impl<W: Write> Write for Throttle<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(rate) = self.rate.filter(|r| *r > 0) else {
            return self.inner.write(buf);
        };
        // Small slices keep the pace smooth.
        let buf = &buf[..buf.len().min(16 * 1024)];
        let due = Duration::from_secs_f64(self.written as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            thread::sleep(wait);
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Counts the bytes passed on into `count`.
pub(super) struct Counting<'a, W> {
    pub(super) inner: W,
    pub(super) count: &'a mut u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        *self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Inverts the byte at position `at` of what passes (none when `None`).
struct Flip<W> {
    inner: W,
    at: Option<u64>,
    pos: u64,
}

impl<W: Write> Write for Flip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.at {
            Some(at) if at >= self.pos && at < self.pos + buf.len() as u64 => {
                let i = (at - self.pos) as usize;
                // Pass what comes before the byte, then the flipped byte alone.
                if i > 0 {
                    self.inner.write(&buf[..i])?
                } else {
                    self.inner.write(&[!buf[0]])?
                }
            }
            _ => self.inner.write(buf)?,
        };
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// Copies exactly `n` bytes.
fn copy_exact(r: &mut impl Read, w: &mut impl Write, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.by_ref().take(n), w)?;
    if copied < n {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok(())
}

// Relays a body of `framing`, raw (chunk framing included).
pub(super) fn relay_body(
    r: &mut impl BufRead,
    w: &mut impl Write,
    framing: Framing,
) -> io::Result<()> {
    match framing {
        Framing::Length(n) => copy_exact(r, w, n),
        Framing::UntilClose => io::copy(r, w).map(|_| ()),
        Framing::Chunked => loop {
            let mut line = Vec::new();
            if read_line(r, &mut line, 4096)? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            w.write_all(&line)?;
            let text = std::str::from_utf8(&line).map_err(|_| bad("bad chunk size line"))?;
            let hex = text.split(';').next().unwrap_or("").trim();
            let size =
                u64::from_str_radix(hex, 16).map_err(|_| bad(format!("bad chunk size {hex:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if read_line(r, &mut line, 4096)? == 0 {
                        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                    }
                    w.write_all(&line)?;
                    if line == b"\r\n" || line == b"\n" {
                        return Ok(());
                    }
                }
            }
            copy_exact(r, w, size)?;
            line.clear();
            read_line(r, &mut line, 2)?;
            w.write_all(&line)?;
        },
    }
}

fn below(rng: &mut XorShift, n: u64) -> u64 {
    if n == 0 { 0 } else { rng.next_u64() % n }
}

pub(super) fn configure(s: &TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)
}

pub(super) fn shut(a: &TcpStream, b: Option<&TcpStream>) {
    let _ = a.shutdown(Shutdown::Both);
    if let Some(b) = b {
        let _ = b.shutdown(Shutdown::Both);
    }
}

// Serves one client connection until either side closes, a fault ends it, or the proxy stops.
fn serve(shared: &Shared, conn: u64, client: TcpStream) -> io::Result<()> {
    let mut rng = XorShift::new(
        shared
            .config
            .seed
            .wrapping_add(conn.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    );
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    if shared.enabled(Fault::ResetOnConnect)
        && shared.roll(&mut rng, shared.config.probability / 3.0)
    {
        shared.count(Fault::ResetOnConnect);
        shut(&client, None);
        return Ok(());
    }
    configure(&client)?;
    let upstream = TcpStream::connect_timeout(&shared.upstream, IO_TIMEOUT)?;
    configure(&upstream)?;
    shared.register(conn, &upstream);
    let upstream_base = format!("http://{}", shared.upstream);
    let proxy_base = format!("http://{}", shared.addr);
    let per_request: Vec<Fault> = shared
        .config
        .faults
        .iter()
        .copied()
        .filter(|f| *f != Fault::ResetOnConnect)
        .collect();

    let mut client_r = BufReader::with_capacity(BUF, client.try_clone()?);
    let mut up_r = BufReader::with_capacity(BUF, upstream.try_clone()?);
    let (mut client_w, mut up_w) = (&client, &upstream);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Some(mut req) = read_head(&mut client_r)? else {
            break;
        };
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let seen = {
            let mut v = shared.seen.lock().unwrap();
            v.push(SeenRequest {
                conn,
                method: req.method().to_owned(),
                target: req.target().to_owned(),
                headers: req.headers.clone(),
                body_bytes: 0,
                corrupted: false,
            });
            v.len() - 1
        };
        let note_body = |n: u64| shared.seen.lock().unwrap()[seen].body_bytes = n;
        // Like nginx: the proxy itself lets the client go on, and the upstream is not asked.
        if req.has_token("Expect", "100-continue") {
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("Expect"));
            client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let req_framing = req.framing()?;
        let is_head = req.method().eq_ignore_ascii_case("HEAD");
        let mut fault =
            if !per_request.is_empty() && shared.roll(&mut rng, shared.config.probability) {
                Some(per_request[below(&mut rng, per_request.len() as u64) as usize])
            } else {
                None
            };
        if fault == Some(Fault::CutRequestBody) && req_framing == Framing::Length(0) {
            fault = Some(Fault::CutResponse);
        }
        if let Some(f) = fault {
            shared.count(f);
        }

        match fault {
            Some(Fault::Delay) => {
                thread::sleep(Duration::from_millis(5 + below(&mut rng, 196)));
            }
            Some(Fault::ErrorStatus) => {
                let status = [500, 502, 503][below(&mut rng, 3) as usize];
                let text = format!("injected {status}\n");
                let keep = rng.next_u64().is_multiple_of(2);
                if keep {
                    let mut n = 0;
                    let drained = relay_body(
                        &mut client_r,
                        &mut Counting {
                            inner: io::sink(),
                            count: &mut n,
                        },
                        req_framing,
                    );
                    note_body(n);
                    drained?;
                }
                let resp = format!(
                    "HTTP/1.1 {status} Injected\r\nContent-Type: text/plain\r\n\
                     Content-Length: {}\r\n{}\r\n{text}",
                    text.len(),
                    if keep { "" } else { "Connection: close\r\n" },
                );
                client_w.write_all(resp.as_bytes())?;
                if keep {
                    continue;
                }
                shut(&client, Some(&upstream));
                return Ok(());
            }
            _ => {}
        }

        // The request: head and body, cut short for CutRequestBody.
        let head = req.bytes();
        let limit = match (fault, req_framing) {
            (Some(Fault::CutRequestBody), Framing::Length(n)) => {
                Some(head.len() as u64 + below(&mut rng, n))
            }
            // Chunked: somewhere in the first 64 KiB of the body.
            (Some(Fault::CutRequestBody), _) => {
                Some(head.len() as u64 + below(&mut rng, BUF as u64))
            }
            _ => None,
        };
        if let Some(latency) = shared.config.latency {
            thread::sleep(latency);
        }
        // The body's middle byte is flipped for the first `corrupt_patches` PATCHes.
        let flip_at = match req_framing {
            Framing::Length(n) if n > 0 && req.method().eq_ignore_ascii_case("PATCH") => shared
                .corrupted
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                    (c < shared.config.corrupt_patches).then_some(c + 1)
                })
                .is_ok()
                .then_some(n / 2),
            _ => None,
        };
        if flip_at.is_some() {
            shared.seen.lock().unwrap()[seen].corrupted = true;
        }
        let mut throttled = Throttle::new(&mut up_w, shared.config.rate_per_connection);
        let mut out = Cut {
            inner: &mut throttled,
            left: limit,
        };
        let mut body_bytes = 0;
        let sent = out.write_all(&head).and_then(|()| {
            let mut body = Counting {
                inner: Flip {
                    inner: &mut out,
                    at: flip_at,
                    pos: 0,
                },
                count: &mut body_bytes,
            };
            relay_body(&mut client_r, &mut body, req_framing)
        });
        note_body(body_bytes);
        match sent {
            Ok(()) => {}
            Err(e) if is_cut(&e) => {
                shut(&client, Some(&upstream));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        if limit.is_some() {
            // The whole (chunked) body fit under the limit: cut before the response.
            shut(&client, Some(&upstream));
            return Ok(());
        }

        // The response, after any interim (1xx) ones.
        let resp = loop {
            let Some(resp) = read_head(&mut up_r)? else {
                // Upstream closed (say, an idle timeout): so does the client's connection.
                shut(&client, Some(&upstream));
                return Ok(());
            };
            if (100..200).contains(&resp.status()) && resp.status() != 101 {
                client_w.write_all(&resp.bytes())?;
                continue;
            }
            break resp;
        };
        let mut resp = resp;
        for (k, v) in &mut resp.headers {
            if k.eq_ignore_ascii_case("Location")
                && let Some(rest) = v.strip_prefix(&upstream_base)
            {
                *v = format!("{proxy_base}{rest}");
            }
        }
        let status = resp.status();
        let resp_framing = if is_head || status == 204 || status == 304 {
            Framing::Length(0)
        } else if resp.has_token("Transfer-Encoding", "chunked") {
            Framing::Chunked
        } else if resp.header("Content-Length").is_some() {
            resp.framing()?
        } else {
            Framing::UntilClose
        };
        let head = resp.bytes();
        let limit = (fault == Some(Fault::CutResponse)).then(|| {
            let body = match resp_framing {
                Framing::Length(n) => n,
                _ => 64,
            };
            below(&mut rng, head.len() as u64 + body)
        });
        let mut out = Cut {
            inner: &mut client_w,
            left: limit,
        };
        let sent = out
            .write_all(&head)
            .and_then(|()| relay_body(&mut up_r, &mut out, resp_framing))
            .and_then(|()| out.flush());
        match sent {
            Ok(()) => {}
            Err(e) if is_cut(&e) => {
                shut(&client, Some(&upstream));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let close = limit.is_some()
            || resp_framing == Framing::UntilClose
            || resp.has_token("Connection", "close")
            || req.has_token("Connection", "close");
        if close {
            shut(&client, Some(&upstream));
            return Ok(());
        }
    }
    shut(&client, Some(&upstream));
    Ok(())
}
