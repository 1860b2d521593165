//! A plain TCP relay that stops forwarding the client's bytes past a limit: the client then
//! stalls, deterministically, mid-upload, until the test opens the gate.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex};
use std::thread;

use super::relay::{Conns, Relay, upstream_of};

pub struct Gate {
    /// Client bytes forwarded so far (over all connections), and the limit if one is set.
    forwarded: Mutex<(u64, Option<u64>)>,
    changed: Condvar,
}

impl Gate {
    fn closed(&self, g: &(u64, Option<u64>)) -> bool {
        g.1.is_some_and(|limit| g.0 >= limit)
    }
}

/// Forwards to its upstream; while a limit is set, holds the client's bytes once that many went
/// through (over all connections). Dropping it opens the gate and stops it.
pub struct GateProxy {
    relay: Relay<Gate>,
}

impl GateProxy {
    /// A gate in front of `upstream` (a 127.0.0.1 address), closing after `limit` bytes.
    pub fn start(upstream: SocketAddr, limit: Option<u64>) -> GateProxy {
        let gate = Gate {
            forwarded: Mutex::new((0, limit)),
            changed: Condvar::new(),
        };
        GateProxy {
            relay: Relay::new("gate-proxy", upstream, gate, serve),
        }
    }

    /// A gate in front of the `http://127.0.0.1:PORT...` server of `url`.
    pub fn to_url(url: &str, limit: Option<u64>) -> GateProxy {
        GateProxy::start(upstream_of(url), limit)
    }

    /// `url` (on the upstream) with its `http://host:port` replaced by the gate's.
    pub fn url_for(&self, url: &str) -> String {
        self.relay.url_for(url)
    }

    /// Whether the limit is reached: the client's bytes are being held.
    pub fn holding(&self) -> bool {
        let gate = self.relay.shared();
        gate.closed(&gate.forwarded.lock().unwrap())
    }

    /// Lifts the limit.
    pub fn open(&self) {
        let gate = self.relay.shared();
        gate.forwarded.lock().unwrap().1 = None;
        gate.changed.notify_all();
    }
}

impl Drop for GateProxy {
    fn drop(&mut self) {
        // Frees the threads that wait at the gate, so that the relay can join them.
        self.open();
    }
}

/// Relays one connection: the server's bytes as they come, the client's through the gate.
fn serve(gate: &Gate, conns: &Conns, conn: u64, client: TcpStream) -> std::io::Result<()> {
    let server = TcpStream::connect(conns.upstream())?;
    conns.register(conn, &server);
    let (mut from, mut to) = (server.try_clone()?, client.try_clone()?);
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
    pump_gated(client, server, gate);
    Ok(())
}

fn pump_gated(mut from: TcpStream, mut to: TcpStream, gate: &Gate) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        {
            let mut g = gate.forwarded.lock().unwrap();
            while gate.closed(&g) {
                g = gate.changed.wait(g).unwrap();
            }
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        gate.forwarded.lock().unwrap().0 += n as u64;
    }
    let _ = to.shutdown(Shutdown::Write);
}
