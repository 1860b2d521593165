//! Blocking, resumable (tus 1.0) uploads to the Wix Media Manager.
//!
//! Wix's *Resumable Upload API* hands out `{uploadUrl, uploadToken}`; the file then goes up with
//! tus to `uploadUrl` and a finalize call turns it into a Media Manager file. This crate does the
//! upload and the finalize over a blocking [`ureq`] agent: no async runtime.
//!
//! - [`Uploader`] streams a [`Source`] (file, seekable reader or plain stream) in one PATCH or in
//!   chunks, retries what can be retried, and keeps resumable state in a [`StateStore`] so an
//!   interrupted upload continues where the server stopped, even in another process.
//! - [`wix::finalize`] is the finalize call; [`wix::upload`] does the upload and the finalize.
//! - [`proto`] is the tus protocol as pure code, for driving with your own I/O.
//!
//! ```no_run
//! use wix_media_upload::wix::{self, GenerateUploadUrlRequest};
//! use wix_media_upload::{Credentials, Source, UploadOptions, Uploader};
//!
//! let uploader = Uploader::builder().state_dir("/tmp/wix-upload-state").build()?;
//! let creds = Credentials::site(std::env::var("WIX_API_KEY")?, std::env::var("WIX_SITE_ID")?);
//! let request = GenerateUploadUrlRequest::new("image/jpeg").file_name("photo.jpg");
//! let target = wix::generate_resumable_upload_url(&uploader, &creds, &request)?;
//! let done = wix::upload(&uploader, &target, Source::file("photo.jpg")?, UploadOptions::new())?;
//! println!("{:?} is {:?}", done.file.id, done.file.operation_status);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod checksum;
mod control;
#[cfg(feature = "emulator")]
pub mod emulator;
mod engine;
mod error;
pub mod proto;
mod secret;
mod source;
pub mod store;
mod uploader;
pub mod wix;

pub use control::{AbortHandle, Clock, ManualClock, Progress, SystemClock};
pub use error::{Error, ErrorBody, FailedRequest, Result, StoreError};
pub use proto::{CreationMode, Metadata, RetryPolicy};
pub use secret::Secret;
pub use source::Source;
pub use store::{DirStore, MemoryStore, Record, StateStore};
pub use uploader::{UploadOptions, Uploaded, Uploader, UploaderBuilder};
/// The HTTP client this crate is built on; its types ([`ureq::Agent`], [`ureq::Error`]) are
/// part of this crate's API.
pub use ureq;
pub use wix::Credentials;

// The README's examples are compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
