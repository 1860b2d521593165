//! The resumable state files of `Uploader::builder().state_dir(..)`: damaged records, file
//! modes and owners. (What a kill during a save leaves behind is a unit test of
//! `src/store.rs`.)
//!
//! A real upload to the official tus server (see `support::TusServer`) is interrupted after its
//! first chunk so that a genuine record exists, then the record is damaged and the upload run
//! again. The warnings are read from the binary's log capture (`support::logs`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::logs;
use crate::support::{TempDir, TempFile, TusServer, temp_file_with};
use wix_media_upload::{AbortHandle, Error, Source, UploadOptions, Uploader};

const MIB: usize = 1024 * 1024;

fn capture_logs() {
    logs::install();
}

/// Captured warnings that mention `needle` (tests run in parallel: each looks for its paths).
fn warnings_about(needle: &str) -> Vec<String> {
    logs::ours_about(log::Level::Warn, needle)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Whether this process may give a file to another user (root may). CI runs as root: there
/// (`CI=true`) a test that needs it fails instead of skipping that part.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // A file we create is owned by our effective uid.
    let probe = TempDir::new("wmu-uid");
    let root = fs::metadata(probe.path()).unwrap().uid() == 0;
    assert!(
        root || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but not root: the tests of files owned by another user would be skipped"
    );
    root
}

/// The one record file in `dir`.
fn record_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

/// An upload, in 1 MiB chunks, of `file` with its state in `state`: aborted once `stop_after`
/// bytes are acknowledged, or run to the end.
fn upload(
    server: &TusServer,
    state: &Path,
    file: &Path,
    stop_after: Option<u64>,
) -> wix_media_upload::Result<wix_media_upload::Uploaded> {
    let uploader = Uploader::builder()
        .chunk_size(MIB as u64)
        .state_dir(state)
        .build()?;
    let abort = AbortHandle::new();
    let handle = abort.clone();
    let mut options = UploadOptions::new()
        .metadata("filename", "f.bin")
        .abort(abort);
    if let Some(n) = stop_after {
        options = options.progress(move |p| {
            if p.acked >= n {
                handle.abort();
            }
        });
    }
    uploader.upload(&server.endpoint(), Source::file(file).unwrap(), options)
}

/// A file whose upload was interrupted after its first chunk: the record is on disk.
fn interrupted(server: &TusServer, state: &Path, len: usize, seed: u64) -> (TempFile, Vec<u8>) {
    let (file, bytes) = temp_file_with(len, seed);
    let err = upload(server, state, file.path(), Some(MIB as u64)).unwrap_err();
    assert!(matches!(err, Error::Aborted), "{err:?}");
    record_file(state);
    (file, bytes)
}

/// Runs the upload again and checks it started anew and stored the file.
fn fresh_upload_succeeds(server: &TusServer, state: &Path, file: &Path, bytes: &[u8]) {
    let before = server.uploads().len();
    let done = upload(server, state, file, None).unwrap();
    assert_eq!(
        done.resumed_from, None,
        "a damaged record must not be resumed"
    );
    assert_eq!(done.size, bytes.len() as u64);
    assert_eq!(server.stored_bytes(&done.url), bytes);
    assert_eq!(server.uploads().len(), before + 1, "a new upload was made");
}

/// A record cut short (a writer without the temp-file dance, a full disk, a crash of the file
/// system) is reported with a warning, dropped, and the upload starts anew and succeeds.
#[test]
fn a_truncated_record_is_reported_and_replaced() {
    capture_logs();
    let server = TusServer::start();
    for (case, keep) in [("half", Some(2)), ("empty", None)] {
        let state = TempDir::new(&format!("wmu-trunc-{case}"));
        let (file, bytes) = interrupted(&server, state.path(), 3 * MIB, 21);
        let rec = record_file(state.path());
        let full = fs::read(&rec).unwrap();
        let cut = keep.map_or(0, |k| full.len() / k);
        fs::OpenOptions::new()
            .write(true)
            .open(&rec)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        fresh_upload_succeeds(&server, state.path(), file.path(), &bytes);
        let warned = warnings_about(&rec.display().to_string());
        assert!(
            warned.iter().any(|w| w.contains("corrupt")),
            "{case}: no warning about {}: {warned:?}",
            rec.display()
        );
        // Nothing damaged is left: only the finished upload's record, marked so.
        let left: serde_json::Value = serde_json::from_slice(&fs::read(&rec).unwrap()).unwrap();
        assert!(left["completed_at_ms"].is_u64(), "{case}: {left}");
    }
}

// --- (2) corrupt records -------------------------------------------------------------------

