//! A small HTTP/1.1 server on `std::net`: one accept thread, one thread per connection.
//!
//! Request heads are parsed with `httparse`; bodies are read lazily through [`Body`], so a
//! handler streams them with a fixed buffer and never holds a whole upload in memory.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

/// Largest request head we accept; tus and Wix heads are a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
/// An unread body up to this size is drained so the connection can be kept alive; past it
/// the connection is closed after the response.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
/// How long a body read may stall before the request counts as interrupted.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// One parsed request. The body is read on demand.
pub(crate) struct Request<'a> {
    pub method: String,
    pub path: String,
    pub query: String,
    headers: Vec<(String, String)>,
    pub body: Body<'a>,
}

impl Request<'_> {
    /// First value of a header (names compare case-insensitively), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

enum Framing {
    Length(u64),
    Chunked(ChunkState),
}

#[derive(Clone, Copy, PartialEq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk.
    DataEnd,
    Done,
}

/// A request body: `Content-Length` or chunked framing over the connection's reader.
///
/// `read` returns `Ok(0)` only at the true end of the body; a connection that closes early
/// gives `UnexpectedEof`, so callers can tell a complete body from an interrupted one.
pub(crate) struct Body<'a> {
    reader: &'a mut BufReader<TcpStream>,
    framing: Framing,
    /// Send `100 Continue` before the first read.
    expect_continue: bool,
    continue_sent: bool,
    failed: bool,
}

impl Body<'_> {
    /// The declared `Content-Length`, if the body is length-framed.
    pub fn content_length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            Framing::Chunked(_) => None,
        }
    }

    /// Whether the request has (or may have) a body.
    pub fn is_present(&self) -> bool {
        match self.framing {
            Framing::Length(n) => n > 0,
            Framing::Chunked(s) => s != ChunkState::Done,
        }
    }

    fn finished(&self) -> bool {
        matches!(
            self.framing,
            Framing::Length(0) | Framing::Chunked(ChunkState::Done)
        )
    }

    fn send_continue(&mut self) -> io::Result<()> {
        if self.expect_continue && !self.continue_sent {
            self.continue_sent = true;
            self.reader
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        Ok(())
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        // Chunk lines are tiny; cap them so a hostile client can't grow this buffer.
        let n = (&mut *self.reader)
            .take(4096)
            .read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.finished() {
            return Ok(0);
        }
        self.send_continue()?;
        loop {
            match self.framing {
                Framing::Length(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(n);
                }
                Framing::Chunked(ChunkState::Size) => {
                    let line = self.read_line()?;
                    let hex = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(hex, 16).map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
                    if size == 0 {
                        // Skip trailers up to the empty line.
                        while !self.read_line()?.is_empty() {}
                        self.framing = Framing::Chunked(ChunkState::Done);
                        return Ok(0);
                    }
                    self.framing = Framing::Chunked(ChunkState::Data(size));
                }
                Framing::Chunked(ChunkState::Data(left)) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    self.framing = Framing::Chunked(if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    });
                    return Ok(n);
                }
                Framing::Chunked(ChunkState::DataEnd) => {
                    if !self.read_line()?.is_empty() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "missing CRLF after chunk",
                        ));
                    }
                    self.framing = Framing::Chunked(ChunkState::Size);
                }
                Framing::Chunked(ChunkState::Done) => return Ok(0),
            }
        }
    }

    /// Reads up to `limit` bytes of body into memory; for small JSON bodies only.
    /// `Ok(None)` means the body was larger than `limit`.
    pub fn read_small(&mut self, limit: usize) -> io::Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(Some(out));
            }
            if out.len() + n > limit {
                return Ok(None);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads and discards up to `limit` bytes; true when the body ended within it.
    fn drain(&mut self, limit: u64) -> bool {
        let mut buf = [0u8; 16 * 1024];
        let mut seen = 0u64;
        while seen <= limit {
            match self.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => seen += n as u64,
                Err(_) => return false,
            }
        }
        false
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("request body already failed"));
        }
        let r = self.read_inner(buf);
        if r.is_err() {
            self.failed = true;
        }
        r
    }
}

/// A response with a small in-memory body (JSON or nothing).
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }
}

/// What a handler wants done with the connection.
pub(crate) enum Outcome {
    Respond(Response),
    /// Close the connection without answering (emulates a network cut).
    Drop,
}

