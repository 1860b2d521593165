//! The upload state machine ([`Upload`]): one file per state, each with its tests. The state
//! diagram is on the crate's front page.
//!
//! - 413 on a PATCH halves the chunk size (down to [`Config::min_chunk_size`]); so does a
//!   second lost connection at the same offset with the same body size and no progress in
//!   between (a server or proxy that answers 413 before reading the body and closes looks like
//!   that to a client that is still writing).
//! - A body larger than [`Config::expect_continue_above`] and than any body this upload has had
//!   accepted asks `Expect: 100-continue`, so a capping server can refuse it before it is sent;
//!   one lost with its connection all the same stops the asking (a proxy that ignores `Expect`
//!   would make every attempt wait for a `100 Continue` that never comes).
//! - 404, 410 and 403 mean the upload is gone ([`Error::Gone`]).

mod create;
mod discover;
mod head;
mod patch;
#[cfg(test)]
mod testing;

use std::ops::Range;
use std::time::SystemTime;

use super::error::{Error, Result, Usage, Violation};
use super::{Metadata, Method, OFFSET_OCTET_STREAM, Request, ResponseHead, TUS_VERSION};

/// How an upload is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Config {
    /// Largest PATCH body; `None` sends the rest in one request.
    pub chunk_size: Option<u64>,
    /// How the upload is created.
    pub creation: CreationMode,
    /// The smallest body a refused body (413, or lost connections) may shrink the chunk size to.
    pub min_chunk_size: u64,
    /// Bodies larger than this ask `Expect: 100-continue` until the server has accepted one of
    /// their size; `None` never asks.
    pub expect_continue_above: Option<u64>,
    /// Checksum algorithms the driver can compute, best first; the first one the server lists
    /// in `Tus-Checksum-Algorithm` is used (needs [`CreationMode::Auto`] to learn the list).
    pub checksums: Vec<ChecksumAlgorithm>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chunk_size: None,
            creation: CreationMode::Plain,
            min_chunk_size: 256 * 1024,
            // curl's threshold.
            expect_continue_above: Some(1024 * 1024),
            checksums: Vec::new(),
        }
    }
}

/// A checksum algorithm of the tus checksum extension. Exhaustive: a driver computes each.
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

/// Where the upload stands: what the next request will be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

/// What a successful response did. Exhaustive: a driver acts on each (a new one is a
/// breaking change it must see).
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
    /// A body was refused as too large; the chunk size is now `chunk_size`.
    ChunkSizeLowered {
        /// The new chunk size.
        chunk_size: u64,
    },
}

/// How a request failed without a usable response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interruption {
    /// The connection broke (reset, broken pipe, closed early): a server may have refused the
    /// body and hung up.
    ConnectionLost,
    /// Anything else: no connection, a timeout.
    Other,
}

/// The upload's length, and whether the server knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Length {
    Known(u64),
    /// `Upload-Defer-Length`: not known yet.
    Deferred,
    /// Known now, but the server was created deferred and has not been told.
    Declared(u64),
}

impl Length {
    fn get(self) -> Option<u64> {
        match self {
            Length::Known(n) | Length::Declared(n) => Some(n),
            Length::Deferred => None,
        }
    }
}

// A body lost with its connection: where, how large, and how often in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lost {
    offset: u64,
    size: u64,
    times: u32,
}

/// One tus upload of `length` bytes, driven by its caller.
#[derive(Clone, Debug)]
pub struct Upload {
    endpoint: String,
    metadata: MetadataHeader,
    length: Length,
    partial: bool,
    checksum: Option<ChecksumAlgorithm>,
    url: Option<String>,
    offset: u64,
    phase: Phase,
    config: Config,
    with_upload: bool,
    expires: Option<SystemTime>,
    // The largest body the server accepted whole.
    accepted: u64,
    lost: Option<Lost>,
    in_flight: Option<InFlight>,
}

