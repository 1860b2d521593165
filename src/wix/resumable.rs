//! The resumable route: *Generate File Resumable Upload URL*, the tus upload, finalize.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error_body::read_wix;
use super::rest::{self, JSON_BODY_LIMIT, Rest};
use super::{Credentials, FileDescriptor, GenerateUploadUrlRequest, GenerateUploadUrlResponse};
use crate::control::AbortHandle;
use crate::engine::transport::{Call, mask};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::source::Source;
use crate::uploader::{UploadOptions, Uploaded, Uploader};
use wix_media_tus::{Metadata, Method};

/// Where a resumable upload goes, and what it was asked for: the answer of
/// [`generate_resumable_upload_url`] with the file name and MIME type of its request, so they
/// are written once. `Debug` masks the token.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResumableTarget {
    /// The tus creation URL.
    pub upload_url: String,
    /// The single-use token for the upload and its finalize.
    pub upload_token: Secret,
    /// The `fileName` asked for, if any.
    pub file_name: Option<String>,
    /// The `mimeType` asked for.
    pub mime_type: String,
}

impl ResumableTarget {
    /// A target from the upload URL and token of a generate call made elsewhere (say, by a
    /// server that called Wix and handed both on), with the file name and MIME type that call
    /// asked for.
    pub fn new(
        upload_url: impl Into<String>,
        upload_token: impl Into<String>,
        file_name: Option<String>,
        mime_type: impl Into<String>,
    ) -> Self {
        Self {
            upload_url: upload_url.into(),
            upload_token: Secret::new(upload_token),
            file_name,
            mime_type: mime_type.into(),
        }
    }
}

/// Calls *Generate File Resumable Upload URL*:
/// `POST {api_base}/site-media/v1/files/generate-resumable-upload-url`, with the uploader's
/// agent, timeouts, user agent and retry policy.
///
/// # Errors
///
/// [`Error::Status`] with the Wix error body ([`Error::wix`]) when Wix refuses (say, the
/// `ruleName` `ZERO_FILE_SIZE`); transport errors once retries are used up.
pub fn generate_resumable_upload_url(
    uploader: &Uploader,
    credentials: &Credentials,
    request: &GenerateUploadUrlRequest,
) -> Result<ResumableTarget> {
    let rest = Rest {
        engine: uploader.engine(),
        creds: credentials,
        limiter: None,
        abort: None,
    };
    generate_with(&rest, request)
}

pub(crate) fn generate_with(
    rest: &Rest<'_>,
    request: &GenerateUploadUrlRequest,
) -> Result<ResumableTarget> {
    let response: GenerateUploadUrlResponse = rest.post(
        "/site-media/v1/files/generate-resumable-upload-url",
        request,
    )?;
    Ok(ResumableTarget {
        upload_url: response.upload_url,
        upload_token: response.upload_token,
        file_name: request.file_name.clone(),
        mime_type: request.mime_type.clone(),
    })
}

// RFC 3986's unreserved characters stay; everything else is encoded.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Tells Wix the upload is complete: `PUT {upload_url}/{token}?filename=NAME` with body `{}`
/// (`filename` left out when `None`: Wix then uses the `fileName` given at generate time).
///
/// Returns the new file's descriptor. Its `operationStatus` may still be `PENDING`: Wix then
/// processes the file in the background. Retried by the uploader's policy.
///
/// # Errors
///
/// [`Error::Status`] with the Wix error body when Wix refuses (an unknown or used token, an
/// incomplete upload); [`Error::InvalidInput`] for an empty token.
pub fn finalize(
    uploader: &Uploader,
    upload_url: &str,
    token: &Secret,
    filename: Option<&str>,
) -> Result<FileDescriptor> {
    finalize_with(uploader, upload_url, token, filename, None)
}

