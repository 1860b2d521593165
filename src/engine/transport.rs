//! The HTTP driver: sends one request with ureq and hands back its status, headers and a
//! bounded body prefix. Statuses are values, never errors.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use ureq::{Agent, RequestBuilder};

use crate::control::AbortHandle;
use crate::error::{Error, FailedRequest, Result};
use wix_media_tus::{Method, ResponseHead};

/// How much of a tus response body is read: enough for any error body, bounded so a hostile
/// server cannot make us hold much.
pub(crate) const BODY_LIMIT: u64 = 64 * 1024;

/// Per-request HTTP settings, applied even to a caller's own agent.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    pub connect_timeout: Option<Duration>,
    pub stall_timeout: Option<Duration>,
    pub user_agent: String,
    pub headers: Vec<(String, String)>,
}

/// `wix-media-upload/<version>`.
pub(crate) const USER_AGENT: &str = concat!("wix-media-upload/", env!("CARGO_PKG_VERSION"));

/// One request: its body, if any, is a reader of exactly `len` bytes.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: &'a [(&'static str, String)],
    pub body: Option<(&'a mut dyn Read, u64)>,
    pub body_limit: u64,
    /// Secrets in `url` to mask in logs and errors.
    pub secrets: &'a [&'a str],
}

impl Call<'_> {
    /// The request as errors name it: method and masked URL.
    pub(crate) fn failed(&self) -> FailedRequest {
        FailedRequest::new(self.method, mask(self.url, self.secrets))
    }
}

/// An answer: status and headers, and the start of its body.
#[derive(Debug)]
pub(crate) struct Response {
    pub head: ResponseHead,
    pub body: Vec<u8>,
}

/// A body reader ended or failed: the marker ureq carries back to us inside an `io::Error`.
#[derive(Debug)]
pub(crate) enum BodyStop {
    Aborted,
    EndedEarly { at: u64, expected: u64 },
    Source(io::Error),
}

impl std::fmt::Display for BodyStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyStop::Aborted => f.write_str("aborted"),
            BodyStop::EndedEarly { at, expected } => {
                write!(f, "source ended at {at} of {expected} bytes")
            }
            BodyStop::Source(e) => write!(f, "source read failed: {e}"),
        }
    }
}

impl std::error::Error for BodyStop {}

/// Wraps a body so it yields exactly `len` bytes or an error (ureq spins on a short body),
/// stops on abort, and reports how far it got.
pub(crate) struct BodyReader<'a, R> {
    inner: R,
    read: u64,
    len: u64,
    abort: Option<&'a AbortHandle>,
    on_read: &'a mut dyn FnMut(u64),
}

impl<'a, R: Read> BodyReader<'a, R> {
    pub(crate) fn new(
        inner: R,
        len: u64,
        abort: Option<&'a AbortHandle>,
        on_read: &'a mut dyn FnMut(u64),
    ) -> Self {
        Self {
            inner,
            read: 0,
            len,
            abort,
            on_read,
        }
    }
}

impl<R: Read> Read for BodyReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.abort.is_some_and(AbortHandle::is_aborted) {
            return Err(io::Error::other(BodyStop::Aborted));
        }
        let left = self.len - self.read;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => return Err(io::Error::other(BodyStop::Source(e))),
        };
        if n == 0 {
            return Err(io::Error::other(BodyStop::EndedEarly {
                at: self.read,
                expected: self.len,
            }));
        }
        self.read += n as u64;
        (self.on_read)(self.read);
        Ok(n)
    }
}

/// Replaces every secret in `s` with `***`.
pub(crate) fn mask(s: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|x| !x.is_empty())
        .fold(s.to_owned(), |acc, x| acc.replace(x, "***"))
}

