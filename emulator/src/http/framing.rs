//! HTTP/1.1 message framing on a byte stream: request heads (parsed with `httparse`), bodies
//! framed by `Content-Length`, chunked transfer coding or the end of the connection, the
//! `100 Continue` interim answer, and writing a response.
//!
//! Bodies are read lazily through [`Body`], so a handler streams them with a fixed buffer and
//! never holds a whole upload in memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::SystemTime;

use super::message::{Response, header};

/// Largest request head we accept; tus and Wix heads are a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
/// Chunk-size and trailer lines are tiny; longer ones are refused.
const MAX_LINE: u64 = 4096;

/// How a message body is delimited.
pub(crate) enum Framing {
    Length(u64),
    Chunked(ChunkState),
    /// Until the peer closes (responses without a length only).
    UntilClose,
    /// The peer closed: an [`Framing::UntilClose`] body has ended.
    Closed,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk.
    DataEnd,
    Done,
}

/// A message body over a connection's reader.
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

impl<'a> Body<'a> {
    pub fn new(
        reader: &'a mut BufReader<TcpStream>,
        framing: Framing,
        expect_continue: bool,
    ) -> Self {
        Body {
            reader,
            framing,
            expect_continue,
            continue_sent: false,
            failed: false,
        }
    }
}

impl Body<'_> {
    /// The declared `Content-Length`, if the body is length-framed.
    pub fn content_length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Whether the request has (or may have) a body.
    pub fn is_present(&self) -> bool {
        match self.framing {
            Framing::Length(n) => n > 0,
            Framing::Chunked(s) => s != ChunkState::Done,
            Framing::UntilClose => true,
            Framing::Closed => false,
        }
    }

    /// The whole body has been read.
    pub fn finished(&self) -> bool {
        matches!(
            self.framing,
            Framing::Length(0) | Framing::Chunked(ChunkState::Done) | Framing::Closed
        )
    }

    /// A read failed (connection lost, bad framing): the connection can't be reused.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The client waits for `100 Continue` and hasn't been sent it: it hasn't sent the body.
    pub fn awaiting_continue(&self) -> bool {
        self.expect_continue && !self.continue_sent
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
        // Capped so a hostile peer can't grow this buffer.
        let n = (&mut *self.reader)
            .take(MAX_LINE)
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
        match self.framing {
            Framing::Length(left) => {
                let n = self.read_some(buf, left)?;
                self.framing = Framing::Length(left - n as u64);
                Ok(n)
            }
            Framing::UntilClose => {
                let n = self.reader.read(buf)?;
                if n == 0 {
                    self.framing = Framing::Closed;
                }
                Ok(n)
            }
            Framing::Chunked(_) => self.read_chunked(buf),
            Framing::Closed => Ok(0),
        }
    }

    /// Reads at most `left` bytes; the connection ending first is `UnexpectedEof`.
    fn read_some(&mut self, buf: &mut [u8], left: u64) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(n)
    }

    /// The chunked coding: size lines, data, the CRLF after each chunk, trailers.
    fn read_chunked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Framing::Chunked(chunk) = self.framing else {
                return Ok(0);
            };
            match chunk {
                ChunkState::Size => match self.read_chunk_size()? {
                    0 => {
                        // Skip trailers up to the empty line.
                        while !self.read_line()?.is_empty() {}
                        self.framing = Framing::Chunked(ChunkState::Done);
                        return Ok(0);
                    }
                    size => self.framing = Framing::Chunked(ChunkState::Data(size)),
                },
                ChunkState::Data(left) => {
                    let n = self.read_some(buf, left)?;
                    let left = left - n as u64;
                    self.framing = Framing::Chunked(if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    });
                    return Ok(n);
                }
                ChunkState::DataEnd => {
                    if !self.read_line()?.is_empty() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "missing CRLF after chunk",
                        ));
                    }
                    self.framing = Framing::Chunked(ChunkState::Size);
                }
                ChunkState::Done => return Ok(0),
            }
        }
    }

    fn read_chunk_size(&mut self) -> io::Result<u64> {
        let line = self.read_line()?;
        let hex = line.split(';').next().unwrap_or("").trim();
        u64::from_str_radix(hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))
    }

    /// Reads up to `limit` bytes of body into memory; for small JSON bodies only.
    /// `Ok(None)` means the body was larger than `limit`.
    pub fn read_small(&mut self, limit: usize) -> io::Result<Option<Vec<u8>>> {
        if self.content_length().is_some_and(|n| n > limit as u64) {
            return Ok(None);
        }
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
    pub fn drain(&mut self, limit: u64) -> bool {
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
            return Err(io::Error::other("body already failed"));
        }
        let r = self.read_inner(buf);
        if r.is_err() {
            self.failed = true;
        }
        r
    }
}

