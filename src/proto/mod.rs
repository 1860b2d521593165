//! The tus 1.0 client protocol as pure code: no sockets, no files, no clock.
//!
//! [`Upload`] says which request comes next ([`Upload::next_request`]) and how a response
//! changes the upload ([`Upload::handle`]). The bytes of a request body are named, not held:
//! a [`Request`] carries the byte range of the source to send, and the driver streams it.
//! [`RetryState`] decides whether and when a failed request is tried again.
//!
//! ```
//! use std::time::SystemTime;
//! use wix_media_upload::proto::{Config, Event, Metadata, Method, ResponseHead, Upload};
//!
//! let now = SystemTime::now();
//! let meta = Metadata::new().with("filename", "a.txt").unwrap();
//! let mut up = Upload::new("http://127.0.0.1:1080/files", 5, &meta, Config::default());
//! let req = up.next_request().unwrap();
//! assert_eq!(req.method, Method::Post);
//! let created = ResponseHead::new(201).with_header("Location", "/files/abc");
//! assert!(matches!(up.handle(&created, now).unwrap(), Event::Created { .. }));
//! let patch = up.next_request().unwrap();
//! assert_eq!((patch.method, patch.body), (Method::Patch, Some(0..5)));
//! assert_eq!(patch.url, "http://127.0.0.1:1080/files/abc");
//! up.handle(&ResponseHead::new(204).with_header("Upload-Offset", "5"), now).unwrap();
//! assert!(up.is_complete() && up.next_request().is_none());
//! ```

pub mod concat;
mod metadata;
mod response;
mod retry;
mod upload;
mod url;

pub use metadata::Metadata;
pub use response::ResponseHead;
pub use retry::{RetryPolicy, RetryState};
pub(crate) use upload::status_error;
pub use upload::{
    ChecksumAlgorithm, Config, CreationMode, DEFERRED_CHUNK, Event, Method, Phase, Request, Upload,
};
pub use url::resolve;

/// The protocol version this crate speaks.
pub const TUS_VERSION: &str = "1.0.0";
/// Content type of every PATCH (and creation-with-upload POST) body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
