//! Wix's side of an upload: the client, the JSON types, the REST calls and finalize.
//!
//! [`WixClient`] makes one call per file on every route. The upload itself is plain tus
//! ([`Uploader`](crate::Uploader)); for a caller that gets its upload URL elsewhere, the
//! resumable route is also three plain functions: a generate call before the upload
//! ([`generate_resumable_upload_url`]), a finalize call after it ([`finalize`]), and [`upload`]
//! for the upload and the finalize.
//!
//! Beyond uploads, [`WixClient`] reads and organizes the Media Manager: listings
//! ([`WixClient::list`] of [`ListFiles`], [`SearchFiles`], [`ListFolders`]), folder paths
//! ([`WixClient::find_folder`], [`WixClient::ensure_folder`]), updates, the trash, download
//! URLs, bulk import ([`WixClient::import_many`]) and waiting for many files
//! ([`WixClient::wait_processed_all`]).

mod action;
mod client;
mod create;
pub(crate) mod credentials;
mod error_body;
mod finished;
mod flow;
mod job;
mod limiter;
mod pace;
mod processing;
mod read;
mod recent;
mod reconcile;
mod rest;
mod resumable;
mod simple;
mod time;
mod types;

pub use crate::digest::file_md5;
pub use client::{FileUpload, RestCalls, Route, WixClient, WixClientBuilder, WixUpload};
pub use credentials::Scope;
pub use error_body::{FieldViolation, WixError};
pub use processing::FileRef;
pub use read::{
    FileUpdate, Folder, ItemError, Items, ListFiles, ListFolders, Listing, MEDIA_ROOT, RootFolder,
    SearchFiles, SortField, SortOrder,
};
pub use resumable::{
    ResumableTarget, ResumableUpload, finalize, generate_resumable_upload_url, upload,
};
pub(crate) use types::GenerateUploadUrlResponse;
pub use types::{
    FileDescriptor, FileOptions, FileState, GenerateUploadUrlRequest, ImportFileRequest, MediaType,
    OperationStatus,
};

use credentials::Credentials;
