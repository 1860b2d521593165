//! The upload state machine.
//!
//! ```text
//!  Discover ──OPTIONS──▶ Create ──POST 201──▶ Patch ◀─┐ PATCH 204 (offset < length)
//!                          │                   │  └───┘
//!  (resume) Head ◀─────────┼── 409 / failure ──┤
//!            │             │                   │ PATCH 204 (offset = length)
//!            └─HEAD 2xx──▶ Patch               ▼
//!                                             Done
//! ```

use std::ops::Range;
use std::time::SystemTime;

use super::{Metadata, OFFSET_OCTET_STREAM, ResponseHead, TUS_VERSION, resolve};
use crate::error::{Error, Result};
use crate::wix::error_body::WixError;

/// An HTTP method the protocol uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Server discovery.
    Options,
    /// Creation.
    Post,
    /// Offset lookup.
    Head,
    /// Sending bytes.
    Patch,
    /// Termination.
    Delete,
    /// Wix's finalize (not tus).
    Put,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Options => "OPTIONS",
            Method::Post => "POST",
            Method::Head => "HEAD",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
        }
    }
}

/// How an upload is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CreationMode {
    /// Ask the server first (OPTIONS): its `Tus-Max-Size` is checked, a checksum algorithm is
    /// agreed, and the first bytes ride on the POST when it offers `creation-with-upload`.
    Auto,
    /// A POST without body, no OPTIONS: one round trip less, and what Wix's own client does.
    /// (The official tus server also stores a PATCH body faster than a POST body.)
    #[default]
    Plain,
    /// The POST carries the first bytes, no OPTIONS.
    WithUpload,
}

/// Protocol settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest PATCH body; `None` sends the rest in one request.
    pub chunk_size: Option<u64>,
    /// How the upload is created.
    pub creation: CreationMode,
    /// The smallest body a `413 Request Entity Too Large` may shrink the chunk size to.
    pub min_chunk_size: u64,
    /// Checksum algorithms the driver can compute, best first; the first one the server lists
    /// in `Tus-Checksum-Algorithm` is used (needs [`CreationMode::Auto`] to learn the list).
    pub checksums: Vec<ChecksumAlgorithm>,
}

/// A checksum algorithm of the tus checksum extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The name in `Upload-Checksum`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Sha256 => "sha256",
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chunk_size: None,
            creation: CreationMode::Plain,
            min_chunk_size: 256 * 1024,
            checksums: Vec::new(),
        }
    }
}

/// Where the upload stands: what the next request will be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// OPTIONS, to learn the server's extensions.
    Discover,
    /// POST, to create the upload.
    Create,
    /// HEAD, to learn the server's offset.
    Head,
    /// PATCH, to send bytes from the offset.
    Patch,
    /// Every byte is acknowledged.
    Done,
}

/// The next request to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers besides `Content-Length`, which the driver derives from `body`.
    pub headers: Vec<(&'static str, String)>,
    /// The byte range of the source to send as the body.
    pub body: Option<Range<u64>>,
    /// The driver adds `Upload-Checksum` of the body with this algorithm.
    pub checksum: Option<ChecksumAlgorithm>,
}

/// What a successful response did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The server's capabilities are known.
    Discovered,
    /// The upload exists at `url`.
    Created {
        /// The upload's URL.
        url: String,
    },
    /// HEAD told the server's offset.
    Synced {
        /// The server's offset.
        offset: u64,
    },
    /// The server acknowledged bytes up to `offset`.
    Progress {
        /// The server's offset.
        offset: u64,
    },
    /// The server refused a body as too large (413); the chunk size is now `chunk_size`.
    ChunkSizeLowered {
        /// The new chunk size.
        chunk_size: u64,
    },
}

