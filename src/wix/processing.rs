//! Reading a file back, and waiting until Wix has processed it.

use std::time::Duration;

use percent_encoding::utf8_percent_encode;

use super::FileDescriptor;
use super::rest::Rest;
use super::resumable::COMPONENT;
use super::types::{FileDescriptorEnvelope, OperationStatus};
use crate::control::sleep_unless_aborted;
use crate::error::{Error, Result};

/// A file to wait for: its id, or a descriptor an upload or import answered.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum FileRef<'a> {
    /// A file id.
    Id(&'a str),
    /// A file descriptor (one that is `READY` needs no request).
    File(&'a FileDescriptor),
}

impl<'a> From<&'a str> for FileRef<'a> {
    fn from(id: &'a str) -> Self {
        FileRef::Id(id)
    }
}

impl<'a> From<&'a String> for FileRef<'a> {
    fn from(id: &'a String) -> Self {
        FileRef::Id(id)
    }
}

impl<'a> From<&'a FileDescriptor> for FileRef<'a> {
    fn from(file: &'a FileDescriptor) -> Self {
        FileRef::File(file)
    }
}

/// The first wait between two reads; each next one is half as long again, up to [`MAX_POLL`].
pub(crate) const FIRST_POLL: Duration = Duration::from_millis(500);
/// The longest wait between two reads.
pub(crate) const MAX_POLL: Duration = Duration::from_secs(10);
/// Right after creation a file can be briefly unknown (404): this many such answers are
/// tolerated, about 1.5 s apart, as Wix's own clients do.
pub(crate) const NOT_FOUND_GRACE: u32 = 5;
pub(crate) const NOT_FOUND_WAIT: Duration = Duration::from_millis(1500);

/// The waits between reads of files not processed yet: [`FIRST_POLL`], then half as long
/// again each time up to [`MAX_POLL`]; [`NOT_FOUND_WAIT`] after a 404, [`NOT_FOUND_GRACE`]
/// times at most (a file just created may not be found by id for a moment).
pub(crate) struct Polls {
    next: Duration,
    not_found: u32,
}

impl Polls {
    pub(crate) fn new() -> Self {
        Self {
            next: FIRST_POLL,
            not_found: 0,
        }
    }

    /// How long to wait after a read that did not finish the wait; its error if it failed
    /// otherwise than by a 404 in the grace.
    pub(crate) fn after<T>(&mut self, read: Result<T>) -> Result<Duration> {
        match read {
            Ok(_) => {
                let wait = self.next;
                self.next = (self.next * 3 / 2).min(MAX_POLL);
                Ok(wait)
            }
            Err(e) if e.status() == Some(404) && self.not_found < NOT_FOUND_GRACE => {
                self.not_found += 1;
                Ok(NOT_FOUND_WAIT)
            }
            Err(e) => Err(e),
        }
    }
}

/// `GET /site-media/v1/files/get-file-by-id?fileId=ID`.
pub(crate) fn get_file(rest: &Rest<'_>, id: &str) -> Result<FileDescriptor> {
    let path = format!(
        "/site-media/v1/files/get-file-by-id?fileId={}",
        utf8_percent_encode(id, COMPONENT)
    );
    rest.get::<FileDescriptorEnvelope>(&path).map(|e| e.file)
}

/// Reads the file until Wix has processed it: `READY` or `FAILED` (returned, either), for at
/// most `timeout` ([`Error::NotReady`]).
pub(crate) fn wait_processed(
    rest: &Rest<'_>,
    id: &str,
    timeout: Duration,
) -> Result<FileDescriptor> {
    let clock = &*rest.engine.clock;
    let started = clock.now();
    let mut polls = Polls::new();
    loop {
        let wait = match get_file(rest, id) {
            Ok(file) if processed(&file) => return Ok(file),
            // PENDING, or a status this crate does not know yet: still processing.
            read => polls.after(read)?,
        };
        let waited = clock.now().duration_since(started).unwrap_or_default();
        if waited >= timeout {
            return Err(Error::NotReady {
                file_id: id.into(),
                waited,
            });
        }
        log::debug!("file {id} is not ready yet; reading it again in {wait:?}");
        if !sleep_unless_aborted(clock, wait.min(timeout - waited), rest.abort) {
            return Err(Error::Aborted);
        }
    }
}

/// Whether Wix is done with the file: `READY` or `FAILED`.
pub(crate) fn processed(file: &FileDescriptor) -> bool {
    matches!(
        file.operation_status,
        Some(OperationStatus::Ready | OperationStatus::Failed)
    )
}

/// A processed file that is not `READY` as [`Error::ProcessingFailed`].
pub(crate) fn ready(file: FileDescriptor) -> Result<FileDescriptor> {
    match file.operation_status {
        Some(OperationStatus::Failed) => Err(Error::ProcessingFailed {
            file_id: file.id.as_deref().unwrap_or("?").into(),
        }),
        _ => Ok(file),
    }
}