#[test]
fn a_corrupt_record_is_not_trusted() {
    capture_logs();
    let server = TusServer::start();
    let cases: [(&str, &[u8]); 4] = [
        ("garbage", b"\x00\xff\xfe garbage"),
        ("not-an-object", b"[1, 2, 3]"),
        ("wrong-types", br#"{"key": 5, "offset": "many"}"#),
        ("trailing", b"{}}}"),
    ];
    for (i, (case, content)) in cases.into_iter().enumerate() {
        let state = TempDir::new(&format!("wmu-corrupt-{case}"));
        let (file, bytes) = interrupted(&server, state.path(), 2 * MIB + 5, 30 + i as u64);
        let rec = record_file(state.path());
        fs::write(&rec, content).unwrap();
        fresh_upload_succeeds(&server, state.path(), file.path(), &bytes);
        assert!(
            !warnings_about(&rec.display().to_string()).is_empty(),
            "{case}: not reported"
        );
    }
}

// --- (3) modes -----------------------------------------------------------------------------

#[test]
fn the_state_dir_is_created_0700_and_records_0600() {
    let server = TusServer::start();
    let base = TempDir::new("wmu-modes");
    let state = base.join("a").join("b");
    let _kept = interrupted(&server, &state, 2 * MIB, 40);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(
        mode(&base.join("a")),
        0o700,
        "created parents are private too"
    );
    let rec = record_file(&state);
    assert_eq!(mode(&rec), 0o600);
    // Nothing but the record and its lock file is left (no temp files).
    let lock = rec.with_extension("lock");
    assert_eq!(mode(&lock), 0o600);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 2);
}

#[test]
fn a_record_readable_by_others_is_refused() {
    let server = TusServer::start();
    let state = TempDir::new("wmu-0644");
    let (file, _) = interrupted(&server, state.path(), 2 * MIB, 41);
    let rec = record_file(state.path());
    for m in [0o644, 0o640, 0o604, 0o660] {
        set_mode(&rec, m);
        let err = upload(&server, state.path(), file.path(), None).unwrap_err();
        match &err {
            Error::Store(e) => assert!(
                e.to_string().contains(&format!("mode {m:o}"))
                    && e.to_string().contains(&rec.display().to_string()),
                "{e}"
            ),
            other => panic!("mode {m:o}: expected Error::Store, got {other:?}"),
        }
    }
    // Nothing was sent: still the one interrupted upload.
    assert_eq!(server.uploads().len(), 1);
    // Tightened again, it resumes.
    set_mode(&rec, 0o600);
    let done = upload(&server, state.path(), file.path(), None).unwrap();
    assert_eq!(done.resumed_from, Some(MIB as u64));
}

// --- (4) owners ----------------------------------------------------------------------------

#[test]
fn a_record_owned_by_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: chown to another uid needs root");
        return;
    }
    let server = TusServer::start();
    let state = TempDir::new("wmu-owner");
    let (file, _) = interrupted(&server, state.path(), 2 * MIB, 42);
    let rec = record_file(state.path());
    std::os::unix::fs::chown(&rec, Some(65534), None).unwrap();
    assert_eq!(mode(&rec), 0o600, "the mode alone would pass");
    let err = upload(&server, state.path(), file.path(), None).unwrap_err();
    match &err {
        Error::Store(e) => assert!(e.to_string().contains("owned by uid 65534"), "{e}"),
        other => panic!("expected Error::Store, got {other:?}"),
    }
    assert_eq!(server.uploads().len(), 1, "nothing was sent");
}

/// Existing state directories: ours and merely listable (`0755`) is tightened to `0700` with an
/// info line (not a warning: nothing is wrong, and the CLI prints warnings); writable by others (`0777`, `/tmp`-like `1777`, `0775`) is refused, as is one owned
/// by another user, or a path that is not a directory.
#[test]
fn existing_state_dirs_are_tightened_or_refused() {
    capture_logs();
    let base = TempDir::new("wmu-dirs");

    for m in [0o755, 0o750, 0o711] {
        let dir = base.join(format!("listable-{m:o}"));
        fs::create_dir(&dir).unwrap();
        set_mode(&dir, m);
        Uploader::builder().state_dir(&dir).build().unwrap();
        assert_eq!(mode(&dir), 0o700, "{m:o} is tightened");
        let said = logs::ours_about(log::Level::Info, &dir.display().to_string());
        assert!(
            said.iter().any(|w| w.contains(&format!("{m:o}"))),
            "{said:?}"
        );
    }

    for m in [0o777, 0o1777, 0o775, 0o757] {
        let dir = base.join(format!("shared-{m:o}"));
        fs::create_dir(&dir).unwrap();
        set_mode(&dir, m);
        // Refused by the uploader's builder, before anything is sent.
        let err = Uploader::builder().state_dir(&dir).build().unwrap_err();
        match &err {
            Error::Store(e) => assert!(e.to_string().contains(&format!("mode {m:o}")), "{e}"),
            other => panic!("{m:o}: expected Error::Store, got {other:?}"),
        }
        assert_eq!(mode(&dir), m, "a shared directory is left as it was");
    }

    let not_dir = base.join("file");
    fs::write(&not_dir, b"x").unwrap();
    let err = Uploader::builder().state_dir(&not_dir).build().unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");

    if is_root() {
        let theirs = base.join("theirs");
        fs::create_dir(&theirs).unwrap();
        set_mode(&theirs, 0o700);
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        match Uploader::builder().state_dir(&theirs).build() {
            Err(Error::Store(e)) => assert!(e.to_string().contains("owned by uid 65534"), "{e}"),
            other => panic!("expected Error::Store, got {other:?}"),
        }
    } else {
        eprintln!("skipped the other-owner case: chown needs root");
    }
}