/// One tus upload of `length` bytes, driven by its caller.
#[derive(Clone, Debug)]
pub struct Upload {
    endpoint: String,
    metadata: MetadataHeader,
    // `None` until a deferred length is declared.
    length: Option<u64>,
    // The server has not been told the length yet (deferred length).
    length_unsent: bool,
    partial: bool,
    checksum: Option<ChecksumAlgorithm>,
    url: Option<String>,
    offset: u64,
    phase: Phase,
    config: Config,
    with_upload: bool,
    expires: Option<SystemTime>,
    in_flight: Option<(Method, String, Option<Range<u64>>)>,
}

// The encoded `Upload-Metadata`; it can hold secrets, so Debug shows nothing of it.
#[derive(Clone)]
struct MetadataHeader(String);

impl std::fmt::Debug for MetadataHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetadataHeader(..)")
    }
}

impl Upload {
    /// A new upload to create at the creation URL `endpoint`.
    pub fn new(endpoint: &str, length: u64, metadata: &Metadata, config: Config) -> Self {
        let phase = match config.creation {
            CreationMode::Auto => Phase::Discover,
            CreationMode::Plain | CreationMode::WithUpload => Phase::Create,
        };
        let with_upload = config.creation == CreationMode::WithUpload;
        Self {
            endpoint: endpoint.to_owned(),
            metadata: MetadataHeader(metadata.encode()),
            length: Some(length),
            length_unsent: false,
            partial: false,
            checksum: None,
            url: None,
            offset: 0,
            phase,
            config,
            with_upload,
            expires: None,
            in_flight: None,
        }
    }

    /// An upload whose length is not known yet (`Upload-Defer-Length`): the caller declares it
    /// with [`Upload::declare_length`] once the source ends. Needs a chunk size.
    pub fn deferred(endpoint: &str, metadata: &Metadata, mut config: Config) -> Self {
        config.chunk_size.get_or_insert(DEFERRED_CHUNK);
        let mut up = Self::new(endpoint, 0, metadata, config);
        up.length = None;
        up.with_upload = false;
        up
    }

    /// A partial upload of the concatenation extension (`Upload-Concat: partial`).
    pub fn partial(endpoint: &str, length: u64, metadata: &Metadata, mut config: Config) -> Self {
        config.creation = CreationMode::Plain;
        let mut up = Self::new(endpoint, length, metadata, config);
        up.partial = true;
        up
    }

    /// Declares the total length of a deferred upload; the next PATCH carries `Upload-Length`.
    pub fn declare_length(&mut self, length: u64) -> Result<()> {
        if self.length.is_some() {
            return Ok(());
        }
        if length < self.offset {
            return Err(Error::InvalidInput(format!(
                "declared length {length} is below the offset {}",
                self.offset
            )));
        }
        self.length = Some(length);
        self.length_unsent = true;
        if self.phase == Phase::Done {
            self.phase = Phase::Patch;
        }
        Ok(())
    }

    /// Whether the length is still unknown.
    pub fn is_deferred(&self) -> bool {
        self.length.is_none()
    }

    /// The checksum algorithm agreed with the server, if any.
    pub fn checksum(&self) -> Option<ChecksumAlgorithm> {
        self.checksum
    }

    /// Points this upload at an existing one at `url`: the next request is a HEAD.
    pub fn resume_at(&mut self, url: &str) {
        self.url = Some(url.to_owned());
        self.phase = Phase::Head;
        self.in_flight = None;
    }

    /// An upload that already exists at `url`: it starts with a HEAD.
    pub fn resume(
        endpoint: &str,
        url: &str,
        length: u64,
        metadata: &Metadata,
        config: Config,
    ) -> Self {
        let mut up = Self::new(endpoint, length, metadata, config);
        up.url = Some(url.to_owned());
        up.phase = Phase::Head;
        up
    }

    /// Starts over with a creation that carries `metadata` (say, a fresh token).
    pub fn restart_with(&mut self, metadata: &Metadata) {
        self.metadata = MetadataHeader(metadata.encode());
        self.restart();
    }