fn prepare<B>(mut rb: RequestBuilder<B>, s: &HttpSettings, call: &Call<'_>) -> RequestBuilder<B> {
    for (k, v) in &s.headers {
        rb = rb.header(k, v);
    }
    let mut caller_ua = s
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"));
    for (k, v) in call.headers {
        rb = rb.header(*k, v);
        caller_ua |= k.eq_ignore_ascii_case("user-agent");
    }
    // As a header, not `config().user_agent()`: ureq 3 keeps a request whose config overrides
    // the user agent out of the agent's connection pool (a new connection, and TLS handshake,
    // per request). A caller's own User-Agent header wins.
    if !caller_ua {
        rb = rb.header("User-Agent", s.user_agent.as_str());
    }
    rb.config()
        .http_status_as_error(false)
        // A redirect would turn a PATCH into a GET; tus servers never redirect.
        .max_redirects(0)
        .timeout_connect(s.connect_timeout)
        .timeout_per_read(s.stall_timeout)
        .timeout_per_write(s.stall_timeout)
        .timeout_recv_response(s.stall_timeout)
        // The body we read is bounded (`body_limit`), so a whole one must come within the stall
        // timeout too: a server dribbling a byte per second would otherwise never stall.
        .timeout_recv_body(s.stall_timeout)
        .build()
}

// Sends a request with a body: `call.body`'s reader, or an empty one. `taken` counts the body
// bytes ureq took from it.
fn send_body(
    rb: RequestBuilder<ureq::typestate::WithBody>,
    s: &HttpSettings,
    call: &mut Call<'_>,
    taken: &mut u64,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let len = call.body.as_ref().map_or(0, |(_, n)| *n);
    // Set by us: without it ureq sends chunked.
    let rb = prepare(rb, s, call).header("Content-Length", len.to_string());
    match call.body.take() {
        Some((reader, _)) => {
            let mut counted = Taken {
                inner: reader,
                n: taken,
            };
            rb.send(ureq::SendBody::from_reader(&mut counted))
        }
        None => rb.send(&[][..]),
    }
}

/// Counts what ureq reads of a body: every byte taken means it was all handed to the socket
/// but ureq's last buffer, whose write failing is a write error.
struct Taken<'a, 'r> {
    inner: &'a mut (dyn Read + 'r),
    n: &'a mut u64,
}

impl Read for Taken<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.n += n as u64;
        Ok(n)
    }
}

/// Sends one request and reads the response head and a bounded body prefix. A failure's
/// request says whether it was sent whole ([`FailedRequest::sent_whole`]).
pub(crate) fn send(agent: &Agent, s: &HttpSettings, mut call: Call<'_>) -> Result<Response> {
    let started = Instant::now();
    let failed = call.failed();
    let body_limit = call.body_limit;
    let body_len = call.body.as_ref().map_or(0, |(_, n)| *n);
    let mut taken = 0;
    let result = match call.method {
        Method::Options => prepare(agent.options(call.url), s, &call).call(),
        Method::Head => prepare(agent.head(call.url), s, &call).call(),
        Method::Delete => prepare(agent.delete(call.url), s, &call).call(),
        Method::Get => prepare(agent.get(call.url), s, &call).call(),
        Method::Post => send_body(agent.post(call.url), s, &mut call, &mut taken),
        Method::Put => send_body(agent.put(call.url), s, &mut call, &mut taken),
        Method::Patch => send_body(agent.patch(call.url), s, &mut call, &mut taken),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let whole = sent_whole(&e, taken == body_len);
            let err = map_ureq(e, &failed.clone().with_sent_whole(whole));
            log::debug!("{failed} failed after {:?}: {err}", started.elapsed());
            return Err(err);
        }
    };
    let mut head = ResponseHead::new(resp.status().as_u16());
    for (name, value) in resp.headers() {
        if let Ok(v) = value.to_str() {
            head.push_header(name.as_str(), v);
        }
    }
    let mut body = Vec::new();
    if failed.method() != Method::Head {
        // Reading to the end lets ureq pool the connection; past the limit it is dropped.
        let read = resp
            .body_mut()
            .as_reader()
            .take(body_limit)
            .read_to_end(&mut body);
        if let Err(e) = read
            && head.is_success()
        {
            // The server answered: it had the whole request.
            return Err(map_ureq(
                ureq::Error::Io(e),
                &failed.clone().with_sent_whole(true),
            ));
        }
    }
    log::debug!(
        "{failed} -> {} (Upload-Offset: {}) in {:?}",
        head.status,
        head.header("Upload-Offset").unwrap_or("-"),
        started.elapsed()
    );
    Ok(Response { head, body })
}

