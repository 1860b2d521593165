//! A body-size-capping HTTP/1.1 relay, like a front proxy with a request-body limit (nginx's
//! `client_max_body_size`), in front of any 127.0.0.1 upstream (std threads only).
//!
//! [`CapProxy::start`] listens on `127.0.0.1:0`. Per client connection it reads each request
//! head; when its `Content-Length` exceeds [`CapConfig::limit`] it answers `413` with
//! `Connection: close` and closes the connection without reading the rest of the body (the
//! client's unread bytes make that close a reset, as it is with the Python tus server). When
//! exactly depends on [`ExpectMode`]:
//! - [`ExpectMode::Honour`] (nginx): the 413 goes out as soon as the head is read, so a client
//!   that sent `Expect: 100-continue` gets it instead of `100 Continue` and sends no body. A
//!   request under the limit that asks for `100-continue` gets it from the proxy at once.
//! - [`ExpectMode::Ignore`] (a dumb proxy): `Expect` is stripped and never answered, so a client
//!   that sends it waits its own await-100 timeout and then streams the body. Over the limit the
//!   proxy reads (and drops) body bytes up to the limit, as a proxy that counts what streams
//!   through would, and then answers 413 and closes while the body is still coming.
//!
//! Under the limit a request is relayed as it is (minus `Expect`), body streamed by its framing
//! through fixed buffers, and the response relayed back by its framing; the client's connection
//! stays open for the next request (keep-alive). Each request gets its own upstream connection,
//! so an upstream that closes idle connections (the Node server does after 5 s) never turns
//! into a failed request here. Chunked request bodies are relayed without a cap (the client
//! under test always sends `Content-Length`). A `Location` naming the upstream is rewritten to
//! name the proxy.
//!
//! It counts connections, requests and body bytes per method, and refusals per method
//! ([`CapProxy::stats`]), and keeps a log of every request ([`CapProxy::requests`]).
//! Sockets have 30 s read and write timeouts; dropping the proxy stops it and joins its threads.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use super::http::{Counting, Framing, bad, configure, read_response, relay_body};
use super::relay::{Conns, Relay, log_entry, upstream_of};

/// Read and write timeout of every socket (longer than a client's await-100 wait).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Relay buffer size.
const BUF: usize = 64 * 1024;

/// How the proxy treats `Expect: 100-continue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectMode {
    /// Answer it: `413` at once over the limit, `100 Continue` under it (like nginx).
    Honour,
    /// Strip it and never answer it; refuse an oversized body only once it streams.
    Ignore,
}

/// What the proxy enforces.
#[derive(Clone, Copy, Debug)]
pub struct CapConfig {
    /// Largest `Content-Length` relayed; more gets 413.
    pub limit: u64,
    /// See [`ExpectMode`].
    pub expect: ExpectMode,
}

impl CapConfig {
    /// An nginx-like cap: early 413, honours `Expect`.
    pub fn honouring_expect(limit: u64) -> CapConfig {
        CapConfig {
            limit,
            expect: ExpectMode::Honour,
        }
    }

    /// A dumb cap: ignores `Expect`, 413s while the body streams.
    pub fn ignoring_expect(limit: u64) -> CapConfig {
        CapConfig {
            limit,
            expect: ExpectMode::Ignore,
        }
    }
}

/// One request as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapRequest {
    /// Method, as sent.
    pub method: String,
    /// Whether it asked for `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Whether the proxy answered `100 Continue` itself.
    pub sent_continue: bool,
    /// Whether it got the proxy's 413.
    pub refused: bool,
    /// Body bytes read from the client.
    pub body_bytes: u64,
    /// The status relayed back (413 for a refusal; 0 when no response reached the client).
    pub status: u16,
}

/// What went through so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Requests (heads read) by upper-case method.
    pub requests: BTreeMap<String, u64>,
    /// Requests refused with 413, by upper-case method.
    pub refused: BTreeMap<String, u64>,
    /// Body bytes read from the client, by upper-case method.
    pub body_bytes: BTreeMap<String, u64>,
    /// Requests that asked for `Expect: 100-continue`.
    pub expect_continue: u64,
    /// Largest body relayed to the upstream in full.
    pub largest_relayed: u64,
}

impl CapStats {
    /// Requests of `method`.
    pub fn count(&self, method: &str) -> u64 {
        self.requests
            .get(&method.to_ascii_uppercase())
            .copied()
            .unwrap_or(0)
    }

    /// Refusals of `method`.
    pub fn refused_of(&self, method: &str) -> u64 {
        self.refused
            .get(&method.to_ascii_uppercase())
            .copied()
            .unwrap_or(0)
    }

