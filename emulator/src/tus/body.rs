//! Streaming a request body into an upload's file with a fixed buffer: the checksum
//! extension, the checkpoints that let bytes survive the process, the injected cut, and what
//! is kept when a body ends badly.

use std::fs::File;
use std::io::{Read, Write};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

use super::{Step, bad_request};
use crate::http::Request;
use crate::store::{BUF_SIZE, CHECKPOINT_BYTES, CHECKPOINT_INTERVAL, UploadRecord};
use crate::{State, TusExtension};

/// A checksum algorithm of the checksum extension.
pub(super) enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Md5(md5::Md5),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        }
    }
}

/// An `Upload-Checksum`: the algorithm and the digest the body must have.
pub(super) struct Checksum {
    hasher: Hasher,
    expected: Vec<u8>,
}

/// `Upload-Checksum: <algo> <base64>`, when the checksum extension is on (else ignored,
/// like @tus/server).
pub(super) fn parse_checksum(state: &State, req: &Request<'_>) -> Step<Option<Checksum>> {
    if !state.config.has(TusExtension::Checksum) {
        return Ok(None);
    }
    let Some(v) = req.header("Upload-Checksum") else {
        return Ok(None);
    };
    let (algo, digest) = v
        .split_once(' ')
        .ok_or_else(|| bad_request("Upload-Checksum must be `<algorithm> <base64 digest>`"))?;
    let hasher = match algo.to_ascii_lowercase().as_str() {
        "sha1" => Hasher::Sha1(sha1::Sha1::new()),
        "sha256" => Hasher::Sha256(sha2::Sha256::new()),
        "md5" => Hasher::Md5(md5::Md5::new()),
        other => {
            return Err(bad_request(&format!(
                "unsupported checksum algorithm {other}"
            )));
        }
    };
    let expected = STANDARD
        .decode(digest.trim())
        .map_err(|_| bad_request("Upload-Checksum digest is not base64"))?;
    Ok(Some(Checksum { hasher, expected }))
}

/// How a body write ended. The upload's claim is released in every case.
pub(super) enum WriteEnd {
    /// All bytes kept; the updated record.
    Done(UploadRecord),
    /// Nothing kept.
    ChecksumMismatch,
    /// Nothing kept (a chunked body ran past the allowed size).
    TooLarge,
    /// The client went away (or the cut fault fired): what arrived is kept unless a checksum
    /// was asked for; the connection is to be closed without an answer.
    Gone,
    Io(String),
}

/// How copying the body stopped.
enum CopyEnd {
    /// The body ended.
    Ended,
    /// The client went away, or the injected cut fired.
    Gone,
    /// More bytes than the upload (or the body limit) allows.
    TooLarge,
    Io(String),
}

/// What copying the body gave: how it stopped, the bytes written, their digest if asked.
struct Copied {
    end: CopyEnd,
    written: u64,
    digest: Option<Vec<u8>>,
}

/// Streams the request body into the claimed upload at `rec.offset`, then releases the claim
/// with the offset of the bytes kept.
pub(super) fn write_body(
    state: &State,
    req: &mut Request<'_>,
    rec: &UploadRecord,
    checksum: Option<Checksum>,
) -> WriteEnd {
    let (hasher, expected) = match checksum {
        Some(c) => (Some(c.hasher), Some(c.expected)),
        None => (None, None),
    };
    let copied = match state.store.open_at(&rec.id, rec.offset) {
        Ok(file) => copy_body(state, req, rec, file, hasher),
        Err(e) => Copied {
            end: CopyEnd::Io(e.to_string()),
            written: 0,
            digest: None,
        },
    };
    settle(state, rec, copied, expected)
}

/// How many body bytes the upload takes: what is left of its length, within the body limit.
fn allowed_bytes(state: &State, rec: &UploadRecord) -> u64 {
    let left = rec
        .length
        .map_or(u64::MAX, |l| l.saturating_sub(rec.offset));
    state.config.max_body_size.map_or(left, |max| left.min(max))
}