/// The handler shared by all connection threads.
pub(crate) type Handler = dyn Fn(&mut Request<'_>) -> Outcome + Send + Sync;

/// A running server: stop it with [`Server::shutdown`].
pub(crate) struct Server {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    conns: Arc<Conns>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Conns {
    next_id: AtomicU64,
    /// Clones of open sockets, so shutdown can wake threads blocked in a read.
    open: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Server {
    pub fn start(
        addr: SocketAddr,
        idle_timeout: Duration,
        handler: Arc<Handler>,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Conns::default());
        let accept = {
            let stopping = Arc::clone(&stopping);
            let conns = Arc::clone(&conns);
            thread::Builder::new()
                .name("wix-emulator-accept".into())
                .spawn(move || accept_loop(listener, stopping, conns, idle_timeout, handler))?
        };
        Ok(Server {
            addr,
            stopping,
            conns,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, cuts open connections and joins every thread.
    pub fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // accept() has no timeout: a connection to ourselves wakes it up.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = accept.join();
        for stream in lock(&self.conns.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.conns.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Locks a mutex, ignoring poisoning: a panicking handler thread must not wedge the server.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(
    listener: TcpListener,
    stopping: Arc<AtomicBool>,
    conns: Arc<Conns>,
    idle_timeout: Duration,
    handler: Arc<Handler>,
) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Transient accept errors (e.g. EMFILE): back off briefly instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = conns.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&conns.open).insert(id, clone);
        }
        let handler = Arc::clone(&handler);
        let conns2 = Arc::clone(&conns);
        let spawned = thread::Builder::new()
            .name("wix-emulator-conn".into())
            .spawn(move || {
                serve_connection(stream, idle_timeout, &*handler);
                lock(&conns2.open).remove(&id);
            });
        let mut threads = lock(&conns.threads);
        // Reap finished threads so the list stays as long as the open connections.
        threads.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => threads.push(t),
            Err(_) => {
                lock(&conns.open).remove(&id);
            }
        }
    }
}

fn serve_connection(stream: TcpStream, idle_timeout: Duration, handler: &Handler) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let _ = reader.get_ref().set_read_timeout(Some(idle_timeout));
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(HeadError::Io) => return,
            Err(HeadError::Bad(status)) => {
                let resp = Response::new(status);
                let _ = write_response(reader.get_mut(), &resp, false, true);
                let _ = reader.get_ref().shutdown(Shutdown::Both);
                return;
            }
        };
        let _ = reader.get_ref().set_read_timeout(Some(BODY_TIMEOUT));
        let keep_alive = head.keep_alive;
        let is_head = head.method == "HEAD";
        let mut request = Request {
            method: head.method,
            path: head.path,
            query: head.query,
            headers: head.headers,
            body: Body {
                reader: &mut reader,
                framing: head.framing,
                expect_continue: head.expect_continue,
                continue_sent: false,
                failed: false,
            },
        };
        let outcome = handler(&mut request);
        let Outcome::Respond(resp) = outcome else {
            let _ = reader.get_ref().shutdown(Shutdown::Both);
            return;
        };
        let body = &mut request.body;
        // A body left unread must be consumed before the next request can be parsed.
        let reusable = if body.failed {
            false
        } else if body.finished() {
            true
        } else if body.expect_continue && !body.continue_sent {
            // The client is still waiting for permission to send: don't ask for the body.
            false
        } else {
            body.drain(DRAIN_LIMIT)
        };
        let close = !keep_alive || !reusable;
        let written = write_response(reader.get_mut(), &resp, is_head, close);
        if written.is_err() || close {
            linger_close(reader.get_ref());
            return;
        }
    }
}

/// Half-closes, then reads a little so that unread client data doesn't turn our close into a
/// reset that would destroy the response before the client reads it.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 16 * 1024];
    let mut s = stream;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

struct Head {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    framing: Framing,
    expect_continue: bool,
    keep_alive: bool,
}

enum HeadError {
    /// Connection problem: just close.
    Io,
    /// Malformed request: answer this status and close.
    Bad(u16),
}

/// Reads one request head. `Ok(None)` on a clean close or idle timeout before any byte.
fn read_head(reader: &mut BufReader<TcpStream>) -> Result<Option<Head>, HeadError> {
    let mut raw: Vec<u8> = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                return if raw.is_empty() {
                    Ok(None)
                } else {
                    Err(HeadError::Io)
                };
            }
        };
        if chunk.is_empty() {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(HeadError::Io)
            };
        }
        // Look for the end of the head across the old and new bytes.
        let start = raw.len().saturating_sub(3);
        raw.extend_from_slice(chunk);
        let used = chunk.len();
        if let Some(pos) = find_head_end(&raw[start..]) {
            let end = start + pos + 4;
            let extra = raw.len() - end;
            reader.consume(used - extra);
            raw.truncate(end);
            break;
        }
        reader.consume(used);
        if raw.len() > MAX_HEAD {
            return Err(HeadError::Bad(431));
        }
    }
    // Tolerate stray CRLFs before a request line (RFC 9112 section 2.2).
    let trimmed = raw
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&raw[trimmed..]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(HeadError::Bad(400)),
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("/");
    let version = req.version.unwrap_or(1);
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    // Accept absolute-form targets too.
    let target = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let chunked =
        find("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let framing = if chunked {
        Framing::Chunked(ChunkState::Size)
    } else {
        match find("Content-Length") {
            Some(v) => match v.parse::<u64>() {
                Ok(n) => Framing::Length(n),
                Err(_) => return Err(HeadError::Bad(400)),
            },
            None => Framing::Length(0),
        }
    };
    let connection = find("Connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = if version == 0 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let expect_continue = find("Expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    Ok(Some(Head {
        method,
        path,
        query,
        headers,
        framing,
        expect_continue,
        keep_alive,
    }))
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        460 => "Checksum Mismatch",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn write_response(
    stream: &mut TcpStream,
    resp: &Response,
    is_head: bool,
    close: bool,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Date: {}\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    ));
    // 204 and 304 must not carry a length; HEAD answers carry no body.
    let bodiless_status = resp.status == 204 || resp.status == 304 || resp.status < 200;
    if !bodiless_status && !is_head {
        out.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !bodiless_status && !is_head {
        bytes.extend_from_slice(&resp.body);
    }
    stream.write_all(&bytes)?;
    stream.flush()
}
