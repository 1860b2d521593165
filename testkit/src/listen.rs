//! What the servers and relays of the tests do alike around their accept loops.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Stops the accept loop listening on `addr`, `accept`, that checks `stop` for each
/// connection: sets it, wakes the loop with a connection of its own, and joins it.
pub fn stop_accept_loop(stop: &AtomicBool, addr: SocketAddr, accept: Option<JoinHandle<()>>) {
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    if let Some(h) = accept {
        let _ = h.join();
    }
}
