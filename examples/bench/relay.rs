//! A loopback delay line for the benchmark: every byte that goes through it, either way, is
//! delivered `one_way` after it arrived, as on a link with that latency and unlimited bandwidth
//! (std threads only, 127.0.0.1 only).
//!
//! [`LatencyRelay::start`] listens on `127.0.0.1:0` and opens one upstream connection per
//! client connection. Each direction is a reader thread that stamps what it reads with its due
//! time and a writer thread that sleeps until then and writes it; a bounded queue between them
//! keeps memory flat. A new connection also pays the TCP handshake: its first bytes go out one
//! round trip (2 × `one_way`) later than they would on an open connection.
//!
//! Servers that answer absolute URLs of their own (the emulator's `uploadUrl`, tus `Location`)
//! would send the client around the relay, so in the server-to-client direction every
//! `127.0.0.1:<upstream port>` (or another given port) is rewritten to `127.0.0.1:<relay port>`.
//! Both ports have the same number of digits (the relay re-binds until they do), so no
//! `Content-Length` changes.
//!
//! It counts connections and bytes ([`LatencyRelay::stats`]). Dropping it stops accepting,
//! shuts every socket down and joins every thread.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::proxy::relay::{Conns, Relay};

const BUF: usize = 64 * 1024;
/// Buffers queued per direction (at most this × 64 KiB in flight).
const QUEUE: usize = 64;

/// What went through so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Bytes client → server.
    pub up_bytes: u64,
    /// Bytes server → client.
    pub down_bytes: u64,
}

/// What the connections share (the listener's side is the tests' [`Relay`]).
struct Delay {
    one_way: Duration,
    rewrite_port: u16,
    up_bytes: AtomicU64,
    down_bytes: AtomicU64,
}

/// The running relay; stopped on drop (the tests' [`Relay`] stops accepting, shuts every socket
/// down and joins every thread).
pub struct LatencyRelay(Relay<Delay>);

impl LatencyRelay {
    /// Relays `127.0.0.1:<port>` → `upstream` (a 127.0.0.1 address), `one_way` each way.
    pub fn start(upstream: SocketAddr, one_way: Duration) -> LatencyRelay {
        Self::start_with(upstream, one_way, upstream.port())
    }

    /// Like [`LatencyRelay::start`], rewriting `127.0.0.1:<rewrite_port>` instead of the
    /// upstream's port (for a relay in front of another relay, say).
    pub fn start_with(upstream: SocketAddr, one_way: Duration, rewrite_port: u16) -> LatencyRelay {
        let digits = rewrite_port.to_string().len();
        let delay = || Delay {
            one_way,
            rewrite_port,
            up_bytes: AtomicU64::new(0),
            down_bytes: AtomicU64::new(0),
        };
        (0..50)
            .map(|_| Relay::new("relay", upstream, delay(), serve))
            .find(|r| r.addr().port().to_string().len() == digits)
            .map(LatencyRelay)
            .expect("a relay port with as many digits as the upstream's")
    }

    /// `http://127.0.0.1:PORT` of the relay.
    pub fn base_url(&self) -> String {
        self.0.base_url()
    }

    /// Counts so far.
    pub fn stats(&self) -> RelayStats {
        let delay = self.0.shared();
        RelayStats {
            connections: self.0.conns().connections(),
            up_bytes: delay.up_bytes.load(Ordering::SeqCst),
            down_bytes: delay.down_bytes.load(Ordering::SeqCst),
        }
    }
}

// One client connection: a reader and a writer thread each way, until both ways end.
fn serve(delay: &Delay, conns: &Conns, conn: u64, client: TcpStream) -> io::Result<()> {
    let opened = Instant::now();
    let upstream = TcpStream::connect(conns.upstream())?;
    conns.register(conn, &upstream);
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let from = format!("127.0.0.1:{}", delay.rewrite_port).into_bytes();
    let to = format!("127.0.0.1:{}", conns.addr.port()).into_bytes();
    // The handshake's round trip: the client's first bytes leave one RTT late.
    let up_start = opened + 2 * delay.one_way;
    let pumps = [
        (client.try_clone()?, upstream.try_clone()?, up_start, false),
        (upstream, client, opened, true),
    ];
    thread::scope(|scope| {
        for (src, dst, not_before, rewrite) in pumps {
            let (tx, rx) = sync_channel::<(Instant, Vec<u8>)>(QUEUE);
            let dst_w = dst.try_clone()?;
            let rw = Rewriter::new(&from, &to);
            thread::Builder::new()
                .name("relay-read".into())
                .spawn_scoped(scope, move || {
                    read_side(delay, rw, src, &dst, tx, not_before, rewrite)
                })?;
            thread::Builder::new()
                .name("relay-write".into())
                .spawn_scoped(scope, move || write_side(dst_w, rx))?;
        }
        Ok(())
    })
}