fn finalize_with(
    uploader: &Uploader,
    upload_url: &str,
    token: &Secret,
    filename: Option<&str>,
    abort: Option<&AbortHandle>,
) -> Result<FileDescriptor> {
    uploader.engine().retrying(abort, || {
        finalize_once(uploader, upload_url, token, filename)
    })
}

/// One finalize request, not retried.
pub(crate) fn finalize_once(
    uploader: &Uploader,
    upload_url: &str,
    token: &Secret,
    filename: Option<&str>,
) -> Result<FileDescriptor> {
    if token.expose().is_empty() {
        return Err(Error::InvalidInput("the upload token is empty".into()));
    }
    let mut url = format!(
        "{}/{}",
        upload_url.trim_end_matches('/'),
        utf8_percent_encode(token.expose(), COMPONENT)
    );
    if let Some(name) = filename {
        url.push_str("?filename=");
        url.extend(utf8_percent_encode(name, COMPONENT));
    }
    let secrets = [token.expose()];
    let headers = [("Content-Type", "application/json".to_owned())];
    let engine = uploader.engine();
    let resp = engine.send(Call {
        method: Method::Put,
        url: &url,
        headers: &headers,
        body: Some((&mut &b"{}"[..], 2)),
        body_limit: JSON_BODY_LIMIT,
        secrets: &secrets,
    })?;
    let envelope: super::types::FileDescriptorEnvelope =
        rest::read_json(engine, Method::Put, &mask(&url, &secrets), &resp)?;
    Ok(envelope.file)
}

/// A file uploaded through the resumable route.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResumableUpload {
    /// The new file.
    pub file: FileDescriptor,
    /// The tus upload behind it.
    pub upload: Uploaded,
}

/// Uploads `source` to the URL Wix generated and finalizes it: the whole resumable route after
/// *Generate File Resumable Upload URL*.
///
/// The tus metadata is the caller's (from `options`) plus `filename` (the target's file name,
/// else the source's), `contentType` and `token`. When the state store holds an earlier,
/// unfinished upload of the same source to the same URL, that upload is resumed and finalized
/// with its own token; its record is removed once finalize succeeds.
///
/// # Errors
///
/// Those of [`Uploader::upload`] and [`finalize`]. A failed finalize keeps the record, so the
/// next call finalizes the finished upload without sending it again.
pub fn upload(
    uploader: &Uploader,
    target: &ResumableTarget,
    source: Source,
    options: UploadOptions<'_>,
) -> Result<ResumableUpload> {
    let abort = options.abort_handle().cloned();
    let done = send(uploader, target, source, options)?;
    let (token, filename) = finalize_args(&done);
    let file = finalize_with(
        uploader,
        &target.upload_url,
        &token,
        filename.as_deref(),
        abort.as_ref(),
    )?;
    uploader.forget(&done)?;
    Ok(ResumableUpload { file, upload: done })
}

/// The tus upload of the resumable route, its record kept (for finalize).
pub(crate) fn send(
    uploader: &Uploader,
    target: &ResumableTarget,
    source: Source,
    mut options: UploadOptions<'_>,
) -> Result<Uploaded> {
    let name = target
        .file_name
        .clone()
        .or_else(|| source.file_name())
        .ok_or_else(|| Error::InvalidInput("a file name is needed (set fileName)".into()))?;
    let wix = Metadata::new()
        .with("filename", &name)?
        .with("contentType", &target.mime_type)?
        .with_secret("token", target.upload_token.expose())?;
    options.metadata_mut().merge(&wix);
    uploader
        .upload(&target.upload_url, source, options.keep_state(true))
        .map_err(read_wix)
}

/// The token and file name a finished tus upload is finalized with: those it was created
/// with (a resumed upload is finalized under the name it was created with).
pub(crate) fn finalize_args(done: &Uploaded) -> (Secret, Option<String>) {
    let token = Secret::new(done.metadata.get("token").unwrap_or_default());
    let filename = done.metadata.get("filename").map(str::to_owned);
    (token, filename)
}
