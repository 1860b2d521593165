//! The body of the fuzz target `responses` (fuzz/fuzz_targets/responses.rs includes this file):
//! arbitrary server responses fed to the pure tus machine and the Wix parsers. The `it` test
//! binary replays the kept regression inputs through it (tests/it/fuzz/mod.rs), so it must stay
//! self-contained: the SDK, its tus crate and serde_json only.
//!
//! Invariants checked besides "no panic": the offset never passes the length, moves back only
//! when a HEAD says so (the server's word wins: the bytes are sent again) or on a restart, and
//! every body the machine asks for lies within the upload.

use std::time::{Duration, SystemTime};

use wix_media_tus::{
    self as proto, Config, CreationMode, Interruption, Metadata, ResponseHead, Upload, resolve,
};
use wix_media_upload::fuzzing::{body_excerpt, generate_answer, wix_error};
use wix_media_upload::wix::FileDescriptor;

const HEADERS: &[&str] = &[
    "Upload-Offset",
    "Upload-Length",
    "Location",
    "Upload-Expires",
    "Retry-After",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "Date",
];

const ENDPOINT: &str = "http://127.0.0.1:1/files";

// Splits the input into responses: [status hi, status lo, n headers, (name idx, len, value)*,
// body len, body].
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn response(c: &mut Cursor<'_>) -> Option<(ResponseHead, Vec<u8>)> {
    let status = u16::from_be_bytes([c.byte()?, c.byte()?]) % 600;
    let mut r = ResponseHead::new(status);
    for _ in 0..c.byte()? % 6 {
        let name = HEADERS[usize::from(c.byte()?) % HEADERS.len()];
        let len = usize::from(c.byte()?);
        let value = String::from_utf8_lossy(c.take(len)).into_owned();
        r = r.with_header(name, &value);
    }
    let len = usize::from(c.byte()?);
    Some((r, c.take(len).to_vec()))
}

// The upload the first two bytes pick: chunking, creation mode, and new, resumed or deferred.
fn upload(c: &mut Cursor<'_>) -> Option<Upload> {
    let mode = c.byte()?;
    let length = u64::from(c.byte().unwrap_or(0)) * 1000;
    let mut config = Config::default();
    config.chunk_size = [None, Some(1), Some(700)][usize::from(mode) % 3];
    config.creation = [
        CreationMode::Auto,
        CreationMode::Plain,
        CreationMode::WithUpload,
    ][usize::from(mode / 3) % 3];
    config.min_chunk_size = 100;
    config.expect_continue_above = Some(500);
    let meta = Metadata::new().with("filename", "f").unwrap();
    Some(if mode & 0x80 != 0 {
        Upload::deferred(ENDPOINT, &meta, config)
    } else if mode & 0x40 != 0 {
        let mut up = Upload::new(ENDPOINT, length, &meta, config);
        up.resume_at("http://127.0.0.1:1/files/x");
        up
    } else {
        Upload::new(ENDPOINT, length, &meta, config)
    })
}

// What the Wix layer makes of a response: none of it may panic.
fn parse_as_wix(resp: &ResponseHead, body: &[u8], now: SystemTime) {
    let _ = wix_error(body);
    let _ = body_excerpt(body);
    let _ = serde_json::from_slice::<FileDescriptor>(body);
    let _ = generate_answer(body);
    if let Some(loc) = resp.header("Location") {
        let _ = resolve(ENDPOINT, loc);
    }
    let _ = resp.retry_after(now);
    let _ = resp.upload_expires_at(now);
}

/// Runs one input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let mut c = Cursor(data);
    let Some(mut up) = upload(&mut c) else { return };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut last = up.offset();
    for _ in 0..64 {
        if up.is_deferred() && c.byte().is_some_and(|b| b & 1 == 1) {
            let _ = up.declare_length(up.offset() + u64::from(c.byte().unwrap_or(0)));
        }
        let Some(req) = up.next_request() else { break };
        let is_head = req.method == proto::Method::Head;
        if let Some(body) = &req.body {
            assert!(body.start <= body.end);
            if let Some(len) = up.length() {
                assert!(body.end <= len, "body {body:?} past length {len}");
            }
        }
        // Some requests lose their connection instead of getting an answer.
        if c.byte().is_some_and(|b| b % 8 == 0) {
            let _ = up.interrupted(Interruption::ConnectionLost);
            continue;
        }
        let Some((resp, body)) = response(&mut c) else {
            break;
        };
        let restarted = match up.handle(&resp, now) {
            Err(proto::Error::Gone { .. }) => {
                up.restart();
                true
            }
            Err(_) => {
                let _ = up.interrupted(Interruption::Other);
                false
            }
            Ok(_) => false,
        };
        if let Some(len) = up.length() {
            assert!(up.offset() <= len);
        }
        assert!(
            restarted || is_head || up.offset() >= last,
            "offset went back {last} -> {} on a {:?}",
            up.offset(),
            req.method
        );
        last = up.offset();
        parse_as_wix(&resp, &body, now);
    }
}
