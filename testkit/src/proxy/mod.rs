//! Relays between a client under test and a 127.0.0.1 server (std threads only):
//!
//! - [`FaultProxy`] (fault.rs): injects seeded faults (cut bodies, error statuses, resets,
//!   delays), throttles or corrupts bodies, and records every request;
//! - [`cap::CapProxy`]: caps request bodies like a front proxy (early 413);
//! - [`gate::GateProxy`]: holds the client's bytes past a limit until opened;
//! - [`answers::AnswerRelay`]: lets the server act, then drops or holds its answer, by kind of
//!   request.
//!
//! They share their listener and connection bookkeeping ([`relay`]) and their reading of
//! HTTP/1.1 ([`http`]).

pub mod answers;
pub mod cap;
mod fault;
pub mod gate;
pub mod http;
pub mod relay;

pub use fault::{Fault, FaultCounts, FaultProxy, ProxyConfig, SeenRequest, SeenResponse};
