//! The crate's one error type.

use std::time::Duration;

use crate::wix::error_body::WixError;

/// Everything that can go wrong in an upload, a finalize or a Wix call.
///
/// Variants carry what a caller acts on: [`Error::is_retryable`] says whether trying again may
/// help, [`Error::status`] gives the HTTP status, [`Error::wix_code`] the Wix error code.
/// No variant ever holds an upload token or API key in its `Display` or `Debug` text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status the protocol step did not expect.
    #[error("{method} {url} answered HTTP {status}{}", wix_suffix(.wix))]
    Status {
        /// HTTP status code.
        status: u16,
        /// Method of the failed request.
        method: &'static str,
        /// URL of the failed request, with secrets masked.
        url: String,
        /// The Wix error body, when the server sent one.
        wix: Option<Box<WixError>>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The connection failed, broke, or the server spoke broken HTTP.
    #[error("{method} {url} failed: {source}")]
    Transport {
        /// Method of the failed request.
        method: &'static str,
        /// URL of the failed request, with secrets masked.
        url: String,
        /// What ureq reported.
        #[source]
        source: ureq::Error,
    },
    /// No progress for longer than the configured timeout.
    #[error("timed out: {0}")]
    Timeout(ureq::Timeout),
    /// The server's offset differs from the one the client sent (HTTP 409).
    #[error("offset mismatch: client sent {expected}, server has {}", opt_u64(.actual))]
    OffsetMismatch {
        /// The offset the client sent.
        expected: u64,
        /// The server's offset, when it said.
        actual: Option<u64>,
    },
    /// The server found the body's checksum wrong (460, or 417 from some servers): resent.
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
    Store(String),
    /// The upload was stopped through an [`AbortHandle`](crate::AbortHandle).
    #[error("upload aborted")]
    Aborted,
    /// The server broke the tus protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
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

fn wix_suffix(wix: &Option<Box<WixError>>) -> String {
    match wix {
        Some(w) => format!(": {w}"),
        None => String::new(),
    }
}

fn opt_u64(v: &Option<u64>) -> String {
    v.map_or_else(|| "an unknown offset".to_owned(), |v| v.to_string())
}

impl Error {
    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Status { status, .. } => matches!(status, 423 | 429 | 500..=599),
            Error::Transport { source, .. } => matches!(
                source,
                ureq::Error::Io(_)
                    | ureq::Error::Timeout(_)
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::HostNotFound
                    | ureq::Error::Protocol(_)
            ),
            Error::Timeout(_) | Error::OffsetMismatch { .. } | Error::ChecksumMismatch { .. } => {
                true
            }
            _ => false,
        }
    }

    /// The HTTP status behind this error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } | Error::Gone { status } => Some(*status),
            Error::OffsetMismatch { .. } => Some(409),
            Error::ChecksumMismatch { status, .. } => Some(*status),
            Error::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The Wix error body, if the server sent one.
    pub fn wix(&self) -> Option<&WixError> {
        match self {
            Error::Status { wix, .. } => wix.as_deref(),
            Error::GaveUp { last, .. } => last.wix(),
            _ => None,
        }
    }

    /// The Wix `applicationError.code`, if any.
    pub fn wix_code(&self) -> Option<&str> {
        self.wix().and_then(|w| w.code.as_deref())
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
