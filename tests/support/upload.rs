//! Uploads as the tests make them with the SDK: a file to an endpoint, or one stopped at a
//! chosen point.

use std::io::{Cursor, Read};
use std::path::Path;

use wix_media_upload::wix::{self, FileDescriptor, ResumableTarget};
use wix_media_upload::{
    AbortHandle, Error, Progress, Result, Source, UploadOptions, Uploaded, Uploader,
};

/// Uploads the file at `path` to `endpoint` with `up` and `options`.
pub fn upload_file(
    up: &Uploader,
    endpoint: &str,
    path: &Path,
    options: UploadOptions<'_>,
) -> Result<Uploaded> {
    up.upload(
        endpoint,
        Source::file(path).expect("open the file"),
        options,
    )
}

/// Uploads the file at `path` to the Wix `target` with `up` (tus, then finalize): the file's
/// descriptor.
pub fn upload_file_to_wix(
    up: &Uploader,
    target: &ResumableTarget,
    path: &Path,
) -> Result<FileDescriptor> {
    let source = Source::file(path).expect("open the file");
    wix::upload(up, target, source, UploadOptions::new()).map(|done| done.file)
}

/// A `Read` of `bytes` that cannot seek.
pub fn stream_of(bytes: &[u8]) -> impl Read + Send + 'static {
    Cursor::new(bytes.to_vec()).chain(std::io::empty())
}

/// Uploads `bytes` to `endpoint` as a stream whose length is not known (deferred length).
pub fn upload_unknown_length(up: &Uploader, endpoint: &str, bytes: &[u8]) -> Result<Uploaded> {
    up.upload(
        endpoint,
        Source::stream_unknown_length(stream_of(bytes)),
        UploadOptions::new(),
    )
}

/// `options` with an abort that `when` pulls at a progress report (the first it is true for).
pub fn abort_when<'a>(
    options: UploadOptions<'a>,
    mut when: impl FnMut(Progress) -> bool + 'a,
) -> UploadOptions<'a> {
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    options.abort(abort).progress(move |p| {
        if when(p) {
            trigger.abort();
        }
    })
}

/// Uploads the file at `path` to `endpoint`, which must end in `Error::Aborted` (see
/// [`abort_when`]).
pub fn upload_aborted(up: &Uploader, endpoint: &str, path: &Path, options: UploadOptions<'_>) {
    let err = upload_file(up, endpoint, path, options).unwrap_err();
    assert!(matches!(err, Error::Aborted), "{err:?}");
}