/// Whether a request that failed with `e` had been written whole: its answer was awaited (or
/// being read) when it failed. `body_taken` says ureq took every body byte; a write that
/// fails after that (broken pipe, or a send timeout) still lost ureq's last buffer.
fn sent_whole(e: &ureq::Error, body_taken: bool) -> bool {
    use ureq::Timeout as T;
    match e {
        ureq::Error::Timeout(T::RecvResponse | T::RecvBody) => true,
        ureq::Error::Timeout(T::Global | T::PerCall) => body_taken,
        ureq::Error::Io(io) => {
            body_taken
                && !io.get_ref().is_some_and(|inner| inner.is::<BodyStop>())
                && !matches!(
                    io.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::NotConnected
                )
        }
        // An answer came, broken.
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => body_taken,
        _ => false,
    }
}

/// Turns a ureq error into ours, recovering what our body reader meant.
pub(crate) fn map_ureq(e: ureq::Error, failed: &FailedRequest) -> Error {
    match e {
        ureq::Error::Timeout(timeout) => Error::Timeout {
            request: Box::new(failed.clone()),
            timeout,
        },
        ureq::Error::Io(io) => {
            if io.get_ref().is_some_and(|inner| inner.is::<BodyStop>()) {
                if let Some(stop) = io.into_inner().and_then(|b| b.downcast::<BodyStop>().ok()) {
                    return match *stop {
                        BodyStop::Aborted => Error::Aborted,
                        BodyStop::EndedEarly { at, expected } => Error::SourceChanged {
                            expected,
                            found: at,
                        },
                        BodyStop::Source(e) => Error::Io(e),
                    };
                }
                return Error::Internal("a body reader's error was lost");
            }
            if io.kind() == io::ErrorKind::TimedOut {
                return Error::Timeout {
                    request: Box::new(failed.clone()),
                    timeout: ureq::Timeout::PerRead,
                };
            }
            transport(ureq::Error::Io(io), failed)
        }
        ureq::Error::BadUri(_) => Error::InvalidInput(format!("bad URL {}", failed.url())),
        other => transport(other, failed),
    }
}

fn transport(source: ureq::Error, failed: &FailedRequest) -> Error {
    Error::Transport {
        request: Box::new(failed.clone()),
        source: Box::new(source),
    }
}

