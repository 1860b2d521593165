//! The connection lifecycle: one accept thread, one thread per connection, keep-alive with an
//! idle timeout, early answers that close without reading the rest of a body, and a shutdown
//! that closes every socket and joins every thread.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::framing::{Body, HeadError, read_head, write_response};
use super::lock;
use super::message::{Handler, Outcome, Request, Response};

/// An unread body up to this size is drained so the connection can be kept alive; past it
/// the connection is closed after the response.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
/// How long a body read may stall before the request counts as interrupted.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server: stop it with [`Server::shutdown`] (or drop it).
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
    ) -> std::io::Result<Self> {
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

/// How a connection ends after a response.
enum After {
    KeepAlive,
    /// Graceful close: the client may still be sending a little; read it so our close
    /// doesn't turn into a reset that destroys the response.
    Close,
    /// Early answer: close without reading the rest of the body.
    Abandon,
}

fn serve_connection(stream: TcpStream, idle_timeout: Duration, handler: &Handler) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let _ = reader.get_ref().set_read_timeout(Some(idle_timeout));
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) | Err(HeadError::Io) => return,
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
            body: Body::new(&mut reader, head.framing, head.expect_continue),
        };
        let outcome = handler(&mut request);
        let Outcome::Respond(resp) = outcome else {
            let _ = reader.get_ref().shutdown(Shutdown::Both);
            return;
        };
        let after = after_response(&mut request.body, &resp, keep_alive);
        let close = !matches!(after, After::KeepAlive);
        let written = write_response(reader.get_mut(), &resp, is_head, close);
        match after {
            After::KeepAlive if written.is_ok() => {}
            After::Abandon => {
                // FIN right after the answer; unread bytes make the final close a reset,
                // which is what a client still sending a refused body should see.
                let _ = reader.get_ref().shutdown(Shutdown::Write);
                let _ = reader.get_ref().shutdown(Shutdown::Both);
                return;
            }
            _ => {
                linger_close(reader.get_ref());
                return;
            }
        }
    }
}

/// How the connection goes on once `resp` is written: a body left unread must be consumed
/// before the next request can be parsed.
fn after_response(body: &mut Body<'_>, resp: &Response, keep_alive: bool) -> After {
    if body.failed() {
        After::Close
    } else if body.finished() {
        if keep_alive {
            After::KeepAlive
        } else {
            After::Close
        }
    } else if resp.close_unread {
        After::Abandon
    } else if body.awaiting_continue() {
        // The client waits for permission to send: it has sent nothing to read.
        After::Close
    } else if body.drain(DRAIN_LIMIT) && keep_alive {
        After::KeepAlive
    } else {
        After::Close
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
