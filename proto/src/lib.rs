//! The tus 1.0 client protocol as pure code: no sockets, no files, no clock, no HTTP client.
//!
//! [`Upload`] says which request comes next ([`Upload::next_request`]) and how a response
//! changes the upload ([`Upload::handle`]). The bytes of a request body are named, not held:
//! a [`Request`] carries the byte range of the source to send, and the driver streams it.
//! Time comes in as an argument. Failures are this crate's own [`Error`].
//!
//! The requests outside an upload's life are here as well: discovery ([`options`]),
//! termination ([`terminate`]), the final concatenation of partial uploads
//! ([`concat`](mod@concat)); and the retry rule a driver applies to failures ([`RetryState`],
//! [`retryable_status`]).
//! `wix-media-upload` drives this crate over `ureq`; any other driver can.
//!
//! ```
//! use std::time::SystemTime;
//! use wix_media_tus::{Config, Event, Metadata, Method, ResponseHead, Upload};
//!
//! let now = SystemTime::now();
//! let meta = Metadata::new().with("filename", "a.txt")?;
//! let mut up = Upload::new("http://127.0.0.1:1080/files", 5, &meta, Config::default());
//! let req = up.next_request().unwrap();
//! assert_eq!(req.method, Method::Post);
//! let created = ResponseHead::new(201).with_header("Location", "/files/abc");
//! assert!(matches!(up.handle(&created, now)?, Event::Created { .. }));
//! let patch = up.next_request().unwrap();
//! assert_eq!((patch.method, patch.body), (Method::Patch, Some(0..5)));
//! assert_eq!(patch.url, "http://127.0.0.1:1080/files/abc");
//! up.handle(&ResponseHead::new(204).with_header("Upload-Offset", "5"), now)?;
//! assert!(up.is_complete() && up.next_request().is_none());
//! # Ok::<(), wix_media_tus::Error>(())
//! ```
//!
//! # The state machine
//!
//! ```text
//!                 ┌──────── OPTIONS answered (any status but 423/429/5xx) ────────┐
//!   Discover ─────┘                                                               ▼
//!   (CreationMode::Auto)                                                        Create
//!                                                                                 │ POST 201 + Location
//!                                                                                 │ (creation-with-upload:
//!                                                                                 │  the 201's offset counts)
//!                                                                                 ▼
//!   resume(url) ──▶ Head ──── HEAD 2xx: the server's offset ───────────────────▶ Patch ◀──┐ PATCH 204,
//!                    ▲                                                            │  │    │ offset < length
//!                    └─ 409, 413, 460, 5xx, lost connection ──────────────────────┘  └────┘
//!                                                                                 │ PATCH 204,
//!                                                                                 ▼ offset = length
//!                                                                               Done
//! ```
//!
//! - `Discover` (OPTIONS, only in [`CreationMode::Auto`]; the default `Plain` starts at
//!   `Create`) learns `Tus-Extension`, `Tus-Max-Size`, `Tus-Checksum-Algorithm`.
//! - `Create` (POST) sends `Upload-Length` (or `Upload-Defer-Length: 1`), `Upload-Metadata`,
//!   `Upload-Concat: partial` for parallel slices; a relative `Location` is resolved.
//! - `Patch` sends `[offset, offset + chunk)`; the new `Upload-Offset` must lie within what was
//!   sent and must advance. A declared deferred length rides on the next PATCH.
//! - `Head` re-reads the offset after a 409, 413, 460, 5xx or lost connection (the server may
//!   have kept part of the body), and starts every resume. Its offset is believed even when
//!   lower than one acknowledged before: the missing bytes are sent again.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

pub mod concat;
mod error;
mod metadata;
pub mod options;
mod request;
mod response;
mod retry;
pub mod terminate;
mod upload;
mod url;

pub use error::{Error, Result, Usage, Violation};
pub use metadata::Metadata;
pub use request::{Method, Request};
pub use response::ResponseHead;
pub use retry::{RetryState, Retryable, retryable_status};
pub use upload::{
    ChecksumAlgorithm, Config, CreationMode, Event, Interruption, Phase, STREAM_CHUNK, Upload,
};
pub use url::resolve;

/// The protocol version this crate speaks.
const TUS_VERSION: &str = "1.0.0";
/// Content type of every PATCH (and creation-with-upload POST) body.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
