//! A tiny scripted HTTP/1.1 server on a raw [`TcpListener`], for hostile-server tests.
//!
//! It accepts connections on 127.0.0.1 (ephemeral port), each on its own thread, reads request
//! heads (and, unless told not to, the body per `Content-Length`) and hands each request to a
//! script closure together with the raw [`TcpStream`]: the script can answer anything — a proper
//! response, a partial head, garbage, nothing — sleep, or close. Every request is logged.
//!
//! Scripts must not block forever: use [`wait_for_close`] (bounded) to "never answer".
//! Dropping the server shuts every open connection down, which unblocks their threads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::listen::stop_accept_loop;

/// Largest request head read; more is a broken client (the connection is closed).
const MAX_HEAD: usize = 64 * 1024;
/// Bodies longer than this are read but not kept.
const MAX_KEPT_BODY: u64 = 64 * 1024 * 1024;
/// The longest any helper here waits for a client.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// One request as the script sees it.
#[derive(Clone, Debug)]
pub struct RawRequest {
    /// 0-based index of the request over the server's life.
    pub index: usize,
    /// 0-based index of the connection it came on.
    pub conn: usize,
    /// Method, as sent.
    pub method: String,
    /// Request target (path and query).
    pub path: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// `Content-Length`, 0 when absent or unparsable.
    pub content_length: u64,
    /// The body, when the server read it (and it was not over `MAX_KEPT_BODY`).
    pub body: Vec<u8>,
    /// Whether the body was read off the stream before the script ran.
    pub body_read: bool,
}

impl RawRequest {
    /// First value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header(&self.headers, name)
    }

    /// `Upload-Offset` as a number.
    pub fn upload_offset(&self) -> Option<u64> {
        self.header("Upload-Offset").and_then(|v| v.parse().ok())
    }

    /// `"METHOD path"`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What happens to the connection after the script ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Read the next request from it.
    KeepAlive,
    /// Close it.
    Close,
}

type Script = dyn Fn(&RawRequest, &mut TcpStream) -> Next + Send + Sync;
type OnAccept = dyn Fn(TcpStream) + Send + Sync;

enum Mode {
    Requests {
        script: Box<Script>,
        read_body: bool,
    },
    Raw(Box<OnAccept>),
}

struct Shared {
    stop: AtomicBool,
    requests: Mutex<Vec<RawRequest>>,
    conns: Mutex<Vec<TcpStream>>,
    accepted: AtomicUsize,
    next_index: AtomicUsize,
}

