//! Put files into a Wix site's Media Manager from synchronous Rust: the simple and the
//! resumable (tus 1.0) upload routes, import from a URL, and waiting until Wix has processed a
//! file, over a blocking [`ureq`] agent. No async runtime; thread-based.
//!
//! # Quick start
//!
//! With `WIX_API_KEY` (an API key with the Media Manager permission) and `WIX_SITE_ID` set:
//!
//! ```no_run
//! use wix_media_upload::wix::WixClient;
//!
//! let client = WixClient::from_env()?;
//! let file = client.upload("photos/cat.jpg")?;
//! println!("{:?} is {:?}", file.url, file.operation_status);
//! # Ok::<(), wix_media_upload::Error>(())
//! ```
//!
//! [`wix::WixClient::upload_with`] takes a [`wix::FileUpload`]: display name, MIME type (guessed
//! from the extension by default), [`wix::FileOptions`] (folder, privacy, labels, external
//! ids), the [`wix::Route`] (simple below 10 MiB, resumable above, by default), waiting until
//! `READY`, progress and abort. [`wix::WixClient::import`] has Wix fetch a URL; [`wix::WixClient::wait_ready`] waits
//! for processing. REST calls are paced once Wix answers 429.
//!
//! # Layers
//!
//! - [`wix::WixClient`]: one call per file, every route, on one [`Uploader`].
//! - [`Uploader`]: tus 1.0 uploads of a [`Source`] (file, seekable reader or stream) in one
//!   streamed PATCH or in chunks, over one connection or several ([`UploaderBuilder::parallel`]),
//!   with one retry policy for every request, and resumable state in memory or in a state
//!   directory ([`UploaderBuilder::state_dir`]).
//! - [`wix::generate_resumable_upload_url`], [`wix::upload`], [`wix::finalize`]: the resumable
//!   route as plain functions, for a caller that gets its upload URL elsewhere.
//! - Beneath them, the tus protocol as pure code (no sockets, files or clock) is its own crate,
//!   [`wix_media_tus`], for your own I/O.
//!
//! # Resuming
//!
//! With [`UploaderBuilder::state_dir`], an interrupted upload of the same file to the same place
//! resumes from the server's offset, in the same process or the next one; records are private
//! (`0600` in a `0700` directory) because they hold upload tokens, and there is one writer per
//! upload even across processes (a second one waits, then continues or returns the same upload).
//! After an error, [`Uploader::has_saved`] (or [`wix::WixClient::has_saved`]) tells whether
//! calling again resumes.
//!
//! ```no_run
//! use wix_media_upload::wix::{FileOptions, FileUpload, WixClient};
//! use wix_media_upload::{Credentials, Uploader};
//!
//! let client = WixClient::builder(Credentials::site("IST.key...", "site-id"))
//!     .uploader(Uploader::builder().state_dir("/var/tmp/my-app-uploads"))
//!     .build()?;
//! let upload = FileUpload::new().options(FileOptions::new().file_path("/videos"));
//! let done = client.upload_with("big-video.mp4", upload)?;
//! println!("resumed from byte {:?}", done.resumed_from);
//! # Ok::<(), wix_media_upload::Error>(())
//! ```
//!
//! # Errors
//!
//! One enum, [`Error`]: [`Error::is_retryable`], [`Error::status`], [`Error::wix`] (the Wix error
//! body: message, `applicationError.code`, validation rule names), [`Error::request`],
//! [`Error::last_attempt`] (the failure behind [`Error::GaveUp`]). A server that breaks the tus
//! protocol is [`Error::Protocol`], which holds the [`wix_media_tus::Violation`]. API keys and upload tokens
//! never appear in `Debug`, `Display`, errors or the crate's logs.
//!
//! # Features
//!
//! - `checksum` (default): tus `Upload-Checksum` (sha256, sha1) where the server offers it.
//!
//! [`ureq`]: https://docs.rs/ureq/3
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod checksum;
mod control;
mod digest;
mod engine;
mod error;
mod excerpt;
mod retry;
mod secret;
mod source;
mod store;
mod uploader;
pub mod wix;

pub use control::{AbortHandle, Clock, Progress};
pub use error::{ContentMismatch, Error, ErrorBody, FailedRequest, Result, StoreError};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use source::Source;
pub use uploader::{UploadOptions, Uploaded, Uploader, UploaderBuilder};
/// The HTTP client this crate is built on; its types ([`ureq::Agent`], [`ureq::Error`]) are
/// part of this crate's API.
///
/// [`ureq::Agent`]: https://docs.rs/ureq/3/ureq/struct.Agent.html
/// [`ureq::Error`]: https://docs.rs/ureq/3/ureq/enum.Error.html
pub use ureq;
pub use wix::credentials::Credentials;
pub use wix_media_tus::CreationMode;

/// What the fuzz target (and `cargo test`'s replay of its kept inputs, tests/it/fuzz) feeds
/// besides the public API: the readers of error bodies and of the generate answer. Not part
/// of the API; the tus parsers it feeds are `wix-media-tus`'s own API.
#[doc(hidden)]
pub mod fuzzing {
    /// A short, safe excerpt of an error body.
    pub fn body_excerpt(body: &[u8]) -> Option<String> {
        crate::excerpt::body_excerpt(body)
    }

    /// Parses `body` as a Wix error body.
    pub fn wix_error(body: &[u8]) -> Option<crate::wix::WixError> {
        crate::wix::WixError::parse(body)
    }

    /// Whether `body` reads as a generate-resumable-upload-url answer.
    pub fn generate_answer(body: &[u8]) -> bool {
        serde_json::from_slice::<crate::wix::GenerateUploadUrlResponse>(body).is_ok()
    }
}

// The README's examples are compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
