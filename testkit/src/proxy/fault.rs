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
//! Every request is also recorded ([`FaultProxy::requests`]): method, headers, how many body
//! bytes the client sent and the answer it got, so tests can count PATCHes
//! ([`FaultProxy::count`]), check that a POST carried the first bytes
//! ([`FaultProxy::body_bytes`]), that a header was sent or what offset a HEAD answered.
//! [`ProxyConfig::corrupt_patches`] flips one byte in the body of the first PATCHes, so that a
//! server checking `Upload-Checksum` refuses them.
//!
//! A response is read only after the whole request was relayed: an upstream that answers early
//! and closes (a 413 before the body, as the Python server does) looks to the client like a
//! connection cut mid-body. Tests of early answers use [`super::cap`] or no proxy.
//!
//! Everything is bounded: sockets have 10 s read and write timeouts, and dropping the proxy
//! stops accepting, shuts every socket down and joins every thread.

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use super::super::XorShift;
use super::http::{Counting, Framing, configure, read_response, relay_body, shut};
use super::relay::{Conns, Relay, log_entry, upstream_of};

/// Read and write timeout of every socket.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
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

/// What to inject: faults and corrupted bodies first, then the shape of the link.
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
    /// Flip one byte (the middle one) of the body of the first this-many PATCH requests that
    /// have a `Content-Length` body (not counted as faults; see [`SeenRequest::corrupted`]).
    pub corrupt_patches: u64,
    /// Added before every request is forwarded: a link's round-trip time.
    pub latency: Option<Duration>,
    /// Request-body bytes per second on each connection: a window-limited stream on a long
    /// link (each connection gets this much; more connections get more in all).
    pub rate_per_connection: Option<u64>,
}

impl ProxyConfig {
    /// Every kind of fault with `probability`, up to `max_faults`.
    pub fn new(seed: u64, probability: f64, max_faults: u64) -> ProxyConfig {
        ProxyConfig {
            seed,
            probability,
            max_faults,
            faults: Fault::ALL.to_vec(),
            corrupt_patches: 0,
            latency: None,
            rate_per_connection: None,
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
    /// Method, as sent.
    pub method: String,
    /// Headers in order, as the client sent them.
    pub headers: Vec<(String, String)>,
    /// Body bytes read from the client (chunk framing included); fewer than declared when a
    /// fault or a failure cut the body.
    pub body_bytes: u64,
    /// Whether [`ProxyConfig::corrupt_patches`] flipped a byte of this body.
    pub corrupted: bool,
    /// The upstream's answer (after any 1xx), logged before it is relayed to the client; `None`
    /// when none came (or the proxy answered itself).
    pub response: Option<SeenResponse>,
}

/// A response as the proxy relayed it: status and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, as the upstream sent them (a `Location` before it was rewritten).
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// First value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        super::super::http::header(&self.headers, name)
    }

    /// `Upload-Offset` of the request, as a number.
    pub fn offset(&self) -> Option<u64> {
        self.header("Upload-Offset").and_then(|v| v.parse().ok())
    }

    /// `Upload-Offset` of the response, as a number, if there was a response with one.
    pub fn answered_offset(&self) -> Option<u64> {
        let r = self.response.as_ref()?;
        super::super::http::header(&r.headers, "Upload-Offset").and_then(|v| v.parse().ok())
    }
}

/// What the connections of a [`FaultProxy`] share.
pub struct FaultState {
    config: ProxyConfig,
    injected: AtomicU64,
    by_kind: [AtomicU64; 5],
    seen: Mutex<Vec<SeenRequest>>,
    corrupted: AtomicU64,
}

impl FaultState {
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
}

/// The running proxy; stopped on drop.
pub type FaultProxy = Relay<FaultState>;

impl FaultProxy {
    /// Starts a proxy to `upstream` (a 127.0.0.1 address).
    pub fn start(upstream: SocketAddr, config: ProxyConfig) -> FaultProxy {
        let state = FaultState {
            config,
            injected: AtomicU64::new(0),
            by_kind: Default::default(),
            seen: Mutex::new(Vec::new()),
            corrupted: AtomicU64::new(0),
        };
        Relay::new("fault-proxy", upstream, state, serve)
    }

    /// Starts a proxy to the `http://127.0.0.1:PORT...` server of `url`.
    pub fn to_url(url: &str, config: ProxyConfig) -> FaultProxy {
        FaultProxy::start(upstream_of(url), config)
    }