/// Whether a failed request lost its connection (reset, broken pipe, closed early) before it
/// was sent whole, rather than never having one or timing out: what a server that refuses a
/// body and hangs up causes. (A connection lost while the answer was awaited is no refusal.)
pub(crate) fn lost_connection(e: &Error) -> bool {
    let Error::Transport { source, request } = e else {
        return false;
    };
    if request.sent_whole() {
        return false;
    }
    matches!(&**source, ureq::Error::Io(io) if matches!(
        io.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use wix_media_testkit::raw_server::{Next, RawServer, wait_for_close};

    use super::*;

    fn map_test(e: io::Error) -> Error {
        map_ureq(ureq::Error::Io(e), &FailedRequest::new(Method::Patch, "u"))
    }

    #[test]
    fn body_reader_errors_on_short_source() {
        let mut seen = 0;
        let mut on = |n| seen = n;
        let mut r = BodyReader::new(&b"abc"[..], 5, None, &mut on);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(out, b"abc");
        let mapped = map_test(err);
        assert!(
            matches!(
                mapped,
                Error::SourceChanged {
                    expected: 5,
                    found: 3
                }
            ),
            "{mapped:?}"
        );
        assert_eq!(seen, 3);
    }

    #[test]
    fn body_reader_stops_at_len_and_on_abort() {
        let mut on = |_| {};
        let mut r = BodyReader::new(&b"abcdef"[..], 4, None, &mut on);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
        let abort = AbortHandle::new();
        abort.abort();
        let mut on = |_| {};
        let mut r = BodyReader::new(&b"abcdef"[..], 4, Some(&abort), &mut on);
        assert!(matches!(
            map_test(r.read(&mut [0; 4]).unwrap_err()),
            Error::Aborted
        ));
    }

    #[test]
    fn lost_connections_are_told_from_other_failures() {
        for kind in [io::ErrorKind::BrokenPipe, io::ErrorKind::ConnectionReset] {
            assert!(
                lost_connection(&map_test(io::Error::from(kind))),
                "{kind:?}"
            );
        }
        assert!(!lost_connection(&map_test(io::Error::from(
            io::ErrorKind::TimedOut
        ))));
        let refused = map_ureq(
            ureq::Error::ConnectionFailed,
            &FailedRequest::new(Method::Post, "u"),
        );
        assert!(!lost_connection(&refused) && refused.is_retryable());
        assert!(
            refused.to_string().contains("could not connect"),
            "{refused}"
        );
    }

    // PUTs `len` bytes to `server` (a 300 ms stall timeout): the failure.
    fn put_to(server: &RawServer, len: usize) -> Error {
        let settings = HttpSettings {
            connect_timeout: Some(Duration::from_secs(5)),
            stall_timeout: Some(Duration::from_millis(300)),
            user_agent: USER_AGENT.into(),
            headers: Vec::new(),
        };
        let agent = Agent::new_with_defaults();
        let body = vec![7u8; len];
        let url = server.url("/f");
        let call = Call {
            method: Method::Put,
            url: &url,
            headers: &[],
            body: Some((&mut &body[..], len as u64)),
            body_limit: BODY_LIMIT,
            secrets: &[],
        };
        send(&agent, &settings, call).expect_err("the exchange fails")
    }

    #[test]
    fn a_request_read_whole_and_left_unanswered_has_an_unknown_outcome() {
        // Read whole, then the connection closes without an answer.
        let closes = RawServer::start(|_, _| Next::Close);
        let e = put_to(&closes, 100_000);
        assert!(matches!(e, Error::Transport { .. }), "{e:?}");
        assert!(e.request().is_some_and(FailedRequest::sent_whole), "{e:?}");
        assert!(e.is_outcome_unknown() && !lost_connection(&e), "{e:?}");
        // Read whole, then no answer within the stall timeout.
        let silent = RawServer::start(|_, s| {
            wait_for_close(s);
            Next::Close
        });
        let e = put_to(&silent, 1000);
        assert!(
            matches!(e, Error::Timeout { .. }) && e.is_outcome_unknown(),
            "{e:?}"
        );
        // A success whose body is cut short: the server acted.
        let cut = RawServer::start(|_, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"fi");
            Next::Close
        });
        assert!(put_to(&cut, 10).is_outcome_unknown());
    }

    #[test]
    fn a_request_cut_before_its_body_went_out_is_no_unknown_outcome() {
        // The server hangs up after the head of a body far larger than the socket buffers.
        // (Closed with unread bytes, the socket answers the rest with a reset.)
        let hangs_up = RawServer::start_raw(|mut s| {
            let _ = s.read(&mut [0; 1024]);
        });
        let e = put_to(&hangs_up, 64 << 20);
        assert!(!e.is_outcome_unknown() && lost_connection(&e), "{e:?}");
        assert!(e.request().is_some_and(|r| !r.sent_whole()), "{e:?}");
        // Nothing listens: nothing was sent.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let settings = HttpSettings {
            connect_timeout: Some(Duration::from_secs(5)),
            stall_timeout: None,
            user_agent: USER_AGENT.into(),
            headers: Vec::new(),
        };
        let url = format!("http://127.0.0.1:{port}/");
        let call = Call {
            method: Method::Post,
            url: &url,
            headers: &[],
            body: None,
            body_limit: BODY_LIMIT,
            secrets: &[],
        };
        let e = send(&Agent::new_with_defaults(), &settings, call).unwrap_err();
        assert!(
            e.is_connection_refused() && !e.is_outcome_unknown(),
            "{e:?}"
        );
    }

    #[test]
    fn mask_hides_every_secret() {
        assert_eq!(
            mask("http://h/u/TOK?f=TOK", &["TOK", ""]),
            "http://h/u/***?f=***"
        );
    }
}
