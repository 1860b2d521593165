//! A tiny scripted HTTP/1.1 server on a raw [`TcpListener`](std::net::TcpListener), for hostile-server tests.
//!
//! It accepts connections on 127.0.0.1 (ephemeral port), each on its own thread, reads request
//! heads (and, unless told not to, the body per `Content-Length`) and hands each request to a
//! script closure together with the raw [`TcpStream`]: the script can answer anything — a proper
//! response, a partial head, garbage, nothing — sleep, or close. Every request is logged.
//!
//! Scripts must not block forever: use [`wait_for_close`] (bounded) to "never answer".
//! Dropping the server shuts every open connection down, which unblocks their threads, and
//! joins them (it is a [`Relay`] with no upstream).

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::proxy::relay::{Conns, Relay};

/// Bodies longer than this are read but not kept.
const MAX_KEPT_BODY: u64 = 64 * 1024 * 1024;
/// The longest any helper here waits for a client.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// One request as the script sees it.
#[derive(Clone, Debug)]
pub struct RawRequest {
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

/// What the connections of a [`RawServer`] share: the script and the requests so far.
pub struct Scripted {
    mode: Mode,
    requests: Mutex<Vec<RawRequest>>,
}

/// The server; stops on drop (shutting every connection down, which unblocks its script).
pub type RawServer = Relay<Scripted>;

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
        let state = Scripted {
            mode,
            requests: Mutex::new(Vec::new()),
        };
        Relay::server("raw-server", state, serve)
    }

    /// `base_url() + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Every request received so far (bodies included).
    pub fn requests(&self) -> Vec<RawRequest> {
        self.shared().requests.lock().unwrap().clone()
    }

    /// `"METHOD path"` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(RawRequest::line).collect()
    }

    /// How many requests used `method`.
    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.conns().connections()
    }
}

fn serve(sh: &Scripted, conns: &Conns, _: u64, mut stream: TcpStream) -> io::Result<()> {
    match &sh.mode {
        Mode::Raw(on_accept) => on_accept(stream),
        Mode::Requests { script, read_body } => {
            serve_requests(&mut stream, conns, sh, &**script, *read_body)
        }
    }
    Ok(())
}

fn serve_requests(
    stream: &mut TcpStream,
    conns: &Conns,
    sh: &Scripted,
    script: &Script,
    read_body: bool,
) {
    let _ = stream.set_read_timeout(Some(MAX_WAIT));
    loop {
        // One byte at a time: nothing past the head is taken off the stream.
        let head = match conns.next_request(&mut BufReader::with_capacity(1, &mut *stream)) {
            Ok(Some(head)) => head,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                return;
            }
            Ok(None) | Err(_) => return,
        };
        let mut req = RawRequest {
            method: head.method().to_owned(),
            path: head.target().to_owned(),
            content_length: head
                .header("Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            headers: head.headers,
            body: Vec::new(),
        };
        if read_body && req.content_length > 0 {
            let keep = req.content_length <= MAX_KEPT_BODY;
            let body = read_exact_len(stream, req.content_length, keep);
            let failed = body.is_err();
            req.body = body.unwrap_or_default();
            sh.requests.lock().unwrap().push(req.clone());
            if failed {
                return;
            }
        } else {
            sh.requests.lock().unwrap().push(req.clone());
        }
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