    /// Forgets the server-side upload and starts over with a creation.
    pub fn restart(&mut self) {
        self.url = None;
        self.offset = 0;
        self.expires = None;
        self.in_flight = None;
        self.phase = match self.config.creation {
            CreationMode::Auto => Phase::Discover,
            _ => Phase::Create,
        };
        // A new creation carries the declared length itself.
        self.length_unsent = false;
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The offset the server acknowledged.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The total length (`None` while deferred).
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// The upload's URL, once created.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The creation URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's `Upload-Expires`, if it sent one.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// The chunk size in force (it can shrink after a 413).
    pub fn chunk_size(&self) -> Option<u64> {
        self.config.chunk_size
    }

    /// Whether every byte is acknowledged.
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The request to send next; `None` once complete.
    pub fn next_request(&mut self) -> Option<Request> {
        let mut headers = vec![("Tus-Resumable", TUS_VERSION.to_owned())];
        let (method, url, body) = match self.phase {
            Phase::Done => return None,
            Phase::Discover => {
                headers.clear();
                (Method::Options, self.endpoint.clone(), None)
            }
            Phase::Create => {
                match self.length {
                    Some(len) => headers.push(("Upload-Length", len.to_string())),
                    None => headers.push(("Upload-Defer-Length", "1".to_owned())),
                }
                if self.partial {
                    headers.push(("Upload-Concat", "partial".to_owned()));
                }
                if !self.metadata.0.is_empty() {
                    headers.push(("Upload-Metadata", self.metadata.0.clone()));
                }
                let body = (self.with_upload && self.length.is_some_and(|l| l > 0))
                    .then(|| self.body_from(0));
                (Method::Post, self.endpoint.clone(), body)
            }
            Phase::Head => (Method::Head, self.url.clone()?, None),
            Phase::Patch => {
                headers.push(("Upload-Offset", self.offset.to_string()));
                if let (true, Some(len)) = (self.length_unsent, self.length) {
                    headers.push(("Upload-Length", len.to_string()));
                }
                (
                    Method::Patch,
                    self.url.clone()?,
                    Some(self.body_from(self.offset)),
                )
            }
        };
        let checksum = if body.is_some() { self.checksum } else { None };
        if body.is_some() {
            headers.push(("Content-Type", OFFSET_OCTET_STREAM.to_owned()));
        }
        self.in_flight = Some((method, url.clone(), body.clone()));
        Some(Request {
            method,
            url,
            headers,
            body,
            checksum,
        })
    }

    fn body_from(&self, start: u64) -> Range<u64> {
        let chunk = self.config.chunk_size.unwrap_or(u64::MAX).max(1);
        match self.length {
            Some(len) => start..start + chunk.min(len.saturating_sub(start)),
            None => start..start.saturating_add(chunk),
        }
    }

    /// The request failed without a usable response (connection broke, timeout): how much of
    /// its body arrived is unknown, so an existing upload is re-read with HEAD.
    pub fn interrupted(&mut self) {
        self.in_flight = None;
        if self.url.is_some() && self.phase != Phase::Done {
            self.phase = Phase::Head;
        }
    }

    /// Applies the response to the request from [`Upload::next_request`]; `now` dates
    /// `Retry-After`.
    pub fn handle(&mut self, resp: &ResponseHead, now: SystemTime) -> Result<Event> {
        let Some((method, url, body)) = self.in_flight.take() else {
            return Err(Error::Protocol(
                "a response came with no request outstanding".into(),
            ));
        };
        let fail = |resp: &ResponseHead| status_error(method, &url, resp, now);
        match method {
            Method::Options => {
                if !resp.is_success() {
                    if matches!(resp.status, 423 | 429 | 500..=599) {
                        return Err(fail(resp));
                    }
                    // Servers without OPTIONS support get a plain creation.
                    self.phase = Phase::Create;
                    return Ok(Event::Discovered);
                }
                if let (Some(Ok(max)), Some(len)) =
                    (resp.header("Tus-Max-Size").map(parse_dec), self.length)
                {
                    if len > max {
                        return Err(Error::TooLarge { size: len, max });
                    }
                }
                self.with_upload =
                    resp.has_extension("creation-with-upload") && self.length.is_some();
                if resp.has_extension("checksum") {
                    let offered = resp.header("Tus-Checksum-Algorithm").unwrap_or("");
                    self.checksum = self.config.checksums.iter().copied().find(|a| {
                        offered
                            .split(',')
                            .any(|o| o.trim().eq_ignore_ascii_case(a.name()))
                    });
                }
                self.phase = Phase::Create;
                Ok(Event::Discovered)
            }
            Method::Post => {
                if resp.status == 413 && body.is_some() {
                    // Maybe only the first bytes were too many: create without them.
                    self.with_upload = false;
                    return Ok(Event::ChunkSizeLowered {
                        chunk_size: self.config.chunk_size.unwrap_or(self.length.unwrap_or(0)),
                    });
                }
                if !matches!(resp.status, 200 | 201) {
                    return Err(fail(resp));
                }
                let location = resp.header("Location").ok_or_else(|| {
                    Error::Protocol(format!(
                        "creation answered {} without Location",
                        resp.status
                    ))
                })?;
                let upload_url = resolve(&url, location).ok_or_else(|| {
                    Error::Protocol(format!(
                        "creation answered an unusable Location {location:?}"
                    ))
                })?;
                self.url = Some(upload_url.clone());
                self.expires = resp.upload_expires_at(now).or(self.expires);
                match (&body, resp.upload_offset()) {
                    (None, _) => self.set_offset(0),
                    (Some(sent), Some(offset)) => {
                        let offset = self.check_offset(offset, sent)?;
                        self.set_offset(offset);
                    }
                    // The first bytes went, but how many arrived is unsaid.
                    (Some(_), None) => self.phase = Phase::Head,
                }
                Ok(Event::Created { url: upload_url })
            }
            Method::Head => {
                if matches!(resp.status, 403 | 404 | 410) {
                    return Err(Error::Gone {
                        status: resp.status,
                    });
                }
                if !resp.is_success() {
                    return Err(fail(resp));
                }
                match (resp.upload_length(), self.length) {
                    (Some(Ok(theirs)), Some(ours)) if theirs != ours => {
                        return Err(Error::Protocol(format!(
                            "server's upload is {theirs} bytes long, the source {ours}"
                        )));
                    }
                    // The server knows the declared length now.
                    (Some(Ok(_)), _) => self.length_unsent = false,
                    (Some(Err(raw)), _) => return Err(bad_header("Upload-Length", &raw)),
                    (None, _) => {}
                }

                let offset = match resp.upload_offset() {
                    None => {
                        return Err(Error::Protocol(
                            "HEAD answered without Upload-Offset".into(),
                        ));
                    }
                    Some(offset) => self.check_offset(offset, &(0..u64::MAX))?,
                };
                self.expires = resp.upload_expires_at(now).or(self.expires);
                self.set_offset(offset);
                Ok(Event::Synced { offset })
            }
            Method::Patch => {
                let sent = body.unwrap_or(self.offset..self.offset);
                match resp.status {
                    200 | 204 => {}
                    409 => {
                        self.phase = Phase::Head;
                        return Err(Error::OffsetMismatch {
                            expected: sent.start,
                            actual: resp.upload_offset().and_then(|o| o.ok()),
                        });
                    }
                    403 | 404 | 410 => {
                        return Err(Error::Gone {
                            status: resp.status,
                        });
                    }
                    460 | 417 if self.checksum.is_some() => {
                        self.phase = Phase::Head;
                        return Err(Error::ChecksumMismatch {
                            offset: sent.start,
                            status: resp.status,
                        });
                    }
                    413 if sent.end - sent.start > self.config.min_chunk_size => {
                        let smaller = ((sent.end - sent.start) / 2).max(self.config.min_chunk_size);
                        self.config.chunk_size = Some(smaller);
                        self.phase = Phase::Head;
                        return Ok(Event::ChunkSizeLowered {
                            chunk_size: smaller,
                        });
                    }
                    _ => {
                        // Part of the body may have been stored: re-read the offset first.
                        self.phase = Phase::Head;
                        return Err(fail(resp));
                    }
                }
                let offset = match resp.upload_offset() {
                    None => {
                        return Err(Error::Protocol(
                            "PATCH answered without Upload-Offset".into(),
                        ));
                    }
                    Some(offset) => self.check_offset(offset, &sent)?,
                };
                // The server took a declared length with this PATCH.
                self.length_unsent = false;
                if offset == sent.start && sent.end > sent.start {
                    return Err(Error::Protocol(format!(
                        "server acknowledged none of the {} bytes sent at offset {offset}",
                        sent.end - sent.start
                    )));
                }
                self.expires = resp.upload_expires_at(now).or(self.expires);
                self.set_offset(offset);
                Ok(Event::Progress { offset })
            }
            Method::Delete | Method::Put => Err(Error::Protocol(format!(
                "{} is not part of an upload",
                method.as_str()
            ))),
        }
    }

    // The server's offset must lie within what could have arrived.
    fn check_offset(&self, offset: Result<u64, String>, sent: &Range<u64>) -> Result<u64> {
        let offset = offset.map_err(|raw| bad_header("Upload-Offset", &raw))?;
        if let Some(len) = self.length.filter(|len| offset > *len) {
            return Err(Error::Protocol(format!(
                "server offset {offset} is past the upload length {len}"
            )));
        }
        if offset > sent.end {
            return Err(Error::Protocol(format!(
                "server offset {offset} is past the {} bytes sent",
                sent.end
            )));
        }
        if offset < sent.start {
            return Err(Error::Protocol(format!(
                "server offset went backwards from {} to {offset}",
                sent.start
            )));
        }
        Ok(offset)
    }

    fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
        self.phase = if Some(offset) == self.length && !self.length_unsent {
            Phase::Done
        } else {
            Phase::Patch
        };
    }

