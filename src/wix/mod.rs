//! Wix's side of an upload: the JSON types and the finalize call.
//!
//! The upload itself is plain tus ([`Uploader`]); Wix adds a token in the
//! metadata before it and a finalize call after it ([`finalize`]).

pub mod error_body;
pub mod types;

use std::time::SystemTime;

use ureq::Agent;

pub use error_body::{FieldViolation, WixError};
pub use types::{
    ExternalInfo, FileDescriptor, FileDescriptorEnvelope, FileOptions,
    GenerateSimpleUploadUrlRequest, GenerateSimpleUploadUrlResponse, GenerateUploadUrlRequest,
    GenerateUploadUrlResponse, GetFilesRequest, GetFilesResponse, ImportFileRequest,
};

use crate::error::{Error, Result};
use crate::proto::{Metadata, Method, ResponseHead};
use crate::secret::Secret;
use crate::source::Source;
use crate::transport::{self, Exchange};
use crate::uploader::{UploadOptions, Uploader};

/// The Wix REST API's base URL.
pub const DEFAULT_API_BASE: &str = "https://www.wixapis.com";

/// Who a Wix REST call acts for. `Debug` never shows the authorization.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Base URL of the REST API (default [`DEFAULT_API_BASE`]; the emulator's for tests).
    pub api_base: String,
    /// An API key or OAuth access token, sent as `Authorization`.
    pub authorization: Secret,
    /// The site the call is for (`wix-site-id`).
    pub site_id: Option<String>,
    /// The account, for account-level calls (`wix-account-id`; never with a site id).
    pub account_id: Option<String>,
}

impl Credentials {
    /// A site-level API key or token.
    pub fn site(authorization: impl Into<String>, site_id: impl Into<String>) -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            authorization: Secret::new(authorization),
            site_id: Some(site_id.into()),
            account_id: None,
        }
    }

    /// Points the calls at another base URL.
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self
    }
}

/// Calls *Generate File Resumable Upload URL*:
/// `POST {api_base}/site-media/v1/files/generate-resumable-upload-url`.
pub fn generate_resumable_upload_url(
    agent: &Agent,
    credentials: &Credentials,
    request: &GenerateUploadUrlRequest,
) -> Result<GenerateUploadUrlResponse> {
    let url = format!(
        "{}/site-media/v1/files/generate-resumable-upload-url",
        credentials.api_base.trim_end_matches('/')
    );
    let mut headers = vec![
        (
            "Authorization",
            credentials.authorization.expose().to_owned(),
        ),
        ("Content-Type", "application/json".to_owned()),
    ];
    match (&credentials.site_id, &credentials.account_id) {
        (Some(site), None) => headers.push(("wix-site-id", site.clone())),
        (None, Some(account)) => headers.push(("wix-account-id", account.clone())),
        _ => {
            return Err(Error::InvalidInput(
                "exactly one of site_id and account_id must be set".into(),
            ));
        }
    }
    let body = serde_json::to_vec(request).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let resp = transport::send(
        agent,
        &default_settings(),
        Exchange {
            method: Method::Post,
            url: &url,
            headers: &headers,
            body: Some((&mut &body[..], body.len() as u64)),
            body_limit: FINALIZE_BODY_LIMIT,
            secrets: &[credentials.authorization.expose()],
        },
    )?;
    parse_json_response(Method::Post, &url, &resp)
}

fn default_settings() -> transport::HttpSettings {
    transport::HttpSettings {
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        stall_timeout: Some(std::time::Duration::from_secs(60)),
        user_agent: transport::USER_AGENT.to_owned(),
        headers: Vec::new(),
    }
}

/// Finalize responses are small JSON documents; this bounds what a broken server can make us hold.
const FINALIZE_BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// Tells Wix the upload is complete: `PUT {upload_url}/{token}?filename=NAME` with body `{}`.
///
/// Returns the new file's descriptor. Its `operationStatus` may still be `PENDING`: Wix then
/// processes the file in the background.
pub fn finalize(
    agent: &Agent,
    upload_url: &str,
    token: &Secret,
    filename: &str,
) -> Result<FileDescriptor> {
    finalize_with(agent, &default_settings(), upload_url, token, filename)
}

pub(crate) fn finalize_with(
    agent: &Agent,
    settings: &transport::HttpSettings,
    upload_url: &str,
    token: &Secret,
    filename: &str,
) -> Result<FileDescriptor> {
    if token.expose().is_empty() {
        return Err(Error::InvalidInput("the upload token is empty".into()));
    }
    let url = format!(
        "{}/{}?filename={}",
        upload_url.trim_end_matches('/'),
        percent_encode(token.expose()),
        percent_encode(filename)
    );
    let secrets = [token.expose()];
    let body = b"{}";
    let headers = [("Content-Type", "application/json".to_owned())];
    let resp = transport::send(
        agent,
        settings,
        Exchange {
            method: Method::Put,
            url: &url,
            headers: &headers,
            body: Some((&mut &body[..], body.len() as u64)),
            body_limit: FINALIZE_BODY_LIMIT,
            secrets: &secrets,
        },
    )?;
    parse_json_response::<FileDescriptorEnvelope>(
        Method::Put,
        &transport::mask(&url, &secrets),
        &resp,
    )
    .map(|env| env.file)
}

/// Reads a JSON success body, or turns an error status into [`Error::Status`].
pub(crate) fn parse_json_response<T: serde::de::DeserializeOwned>(
    method: Method,
    shown_url: &str,
    resp: &ResponseHead,
) -> Result<T> {
    if !resp.is_success() {
        return Err(crate::proto::status_error(
            method,
            shown_url,
            resp,
            SystemTime::now(),
        ));
    }
    serde_json::from_slice(&resp.body).map_err(|e| {
        Error::Protocol(format!(
            "{method} {shown_url} answered {} with unreadable JSON: {e}",
            resp.status,
            method = method.as_str()
        ))
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Uploader {
    /// Uploads `source` to the URL Wix generated and finalizes it: the whole Wix route after
    /// *Generate File Resumable Upload URL*.
    ///
    /// Metadata is `filename`, `contentType` and `token`. When the state store holds an earlier,
    /// unfinished upload of the same source to the same URL, that upload is resumed and finalized
    /// with its own token; its record is removed once finalize succeeds.
    pub fn upload_to_wix(
        &self,
        target: &GenerateUploadUrlResponse,
        source: Source,
        filename: &str,
        content_type: &str,
        options: UploadOptions<'_>,
    ) -> Result<FileDescriptor> {
        let metadata = Metadata::new()
            .with("filename", filename)?
            .with("contentType", content_type)?
            .with("token", target.upload_token.expose())?;
        let done =
            self.upload_keep_state(&target.upload_url, source, options.metadata(metadata))?;
        let token = Secret::new(done.metadata.get("token").unwrap_or_default());
        let name = done.metadata.get("filename").unwrap_or(filename).to_owned();
        // A lost connection or a 5xx is retried like the upload's requests.
        let mut retry = crate::proto::RetryState::new();
        let file = loop {
            match finalize_with(self.agent(), self.http(), &target.upload_url, &token, &name) {
                Ok(file) => break file,
                Err(e) => self.backoff(&mut retry, e, 0, Method::Put, None)?,
            }
        };
        if let Some(key) = &done.key {
            self.store().remove(key)?;
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(
            percent_encode("a b&c?d/e..f.jpg"),
            "a%20b%26c%3Fd%2Fe..f.jpg"
        );
        assert_eq!(percent_encode("ü"), "%C3%BC");
        assert_eq!(percent_encode("A-z_0~9"), "A-z_0~9");
    }
}