// Reads, stamps each piece with its due time and queues it; the queue's end means EOF.
fn read_side(
    delay: &Delay,
    mut rw: Rewriter<'_>,
    mut src: TcpStream,
    dst: &TcpStream,
    tx: SyncSender<(Instant, Vec<u8>)>,
    not_before: Instant,
    rewrite: bool,
) {
    let counter = if rewrite {
        &delay.down_bytes
    } else {
        &delay.up_bytes
    };
    let mut buf = vec![0u8; BUF];
    let due = |now: Instant| now.max(not_before) + delay.one_way;
    let mut timed = false;
    loop {
        // A partial match held back waits a moment for the rest, then goes as it is.
        if timed == rw.carry.is_empty() {
            timed = !timed;
            let _ = src.set_read_timeout(timed.then(|| Duration::from_millis(2)));
        }
        let data = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                counter.fetch_add(n as u64, Ordering::Relaxed);
                if rewrite {
                    rw.feed(&buf[..n])
                } else {
                    buf[..n].to_vec()
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                rw.flush()
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // Reset: pass it on.
                let _ = dst.shutdown(Shutdown::Both);
                break;
            }
        };
        if !data.is_empty() && tx.send((due(Instant::now()), data)).is_err() {
            let _ = src.shutdown(Shutdown::Both);
            return;
        }
    }
    let rest = rw.flush();
    if !rest.is_empty() {
        let _ = tx.send((due(Instant::now()), rest));
    }
}

// Writes each piece at its due time; at the queue's end, half-closes the destination.
fn write_side(mut dst: TcpStream, rx: Receiver<(Instant, Vec<u8>)>) {
    for (due, data) in rx {
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if dst.write_all(&data).is_err() {
            let _ = dst.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = dst.shutdown(Shutdown::Write);
}

/// Replaces `from` with `to` (same length) in a stream cut into arbitrary pieces.
struct Rewriter<'a> {
    from: &'a [u8],
    to: &'a [u8],
    carry: Vec<u8>,
}

impl<'a> Rewriter<'a> {
    fn new(from: &'a [u8], to: &'a [u8]) -> Self {
        assert_eq!(from.len(), to.len(), "the rewrite must keep lengths");
        Rewriter {
            from,
            to,
            carry: Vec::new(),
        }
    }

    // What can go out now; a tail that may be the start of `from` is held back.
    fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let n = self.from.len();
        let mut i = 0;
        while i + n <= buf.len() {
            if &buf[i..i + n] == self.from {
                buf[i..i + n].copy_from_slice(self.to);
                i += n;
            } else {
                i += 1;
            }
        }
        let keep = (1..n.min(buf.len() + 1))
            .rev()
            .find(|&k| buf.ends_with(&self.from[..k]))
            .unwrap_or(0);
        self.carry = buf.split_off(buf.len() - keep);
        buf
    }

    fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.carry)
    }
}

#[cfg(test)]
mod tests {
    use super::Rewriter;

    #[test]
    fn rewrites_across_pieces() {
        let mut r = Rewriter::new(b"127.0.0.1:40000", b"127.0.0.1:51111");
        let text = b"{\"uploadUrl\":\"http://127.0.0.1:40000/upload/x\"} 127.0.0.1:4";
        for cut in 0..text.len() {
            let mut out = r.feed(&text[..cut]);
            out.extend(r.feed(&text[cut..]));
            out.extend(r.flush());
            assert_eq!(
                out,
                b"{\"uploadUrl\":\"http://127.0.0.1:51111/upload/x\"} 127.0.0.1:4"
            );
        }
    }
}