    /// Whether the server's `Upload-Expires` has passed at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// The chunk size of a deferred-length upload when none is set.
pub const DEFERRED_CHUNK: u64 = 8 * 1024 * 1024;

fn parse_dec(v: &str) -> Result<u64, String> {
    ResponseHead::new(0)
        .with_header("Upload-Offset", v)
        .upload_offset()
        .unwrap_or(Err(String::new()))
}

fn bad_header(name: &str, raw: &str) -> Error {
    Error::Protocol(format!("{name} is not a byte count: {raw:?}"))
}

/// The error for an unexpected status, with the Wix body and `Retry-After` when present.
pub(crate) fn status_error(
    method: Method,
    url: &str,
    resp: &ResponseHead,
    now: SystemTime,
) -> Error {
    Error::Status {
        status: resp.status,
        method: method.as_str(),
        url: url.to_owned(),
        wix: WixError::parse(&resp.body).map(Box::new),
        retry_after: resp.retry_after(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const EP: &str = "http://127.0.0.1:9/files";
    const UP: &str = "http://127.0.0.1:9/files/abc";

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn meta() -> Metadata {
        Metadata::new()
            .with("filename", "a.bin")
            .unwrap()
            .with("token", "T0KEN")
            .unwrap()
    }

    fn cfg(chunk: Option<u64>, creation: CreationMode) -> Config {
        Config {
            chunk_size: chunk,
            creation,
            min_chunk_size: 4,
            checksums: vec![ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha1],
        }
    }

    fn auto() -> Config {
        Config {
            creation: CreationMode::Auto,
            ..Config::default()
        }
    }

    fn plain(length: u64, chunk: Option<u64>) -> Upload {
        Upload::new(EP, length, &meta(), cfg(chunk, CreationMode::Plain))
    }

    fn r(status: u16) -> ResponseHead {
        ResponseHead::new(status)
    }

    fn offset(status: u16, o: &str) -> ResponseHead {
        r(status).with_header("Upload-Offset", o)
    }

    fn created(up: &mut Upload) {
        up.next_request().unwrap();
        up.handle(&r(201).with_header("Location", UP), now())
            .unwrap();
    }

    fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
        req.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn auto_mode_starts_with_options_without_tus_resumable() {
        let mut up = Upload::new(EP, 10, &meta(), auto());
        let req = up.next_request().unwrap();
        assert_eq!(
            (req.method, req.url.as_str(), req.body),
            (Method::Options, EP, None)
        );
        assert!(req.headers.is_empty());
    }

    #[test]
    fn options_with_creation_with_upload_sends_bytes_on_post() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(Some(4), CreationMode::Auto));
        up.next_request();
        let opts = r(204).with_header("Tus-Extension", "creation,creation-with-upload");
        assert_eq!(up.handle(&opts, now()).unwrap(), Event::Discovered);
        let post = up.next_request().unwrap();
        assert_eq!((post.method, post.body.clone()), (Method::Post, Some(0..4)));
        assert_eq!(header(&post, "Content-Type"), Some(OFFSET_OCTET_STREAM));
        let resp = r(201)
            .with_header("Location", "/files/abc")
            .with_header("Upload-Offset", "4");
        assert_eq!(
            up.handle(&resp, now()).unwrap(),
            Event::Created { url: UP.into() }
        );
        assert_eq!((up.offset(), up.phase()), (4, Phase::Patch));
    }

    #[test]
    fn options_without_the_extension_or_failing_gives_plain_creation() {
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        up.handle(&r(204).with_header("Tus-Extension", "creation"), now())
            .unwrap();
        assert_eq!(up.next_request().unwrap().body, None);
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        up.handle(&r(405), now()).unwrap();
        assert_eq!(up.phase(), Phase::Create);
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        assert!(up.handle(&r(503), now()).unwrap_err().is_retryable());
        assert_eq!(up.phase(), Phase::Discover);
    }

    #[test]
    fn options_max_size_refuses_big_sources() {
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        let err = up
            .handle(&r(204).with_header("Tus-Max-Size", "9"), now())
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { size: 10, max: 9 }));
    }

    #[test]
    fn creation_sends_length_and_metadata() {
        let mut up = plain(10, None);
        let req = up.next_request().unwrap();
        assert_eq!((req.method, req.body.clone()), (Method::Post, None));
        assert_eq!(header(&req, "Tus-Resumable"), Some("1.0.0"));
        assert_eq!(header(&req, "Upload-Length"), Some("10"));
        assert_eq!(
            header(&req, "Upload-Metadata"),
            Some(meta().encode().as_str())
        );
    }

    #[test]
    fn creation_without_location_is_a_protocol_error() {
        let mut up = plain(10, None);
        up.next_request();
        assert!(matches!(up.handle(&r(201), now()), Err(Error::Protocol(_))));
        let mut up = plain(10, None);
        up.next_request();
        let bad = r(201).with_header("Location", "  ");
        assert!(matches!(up.handle(&bad, now()), Err(Error::Protocol(_))));
    }

    #[test]
    fn creation_errors_carry_status_and_wix_body() {
        let mut up = plain(10, None);
        up.next_request();
        let body =
            r#"{"message":"nope","details":{"applicationError":{"code":"BAD","description":"d"}}}"#;
        let err = up.handle(&r(400).with_body(body), now()).unwrap_err();
        assert_eq!((err.status(), err.wix_code()), (Some(400), Some("BAD")));
        assert!(!err.is_retryable());
    }

    #[test]
    fn empty_upload_is_done_at_creation() {
        let mut up = plain(0, None);
        created(&mut up);
        assert!(up.is_complete());
        assert_eq!(up.next_request(), None);
    }

    #[test]
    fn single_patch_sends_the_rest() {
        let mut up = plain(10, None);
        created(&mut up);
        let req = up.next_request().unwrap();
        assert_eq!(
            (req.method, req.url.as_str(), req.body.clone()),
            (Method::Patch, UP, Some(0..10))
        );
        assert_eq!(header(&req, "Upload-Offset"), Some("0"));
        assert_eq!(header(&req, "Content-Type"), Some(OFFSET_OCTET_STREAM));
        assert_eq!(
            up.handle(&offset(204, "10"), now()).unwrap(),
            Event::Progress { offset: 10 }
        );
        assert!(up.is_complete());
    }

    #[test]
    fn chunks_walk_the_file() {
        let mut up = plain(10, Some(4));
        created(&mut up);
        let mut ranges = Vec::new();
        while let Some(req) = up.next_request() {
            let body = req.body.clone().unwrap();
            ranges.push(body.clone());
            up.handle(&offset(204, &body.end.to_string()), now())
                .unwrap();
        }
        assert_eq!(ranges, vec![0..4, 4..8, 8..10]);
    }

    #[test]
    fn partial_acknowledgement_continues_from_the_server_offset() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        up.handle(&offset(204, "3"), now()).unwrap();
        assert_eq!(up.next_request().unwrap().body, Some(3..10));
    }

    #[test]
    fn bad_patch_offsets_are_protocol_errors() {
        for bad in ["x", "-1", "11", "999", ""] {
            let mut up = plain(10, None);
            created(&mut up);
            up.next_request();
            assert!(
                matches!(up.handle(&offset(204, bad), now()), Err(Error::Protocol(_))),
                "{bad:?}"
            );
        }
        // Backwards.
        let mut up = plain(10, Some(4));
        created(&mut up);
        up.next_request();
        up.handle(&offset(204, "4"), now()).unwrap();
        up.next_request();
        assert!(matches!(
            up.handle(&offset(204, "2"), now()),
            Err(Error::Protocol(_))
        ));
        // Missing, or no progress at all.
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        assert!(matches!(up.handle(&r(204), now()), Err(Error::Protocol(_))));
        up.next_request();
        assert!(matches!(
            up.handle(&offset(204, "0"), now()),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn conflict_leads_to_head_then_continues() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        let err = up.handle(&offset(409, "6"), now()).unwrap_err();
        assert!(matches!(
            err,
            Error::OffsetMismatch {
                expected: 0,
                actual: Some(6)
            }
        ));
        assert!(err.is_retryable());
        let head = up.next_request().unwrap();
        assert_eq!((head.method, head.url.as_str()), (Method::Head, UP));
        let resp = offset(200, "6").with_header("Upload-Length", "10");
        assert_eq!(
            up.handle(&resp, now()).unwrap(),
            Event::Synced { offset: 6 }
        );
        assert_eq!(up.next_request().unwrap().body, Some(6..10));
    }

    #[test]
    fn head_below_the_acknowledged_offset_is_believed() {
        // The server's word wins (say it lost bytes): they are sent again. Found by the fuzzer.
        let mut up = plain(10, Some(4));
        created(&mut up);
        up.next_request();
        up.handle(&offset(204, "4"), now()).unwrap();
        up.next_request();
        up.interrupted();
        up.next_request();
        up.handle(&offset(200, "2"), now()).unwrap();
        assert_eq!(up.next_request().unwrap().body, Some(2..6));
    }

    #[test]
    fn resume_starts_with_head() {
        let mut up = Upload::resume(EP, UP, 10, &meta(), cfg(None, CreationMode::Auto));
        let head = up.next_request().unwrap();
        assert_eq!(head.method, Method::Head);
        assert_eq!(header(&head, "Tus-Resumable"), Some("1.0.0"));
        up.handle(&offset(204, "10"), now()).unwrap();
        assert!(up.is_complete());
    }

    #[test]
    fn head_gone_and_length_mismatch() {
        for status in [403, 404, 410] {
            let mut up = Upload::resume(EP, UP, 10, &meta(), Config::default());
            up.next_request();
            assert!(matches!(
                up.handle(&r(status), now()),
                Err(Error::Gone { .. })
            ));
        }
        let mut up = Upload::resume(EP, UP, 10, &meta(), Config::default());
        up.next_request();
        let other = offset(200, "1").with_header("Upload-Length", "11");
        assert!(matches!(up.handle(&other, now()), Err(Error::Protocol(_))));
        up.next_request();
        assert!(matches!(up.handle(&r(200), now()), Err(Error::Protocol(_))));
    }

    #[test]
    fn restart_creates_anew() {
        let mut up = Upload::resume(EP, UP, 10, &meta(), cfg(None, CreationMode::Plain));
        up.restart();
        assert_eq!(up.url(), None);
        assert_eq!(up.next_request().unwrap().method, Method::Post);
    }

    #[test]
    fn failures_mid_patch_re_read_the_offset() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        let err = up
            .handle(&r(503).with_header("Retry-After", "2"), now())
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(up.phase(), Phase::Head);
        up.next_request();
        up.interrupted();
        assert_eq!(up.next_request().unwrap().method, Method::Head);
    }

    #[test]
    fn interrupted_before_creation_creates_again() {
        let mut up = plain(10, None);
        up.next_request();
        up.interrupted();
        assert_eq!(up.next_request().unwrap().method, Method::Post);
    }

    #[test]
    fn patch_gone_is_an_error() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        assert!(matches!(
            up.handle(&r(404), now()),
            Err(Error::Gone { status: 404 })
        ));
    }

    #[test]
    fn too_large_bodies_halve_the_chunk_down_to_the_floor() {
        let mut up = plain(20, None);
        created(&mut up);
        let mut sizes = Vec::new();
        loop {
            up.next_request();
            match up.handle(&r(413), now()) {
                Ok(Event::ChunkSizeLowered { chunk_size }) => {
                    sizes.push(chunk_size);
                    up.next_request();
                    up.handle(&offset(200, "0"), now()).unwrap();
                }
                Err(e) => {
                    assert_eq!(e.status(), Some(413));
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sizes, vec![10, 5, 4]);
        assert_eq!(up.chunk_size(), Some(4));
    }

    #[test]
    fn post_413_with_body_retries_without_it() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(None, CreationMode::WithUpload));
        assert_eq!(up.next_request().unwrap().body, Some(0..10));
        assert!(matches!(
            up.handle(&r(413), now()),
            Ok(Event::ChunkSizeLowered { .. })
        ));
        assert_eq!(up.next_request().unwrap().body, None);
    }

    #[test]
    fn expires_is_tracked() {
        let mut up = plain(10, None);
        up.next_request();
        let at = "Wed, 25 Nov 2026 08:00:00 GMT";
        up.handle(
            &r(201)
                .with_header("Location", UP)
                .with_header("Upload-Expires", at),
            now(),
        )
        .unwrap();
        let t = httpdate::parse_http_date(at).unwrap();
        assert_eq!(up.expires(), Some(t));
        assert!(up.is_expired(t) && !up.is_expired(t - Duration::from_secs(1)));
    }

    #[test]
    fn response_without_request_is_refused() {
        let mut up = plain(10, None);
        assert!(matches!(up.handle(&r(204), now()), Err(Error::Protocol(_))));
    }

    #[test]
    fn debug_hides_metadata() {
        let up = plain(10, None);
        let dbg = format!("{up:?}");
        assert!(
            !dbg.contains("T0KEN") && !dbg.contains(&meta().encode()),
            "{dbg}"
        );
    }
}
