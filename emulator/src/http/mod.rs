//! A small HTTP/1.1 layer on `std::net`, split by concern:
//!
//! - [`message`]: the request, response and outcome values handlers work with;
//! - [`framing`]: heads, bodies (`Content-Length`, chunked, `100 Continue`), writing answers;
//! - [`server`]: accepting, keep-alive, early answers, closing and shutdown;
//! - [`client`]: the one outgoing `GET` the import route makes (loopback only).

pub(crate) mod client;
pub(crate) mod framing;
pub(crate) mod message;
pub(crate) mod server;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) use framing::Body;
pub(crate) use message::{Outcome, Request, Response, decode_path_segment, header};
pub(crate) use server::Server;

/// Locks a mutex, ignoring poisoning: a panicking handler thread must not wedge the server.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