fn copy_body(
    state: &State,
    req: &mut Request<'_>,
    rec: &UploadRecord,
    mut file: File,
    mut hasher: Option<Hasher>,
) -> Copied {
    let allowed = allowed_bytes(state, rec);
    let cut = state.take_cut();
    // Unchecksummed bytes are recorded as they arrive, so they survive the process.
    let mut checkpoints = Checkpoints::new(hasher.is_none(), rec.offset);
    let mut buf = vec![0u8; BUF_SIZE];
    let mut written: u64 = 0;
    let end = loop {
        let n = match req.body.read(&mut buf) {
            Ok(0) => break CopyEnd::Ended,
            Ok(n) => n,
            Err(_) => break CopyEnd::Gone,
        };
        if written + n as u64 > allowed {
            break CopyEnd::TooLarge;
        }
        // The injected cut keeps the bytes before it, then ends like a lost client.
        let take = cut.map_or(n, |c| {
            n.min(usize::try_from(c.saturating_sub(written)).unwrap_or(n))
        });
        let chunk = &buf[..take];
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
        if let Err(e) = file.write_all(chunk) {
            break CopyEnd::Io(e.to_string());
        }
        written += take as u64;
        if cut.is_some_and(|c| written >= c) {
            break CopyEnd::Gone;
        }
        checkpoints.after(state, &rec.id, rec.offset + written);
    };
    let _ = file.flush();
    Copied {
        end,
        written,
        digest: hasher.map(Hasher::finish),
    }
}

/// Keeps what may be kept, drops the rest, and releases the claim.
fn settle(
    state: &State,
    rec: &UploadRecord,
    copied: Copied,
    expected: Option<Vec<u8>>,
) -> WriteEnd {
    let (id, start) = (rec.id.as_str(), rec.offset);
    let arrived = start + copied.written;
    let (keep, ended) = match copied.end {
        CopyEnd::TooLarge => (start, Some(WriteEnd::TooLarge)),
        CopyEnd::Io(e) => (start, Some(WriteEnd::Io(e))),
        // Unverifiable bytes are not kept when a checksum was asked for.
        CopyEnd::Gone if expected.is_some() => (start, Some(WriteEnd::Gone)),
        CopyEnd::Gone => (arrived, Some(WriteEnd::Gone)),
        CopyEnd::Ended if expected.is_some() && copied.digest != expected => {
            (start, Some(WriteEnd::ChecksumMismatch))
        }
        CopyEnd::Ended => (arrived, None),
    };
    if keep < arrived {
        let _ = state.store.truncate(id, keep);
    }
    if let Err(e) = state.store.end_write(id, keep) {
        return WriteEnd::Io(e.to_string());
    }
    match ended {
        Some(end) => end,
        None => state
            .store
            .get(id)
            .map_or_else(|| WriteEnd::Io("upload vanished".into()), WriteEnd::Done),
    }
}

/// Brings the record's offset up to date every [`CHECKPOINT_BYTES`] or
/// [`CHECKPOINT_INTERVAL`] while a body arrives.
struct Checkpoints {
    on: bool,
    recorded: u64,
    at: Instant,
}

impl Checkpoints {
    /// Checkpoints (when `on`) for a body written from offset `start`.
    fn new(on: bool, start: u64) -> Self {
        Checkpoints {
            on,
            recorded: start,
            at: Instant::now(),
        }
    }

    /// The bytes up to `offset` are in the file.
    fn after(&mut self, state: &State, id: &str, offset: u64) {
        let due = offset > self.recorded
            && (offset - self.recorded >= CHECKPOINT_BYTES
                || self.at.elapsed() >= CHECKPOINT_INTERVAL);
        if self.on && due {
            // A failed checkpoint is not fatal: the end of the write records the offset.
            let _ = state.store.checkpoint(id, offset);
            self.recorded = offset;
            self.at = Instant::now();
        }
    }
}
