//! The crate's one error type. It names no layer above the transport: an error answer's body is
//! kept as bytes ([`ErrorBody`]), and the Wix layer reads it as Wix's ([`Error::wix`]).

use std::fmt;
use std::time::Duration;

use crate::excerpt::body_excerpt;
use wix_media_tus::{self as proto, Method, Retryable, Violation, retryable_status};

/// Everything that can go wrong in an upload, a finalize or a Wix call.
///
/// Variants carry what a caller acts on: [`Error::is_retryable`] says whether trying again may
/// help, [`Error::status`] gives the HTTP status, [`Error::wix`] the parsed Wix error body,
/// [`Error::last_attempt`] the failure behind [`Error::GaveUp`].
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
        /// The start of the answer's body, when it had something readable.
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
    /// The resumable state (see [`UploaderBuilder::state_dir`](crate::UploaderBuilder::state_dir))
    /// failed or held a bad record.
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
    /// The server could not process the file (Wix: `operationStatus: FAILED`).
    #[error("Wix could not process file {file_id}")]
    ProcessingFailed {
        /// The file's id.
        file_id: Box<str>,
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
    /// The caller passed something unusable (a bad URL, metadata key, option or file).
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
    /// The server's copy of a file has another content hash than the source had when it was
    /// sent (an opt-in check).
    #[error("{0}")]
    ContentMismatch(Box<ContentMismatch>),
    /// A bug in this crate: something it relies on did not hold (say, an upload thread
    /// panicked). Please report it.
    #[error("internal error (a bug in wix-media-upload): {0}")]
    Internal(&'static str),
}

/// Which request failed: its method and its URL with secrets masked, and whether it had been
/// sent whole when it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRequest {
    method: Method,
    url: String,
    sent_whole: bool,
}

impl FailedRequest {
    pub(crate) fn new(method: Method, masked_url: impl Into<String>) -> Self {
        Self {
            method,
            url: masked_url.into(),
            sent_whole: false,
        }
    }

    /// Marks the request as written whole (head and body) before it failed.
    pub(crate) fn with_sent_whole(mut self, yes: bool) -> Self {
        self.sent_whole = yes;
        self
    }

    /// Whether the request was written whole (head and every body byte) before it failed:
    /// the server may have received it, and acted on it.
    pub fn sent_whole(&self) -> bool {
        self.sent_whole
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL, secrets masked as `***`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for FailedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.url)
    }
}

/// The start of an error answer's body, as the server sent it (its first
/// 8 KiB), with what the layer that made the call read in it.
///
/// `Display` shows that layer's summary (for a Wix error: message, code, rule names), else
/// the body's JSON `message`, else a short excerpt of its text; then the hint, if any.
/// `Debug` shows the excerpt, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorBody {
    bytes: Box<[u8]>,
    summary: Option<Box<str>>,
    hint: Option<&'static str>,
}

impl ErrorBody {
    /// How much of a body is kept: enough for any API's error body.
    const LIMIT: usize = 8 * 1024;

    /// The start of `body`; `None` when it has no text to show (empty, blank or binary).
    pub(crate) fn new(body: &[u8]) -> Option<Self> {
        body_excerpt(body)?;
        Some(Self {
            bytes: body[..body.len().min(Self::LIMIT)].into(),
            summary: None,
            hint: None,
        })
    }

    /// The bytes kept.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How the layer that made the call reads the body (shown instead of the excerpt).
    pub(crate) fn set_summary(&mut self, summary: String) {
        self.summary = Some(summary.into());
    }

    /// What usually causes such an answer.
    pub(crate) fn set_hint(&mut self, hint: &'static str) {
        self.hint = Some(hint);
    }

    /// A short, printable excerpt of the body's text (tags, control and invisible characters
    /// dropped; at most 120 characters).
    pub fn excerpt(&self) -> String {
        body_excerpt(&self.bytes).unwrap_or_default()
    }

    /// What usually causes such an answer, when the layer that made the call knows (say,
    /// Wix's HTML 403 for a wrong site id).
    pub fn hint(&self) -> Option<&str> {
        self.hint
    }

    // The JSON body's top-level string `message`, if any.
    fn message(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.bytes).ok()?;
        let message = value.get("message")?.as_str()?;
        (!message.is_empty()).then(|| message.to_owned())
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.summary, self.message()) {
            (Some(summary), _) => f.write_str(summary)?,
            (None, Some(message)) => f.write_str(&message)?,
            (None, None) => write!(f, "{:?}", self.excerpt())?,
        }
        if let Some(hint) = self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorBody")
            .field("excerpt", &self.excerpt())
            .field("summary", &self.summary)
            .field("hint", &self.hint)
            .finish()
    }
}

