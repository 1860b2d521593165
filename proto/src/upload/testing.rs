//! Fixtures for the state machine's tests.

use std::time::{Duration, SystemTime};

use super::{ChecksumAlgorithm, Config, CreationMode, Upload};
use crate::{Metadata, Request, ResponseHead};

pub(super) const EP: &str = "http://127.0.0.1:9/files";
pub(super) const UP: &str = "http://127.0.0.1:9/files/abc";

pub(super) fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub(super) fn meta() -> Metadata {
    Metadata::new()
        .with("filename", "a.bin")
        .unwrap()
        .with_secret("token", "T0KEN")
        .unwrap()
}

pub(super) fn cfg(chunk: Option<u64>, creation: CreationMode) -> Config {
    Config {
        chunk_size: chunk,
        creation,
        min_chunk_size: 4,
        expect_continue_above: None,
        checksums: vec![ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha1],
    }
}

pub(super) fn auto() -> Config {
    Config {
        creation: CreationMode::Auto,
        ..Config::default()
    }
}

pub(super) fn plain(length: u64, chunk: Option<u64>) -> Upload {
    Upload::new(EP, length, &meta(), cfg(chunk, CreationMode::Plain))
}

pub(super) fn r(status: u16) -> ResponseHead {
    ResponseHead::new(status)
}

pub(super) fn offset(status: u16, o: &str) -> ResponseHead {
    r(status).with_header("Upload-Offset", o)
}

/// Sends the creation and answers it with 201 + `UP`.
pub(super) fn created(up: &mut Upload) {
    up.next_request().unwrap();
    up.handle(&r(201).with_header("Location", UP), now())
        .unwrap();
}

pub(super) fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name)
}

/// Sends the discovery OPTIONS and answers it with these extensions and checksum algorithms.
pub(super) fn offered(up: &mut Upload, extensions: &str, algorithms: &str) {
    up.next_request().unwrap();
    let opts = r(204)
        .with_header("Tus-Extension", extensions)
        .with_header("Tus-Checksum-Algorithm", algorithms);
    up.handle(&opts, now()).unwrap();
}
