//! HTTP/1.1 as the relays of this folder see it: message heads, how a body is framed, relaying
//! a body through as it is (chunk framing included), and what a relayed response looks like.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed request or response head.
pub struct Head {
    // Request line or status line, without CRLF.
    pub start: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        super::super::http::header(&self.headers, name)
    }

    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }

    pub fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn target(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or("")
    }

    pub fn bytes(&self) -> Vec<u8> {
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
    pub fn framing(&self) -> io::Result<Framing> {
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
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

pub fn bad(msg: impl Into<String>) -> io::Error {
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
pub fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
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

/// Counts the bytes passed on into `count`.
pub struct Counting<'a, W> {
    pub inner: W,
    pub count: &'a mut u64,
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

// Copies exactly `n` bytes.
fn copy_exact(r: &mut impl Read, w: &mut impl Write, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.by_ref().take(n), w)?;
    if copied < n {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok(())
}

// Relays a body of `framing`, raw (chunk framing included).
pub fn relay_body(r: &mut impl BufRead, w: &mut impl Write, framing: Framing) -> io::Result<()> {
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
/// Sets `timeout` for reads and writes, and no Nagle delay.
pub fn configure(s: &TcpStream, timeout: Duration) -> io::Result<()> {
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)
}

/// Shuts both directions of `a` (and of `b`) down.
pub fn shut(a: &TcpStream, b: Option<&TcpStream>) {
    let _ = a.shutdown(Shutdown::Both);
    if let Some(b) = b {
        let _ = b.shutdown(Shutdown::Both);
    }
}

/// Reads the response to a request, passing interim (1xx but 101) answers to `interim`;
/// `None` when the upstream closed before answering.
pub fn read_response(
    r: &mut impl BufRead,
    mut interim: impl FnMut(&Head) -> io::Result<()>,
) -> io::Result<Option<Head>> {
    loop {
        let Some(resp) = read_head(r)? else {
            return Ok(None);
        };
        if (100..200).contains(&resp.status()) && resp.status() != 101 {
            interim(&resp)?;
            continue;
        }
        return Ok(Some(resp));
    }
}

impl Head {
    /// Points a `Location` on `from` (`http://host:port`) at `to` instead.
    pub fn rewrite_location(&mut self, from: &str, to: &str) {
        for (k, v) in &mut self.headers {
            if k.eq_ignore_ascii_case("Location")
                && let Some(rest) = v.strip_prefix(from)
            {
                *v = format!("{to}{rest}");
            }
        }
    }

    /// How the body of this response to `req` is framed.
    pub fn response_framing(&self, req: &Head) -> io::Result<Framing> {
        let status = self.status();
        if req.method().eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
            Ok(Framing::Length(0))
        } else if self.has_token("Transfer-Encoding", "chunked") {
            Ok(Framing::Chunked)
        } else if self.header("Content-Length").is_some() {
            self.framing()
        } else {
            Ok(Framing::UntilClose)
        }
    }

    /// Whether the connection ends after this response (framed `framing`) to `req`.
    pub fn ends_connection(&self, framing: Framing, req: &Head) -> bool {
        framing == Framing::UntilClose
            || self.has_token("Connection", "close")
            || req.has_token("Connection", "close")
    }
}