    /// Faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        let k = |f: Fault| self.shared().by_kind[f.index()].load(Ordering::SeqCst);
        FaultCounts {
            connections: self.conns().connections(),
            requests: self.shared().seen.lock().unwrap().len() as u64,
            cut_request_body: k(Fault::CutRequestBody),
            cut_response: k(Fault::CutResponse),
            error_status: k(Fault::ErrorStatus),
            reset_on_connect: k(Fault::ResetOnConnect),
            delay: k(Fault::Delay),
        }
    }

    /// Every request so far, in the order their heads arrived.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared().seen.lock().unwrap().clone()
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
        self.requests_of(method).len() as u64
    }

    /// Body bytes the client sent with requests of `method`, in all.
    pub fn body_bytes(&self, method: &str) -> u64 {
        self.requests_of(method).iter().map(|r| r.body_bytes).sum()
    }

    /// PATCH bodies corrupted so far ([`ProxyConfig::corrupt_patches`]).
    pub fn corrupted(&self) -> u64 {
        self.shared().corrupted.load(Ordering::SeqCst)
    }
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

/// Whether a relay through a [`Cut`] writer was cut short on purpose; other errors stay errors.
fn cut_short(sent: io::Result<()>) -> io::Result<bool> {
    match sent {
        Ok(()) => Ok(false),
        Err(e) if is_cut(&e) => Ok(true),
        Err(e) => Err(e),
    }
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

fn below(rng: &mut XorShift, n: u64) -> u64 {
    if n == 0 { 0 } else { rng.next_u64() % n }
}

// Serves one client connection until either side closes, a fault ends it, or the proxy stops.
fn serve(shared: &FaultState, conns: &Conns, conn: u64, client: TcpStream) -> io::Result<()> {
    let mut rng = XorShift::new(
        shared
            .config
            .seed
            .wrapping_add(conn.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    );
    if conns.stopped() {
        return Ok(());
    }
    if shared.enabled(Fault::ResetOnConnect)
        && shared.roll(&mut rng, shared.config.probability / 3.0)
    {
        shared.count(Fault::ResetOnConnect);
        shut(&client, None);
        return Ok(());
    }
    configure(&client, IO_TIMEOUT)?;
    let upstream = TcpStream::connect_timeout(&conns.upstream(), IO_TIMEOUT)?;
    configure(&upstream, IO_TIMEOUT)?;
    conns.register(conn, &upstream);
    let (upstream_base, proxy_base) = (conns.upstream_base(), conns.base());
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
    while let Some(mut req) = conns.next_request(&mut client_r)? {
        let request = SeenRequest {
            method: req.method().to_owned(),
            headers: req.headers.clone(),
            body_bytes: 0,
            corrupted: false,
            response: None,
        };
        let seen = log_entry(&shared.seen, request);
        let note_body = |n: u64| shared.seen.lock().unwrap()[seen].body_bytes = n;
        // Like nginx: the proxy itself lets the client go on, and the upstream is not asked.
        if req.has_token("Expect", "100-continue") {
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("Expect"));
            client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let req_framing = req.framing()?;
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
        if cut_short(sent)? {
            shut(&client, Some(&upstream));
            return Ok(());
        }
        if limit.is_some() {
            // The whole (chunked) body fit under the limit: cut before the response.
            shut(&client, Some(&upstream));
            return Ok(());
        }

        // The response, after any interim (1xx) ones, which go on to the client.
        let interim = |r: &super::http::Head| client_w.write_all(&r.bytes());
        let Some(mut resp) = read_response(&mut up_r, interim)? else {
            // Upstream closed (say, an idle timeout): so does the client's connection.
            shut(&client, Some(&upstream));
            return Ok(());
        };
        shared.seen.lock().unwrap()[seen].response = Some(SeenResponse {
            status: resp.status(),
            headers: resp.headers.clone(),
        });
        resp.rewrite_location(&upstream_base, &proxy_base);
        let resp_framing = resp.response_framing(&req)?;
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
        if cut_short(sent)? {
            shut(&client, Some(&upstream));
            return Ok(());
        }
        if limit.is_some() || resp.ends_connection(resp_framing, &req) {
            shut(&client, Some(&upstream));
            return Ok(());
        }
    }
    shut(&client, Some(&upstream));
    Ok(())
}