/// A file whose copy on the server has another content hash than its source had when it was
/// sent: the file's id, the source's MD5 and the server's hash (32 hex digits each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentMismatch {
    file_id: String,
    local_md5: String,
    server_hash: String,
}

impl ContentMismatch {
    pub(crate) fn new(file_id: &str, local_md5: String, server_hash: String) -> Self {
        Self {
            file_id: file_id.to_owned(),
            local_md5,
            server_hash,
        }
    }

    /// The file's id on the server.
    pub fn file_id(&self) -> &str {
        &self.file_id
    }

    /// The source's MD5, computed while it was sent.
    pub fn local_md5(&self) -> &str {
        &self.local_md5
    }

    /// The hash the server gives its copy.
    pub fn server_hash(&self) -> &str {
        &self.server_hash
    }
}

impl fmt::Display for ContentMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server's copy of file {} has hash {}, but the source's MD5 was {}",
            self.file_id, self.server_hash, self.local_md5
        )
    }
}

/// A failure of the resumable state (the state directory, or a record in it), with the error
/// behind it if any.
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
    /// A state store failure.
    pub(crate) fn store(message: impl Into<String>) -> Self {
        Error::Store(Box::new(StoreError {
            message: message.into(),
            source: None,
        }))
    }

    /// A state store failure with the error behind it.
    pub(crate) fn store_with(
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
                body: ErrorBody::new(body).map(Box::new),
            },
            proto::Error::Violation(v) => Error::Protocol {
                request: Box::new(request),
                violation: Box::new(v),
            },
            other => other.into(),
        }
    }

    /// The failure itself: for [`Error::GaveUp`] the last attempt's error, else this one.
    pub fn last_attempt(&self) -> &Error {
        match self {
            Error::GaveUp { last, .. } => last.last_attempt(),
            other => other,
        }
    }

    /// [`Error::last_attempt`], to change it.
    pub(crate) fn last_attempt_mut(&mut self) -> &mut Error {
        match self {
            Error::GaveUp { last, .. } => last.last_attempt_mut(),
            other => other,
        }
    }

    /// Whether the request was sent whole and no usable answer came back (the connection
    /// broke, or timed out, while the answer was awaited or read; or a success answer could not
    /// be read): the server may have acted on it, so what it did is unknown. A request that
    /// creates something must not be sent again blindly after such a failure: look first.
    /// Looks through [`Error::GaveUp`].
    pub fn is_outcome_unknown(&self) -> bool {
        match self.last_attempt() {
            Error::Transport { request, .. } | Error::Timeout { request, .. } => request.sent_whole,
            Error::BadResponse { status, .. } => (200..300).contains(status),
            _ => false,
        }
    }

    /// How many attempts were made: those of [`Error::GaveUp`], else 1.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::GaveUp { attempts, .. } => *attempts,
            _ => 1,
        }
    }

    /// Whether trying the same request again later may succeed (a failure whose retries
    /// ran out, [`Error::GaveUp`], is not).
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

    /// Whether the server refused the connection (nothing listens there), looking through
    /// [`Error::GaveUp`].
    pub fn is_connection_refused(&self) -> bool {
        match self.last_attempt() {
            Error::Transport { source, .. } => matches!(
                &**source,
                ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused
            ),
            _ => false,
        }
    }

    /// The HTTP status behind this error, if any (looking through [`Error::GaveUp`]).
    pub fn status(&self) -> Option<u16> {
        match self.last_attempt() {
            Error::Status { status, .. }
            | Error::Gone { status }
            | Error::ChecksumMismatch { status, .. }
            | Error::BadResponse { status, .. } => Some(*status),
            Error::OffsetMismatch { .. } => Some(409),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if any (looking through [`Error::GaveUp`]).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self.last_attempt() {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The request that failed, when the error is about one (looking through
    /// [`Error::GaveUp`]).
    pub fn request(&self) -> Option<&FailedRequest> {
        match self.last_attempt() {
            Error::Status { request, .. }
            | Error::Transport { request, .. }
            | Error::Timeout { request, .. }
            | Error::Protocol { request, .. }
            | Error::BadResponse { request, .. } => Some(request),
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

/// Protocol errors outside a response: a caller's bad metadata key or declared length, and
/// the kinds that need no request. Response errors go through `Error::from_proto`, which
/// adds the request; one that arrives here without it is a bug.
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
            _ => Error::Internal("a response error lost its request"),
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

    fn status_429() -> Error {
        Error::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(3)),
            request: Box::new(FailedRequest::new(Method::Post, "http://h/x")),
            body: ErrorBody::new(br#"{"message":"slow down","details":{"code":"RATE"}}"#)
                .map(Box::new),
        }
    }

    #[test]
    fn accessors_look_through_gave_up() {
        let status = status_429();
        assert!(status.is_retryable());
        assert_eq!(status.attempts(), 1);
        assert!(std::ptr::eq(status.last_attempt(), &status));
        let gave_up = Error::GaveUp {
            attempts: 3,
            last: Box::new(status),
        };
        assert!(!gave_up.is_retryable());
        assert_eq!(gave_up.attempts(), 3);
        assert!(matches!(
            gave_up.last_attempt(),
            Error::Status { status: 429, .. }
        ));
        assert_eq!(gave_up.status(), Some(429));
        assert_eq!(gave_up.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            gave_up.request().map(FailedRequest::method),
            Some(Method::Post)
        );
        assert!(matches!(
            gave_up.last_attempt(),
            Error::Status { body: Some(_), .. }
        ));
        assert!(!gave_up.is_connection_refused());
        assert!(
            gave_up
                .to_string()
                .contains("POST http://h/x answered HTTP 429: slow down"),
            "{gave_up}"
        );
    }

    #[test]
    fn bodies_show_a_summary_a_message_or_an_excerpt() {
        let mut json = ErrorBody::new(br#"{"message":"slow down"}"#).unwrap();
        assert_eq!(json.to_string(), "slow down");
        json.set_summary("slow down [code RATE]".into());
        assert_eq!(json.to_string(), "slow down [code RATE]");
        let page = b"<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>";
        let mut body = ErrorBody::new(page).unwrap();
        let excerpt = body.excerpt();
        assert!(
            excerpt.contains("Forbidden") && !excerpt.contains('<'),
            "{excerpt}"
        );
        assert_eq!(body.hint(), None);
        body.set_hint("check the key");
        assert_eq!(body.hint(), Some("check the key"));
        assert_eq!(body.to_string(), format!("{excerpt:?} (check the key)"));
        assert!(!format!("{body:?}").contains('<'));
        assert_eq!(ErrorBody::new(b""), None);
        assert_eq!(ErrorBody::new(b"\x00\x01binary"), None);
        // Only the start of a large body is kept.
        let big = vec![b'x'; 100_000];
        assert_eq!(
            ErrorBody::new(&big).unwrap().bytes().len(),
            ErrorBody::LIMIT
        );
    }

    #[test]
    fn refused_connections_are_told() {
        let refused = Error::Transport {
            request: Box::new(FailedRequest::new(Method::Get, "http://h/")),
            source: Box::new(ureq::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
        };
        assert!(refused.is_connection_refused());
        let gave_up = Error::GaveUp {
            attempts: 2,
            last: Box::new(refused),
        };
        assert!(gave_up.is_connection_refused());
        assert!(!Error::Aborted.is_connection_refused());
        assert!(!gave_up.is_outcome_unknown());
    }

    #[test]
    fn outcomes_are_unknown_after_a_whole_request_only() {
        let lost = |whole| Error::Transport {
            request: Box::new(FailedRequest::new(Method::Put, "http://h/").with_sent_whole(whole)),
            source: Box::new(ureq::Error::Io(std::io::ErrorKind::UnexpectedEof.into())),
        };
        assert!(lost(true).is_outcome_unknown() && !lost(false).is_outcome_unknown());
        let gave_up = Error::GaveUp {
            attempts: 3,
            last: Box::new(lost(true)),
        };
        assert!(gave_up.is_outcome_unknown());
        let unreadable = |status| Error::BadResponse {
            request: Box::new(FailedRequest::new(Method::Put, "http://h/")),
            status,
            reason: "not JSON".into(),
        };
        assert!(unreadable(200).is_outcome_unknown() && !unreadable(500).is_outcome_unknown());
        assert!(!status_429().is_outcome_unknown());
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
        let req = || FailedRequest::new(Method::Patch, "http://h/f/1");
        assert!(matches!(
            Error::from_proto(proto::Error::Gone { status: 410 }, req(), b""),
            Error::Gone { status: 410 }
        ));
        let e = Error::from_proto(Violation::MissingOffset.into(), req(), b"");
        assert!(
            matches!(&e, Error::Protocol { violation, .. } if **violation == Violation::MissingOffset)
        );
        let bad_key = wix_media_tus::Metadata::new().with("a b", "v").unwrap_err();
        assert!(matches!(Error::from(bad_key), Error::InvalidInput(_)));
        let lost = Error::from(proto::Error::from(Violation::MissingOffset));
        assert!(matches!(lost, Error::Internal(_)), "{lost:?}");
    }
}
