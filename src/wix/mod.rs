//! Wix's side of an upload: credentials, the JSON types, the REST calls and finalize.
//!
//! The upload itself is plain tus ([`Uploader`](crate::Uploader)); Wix adds a generate call
//! before it ([`generate_resumable_upload_url`]) and a finalize call after it ([`finalize`]);
//! [`upload`] does the upload and the finalize.

mod client;
mod credentials;
pub mod error_body;
mod finished;
mod limiter;
mod pace;
mod processing;
mod rest;
mod resumable;
mod simple;
pub mod types;

pub use client::{DEFAULT_SIMPLE_BELOW, FileUpload, Route, WixClient, WixClientBuilder, WixUpload};
pub use credentials::{Credentials, DEFAULT_API_BASE, Scope};
pub use error_body::{FieldViolation, WixError};
pub use processing::FileRef;
pub use resumable::{
    ResumableTarget, ResumableUpload, finalize, generate_resumable_upload_url, upload,
};
pub use types::{
    ExternalInfo, FileDescriptor, FileOptions, GenerateUploadUrlRequest, GenerateUploadUrlResponse,
    ImportFileRequest,
};