/// A parsed request head.
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub framing: Framing,
    pub expect_continue: bool,
    pub keep_alive: bool,
}

pub(crate) enum HeadError {
    /// Connection problem: just close.
    Io,
    /// Malformed request: answer this status and close.
    Bad(u16),
}

/// Reads bytes up to and including the blank line that ends a head, at most [`MAX_HEAD`].
/// `Ok(None)` on a clean close or timeout before any byte.
fn read_raw_head(reader: &mut BufReader<TcpStream>) -> Result<Option<Vec<u8>>, HeadError> {
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
            return Ok(Some(raw));
        }
        reader.consume(used);
        if raw.len() > MAX_HEAD {
            return Err(HeadError::Bad(431));
        }
    }
}

/// Position of the first CRLFCRLF.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Where the head starts: stray CRLFs before a start line are tolerated (RFC 9112 §2.2).
fn skip_leading_newlines(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    &raw[start..]
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect()
}

/// Body framing from the headers: chunked, else `Content-Length`, else `otherwise`.
fn framing_of(headers: &[(String, String)], otherwise: Framing) -> Result<Framing, ()> {
    let chunked = header(headers, "Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return Ok(Framing::Chunked(ChunkState::Size));
    }
    match header(headers, "Content-Length") {
        Some(v) => v.parse::<u64>().map(Framing::Length).map_err(|_| ()),
        None => Ok(otherwise),
    }
}

/// Reads one request head. `Ok(None)` on a clean close or idle timeout before any byte.
pub(crate) fn read_head(reader: &mut BufReader<TcpStream>) -> Result<Option<Head>, HeadError> {
    let Some(raw) = read_raw_head(reader)? else {
        return Ok(None);
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(skip_leading_newlines(&raw)) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(HeadError::Bad(400)),
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("/");
    let version = req.version.unwrap_or(1);
    let headers = owned_headers(req.headers);
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
    let framing = framing_of(&headers, Framing::Length(0)).map_err(|()| HeadError::Bad(400))?;
    let connection = header(&headers, "Connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    let keep_alive = if version == 0 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let expect_continue =
        header(&headers, "Expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
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

/// A parsed response head (for the emulator's own outgoing requests).
pub(crate) struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub framing: Framing,
}

/// Reads one response head to a `GET`; `None` when the peer sent no valid head.
pub(crate) fn read_response_head(reader: &mut BufReader<TcpStream>) -> Option<ResponseHead> {
    loop {
        let raw = read_raw_head(reader).ok()??;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(skip_leading_newlines(&raw)) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return None,
        }
        let status = resp.code?;
        if (100..200).contains(&status) {
            // Interim answers carry no body: the real one follows.
            continue;
        }
        let headers = owned_headers(resp.headers);
        let framing = if status == 204 || status == 304 {
            Framing::Length(0)
        } else {
            framing_of(&headers, Framing::UntilClose).ok()?
        };
        return Some(ResponseHead {
            status,
            headers,
            framing,
        });
    }
}

/// The reason phrase of a status we send.
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

/// Writes a response; `is_head` leaves the body out, `close` adds `Connection: close`.
pub(crate) fn write_response(
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
        out.push_str(&format!("Content-Length: {}\r\n", resp.body_len()));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    let with_body = !bodiless_status && !is_head;
    if with_body {
        bytes.extend_from_slice(&resp.body);
    }
    stream.write_all(&bytes)?;
    if let (true, Some((file, len))) = (with_body, &resp.file) {
        // A file that shrank since its length was taken would leave the answer short: the
        // connection is then closed by the error.
        let sent = io::copy(&mut file.take(*len), stream)?;
        if sent < *len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    stream.flush()
}
