//! Waiting until Wix has processed many files: they are read together, with get-files (100
//! ids a request), not one get-file-by-id each, and only those still pending are read again.

use std::time::Duration;

use super::get_files::get_each;
use crate::control::sleep_unless_aborted;
use crate::error::{Error, Result};
use crate::wix::FileDescriptor;
use crate::wix::processing::{FileRef, Polls, processed};
use crate::wix::rest::Rest;

/// One file waited for: its id and what Wix said of it last.
struct Slot<'a> {
    id: &'a str,
    file: Option<FileDescriptor>,
}

impl Slot<'_> {
    fn done(&self) -> bool {
        self.file.as_ref().is_some_and(processed)
    }
}

/// The slots of `files`; a descriptor without id is refused.
fn slots<'a>(files: &[FileRef<'a>]) -> Result<Vec<Slot<'a>>> {
    files
        .iter()
        .map(|f| match *f {
            FileRef::Id(id) => Ok(Slot { id, file: None }),
            FileRef::File(file) => match file.id.as_deref() {
                Some(id) => Ok(Slot {
                    id,
                    file: Some(file.clone()),
                }),
                None if processed(file) => Ok(Slot {
                    id: "",
                    file: Some(file.clone()),
                }),
                None => Err(Error::InvalidInput("a file descriptor without id".into())),
            },
        })
        .collect()
}

/// Reads `files` until each is processed (`READY` or `FAILED`) or `timeout` passes; their
/// last descriptors, in order. A file never read by then is [`Error::NotReady`].
pub(crate) fn wait_processed_all(
    rest: &Rest<'_>,
    files: &[FileRef<'_>],
    timeout: Duration,
) -> Result<Vec<FileDescriptor>> {
    let mut slots = slots(files)?;
    let clock = &*rest.engine.clock;
    let started = clock.now();
    let mut polls = Polls::new();
    while !slots.iter().all(Slot::done) {
        let wait = match read_pending(rest, &mut slots) {
            Ok(()) if slots.iter().all(Slot::done) => break,
            read => polls.after(read)?,
        };
        let waited = clock.now().duration_since(started).unwrap_or_default();
        if waited >= timeout {
            break;
        }
        let pending = slots.iter().filter(|s| !s.done()).count();
        log::debug!("{pending} files are not processed yet; reading them again in {wait:?}");
        if !sleep_unless_aborted(clock, wait.min(timeout - waited), rest.abort) {
            return Err(Error::Aborted);
        }
    }
    let waited = clock.now().duration_since(started).unwrap_or_default();
    slots
        .into_iter()
        .map(|s| match s.file {
            Some(file) => Ok(file),
            None => Err(Error::NotReady {
                file_id: s.id.into(),
                waited,
            }),
        })
        .collect()
}

/// Reads the files not processed yet, in requests of up to 100.
fn read_pending(rest: &Rest<'_>, slots: &mut [Slot<'_>]) -> Result<()> {
    let pending: Vec<usize> = (0..slots.len()).filter(|&i| !slots[i].done()).collect();
    let ids: Vec<&str> = pending.iter().map(|&i| slots[i].id).collect();
    for (i, file) in pending.into_iter().zip(get_each(rest, &ids)?) {
        if file.is_some() {
            slots[i].file = file;
        }
    }
    Ok(())
}
