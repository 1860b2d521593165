//! Interop with the two reference tus servers through the crate's public API: the official
//! Node server (node.rs) and `resumable-upload` (Python, python.rs). What both servers are put
//! through the same way is here.

mod node;
mod python;

use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};

use wix_media_upload::{Progress, UploadOptions, Uploaded, Uploader, UploaderBuilder};

use crate::support::proxy::{FaultProxy, ProxyConfig, SeenRequest};
use crate::support::server_process::ServerProcess;
use crate::support::temp_file_with;
use crate::support::upload::{abort_when, upload_aborted, upload_file};

const MIB: usize = 1024 * 1024;

/// A reference server with a [`FaultProxy`] in front, whose request log shows what the client
/// really sent (how many PATCHes, whether the POST carried bytes, which `Upload-Checksum`).
pub struct Rig<S> {
    pub server: S,
    pub proxy: FaultProxy,
}

impl<S: Deref<Target = ServerProcess>> Rig<S> {
    pub fn new(server: S, proxy: ProxyConfig) -> Rig<S> {
        let proxy = FaultProxy::to_url(&server.base_url(), proxy);
        Rig { server, proxy }
    }

    /// The creation URL on the proxy.
    pub fn endpoint(&self) -> String {
        self.proxy.url_for(&self.server.endpoint())
    }

    /// The PATCHes so far.
    pub fn patches(&self) -> Vec<SeenRequest> {
        self.proxy.requests_of("PATCH")
    }

    /// Body sizes of the PATCHes so far, in order.
    pub fn patch_sizes(&self) -> Vec<u64> {
        self.patches().iter().map(|r| r.body_bytes).collect()
    }
}

/// The options of these uploads: their metadata.
pub fn options() -> UploadOptions<'static> {
    UploadOptions::new().metadata("filename", "f.bin")
}

/// Uploads a fresh `len`-byte file to `endpoint` (on `server`) and checks the upload and the
/// bytes the server stored.
pub fn upload_fresh(
    server: &ServerProcess,
    endpoint: &str,
    up: &Uploader,
    len: usize,
    seed: u64,
) -> Uploaded {
    let (file, bytes) = temp_file_with(len, seed);
    let options = options();
    let done =
        upload_file(up, endpoint, file.path(), options).unwrap_or_else(|e| panic!("{len} B: {e}"));
    assert_eq!(done.size, len as u64);
    assert_eq!(done.resumed_from, None);
    assert!(done.url.starts_with(endpoint), "{}", done.url);
    assert_eq!(
        server.stored_bytes(&done.url),
        bytes,
        "stored bytes differ ({len} B)"
    );
    done
}

/// The first of two processes: an upload of `file` in 1 MiB chunks, its state in `state`,
/// stopped once half the file is acknowledged.
pub fn upload_half(builder: UploaderBuilder, endpoint: &str, file: &Path, state: &Path) {
    let first = builder
        .chunk_size(MIB as u64)
        .state_dir(state)
        .build()
        .unwrap();
    let options = abort_when(UploadOptions::new(), |p| {
        p.acked >= p.total.unwrap_or(u64::MAX) / 2
    });
    upload_aborted(&first, endpoint, file, options);
}

/// The second process: a new uploader in single-PATCH mode on the same `state` resumes the
/// upload of `file` from `offset`, the server's: in the same upload, sending nothing before it.
pub fn resume(
    builder: UploaderBuilder,
    server: &ServerProcess,
    endpoint: &str,
    file: &Path,
    state: &Path,
    offset: u64,
) -> Uploaded {
    let second = builder.state_dir(state).build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let options =
        UploadOptions::new().progress(move |p: Progress| log.lock().unwrap().push(p.sent));
    let done = upload_file(&second, endpoint, file, options).unwrap();
    assert_eq!(done.resumed_from, Some(offset));
    assert_eq!(server.uploads().len(), 1, "a second upload was created");
    // Nothing before the resume point went out again.
    assert!(seen.lock().unwrap().iter().all(|&s| s >= offset));
    done
}