/// The server; stops on drop.
pub struct RawServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Reads each request's body (per `Content-Length`) before calling `script`.
    pub fn start(
        script: impl Fn(&RawRequest, &mut TcpStream) -> Next + Send + Sync + 'static,
    ) -> RawServer {
        Self::scripted(Box::new(script), true)
    }

    /// Calls `script` right after the head: the body (if any) is still on the stream, for the
    /// script to read, drain or ignore. A connection is closed after a request whose body the
    /// script may have left unread unless the script says [`Next::KeepAlive`].
    pub fn start_head_only(
        script: impl Fn(&RawRequest, &mut TcpStream) -> Next + Send + Sync + 'static,
    ) -> RawServer {
        Self::scripted(Box::new(script), false)
    }

    fn scripted(script: Box<Script>, read_body: bool) -> RawServer {
        Self::spawn(Mode::Requests { script, read_body })
    }

    /// Hands each accepted connection to `on_accept`, reading nothing (no requests are logged).
    pub fn start_raw(on_accept: impl Fn(TcpStream) + Send + Sync + 'static) -> RawServer {
        Self::spawn(Mode::Raw(Box::new(on_accept)))
    }

    fn spawn(mode: Mode) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            next_index: AtomicUsize::new(0),
        });
        let mode = Arc::new(mode);
        let sh = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if sh.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = sh.accepted.fetch_add(1, Ordering::SeqCst);
                // Raw handlers own their connection outright: a clone kept here would keep a
                // dropped socket open.
                if matches!(*mode, Mode::Requests { .. })
                    && let Ok(clone) = stream.try_clone()
                {
                    sh.conns.lock().unwrap().push(clone);
                }
                let mode = Arc::clone(&mode);
                let sh = Arc::clone(&sh);
                thread::spawn(move || match &*mode {
                    Mode::Raw(f) => f(stream),
                    Mode::Requests { script, read_body } => {
                        serve(stream, conn, &sh, &**script, *read_body)
                    }
                });
            }
        });
        RawServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url() + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Every request received so far (bodies included).
    pub fn requests(&self) -> Vec<RawRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// `"METHOD path"` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(RawRequest::line).collect()
    }

    /// How many requests used `method`.
    pub fn count(&self, method: &str) -> usize {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        stop_accept_loop(&self.shared.stop, self.addr, self.accept.take());
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn serve(mut stream: TcpStream, conn: usize, sh: &Shared, script: &Script, read_body: bool) {
    serve_requests(&mut stream, conn, sh, script, read_body);
    // The clone kept for `Drop` would hold the socket open: close it for real.
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve_requests(
    stream: &mut TcpStream,
    conn: usize,
    sh: &Shared,
    script: &Script,
    read_body: bool,
) {
    let _ = stream.set_read_timeout(Some(MAX_WAIT));
    loop {
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(head) = read_head(stream) else {
            return;
        };
        let Some(mut req) = parse_head(&head) else {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        req.conn = conn;
        req.index = sh.next_index.fetch_add(1, Ordering::SeqCst);
        if read_body && req.content_length > 0 {
            let keep = req.content_length <= MAX_KEPT_BODY;
            match read_exact_len(stream, req.content_length, keep) {
                Ok(body) => req.body = body,
                Err(_) => {
                    sh.requests.lock().unwrap().push(req);
                    return;
                }
            }
            req.body_read = true;
        }
        sh.requests.lock().unwrap().push(req.clone());
        let next = script(&req, stream);
        let _ = stream.flush();
        if next == Next::Close {
            let _ = stream.shutdown(Shutdown::Write);
            // Linger briefly so unread client bytes don't turn the close into a reset that
            // destroys the response before the client reads it.
            drain_for(stream, Duration::from_millis(500));
            return;
        }
    }
}

/// Reads one request head byte by byte (so nothing past it is consumed). `None` on EOF,
/// error or an oversized head.
fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            // EINTR: a read with a timeout after the process was stopped and continued.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return None,
        }
        if head.len() > MAX_HEAD {
            return None;
        }
    }
    Some(head)
}

fn parse_head(head: &[u8]) -> Option<RawRequest> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let content_length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    Some(RawRequest {
        index: 0,
        conn: 0,
        method,
        path,
        headers,
        content_length,
        body: Vec::new(),
        body_read: false,
    })
}

/// Reads exactly `len` bytes, keeping them when `keep`.
pub fn read_exact_len(stream: &mut TcpStream, len: u64, keep: bool) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match stream.read(&mut buf[..want]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if keep {
            out.extend_from_slice(&buf[..n]);
        }
        left -= n as u64;
    }
    Ok(out)
}

/// Reads and drops whatever arrives for up to `d` (or until EOF); returns how long it read.
pub fn drain_for(stream: &mut TcpStream, d: Duration) -> Duration {
    let started = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16 * 1024];
    while started.elapsed() < d {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    started.elapsed()
}

/// "Never answers": waits until the client closes the connection (or [`MAX_WAIT`] passes),
/// reading and dropping anything it sends. Returns how long it waited.
pub fn wait_for_close(stream: &mut TcpStream) -> Duration {
    drain_for(stream, MAX_WAIT)
}

/// Writes a complete response with `Content-Length`.
pub fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let len = body.len().to_string();
    let mut all = headers.to_vec();
    all.push(("Content-Length", &len));
    write_response(stream, status, &all, body)
}

/// Writes to `w` (a socket, or any writer) a response of exactly these headers and body (no
/// `Content-Length` of its own).
pub fn write_response(
    w: &mut impl Write,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    w.write_all(&bytes)?;
    w.flush()
}

/// A server that answers every request with `body` as `content_type` (a HEAD without it) and
/// closes the connection: the source of an import.
pub fn file_server(body: Vec<u8>, content_type: &'static str) -> RawServer {
    RawServer::start(move |req, s| {
        let len = body.len().to_string();
        let headers = [
            ("Content-Type", content_type),
            ("Content-Length", &len),
            ("Connection", "close"),
        ];
        let body = if req.method == "HEAD" { &[][..] } else { &body };
        let _ = write_response(s, 200, &headers, body);
        Next::Close
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
