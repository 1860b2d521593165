//! The protocol core's own error: what a response (or a caller) did wrong, in plain values.
//!
//! It names no HTTP library: a driver maps it into its own error, adding the request it belongs
//! to and the response body.

use std::fmt;
use std::time::Duration;

use super::retry::{Retryable, retryable_status};

/// What went wrong in a tus exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status this step did not expect.
    Status {
        /// HTTP status code.
        status: u16,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The server's offset differs from the one the client sent (HTTP 409).
    OffsetMismatch {
        /// The offset the client sent.
        expected: u64,
        /// The server's offset, when it said.
        actual: Option<u64>,
    },
    /// The upload no longer exists on the server (HTTP 404, 410 or 403).
    Gone {
        /// HTTP status code.
        status: u16,
    },
    /// The source is larger than the server's `Tus-Max-Size`.
    TooLarge {
        /// Size of the source.
        size: u64,
        /// The server's `Tus-Max-Size`.
        max: u64,
    },
    /// The server found the body's checksum wrong (460, or 417 from some servers).
    ChecksumMismatch {
        /// Where the rejected body started.
        offset: u64,
        /// HTTP status code.
        status: u16,
    },
    /// The server broke the protocol.
    Violation(Violation),
    /// The caller asked for something the protocol can't do.
    Usage(Usage),
}

/// How a server broke the tus protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A creation answered 2xx without `Location`.
    MissingLocation,
    /// A `Location` that can't be resolved to an http(s) URL (first 64 chars).
    BadLocation(String),
    /// A HEAD or PATCH answered 2xx without `Upload-Offset`.
    MissingOffset,
    /// A byte-count header that is not a decimal `u64` (first 64 chars of its value).
    NotAByteCount {
        /// `Upload-Offset` or `Upload-Length`.
        header: &'static str,
        /// The value sent.
        value: String,
    },
    /// The server's offset is past the upload's length.
    OffsetPastLength {
        /// The server's offset.
        offset: u64,
        /// The upload's length.
        length: u64,
    },
    /// The server's offset is past the end of what was sent.
    OffsetPastSent {
        /// The server's offset.
        offset: u64,
        /// Where the body sent ended.
        sent_end: u64,
    },
    /// A PATCH answered an offset below where its body started.
    OffsetBackwards {
        /// Where the body started.
        from: u64,
        /// The server's offset.
        to: u64,
    },
    /// A PATCH acknowledged none of its bytes.
    NoProgress {
        /// The offset, unchanged.
        offset: u64,
        /// Bytes sent.
        sent: u64,
    },
    /// HEAD says the upload has another length than the source.
    LengthMismatch {
        /// The server's `Upload-Length`.
        server: u64,
        /// The source's length.
        source: u64,
    },
    /// A response came while no request was outstanding.
    NoRequestOutstanding,
}

/// A request the protocol refuses to make.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Usage {
    /// A metadata key that is empty or has spaces, commas or non-ASCII characters.
    BadMetadataKey(String),
    /// A deferred length below what the server already acknowledged.
    LengthBelowOffset {
        /// The declared length.
        length: u64,
        /// The acknowledged offset.
        offset: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Status { status, .. } => write!(f, "unexpected HTTP {status}"),
            Error::OffsetMismatch { expected, actual } => {
                write!(f, "offset mismatch: client sent {expected}, server has ")?;
                match actual {
                    Some(a) => write!(f, "{a}"),
                    None => f.write_str("an unknown offset"),
                }
            }
            Error::Gone { status } => write!(f, "upload is gone from the server (HTTP {status})"),
            Error::TooLarge { size, max } => {
                write!(f, "{size} bytes is over the server's limit of {max} bytes")
            }
            Error::ChecksumMismatch { offset, status } => write!(
                f,
                "checksum mismatch on the body sent at offset {offset} (HTTP {status})"
            ),
            Error::Violation(v) => write!(f, "protocol violation: {v}"),
            Error::Usage(u) => fmt::Display::fmt(u, f),
        }
    }
}

impl std::error::Error for Error {}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::MissingLocation => f.write_str("creation answered without Location"),
            Violation::BadLocation(l) => write!(f, "unusable Location {l:?}"),
            Violation::MissingOffset => f.write_str("answered without Upload-Offset"),
            Violation::NotAByteCount { header, value } => {
                write!(f, "{header} is not a byte count: {value:?}")
            }
            Violation::OffsetPastLength { offset, length } => {
                write!(
                    f,
                    "server offset {offset} is past the upload length {length}"
                )
            }
            Violation::OffsetPastSent { offset, sent_end } => {
                write!(
                    f,
                    "server offset {offset} is past the {sent_end} bytes sent"
                )
            }
            Violation::OffsetBackwards { from, to } => {
                write!(f, "server offset went backwards from {from} to {to}")
            }
            Violation::NoProgress { offset, sent } => write!(
                f,
                "server acknowledged none of the {sent} bytes sent at offset {offset}"
            ),
            Violation::LengthMismatch { server, source } => write!(
                f,
                "server's upload is {server} bytes long, the source {source}"
            ),
            Violation::NoRequestOutstanding => {
                f.write_str("a response came with no request outstanding")
            }
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Usage::BadMetadataKey(k) => write!(
                f,
                "metadata key {k:?} must be non-empty ASCII without spaces or commas"
            ),
            Usage::LengthBelowOffset { length, offset } => {
                write!(f, "declared length {length} is below the offset {offset}")
            }
        }
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        Error::Violation(v)
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        match self {
            Error::Status { status, .. } => retryable_status(*status),
            Error::OffsetMismatch { .. } | Error::ChecksumMismatch { .. } => true,
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Shorthand for results of the protocol core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

// At most this many characters of a server's value are kept in an error.
pub(crate) fn excerpt(v: &str) -> String {
    v.chars().take(64).collect()
}
