//! Never a mixed file: an upload is interrupted, its source is rewritten in place with its
//! size and mtime put back (what `touch -r`, `cp -p` or `rsync -t` leave), and the upload is
//! resumed: the server ends with exactly the new bytes, in a new upload. The record keeps the
//! MD5 of the bytes the server acknowledged and the file's stamp (device, inode, ctime): a
//! changed prefix, or a changed stamp while the server holds bytes past the checked prefix,
//! starts anew. Unchanged, the upload resumes where the server is.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use wix_media_upload::{UploadOptions, Uploaded, Uploader, UploaderBuilder};

use crate::support::upload::{abort_when, upload_aborted, upload_file};
use crate::support::{TempDir, TusServer, temp_file_with};

const MIB: usize = 1024 * 1024;

/// Writes `byte` at `at` in place, then puts the mtime back, until the file's ctime moved
/// (a coarse clock may need a second write): the file keeps its size and mtime.
fn rewrite_keeping_size_and_mtime(path: &Path, at: u64, byte: u8) {
    let before = fs::metadata(path).unwrap();
    let mtime = before.modified().unwrap();
    for _ in 0..500 {
        let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[byte]).unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        let after = fs::metadata(path).unwrap();
        assert_eq!(
            (after.len(), after.modified().unwrap()),
            (before.len(), mtime)
        );
        if (after.ctime(), after.ctime_nsec()) != (before.ctime(), before.ctime_nsec()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the ctime of {} never moved", path.display());
}

/// A run of the second process: a new uploader on `state` uploads `file` again.
fn rerun(builder: UploaderBuilder, endpoint: &str, file: &Path, state: &Path) -> Uploaded {
    let up = builder.state_dir(state).build().unwrap();
    upload_file(&up, endpoint, file, UploadOptions::new()).expect("the rerun uploads")
}

#[test]
fn an_edit_within_the_acknowledged_prefix_starts_a_new_upload() {
    let server = TusServer::start();
    let state = TempDir::new("wmu-mixed");
    let (file, mut bytes) = temp_file_with(4 * MIB, 16);
    let endpoint = server.endpoint();
    let chunked = || Uploader::builder().chunk_size(256 * 1024);
    let first = chunked().state_dir(state.path()).build().unwrap();
    let options = abort_when(UploadOptions::new(), |p| p.acked >= 2 * MIB as u64);
    upload_aborted(&first, &endpoint, file.path(), options);
    let old = server.uploads();
    assert_eq!(old.len(), 1);
    assert!(server.stored_bytes(&old[0]).len() >= 2 * MIB);

    rewrite_keeping_size_and_mtime(file.path(), 100, !bytes[100]);
    bytes[100] = !bytes[100];
    let done = rerun(chunked(), &endpoint, file.path(), state.path());
    assert_eq!(done.resumed_from, None, "a new upload, not a resume");
    assert_ne!(wix_media_testkit::upload_id(&done.url), old[0]);
    assert_eq!(
        server.stored_bytes(&done.url),
        bytes,
        "exactly the new version"
    );
}

#[test]
fn an_edit_past_the_checked_prefix_starts_a_new_upload_unless_nothing_changed() {
    for edit in [true, false] {
        let server = TusServer::start();
        let state = TempDir::new("wmu-mixed");
        let (file, mut bytes) = temp_file_with(8 * MIB, 17);
        let endpoint = server.endpoint();
        // One PATCH for the whole file, stopped part-way: the record knows offset 0, the
        // server keeps what arrived.
        let first = Uploader::builder().state_dir(state.path()).build().unwrap();
        let options = abort_when(UploadOptions::new(), |p| p.sent >= 3 * MIB as u64);
        upload_aborted(&first, &endpoint, file.path(), options);
        let old = server.uploads();
        let held = server.stored_bytes(&old[0]).len();
        assert!(held > MIB, "{held}");

        if edit {
            // Inside the part the server holds, which no digest covers.
            rewrite_keeping_size_and_mtime(file.path(), MIB as u64, !bytes[MIB]);
            bytes[MIB] = !bytes[MIB];
        }
        let done = rerun(Uploader::builder(), &endpoint, file.path(), state.path());
        assert_eq!(server.stored_bytes(&done.url), bytes, "edit: {edit}");
        if edit {
            assert_eq!(done.resumed_from, None);
            assert_eq!(server.uploads().len(), 2);
        } else {
            assert_eq!(done.resumed_from, Some(held as u64));
            assert_eq!(server.uploads().len(), 1);
        }
    }
}
