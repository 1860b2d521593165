//! What every relay of this folder (and the raw server) does the same way: listen on
//! `127.0.0.1:0` (in front of a 127.0.0.1 upstream, for a relay), serve each client connection
//! on a thread of its own, keep a clone of every open socket, and on drop stop accepting, shut
//! every socket down and join every thread. A relay is `Relay<S>`, `S` being what its
//! connections share (its configuration and what it records); each proxy is one (`FaultProxy` is
//! `Relay<FaultState>`...), with methods of its own; so is [`crate::raw_server::RawServer`],
//! with no upstream.

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::http::{Head, read_head};

/// The listener's side of a relay, shared with the connection threads.
pub struct Conns {
    upstream: Option<SocketAddr>,
    pub addr: SocketAddr,
    stop: AtomicBool,
    connections: AtomicU64,
    // Clones of every open socket, by connection number, to shut them down on drop.
    sockets: Mutex<HashMap<u64, Vec<TcpStream>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Conns {
    /// The address relayed to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream.expect("a server with no upstream")
    }

    /// Whether the relay is being dropped.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The head of the client's next request on a connection, or `None` once the relay is
    /// being dropped or the client has closed the connection.
    pub fn next_request(&self, client: &mut impl BufRead) -> io::Result<Option<Head>> {
        if self.stopped() {
            return Ok(None);
        }
        read_head(client)
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Keeps a clone of `s`, a socket of connection `conn`, to shut it down on drop.
    pub fn register(&self, conn: u64, s: &TcpStream) {
        if let Ok(clone) = s.try_clone() {
            self.sockets
                .lock()
                .unwrap()
                .entry(conn)
                .or_default()
                .push(clone);
        }
    }

    /// Forgets the upstream sockets of a connection (its client socket stays registered).
    pub fn unregister_upstream(&self, conn: u64) {
        if let Some(socks) = self.sockets.lock().unwrap().get_mut(&conn) {
            socks.truncate(1);
        }
    }

    /// `http://HOST:PORT` of the upstream.
    pub fn upstream_base(&self) -> String {
        format!("http://{}", self.upstream())
    }

    /// `http://127.0.0.1:PORT` of the relay.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Adds `entry` to a relay's request log; its index there, to update it as the exchange goes on.
pub fn log_entry<T>(log: &Mutex<Vec<T>>, entry: T) -> usize {
    let mut log = log.lock().unwrap();
    log.push(entry);
    log.len() - 1
}

/// A running relay; stopped on drop.
pub struct Relay<S> {
    conns: Arc<Conns>,
    shared: Arc<S>,
    accept: Option<JoinHandle<()>>,
}

/// Serves one client connection (its number, its socket) until it ends.
pub type Serve<S> = fn(&S, &Conns, u64, TcpStream) -> io::Result<()>;

impl<S: Send + Sync + 'static> Relay<S> {
    /// Starts a relay named `name` (its threads' names) to `upstream` (a 127.0.0.1 address):
    /// each client connection goes to `serve` with `shared` and its number.
    pub fn new(name: &'static str, upstream: SocketAddr, shared: S, serve: Serve<S>) -> Relay<S> {
        assert!(
            upstream.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST),
            "the {name} only relays to 127.0.0.1, not {upstream}"
        );
        Relay::listen(name, Some(upstream), shared, serve)
    }

    /// A server named `name`: each client connection goes to `serve` with `shared`.
    pub fn server(name: &'static str, shared: S, serve: Serve<S>) -> Relay<S> {
        Relay::listen(name, None, shared, serve)
    }

    fn listen(
        name: &'static str,
        upstream: Option<SocketAddr>,
        shared: S,
        serve: Serve<S>,
    ) -> Relay<S> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("bind the {name}: {e}"));
        let addr = listener.local_addr().expect("relay address");
        let conns = Arc::new(Conns {
            upstream,
            addr,
            stop: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            sockets: Mutex::new(HashMap::new()),
            workers: Mutex::new(Vec::new()),
        });
        let shared = Arc::new(shared);
        let (c, s) = (Arc::clone(&conns), Arc::clone(&shared));
        let accept = thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accept_loop(name, &c, &listener, &s, serve))
            .expect("spawn the relay's accept thread");
        Relay {
            conns,
            shared,
            accept: Some(accept),
        }
    }
}

impl<S> Relay<S> {
    /// What the connections share.
    pub fn shared(&self) -> &S {
        &self.shared
    }

    /// The relay's side, as the connection threads see it.
    pub fn conns(&self) -> &Conns {
        &self.conns
    }

    /// The relay's address.
    pub fn addr(&self) -> SocketAddr {
        self.conns.addr
    }

    /// `http://127.0.0.1:PORT` of the relay.
    pub fn base_url(&self) -> String {
        self.conns.base()
    }

    /// `url` (on the upstream) with its `http://host:port` replaced by the relay's.
    pub fn url_for(&self, url: &str) -> String {
        let up = self.conns.upstream_base();
        match url.strip_prefix(&up) {
            Some(rest) => format!("{}{rest}", self.conns.base()),
            None => panic!("{url} is not on the upstream {up}"),
        }
    }
}

/// The address of the `http://127.0.0.1:PORT...` server of `url`.
pub fn upstream_of(url: &str) -> SocketAddr {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .unwrap_or_else(|e| panic!("{authority} is not an IP address and port: {e}"))
}

impl<S> Drop for Relay<S> {
    fn drop(&mut self) {
        // Wakes the accept loop with a connection of its own, to see `stop`.
        self.conns.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.conns.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for socks in self.conns.sockets.lock().unwrap().values() {
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        let workers = std::mem::take(&mut *self.conns.workers.lock().unwrap());
        for h in workers {
            let _ = h.join();
        }
    }
}

fn accept_loop<S: Send + Sync + 'static>(
    name: &str,
    conns: &Arc<Conns>,
    listener: &TcpListener,
    shared: &Arc<S>,
    serve: Serve<S>,
) {
    for stream in listener.incoming() {
        if conns.stopped() {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let conn = conns.connections.fetch_add(1, Ordering::SeqCst);
        // Registered before the worker starts, so a drop always finds it to shut it down.
        conns.register(conn, &stream);
        let (c, s) = (Arc::clone(conns), Arc::clone(shared));
        let worker = thread::Builder::new()
            .name(format!("{name}-{conn}"))
            .spawn(move || {
                let _ = serve(&s, &c, conn, stream);
                if let Some(socks) = c.sockets.lock().unwrap().remove(&conn) {
                    for sock in socks {
                        let _ = sock.shutdown(Shutdown::Both);
                    }
                }
            })
            .expect("spawn a relay thread");
        let mut workers = conns.workers.lock().unwrap();
        workers.retain(|h| !h.is_finished());
        workers.push(worker);
    }
}
