//! tus on a `mockito` server: every request the SDK makes is matched on method, path, headers
//! and body, and every mock asserts how often it was hit; the uploader under test runs on a
//! [`RecordingClock`], so retry waits are recorded instead of slept.

use std::borrow::Borrow;
use std::io::{Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mockito::{Matcher, Mock, Server, ServerGuard};
use wix_media_tus::Metadata;
use wix_media_upload::{
    CreationMode, Result, RetryPolicy, Source, UploadOptions, Uploaded, Uploader, UploaderBuilder,
};

use super::clock::RecordingClock;
use super::state::file_state_key;
use super::upload::upload_file;
use super::{TempFile, temp_file_with};

/// The content type of a tus body.
pub const OCTET: &str = "application/offset+octet-stream";

/// A mock server for tus requests.
pub struct MockTus {
    pub server: ServerGuard,
}

impl MockTus {
    pub fn new() -> MockTus {
        MockTus {
            server: Server::new(),
        }
    }

    /// The URL of `path` on the server.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// The creation endpoint, `/files`.
    pub fn endpoint(&self) -> String {
        self.at("/files")
    }

    /// A mock server and a 10-byte file to upload to it (of `seed`).
    pub fn with_file(seed: u64) -> (MockTus, TempFile, Vec<u8>) {
        let (file, bytes) = temp_file_with(10, seed);
        (MockTus::new(), file, bytes)
    }

    /// Uploads `file` to [`Self::endpoint`] with `up` and `options`.
    pub fn upload(
        &self,
        up: &Uploader,
        file: &TempFile,
        options: UploadOptions,
    ) -> Result<Uploaded> {
        upload_file(up, &self.endpoint(), file.path(), options)
    }

    /// The key an uploader saves the record of an upload of `file` here under.
    pub fn state_key(&self, file: &TempFile) -> String {
        file_state_key(&self.endpoint(), file.path())
    }

    /// A creation POST of `length` bytes without body (plain mode), to be answered.
    pub fn post(&mut self, path: &str, length: u64) -> Mock {
        self.server
            .mock("POST", path)
            .match_header("Tus-Resumable", "1.0.0")
            .match_header("Upload-Length", length.to_string().as_str())
            .match_header("Content-Length", "0")
            .match_header("Content-Type", Matcher::Missing)
            .match_body(Vec::new())
    }

    /// A PATCH at `offset` carrying exactly `body`, to be answered.
    pub fn patch(&mut self, path: &str, offset: u64, body: &[u8]) -> Mock {
        self.server
            .mock("PATCH", path)
            .match_header("Tus-Resumable", "1.0.0")
            .match_header("Content-Type", OCTET)
            .match_header("Upload-Offset", offset.to_string().as_str())
            .match_header("Content-Length", body.len().to_string().as_str())
            .match_body(body.to_vec())
    }

    /// A HEAD, to be answered.
    pub fn head(&mut self, path: &str) -> Mock {
        self.server
            .mock("HEAD", path)
            .match_header("Tus-Resumable", "1.0.0")
    }

    /// A plain creation of `length` bytes at `path`, answered `201` with `location`, once.
    pub fn creates(&mut self, path: &str, length: u64, location: &str) -> Mock {
        created(self.post(path, length), location)
            .expect(1)
            .create()
    }

    /// A PATCH of `body` at `offset`, acknowledged in full, once.
    pub fn takes(&mut self, path: &str, offset: u64, body: &[u8]) -> Mock {
        let end = offset + body.len() as u64;
        acked(self.patch(path, offset, body), end)
            .expect(1)
            .create()
    }

    /// The PATCHes of `bytes` (the whole upload) from `from` on, in `chunk`-byte pieces, each
    /// acknowledged in full, once (see [`MockTus::takes`]).
    pub fn takes_in_chunks(
        &mut self,
        path: &str,
        bytes: &[u8],
        from: usize,
        chunk: usize,
    ) -> Vec<Mock> {
        (from..bytes.len())
            .step_by(chunk)
            .map(|at| {
                let end = (at + chunk).min(bytes.len());
                self.takes(path, at as u64, &bytes[at..end])
            })
            .collect()
    }

    /// `times` HEADs answered `offset` of `length`.
    pub fn heads(&mut self, path: &str, offset: u64, length: u64, times: usize) -> Mock {
        head_at(self.head(path), offset, length)
            .expect(times)
            .create()
    }

    /// No request of `method` to `path` at all.
    pub fn never(&mut self, method: &str, path: impl Into<Matcher>) -> Mock {
        self.server.mock(method, path).expect(0).create()
    }
}

/// `201 Created` with `Location`.
pub fn created(mock: Mock, location: &str) -> Mock {
    mock.with_status(201)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Location", location)
}

/// `204` with `Upload-Offset`.
pub fn acked(mock: Mock, offset: u64) -> Mock {
    mock.with_status(204)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Upload-Offset", &offset.to_string())
}

/// A HEAD answer: `200` with `Upload-Offset` and `Upload-Length`.
pub fn head_at(mock: Mock, offset: u64, length: u64) -> Mock {
    mock.with_status(200)
        .with_header("Tus-Resumable", "1.0.0")
        .with_header("Upload-Offset", &offset.to_string())
        .with_header("Upload-Length", &length.to_string())
        .with_header("Cache-Control", "no-store")
}

/// Asserts every mock (`&[Mock]` or `&[&Mock]`) was hit as often as it expects.
pub fn assert_all<M: Borrow<Mock>>(mocks: &[M]) {
    for m in mocks {
        m.borrow().assert();
    }
}

/// A JWT-shaped upload token.
pub const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl";

/// An uploader for a mock server: plain creation, no retries, `clock`.
pub fn uploader(clock: &RecordingClock) -> UploaderBuilder {
    Uploader::builder()
        .creation(CreationMode::Plain)
        .retry(RetryPolicy::none())
        .clock(clock.clone())
}

/// The metadata of a Wix upload: name, type and the (secret) token.
pub fn wix_metadata(filename: &str, content_type: &str, token: &str) -> Metadata {
    Metadata::new()
        .with("filename", filename)
        .unwrap()
        .with("contentType", content_type)
        .unwrap()
        .with_secret("token", token)
        .unwrap()
}

/// A reader that cannot seek and counts what was read from it.
struct CountingReader {
    inner: Cursor<Vec<u8>>,
    read: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A stream source of `bytes` (not seekable), and how many bytes were read from it so far.
pub fn counted_stream(bytes: &[u8]) -> (Source, Arc<AtomicU64>) {
    let read = Arc::new(AtomicU64::new(0));
    let reader = CountingReader {
        inner: Cursor::new(bytes.to_vec()),
        read: Arc::clone(&read),
    };
    (Source::stream(reader, bytes.len() as u64), read)
}

/// `mock` answered `status` with `headers`, expected `times` times.
pub fn answer(mock: Mock, status: usize, headers: &[(&str, &str)], times: usize) -> Mock {
    headers
        .iter()
        .fold(mock.with_status(status), |m, (k, v)| m.with_header(*k, v))
        .expect(times)
        .create()
}
