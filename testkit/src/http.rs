//! HTTP requests the tests make themselves, around the SDK: an agent that returns every status
//! as a response, whole responses, tus requests by hand, raw exchanges on a socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::Agent;

/// The first value of header `name` (case-insensitive) in `headers`, trimmed.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// A response read whole.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// `Location`, which a creation must answer.
    pub fn location(&self) -> String {
        self.header("Location")
            .unwrap_or_else(|| panic!("{} without Location: {}", self.status, self.body))
            .to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// `details.applicationError.code` of a Wix error body.
    pub fn code(&self) -> Option<String> {
        self.json()["details"]["applicationError"]["code"]
            .as_str()
            .map(str::to_string)
    }

    /// The `ruleName`s of a Wix validation error body.
    pub fn rule_names(&self) -> Vec<String> {
        self.json()["details"]["validationError"]["fieldViolations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|f| f["ruleName"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Reads a response whole; panics on a transport error.
pub fn into_resp(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.expect("transport error");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

/// An agent that returns every status as a response and follows no redirect, with a generous
/// overall timeout.
pub fn agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// `method url` with `headers` and `body`; a transport error is an `Err`. An empty body is sent
/// as `Content-Length: 0` but for GET, HEAD, DELETE and OPTIONS, which get none (as ureq's
/// `send_empty()` and `call()` do).
pub fn try_send(
    agent: &Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_empty() && matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        agent.run(req.body(()).expect("a valid request"))
    } else {
        agent.run(req.body(body).expect("a valid request"))
    }
}

/// [`try_send`], read whole.
pub fn send(agent: &Agent, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    into_resp(try_send(agent, method, url, headers, body))
}

/// A tus request: [`send`] with `Tus-Resumable: 1.0.0`.
pub fn tus(agent: &Agent, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut all = vec![("Tus-Resumable", "1.0.0")];
    all.extend_from_slice(headers);
    send(agent, method, url, &all, body)
}

/// A tus PATCH of `body` at `offset` (and `extra` headers).
pub fn tus_patch(
    agent: &Agent,
    url: &str,
    offset: u64,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Resp {
    let offset = offset.to_string();
    let mut headers = vec![
        ("Content-Type", "application/offset+octet-stream"),
        ("Upload-Offset", offset.as_str()),
    ];
    headers.extend_from_slice(extra);
    tus(agent, "PATCH", url, &headers, body)
}

/// The status of a tus HEAD.
pub fn head_status(url: &str) -> u16 {
    tus(&agent(), "HEAD", url, &[], b"").status
}

/// `POST url` of `body` as JSON.
pub fn post_json(agent: &Agent, url: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    let mut all = headers.to_vec();
    all.push(("Content-Type", "application/json"));
    send(agent, "POST", url, &all, body.to_string().as_bytes())
}

/// `GET url`.
pub fn get(agent: &Agent, url: &str, headers: &[(&str, &str)]) -> Resp {
    send(agent, "GET", url, headers, b"")
}

/// Sends raw bytes on a new connection and returns everything the server answers until it
/// closes (or 30 s pass).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The head of a raw tus PATCH of `path` at `offset`; `extra` is more header lines, each with
/// its CRLF (`Content-Length: 5\r\n`).
pub fn patch_head(path: &str, offset: u64, extra: &str) -> String {
    format!(
        "PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n{extra}\r\n"
    )
}

/// The head of a raw simple-upload PUT of text to `target` (path and query); `extra` is more
/// header lines, each with its CRLF.
pub fn put_head(target: &str, extra: &str) -> String {
    format!("PUT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n{extra}\r\n")
}

/// A connection to `addr` with 30 s read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// Reads the `HTTP/1.1 100 Continue` interim answer off `s`, and checks it is one.
pub fn read_continue(s: &mut TcpStream) {
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).expect("read 100");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// Reads one response head (through the blank line) byte by byte; panics when the connection
/// ends inside it.
pub fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            // A socket read with a timeout returns EINTR when the process was stopped and
            // continued (seen on this machine): not an end.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => panic!(
                "connection ended inside a head ({other:?}): {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    String::from_utf8(head).unwrap()
}

/// Polls `f` until it returns `Some`, for at most a minute (a bound, not a timing claim).
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
