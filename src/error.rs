//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use crate::proto::{self, Retryable, Violation, retryable_status};
use crate::wix::FileDescriptor;
use crate::wix::error_body::WixError;

/// Everything that can go wrong in an upload, a finalize or a Wix call.
///
/// Variants carry what a caller acts on: [`Error::is_retryable`] says whether trying again may
/// help, [`Error::status`] gives the HTTP status, [`Error::wix`] the parsed Wix error body.
/// No variant ever holds an upload token or API key in its `Display` or `Debug` text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status the step did not expect.
    #[error("{request} answered HTTP {status}{}", body_suffix(.body))]
    Status {
        /// HTTP status code.
        status: u16,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The request that failed.
        request: Box<FailedRequest>,
        /// What the error body said, when it said something readable.
        body: Option<Box<ErrorBody>>,
    },
    /// The connection failed or broke, or the server spoke broken HTTP.
    #[error("{request} failed: {}", transport_text(.source))]
    Transport {
        /// The request that failed.
        request: Box<FailedRequest>,
        /// What ureq reported.
        #[source]
        source: Box<ureq::Error>,
    },
    /// No progress for longer than the configured timeout.
    #[error("{request} timed out ({timeout})")]
    Timeout {
        /// The request that timed out.
        request: Box<FailedRequest>,
        /// Which of ureq's timeouts fired.
        timeout: ureq::Timeout,
    },
    /// The server's offset differs from the one the client sent (HTTP 409).
    #[error("offset mismatch: client sent {expected}, server has {}", opt_u64(.actual))]
    OffsetMismatch {
        /// The offset the client sent.
        expected: u64,
        /// The server's offset, when it said.
        actual: Option<u64>,
    },
    /// The server found the body's checksum wrong (460, or 417 from some servers).
    #[error("checksum mismatch on the body sent at offset {offset} (HTTP {status})")]
    ChecksumMismatch {
        /// Where the rejected body started.
        offset: u64,
        /// HTTP status code.
        status: u16,
    },
    /// The upload no longer exists on the server (HTTP 404, 410 or 403).
    #[error("upload is gone from the server (HTTP {status})")]
    Gone {
        /// HTTP status code.
        status: u16,
    },
    /// The upload passed the `Upload-Expires` time the server gave it; start a new one.
    #[error("the upload expired on the server (its Upload-Expires has passed)")]
    Expired,
    /// The file is larger than the server accepts.
    #[error("file of {size} bytes is over the server's limit of {max} bytes")]
    TooLarge {
        /// Size of the source.
        size: u64,
        /// The server's `Tus-Max-Size`.
        max: u64,
    },
    /// The source changed size (or ended early) while it was being uploaded.
    #[error(
        "source changed during upload: it had {expected} bytes, now {found} (or it was rewritten)"
    )]
    SourceChanged {
        /// The length the upload was created with.
        expected: u64,
        /// What the source holds now (or where it ended).
        found: u64,
    },
    /// Reading the source failed.
    #[error("reading the source failed: {0}")]
    Io(#[from] std::io::Error),
    /// The resumable state store failed or held a bad record.
    #[error("state store: {0}")]
    Store(Box<StoreError>),
    /// The upload was stopped through an [`AbortHandle`](crate::AbortHandle).
    #[error("upload aborted")]
    Aborted,
    /// The server broke the tus protocol.
    #[error("{request}: protocol violation: {violation}")]
    Protocol {
        /// The request whose answer broke it.
        request: Box<FailedRequest>,
        /// What was wrong.
        violation: Box<Violation>,
    },
    /// A success answer whose body is not what the API documents (say, not the expected JSON).
    #[error("{request} answered HTTP {status} with an unreadable body: {reason}")]
    BadResponse {
        /// The request.
        request: Box<FailedRequest>,
        /// HTTP status code.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// Wix could not process the file (`operationStatus: FAILED`).
    #[error("Wix could not process file {}", .file.id.as_deref().unwrap_or("?"))]
    ProcessingFailed {
        /// The file, as Wix last described it.
        file: Box<FileDescriptor>,
    },
    /// The file was still being processed when the wait ran out.
    #[error("file {file_id} was not ready after {waited:?}")]
    NotReady {
        /// The file's id.
        file_id: Box<str>,
        /// How long it was waited for.
        waited: Duration,
    },
    /// A file to upload could not be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    File {
        /// The file.
        path: Box<std::path::Path>,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The caller passed something unusable (a bad URL, metadata key or option).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Retries ran out; `last` is the final failure.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made, the first included.
        attempts: u32,
        /// The last error.
        #[source]
        last: Box<Error>,
    },
}

