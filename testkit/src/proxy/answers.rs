//! A relay that loses answers: it forwards each request whole, lets the server act on it, and
//! then, by the kind of request and a rule, drops the answer (closes the client's connection)
//! or holds it (sends nothing until released): what a flaky Wi-Fi, a proxy timeout or a laptop
//! lid does to a request that has already done its work.
//!
//! Kinds are Wix's routes as the emulator serves them ([`Kind`]): generate, the simple `PUT`,
//! finalize, the final tus `PATCH` (the one whose answer says the upload is complete: the
//! relay learns each upload's length from its creation) and import. Absolute URLs of the
//! upstream in answers (`Location`, and the JSON bodies of generate) are rewritten to the
//! relay's, so the client's next requests come through it too.
//!
//! Every exchange is logged with its kind, its status and what became of its answer
//! ([`AnswerRelay::exchanges`]); [`AnswerRelay::wait_held`] waits until answers are held, so a
//! test can kill the client in that window. Dropping the relay releases what it holds.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::http::{Framing, Head, configure, read_response, relay_body, shut};
use super::relay::{Conns, Relay, upstream_of};
use crate::XorShift;

/// Read and write timeout of every socket (a held answer waits without one).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Answers up to this size are read whole (and rewritten); larger ones stream through.
const REWRITE_LIMIT: u64 = 1024 * 1024;

/// What a request is, among Wix's routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `POST .../generate-upload-url` or `.../generate-resumable-upload-url`.
    Generate,
    /// `PUT {base}/upload/<token>`: the simple upload.
    SimplePut,
    /// `PUT {base}/upload/tus/<token>`: finalize.
    Finalize,
    /// The tus `PATCH` whose answer completes its upload.
    FinalPatch,
    /// Another tus request (`POST` creation, `HEAD`, a `PATCH` that does not complete).
    Tus,
    /// `POST .../files/import` or `.../bulk/files/import-v2`.
    Import,
    /// Anything else (listings, reads).
    Other,
}

/// What becomes of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Relayed.
    Relayed,
    /// The client's connection is closed instead (the server acted).
    Dropped,
    /// Nothing is sent until the relay is released or dropped; then the connection closes.
    Held,
    /// The request is read whole but never forwarded, and the client's connection closes:
    /// an unknown outcome where nothing happened.
    Swallowed,
}

/// Which answers of a kind are lost, and how.
#[derive(Clone, Debug)]
pub struct Rule {
    kind: Kind,
    fate: Fate,
    // The first `first` answers of the kind; then each with `chance`.
    first: u64,
    chance: f64,
}

impl Rule {
    /// The first `n` answers of `kind` meet `fate` (for [`Fate::Swallowed`]: the first `n`
    /// requests).
    pub fn first(kind: Kind, n: u64, fate: Fate) -> Rule {
        Rule {
            kind,
            fate,
            first: n,
            chance: 0.0,
        }
    }

    /// Each answer of `kind` meets `fate` with probability `p` (seeded).
    pub fn chance(kind: Kind, p: f64, fate: Fate) -> Rule {
        Rule {
            kind,
            fate,
            first: 0,
            chance: p,
        }
    }
}

/// One exchange as it went through the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// `METHOD path` as sent.
    pub line: String,
    /// Its kind.
    pub kind: Kind,
    /// The server's status (0: none came).
    pub status: u16,
    /// What became of the answer.
    pub fate: Fate,
}

/// What the relay's connections share.
pub struct Answers {
    rules: Vec<Rule>,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    rng: XorShift,
    seen: HashMap<Kind, u64>,
    // Requests seen before forwarding, by kind (for `Fate::Swallowed`).
    asked: HashMap<Kind, u64>,
    log: Vec<Exchange>,
    // Upload path -> length, from the creations seen.
    lengths: HashMap<String, u64>,
    released: bool,
}

/// The running relay; dropping it releases held answers and stops it.
pub struct AnswerRelay {
    relay: Relay<Answers>,
}

impl AnswerRelay {
    /// A relay to `upstream` (a 127.0.0.1 address) applying `rules` (seeded by `seed`).
    pub fn start(upstream: SocketAddr, rules: Vec<Rule>, seed: u64) -> AnswerRelay {
        let answers = Answers {
            rules,
            state: Mutex::new(State {
                rng: XorShift::new(seed),
                seen: HashMap::new(),
                asked: HashMap::new(),
                log: Vec::new(),
                lengths: HashMap::new(),
                released: false,
            }),
            changed: Condvar::new(),
        };
        AnswerRelay {
            relay: Relay::new("answer-relay", upstream, answers, serve),
        }
    }

