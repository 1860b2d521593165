//! Wix's side of an upload: the client, the JSON types, the REST calls and finalize.
//!
//! [`WixClient`] makes one call per file on every route. The upload itself is plain tus
//! ([`Uploader`](crate::Uploader)); for a caller that gets its upload URL elsewhere, the
//! resumable route is also three plain functions: a generate call before the upload
//! ([`generate_resumable_upload_url`]), a finalize call after it ([`finalize`]), and [`upload`]
//! for the upload and the finalize.

mod client;
pub(crate) mod credentials;
mod error_body;
mod finished;
mod limiter;
mod pace;
mod processing;
mod rest;
mod resumable;
mod simple;
mod types;

pub use client::{FileUpload, RestCalls, Route, WixClient, WixClientBuilder, WixUpload};
pub use credentials::Scope;
pub use error_body::{FieldViolation, WixError};
pub use processing::FileRef;
pub use resumable::{
    ResumableTarget, ResumableUpload, finalize, generate_resumable_upload_url, upload,
};
pub use types::{
    ArchiveMedia, AudioMedia, DocumentMedia, ExternalInfo, FileDescriptor, FileOptions, FileState,
    GenerateUploadUrlRequest, GenerateUploadUrlResponse, ImageInfo, ImageMedia, ImageRef,
    ImportFileRequest, Media, MediaType, Model3dMedia, OperationStatus, VideoMedia,
    VideoResolution,
};

use credentials::Credentials;