/// Which request failed: its method and its URL with secrets masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRequest {
    method: &'static str,
    url: String,
}

impl FailedRequest {
    pub(crate) fn new(method: &'static str, masked_url: impl Into<String>) -> Self {
        Self {
            method,
            url: masked_url.into(),
        }
    }

    /// The HTTP method.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The URL, secrets masked as `***`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for FailedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

/// What an error answer's body said.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ErrorBody {
    /// A Wix error body.
    Wix(WixError),
    /// Something else, such as an HTML page: a short excerpt of its text, and a hint of what
    /// usually causes it.
    Text {
        /// At most about 120 characters of the body's text.
        excerpt: String,
        /// What to check.
        hint: Option<&'static str>,
    },
}

impl ErrorBody {
    /// Reads an error body: a Wix error, or a text excerpt; `None` when there is nothing.
    pub(crate) fn parse(status: u16, body: &[u8]) -> Option<Self> {
        if let Some(w) = WixError::parse(body) {
            return Some(ErrorBody::Wix(w));
        }
        let excerpt = crate::wix::error_body::body_excerpt(body)?;
        let hint = matches!(status, 401 | 403).then_some(
            "check the API key, the site id, and that the key has the Media Manager permission",
        );
        Some(ErrorBody::Text { excerpt, hint })
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorBody::Wix(w) => fmt::Display::fmt(w, f),
            ErrorBody::Text { excerpt, hint } => {
                write!(f, "{excerpt:?}")?;
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
        }
    }
}

/// A failure of a [`StateStore`](crate::StateStore), with the error behind it if any.
#[derive(Debug)]
pub struct StoreError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

fn body_suffix(body: &Option<Box<ErrorBody>>) -> String {
    match body {
        Some(b) => format!(": {b}"),
        None => String::new(),
    }
}

fn opt_u64(v: &Option<u64>) -> String {
    v.map_or_else(|| "an unknown offset".to_owned(), |v| v.to_string())
}

fn transport_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "could not connect: the server refused the connection".into()
        }
        ureq::Error::ConnectionFailed => {
            "could not connect (connection refused or unreachable)".into()
        }
        ureq::Error::HostNotFound => "the host name does not resolve".into(),
        other => other.to_string(),
    }
}

impl Error {
    /// A state store failure, for [`StateStore`](crate::StateStore) implementations.
    pub fn store(message: impl Into<String>) -> Self {
        Error::Store(Box::new(StoreError {
            message: message.into(),
            source: None,
        }))
    }

    /// A state store failure with the error behind it.
    pub fn store_with(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Store(Box::new(StoreError {
            message: message.into(),
            source: Some(source.into()),
        }))
    }