    /// A relay to the `http://127.0.0.1:PORT` server of `url`.
    pub fn to_url(url: &str, rules: Vec<Rule>, seed: u64) -> AnswerRelay {
        AnswerRelay::start(upstream_of(url), rules, seed)
    }

    /// `http://127.0.0.1:PORT` of the relay: the base URL to give the client.
    pub fn base_url(&self) -> String {
        self.relay.base_url()
    }

    /// Every exchange so far, in the order their answers came.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared().state.lock().unwrap().log.clone()
    }

    /// How many answers of `kind` met `fate`.
    pub fn count(&self, kind: Kind, fate: Fate) -> usize {
        self.exchanges()
            .iter()
            .filter(|e| e.kind == kind && e.fate == fate)
            .count()
    }

    /// Waits until `n` answers are held (at most `timeout`); whether they are.
    pub fn wait_held(&self, n: usize, timeout: Duration) -> bool {
        let answers = self.shared();
        let deadline = Instant::now() + timeout;
        let mut state = answers.state.lock().unwrap();
        loop {
            let held = state.log.iter().filter(|e| e.fate == Fate::Held).count();
            if held >= n {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            state = answers.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    /// Lets held answers go: their connections close, unanswered.
    pub fn release(&self) {
        let answers = self.shared();
        answers.state.lock().unwrap().released = true;
        answers.changed.notify_all();
    }

    fn shared(&self) -> &Answers {
        self.relay.shared()
    }
}

impl Drop for AnswerRelay {
    fn drop(&mut self) {
        self.release();
    }
}

/// The kind of a request, from its method and path.
fn kind_of(method: &str, path: &str) -> Kind {
    let path = path.split('?').next().unwrap_or(path);
    let tus = path.starts_with("/upload/tus");
    match method {
        "POST" if path.ends_with("/generate-upload-url") => Kind::Generate,
        "POST" if path.ends_with("/generate-resumable-upload-url") => Kind::Generate,
        "POST" if path.ends_with("/files/import") || path.ends_with("/import-v2") => Kind::Import,
        "PUT" if tus && path.len() > "/upload/tus/".len() => Kind::Finalize,
        "PUT" if path.starts_with("/upload/") && !tus => Kind::SimplePut,
        _ if tus => Kind::Tus,
        _ => Kind::Other,
    }
}

impl Answers {
    // Whether `req` is swallowed (logged so).
    fn swallows(&self, req: &Head) -> bool {
        let kind = kind_of(req.method(), req.target());
        let mut state = self.state.lock().unwrap();
        let n = state.asked.entry(kind).or_insert(0);
        *n += 1;
        let n = *n;
        let swallowed = self
            .rules
            .iter()
            .any(|r| r.kind == kind && r.fate == Fate::Swallowed && n <= r.first);
        if swallowed {
            let path = req.target().split('?').next().unwrap_or("");
            state.log.push(Exchange {
                line: format!("{} {path}", req.method()),
                kind,
                status: 0,
                fate: Fate::Swallowed,
            });
            self.changed.notify_all();
        }
        swallowed
    }

    // The fate of the next answer of `kind`.
    fn decide(&self, state: &mut State, kind: Kind) -> Fate {
        let n = state.seen.entry(kind).or_insert(0);
        *n += 1;
        let n = *n;
        let rules = self.rules.iter().filter(|r| r.fate != Fate::Swallowed);
        for rule in rules.filter(|r| r.kind == kind) {
            if n <= rule.first {
                return rule.fate;
            }
            if rule.chance > 0.0 {
                let x = (state.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                if x < rule.chance {
                    return rule.fate;
                }
            }
        }
        Fate::Relayed
    }

    // Logs the exchange and decides its fate; a tus answer completing its upload is a
    // final PATCH.
    fn settle(&self, req: &Head, answer: &Head) -> Fate {
        let mut state = self.state.lock().unwrap();
        let mut kind = kind_of(req.method(), req.target());
        let path = req.target().split('?').next().unwrap_or("").to_owned();
        if kind == Kind::Tus && req.method() == "POST" {
            let length = req.header("Upload-Length").and_then(|v| v.parse().ok());
            let location = answer.header("Location").map(location_path);
            if let (Some(len), Some(loc)) = (length, location) {
                state.lengths.insert(loc, len);
            }
        }
        if kind == Kind::Tus && req.method() == "PATCH" {
            let offset: Option<u64> = answer.header("Upload-Offset").and_then(|v| v.parse().ok());
            if offset.is_some() && offset == state.lengths.get(&path).copied() {
                kind = Kind::FinalPatch;
            }
        }
        let fate = self.decide(&mut state, kind);
        state.log.push(Exchange {
            line: format!("{} {}", req.method(), path),
            kind,
            status: answer.status(),
            fate,
        });
        self.changed.notify_all();
        fate
    }

    // Holds the connection until released.
    fn hold(&self) {
        let mut state = self.state.lock().unwrap();
        while !state.released {
            state = self.changed.wait(state).unwrap();
        }
    }
}

// The path of a `Location` (absolute or not).
fn location_path(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .map_or(url, |r| r.find('/').map_or("", |i| &r[i..]));
    rest.split('?').next().unwrap_or(rest).to_owned()
}

// Serves one client connection, request by request.
fn serve(answers: &Answers, conns: &Conns, conn: u64, client: TcpStream) -> io::Result<()> {
    configure(&client, IO_TIMEOUT)?;
    let upstream = TcpStream::connect_timeout(&conns.upstream(), IO_TIMEOUT)?;
    configure(&upstream, IO_TIMEOUT)?;
    conns.register(conn, &upstream);
    let (from, to) = (conns.upstream_base(), conns.base());
    let mut client_r = BufReader::new(client.try_clone()?);
    let mut up_r = BufReader::new(upstream.try_clone()?);
    let (mut client_w, mut up_w) = (&client, &upstream);
    while let Some(mut req) = conns.next_request(&mut client_r)? {
        // Like nginx: the relay lets the client go on itself, the upstream is not asked.
        if req.has_token("Expect", "100-continue") {
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("Expect"));
            client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let framing = req.framing()?;
        if answers.swallows(&req) {
            relay_body(&mut client_r, &mut io::sink(), framing)?;
            break;
        }
        up_w.write_all(&req.bytes())?;
        relay_body(&mut client_r, &mut up_w, framing)?;
        let interim = |r: &Head| client_w.write_all(&r.bytes());
        let Some(mut resp) = read_response(&mut up_r, interim)? else {
            break;
        };
        let body_framing = resp.response_framing(&req)?;
        let small = matches!(body_framing, Framing::Length(n) if n <= REWRITE_LIMIT);
        // The whole answer is read before its fate: the server has acted.
        let body = match body_framing {
            Framing::Length(n) if small => {
                let mut b = vec![0; usize::try_from(n).unwrap_or(0)];
                up_r.read_exact(&mut b)?;
                Some(b)
            }
            _ => None,
        };
        match answers.settle(&req, &resp) {
            Fate::Relayed => {}
            Fate::Dropped | Fate::Swallowed => break,
            Fate::Held => {
                answers.hold();
                break;
            }
        }
        resp.rewrite_location(&from, &to);
        match body {
            Some(b) => {
                let b = rewrite(&b, &from, &to);
                set_length(&mut resp, b.len());
                client_w.write_all(&resp.bytes())?;
                client_w.write_all(&b)?;
            }
            None => {
                client_w.write_all(&resp.bytes())?;
                relay_body(&mut up_r, &mut client_w, body_framing)?;
            }
        }
        client_w.flush()?;
        if resp.ends_connection(body_framing, &req) {
            break;
        }
    }
    shut(&client, Some(&upstream));
    Ok(())
}

// `body` with every `from` replaced by `to` (when it is text).
fn rewrite(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    match std::str::from_utf8(body) {
        Ok(text) if text.contains(from) => text.replace(from, to).into_bytes(),
        _ => body.to_vec(),
    }
}

fn set_length(resp: &mut Head, len: usize) {
    for (k, v) in &mut resp.headers {
        if k.eq_ignore_ascii_case("Content-Length") {
            *v = len.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_wix_routes() {
        let cases = [
            (
                "POST",
                "/site-media/v1/files/generate-upload-url",
                Kind::Generate,
            ),
            (
                "POST",
                "/site-media/v1/files/generate-resumable-upload-url",
                Kind::Generate,
            ),
            ("PUT", "/upload/eyJ0.abc?filename=a.png", Kind::SimplePut),
            ("PUT", "/upload/tus/eyJ0.abc?filename=a.png", Kind::Finalize),
            ("POST", "/upload/tus", Kind::Tus),
            ("PATCH", "/upload/tus/u1", Kind::Tus),
            ("POST", "/site-media/v1/files/import", Kind::Import),
            ("POST", "/site-media/v1/bulk/files/import-v2", Kind::Import),
            ("GET", "/site-media/v1/files?parentFolderId=x", Kind::Other),
        ];
        for (method, path, kind) in cases {
            assert_eq!(kind_of(method, path), kind, "{method} {path}");
        }
        assert_eq!(
            location_path("http://127.0.0.1:9/upload/tus/u1"),
            "/upload/tus/u1"
        );
        assert_eq!(location_path("/upload/tus/u1?x=1"), "/upload/tus/u1");
    }
}