    /// All refusals.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// What the connections of a [`CapProxy`] share.
pub struct CapState {
    config: CapConfig,
    log: Mutex<Vec<CapRequest>>,
}

impl CapState {
    fn update(&self, i: usize, f: impl FnOnce(&mut CapRequest)) {
        f(&mut self.log.lock().unwrap()[i]);
    }
}

/// The running proxy; stopped on drop.
pub type CapProxy = Relay<CapState>;

impl CapProxy {
    /// Starts a proxy to `upstream` (a 127.0.0.1 address).
    pub fn start(upstream: SocketAddr, config: CapConfig) -> CapProxy {
        let state = CapState {
            config,
            log: Mutex::new(Vec::new()),
        };
        Relay::new("cap-proxy", upstream, state, serve)
    }

    /// Starts a proxy to the `http://127.0.0.1:PORT...` server of `url`.
    pub fn to_url(url: &str, config: CapConfig) -> CapProxy {
        CapProxy::start(upstream_of(url), config)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<CapRequest> {
        self.shared().log.lock().unwrap().clone()
    }

    /// Counts so far.
    pub fn stats(&self) -> CapStats {
        let mut st = CapStats {
            connections: self.conns().connections(),
            ..CapStats::default()
        };
        for r in self.shared().log.lock().unwrap().iter() {
            let m = r.method.to_ascii_uppercase();
            *st.requests.entry(m.clone()).or_default() += 1;
            *st.body_bytes.entry(m.clone()).or_default() += r.body_bytes;
            if r.refused {
                *st.refused.entry(m).or_default() += 1;
            } else if r.status != 0 {
                st.largest_relayed = st.largest_relayed.max(r.body_bytes);
            }
            st.expect_continue += u64::from(r.expect_continue);
        }
        st
    }
}

const REFUSAL_BODY: &str = "request body over the proxy's limit\n";

fn refusal() -> String {
    format!(
        "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{REFUSAL_BODY}",
        REFUSAL_BODY.len()
    )
}

// Serves one client connection until either side closes, a refusal ends it, or the proxy stops.
fn serve(shared: &CapState, conns: &Conns, conn: u64, client: TcpStream) -> io::Result<()> {
    configure(&client, IO_TIMEOUT)?;
    let mut client_r = BufReader::with_capacity(BUF, client.try_clone()?);
    let mut client_w = &client;
    let (upstream_base, proxy_base) = (conns.upstream_base(), conns.base());
    let limit = shared.config.limit;
    loop {
        let Some(mut req) = conns.next_request(&mut client_r)? else {
            return Ok(());
        };
        let framing = req.framing()?;
        let expect = req.has_token("Expect", "100-continue");
        let declared = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        let request = CapRequest {
            method: req.method().to_owned(),
            expect_continue: expect,
            sent_continue: false,
            refused: false,
            body_bytes: 0,
            status: 0,
        };
        let i = log_entry(&shared.log, request);

        if declared > limit {
            if shared.config.expect == ExpectMode::Ignore {
                // Let the body stream in (after the client's await-100 wait) up to the limit.
                let mut n = 0;
                let _ = io::copy(
                    &mut (&mut client_r).take(limit),
                    &mut Counting {
                        inner: io::sink(),
                        count: &mut n,
                    },
                );
                shared.update(i, |r| r.body_bytes = n);
            }
            shared.update(i, |r| {
                r.refused = true;
                r.status = 413;
            });
            let _ = client_w.write_all(refusal().as_bytes());
            let _ = client_w.flush();
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }

        if expect && shared.config.expect == ExpectMode::Honour {
            client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            client_w.flush()?;
            shared.update(i, |r| r.sent_continue = true);
        }
        req.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("Expect"));

        // A fresh upstream connection for each request.
        let upstream = TcpStream::connect_timeout(&conns.upstream(), IO_TIMEOUT)?;
        configure(&upstream, IO_TIMEOUT)?;
        conns.register(conn, &upstream);
        let mut up_r = BufReader::with_capacity(BUF, upstream.try_clone()?);
        let mut up_w = &upstream;
        up_w.write_all(&req.bytes())?;
        let mut n = 0;
        let sent = relay_body(
            &mut client_r,
            &mut Counting {
                inner: &mut up_w,
                count: &mut n,
            },
            framing,
        );
        shared.update(i, |r| r.body_bytes = n);
        sent?;
        up_w.flush()?;

        // The response, after any interim (1xx) ones, which the client did not ask us for.
        let Some(mut resp) = read_response(&mut up_r, |_| Ok(()))? else {
            let _ = upstream.shutdown(Shutdown::Both);
            return Err(bad("upstream closed before answering"));
        };
        resp.rewrite_location(&upstream_base, &proxy_base);
        let status = resp.status();
        let resp_framing = resp.response_framing(&req)?;
        client_w.write_all(&resp.bytes())?;
        relay_body(&mut up_r, &mut client_w, resp_framing)?;
        client_w.flush()?;
        shared.update(i, |r| r.status = status);
        let _ = upstream.shutdown(Shutdown::Both);
        conns.unregister_upstream(conn);
        if resp.ends_connection(resp_framing, &req) {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