    /// Maps a protocol error of `request` (whose answer, if any, had `body`).
    pub(crate) fn from_proto(e: proto::Error, request: FailedRequest, body: &[u8]) -> Self {
        match e {
            proto::Error::Status {
                status,
                retry_after,
            } => Error::Status {
                status,
                retry_after,
                request: Box::new(request),
                body: ErrorBody::parse(status, body).map(Box::new),
            },
            proto::Error::Violation(v) => Error::Protocol {
                request: Box::new(request),
                violation: Box::new(v),
            },
            other => other.into(),
        }
    }

    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Status { status, .. } => retryable_status(*status),
            Error::Transport { source, .. } => matches!(
                **source,
                ureq::Error::Io(_)
                    | ureq::Error::Timeout(_)
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::HostNotFound
                    | ureq::Error::Protocol(_)
            ),
            Error::Timeout { .. }
            | Error::OffsetMismatch { .. }
            | Error::ChecksumMismatch { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status behind this error, if any (looking through [`Error::GaveUp`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. }
            | Error::Gone { status }
            | Error::ChecksumMismatch { status, .. }
            | Error::BadResponse { status, .. } => Some(*status),
            Error::OffsetMismatch { .. } => Some(409),
            Error::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The Wix error body, if the server sent one (looking through [`Error::GaveUp`]).
    pub fn wix(&self) -> Option<&WixError> {
        match self {
            Error::Status { body, .. } => match body.as_deref() {
                Some(ErrorBody::Wix(w)) => Some(w),
                _ => None,
            },
            Error::GaveUp { last, .. } => last.wix(),
            _ => None,
        }
    }

    /// The Wix `applicationError.code`, if any.
    pub fn wix_code(&self) -> Option<&str> {
        self.wix().and_then(|w| w.code.as_deref())
    }

    /// The server's `Retry-After`, if any (looking through [`Error::GaveUp`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            Error::GaveUp { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// The request that failed, when the error is about one.
    pub fn request(&self) -> Option<&FailedRequest> {
        match self {
            Error::Status { request, .. }
            | Error::Transport { request, .. }
            | Error::Timeout { request, .. }
            | Error::Protocol { request, .. }
            | Error::BadResponse { request, .. } => Some(request),
            Error::GaveUp { last, .. } => last.request(),
            _ => None,
        }
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        Error::retry_after(self)
    }
}

/// Protocol errors outside a request (metadata keys, declared lengths) and, where no request
/// is known, the rest.
impl From<proto::Error> for Error {
    fn from(e: proto::Error) -> Self {
        match e {
            proto::Error::OffsetMismatch { expected, actual } => {
                Error::OffsetMismatch { expected, actual }
            }
            proto::Error::Gone { status } => Error::Gone { status },
            proto::Error::TooLarge { size, max } => Error::TooLarge { size, max },
            proto::Error::ChecksumMismatch { offset, status } => {
                Error::ChecksumMismatch { offset, status }
            }
            proto::Error::Usage(u) => Error::InvalidInput(u.to_string()),
            other => Error::from_proto(other, FailedRequest::new("-", "-"), &[]),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small() {
        // Was 104 bytes before the large parts were boxed.
        assert!(size_of::<Error>() <= 40, "{}", size_of::<Error>());
    }

    #[test]
    fn accessors_look_through_gave_up() {
        let status = Error::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(3)),
            request: Box::new(FailedRequest::new("POST", "http://h/x")),
            body: ErrorBody::parse(
                429,
                br#"{"message":"slow down","details":{"applicationError":{"code":"RATE"}}}"#,
            )
            .map(Box::new),
        };
        assert!(status.is_retryable());
        let gave_up = Error::GaveUp {
            attempts: 3,
            last: Box::new(status),
        };
        assert!(!gave_up.is_retryable());
        assert_eq!(gave_up.status(), Some(429));
        assert_eq!(gave_up.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(gave_up.wix_code(), Some("RATE"));
        assert_eq!(gave_up.request().map(FailedRequest::method), Some("POST"));
        assert!(
            gave_up
                .to_string()
                .contains("POST http://h/x answered HTTP 429")
        );
    }

    #[test]
    fn html_bodies_become_a_short_excerpt_with_a_hint() {
        let page = b"<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>";
        let Some(ErrorBody::Text { excerpt, hint }) = ErrorBody::parse(403, page) else {
            panic!("not text");
        };
        assert!(
            excerpt.contains("Forbidden") && !excerpt.contains('<'),
            "{excerpt}"
        );
        assert!(hint.is_some_and(|h| h.contains("API key")));
        assert_eq!(ErrorBody::parse(500, b""), None);
    }

    #[test]
    fn store_errors_keep_their_source() {
        let e = Error::store_with("cannot save", std::io::Error::other("disk full"));
        let Error::Store(inner) = &e else { panic!() };
        assert_eq!(
            std::error::Error::source(&**inner).map(|s| s.to_string()),
            Some("disk full".into())
        );
        assert_eq!(e.to_string(), "state store: cannot save");
    }

    #[test]
    fn protocol_errors_map_by_kind() {
        let req = || FailedRequest::new("PATCH", "http://h/f/1");
        assert!(matches!(
            Error::from_proto(proto::Error::Gone { status: 410 }, req(), b""),
            Error::Gone { status: 410 }
        ));
        let e = Error::from_proto(Violation::MissingOffset.into(), req(), b"");
        assert!(
            matches!(&e, Error::Protocol { violation, .. } if **violation == Violation::MissingOffset)
        );
        let bad_key = crate::proto::Metadata::new().with("a b", "v").unwrap_err();
        assert!(matches!(Error::from(bad_key), Error::InvalidInput(_)));
    }
}