// The request awaiting its response.
#[derive(Clone, Debug)]
struct InFlight {
    method: Method,
    url: String,
    body: Option<Range<u64>>,
    // It asked `Expect: 100-continue`.
    expect: bool,
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
        let with_upload = config.creation == CreationMode::WithUpload;
        Self {
            endpoint: endpoint.to_owned(),
            metadata: MetadataHeader(metadata.encode()),
            length: Length::Known(length),
            partial: false,
            checksum: None,
            url: None,
            offset: 0,
            phase: first_phase(&config),
            config,
            with_upload,
            expires: None,
            accepted: 0,
            lost: None,
            in_flight: None,
        }
    }

    /// An upload whose length is not known yet (`Upload-Defer-Length`): the caller declares it
    /// with [`Upload::declare_length`] once the source ends. Needs a chunk size.
    pub fn deferred(endpoint: &str, metadata: &Metadata, mut config: Config) -> Self {
        config.chunk_size.get_or_insert(STREAM_CHUNK);
        let mut up = Self::new(endpoint, 0, metadata, config);
        up.length = Length::Deferred;
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

    /// Points this upload at an existing one at `url`: the next request is a HEAD.
    pub fn resume_at(&mut self, url: &str) {
        self.url = Some(url.to_owned());
        self.phase = Phase::Head;
        self.in_flight = None;
    }

    /// Declares the total length of a deferred upload; the next PATCH carries `Upload-Length`.
    ///
    /// # Errors
    ///
    /// [`Usage::LengthBelowOffset`] for a length below what the server acknowledged.
    pub fn declare_length(&mut self, length: u64) -> Result<()> {
        if self.length != Length::Deferred {
            return Ok(());
        }
        if length < self.offset {
            return Err(Error::Usage(Usage::LengthBelowOffset {
                length,
                offset: self.offset,
            }));
        }
        self.length = Length::Declared(length);
        if self.phase == Phase::Done {
            self.phase = Phase::Patch;
        }
        Ok(())
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
        self.lost = None;
        self.phase = first_phase(&self.config);
        // A new creation carries the declared length itself.
        if let Length::Declared(n) = self.length {
            self.length = Length::Known(n);
        }
    }

    /// Uses at most `bytes` per PATCH from now on (say, a size learned by an earlier run).
    pub fn limit_chunk_size(&mut self, bytes: u64) {
        let bytes = bytes.max(1);
        self.config.chunk_size = Some(self.config.chunk_size.map_or(bytes, |c| c.min(bytes)));
    }

    /// Stops asking `Expect: 100-continue` (the server does not answer it).
    pub fn stop_expect_continue(&mut self) {
        self.config.expect_continue_above = None;
    }

    /// Whether the length is still unknown.
    pub fn is_deferred(&self) -> bool {
        self.length == Length::Deferred
    }

    /// The checksum algorithm agreed with the server, if any.
    #[cfg(test)]
    pub(crate) fn checksum(&self) -> Option<ChecksumAlgorithm> {
        self.checksum
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
        self.length.get()
    }

    /// The upload's URL, once created.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The creation URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's `Upload-Expires` on the client's clock, if it sent one.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// Whether the server's `Upload-Expires` has passed at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// The chunk size in force (it shrinks when bodies are refused).
    pub fn chunk_size(&self) -> Option<u64> {
        self.config.chunk_size
    }

    /// Whether every byte is acknowledged.
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The request to send next; `None` once complete.
    pub fn next_request(&mut self) -> Option<Request> {
        let mut req = match self.phase {
            Phase::Done => return None,
            Phase::Discover => super::options::request(&self.endpoint),
            Phase::Create => self.create_request(),
            Phase::Head => tus_request(Method::Head, self.url.clone()?),
            Phase::Patch => self.patch_request()?,
        };
        if let Some(body) = &req.body {
            req.headers
                .push(("Content-Type", OFFSET_OCTET_STREAM.to_owned()));
            let size = body.end - body.start;
            if self
                .config
                .expect_continue_above
                .is_some_and(|above| size > above && size > self.accepted)
            {
                req.headers.push(("Expect", "100-continue".to_owned()));
            }
            req.checksum = self.checksum;
        }
        self.in_flight = Some(InFlight {
            method: req.method,
            url: req.url.clone(),
            body: req.body.clone(),
            expect: req.header("Expect").is_some(),
        });
        Some(req)
    }

    fn body_from(&self, start: u64) -> Range<u64> {
        let chunk = self.config.chunk_size.unwrap_or(u64::MAX).max(1);
        match self.length.get() {
            Some(len) => start..start + chunk.min(len.saturating_sub(start)),
            None => start..start.saturating_add(chunk),
        }
    }

    /// The request failed without a usable response: how much of its body arrived is unknown,
    /// so an existing upload is re-read with HEAD. A body lost with its connection a second
    /// time at the same offset (no progress since) is halved: the answer is
    /// [`Event::ChunkSizeLowered`].
    pub fn interrupted(&mut self, how: Interruption) -> Option<Event> {
        let in_flight = self.in_flight.take();
        if self.url.is_some() && self.phase != Phase::Done {
            self.phase = Phase::Head;
        }
        let in_flight = in_flight?;
        let body = in_flight.body?;
        if how != Interruption::ConnectionLost {
            return None;
        }
        if in_flight.expect {
            // Asked to continue, then lost anyway: whoever refuses bodies here does not answer
            // `Expect` (a client waits its timeout each time), so stop asking.
            self.config.expect_continue_above = None;
        }
        let size = body.end - body.start;
        let times = match self.lost {
            Some(l) if l.offset == body.start && l.size == size => l.times + 1,
            _ => 1,
        };
        self.lost = Some(Lost {
            offset: body.start,
            size,
            times,
        });
        if times < 2 || size <= self.config.min_chunk_size {
            return None;
        }
        self.lost = None;
        Some(self.lower_chunk_size(size))
    }

    fn lower_chunk_size(&mut self, refused: u64) -> Event {
        let smaller = (refused / 2).max(self.config.min_chunk_size);
        self.config.chunk_size = Some(smaller);
        Event::ChunkSizeLowered {
            chunk_size: smaller,
        }
    }

    /// Applies the response to the request from [`Upload::next_request`]; `now` dates
    /// `Retry-After` and `Upload-Expires`.
    ///
    /// # Errors
    ///
    /// What the answer means when it is not a success: [`Error::Status`] (worth retrying for
    /// 423, 429 and 5xx), [`Error::Gone`],
    /// [`Error::OffsetMismatch`], [`Error::ChecksumMismatch`], [`Error::TooLarge`], or a
    /// [`Violation`].
    pub fn handle(&mut self, resp: &ResponseHead, now: SystemTime) -> Result<Event> {
        let Some(sent) = self.in_flight.take() else {
            return Err(Violation::NoRequestOutstanding.into());
        };
        let event = match sent.method {
            Method::Options => self.on_options(resp, now),
            Method::Post => self.on_create(resp, &sent, now),
            Method::Head => self.on_head(resp, now),
            Method::Patch => self.on_patch(resp, sent.body, now),
            // Never sent by this machine.
            Method::Delete | Method::Get | Method::Put => {
                Err(Violation::NoRequestOutstanding.into())
            }
        };
        // Any accepted creation, HEAD or PATCH may carry the server's latest expiry.
        if event.is_ok() && resp.is_success() {
            self.expires = resp.upload_expires_at(now).or(self.expires);
        }
        event
    }

    // The server's offset must lie within what could have arrived.
    fn check_offset(&self, offset: Option<Result<u64, String>>, sent: &Range<u64>) -> Result<u64> {
        let offset = parsed("Upload-Offset", offset.ok_or(Violation::MissingOffset)?)?;
        if let Some(length) = self.length.get().filter(|len| offset > *len) {
            return Err(Violation::OffsetPastLength { offset, length }.into());
        }
        if offset > sent.end {
            return Err(Violation::OffsetPastSent {
                offset,
                sent_end: sent.end,
            }
            .into());
        }
        if offset < sent.start {
            return Err(Violation::OffsetBackwards {
                from: sent.start,
                to: offset,
            }
            .into());
        }
        Ok(offset)
    }

    fn set_offset(&mut self, offset: u64) {
        if self.lost.is_some_and(|l| offset > l.offset) {
            self.lost = None;
        }
        self.offset = offset;
        self.phase = match self.length {
            Length::Known(n) if n == offset => Phase::Done,
            _ => Phase::Patch,
        };
    }
}

fn first_phase(config: &Config) -> Phase {
    match config.creation {
        CreationMode::Auto => Phase::Discover,
        CreationMode::Plain | CreationMode::WithUpload => Phase::Create,
    }
}

fn parsed(header: &'static str, value: Result<u64, String>) -> Result<u64> {
    value.map_err(|value| Error::Violation(Violation::NotAByteCount { header, value }))
}

fn status_error(resp: &ResponseHead, now: SystemTime) -> Error {
    Error::Status {
        status: resp.status,
        retry_after: resp.retry_after(now),
    }
}

fn tus_request(method: Method, url: String) -> Request {
    let mut req = Request::new(method, url);
    req.headers.push(("Tus-Resumable", TUS_VERSION.to_owned()));
    req
}

/// The chunk size of a deferred-length upload when none is set; a driver can use it for any
/// source it must hold in memory (say a stream, so that a failed request can be sent again).
pub const STREAM_CHUNK: u64 = 8 * 1024 * 1024;
