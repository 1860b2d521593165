//! Where resumable state lives between calls and processes.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

mod format;
pub(crate) mod key;
mod open;
mod record;

pub(crate) use format::unix_ms;
pub(crate) use open::Watched;
pub(crate) use record::Record;
pub(crate) use record::whole_ms;

/// Keeps [`Record`]s by key.
pub(crate) trait StateStore: Send + Sync {
    /// The record under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store can't be read, or holds a record it must not trust.
    fn load(&self, key: &str) -> Result<Option<Record>>;
    /// Saves `record` under its key, replacing what was there.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the record can't be written.
    fn save(&self, record: &Record) -> Result<()>;
    /// Forgets `key` (no error when absent).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the record can't be removed.
    fn remove(&self, key: &str) -> Result<()>;
    /// Takes the exclusive lock of `key` (one writer per upload), or `Ok(None)` when someone
    /// else holds it. The lock is released when the [`StoreLock`] is dropped, and when its
    /// process dies. A store that only one process and one uploader ever use may return
    /// `StoreLock::new(())`, which holds nothing; a wrapper around another store forwards it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the lock can't be taken for another reason than its holder.
    fn try_lock(&self, key: &str) -> Result<Option<StoreLock>>;
    /// Waits for the exclusive lock of `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the lock can't be taken.
    fn lock(&self, key: &str) -> Result<StoreLock>;
}

/// An exclusive lock on one key of a [`StateStore`], released on drop.
pub(crate) struct StoreLock {
    _guard: Box<dyn Send + Sync>,
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLock").finish_non_exhaustive()
    }
}

impl StoreLock {
    /// A lock held as long as `guard` lives (a store's own guard type).
    pub(crate) fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

/// Records in memory (an uploader's default store): they last as long as the store. Its locks
/// work across the threads that share it.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    locks: std::sync::Arc<MemoryLocks>,
}

#[derive(Debug, Default)]
struct MemoryLocks {
    held: Mutex<std::collections::HashSet<String>>,
    freed: std::sync::Condvar,
}

// Releases a `MemoryStore` key on drop.
struct MemoryGuard {
    locks: std::sync::Arc<MemoryLocks>,
    key: String,
}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(&self.key);
        self.locks.freed.notify_all();
    }
}

impl MemoryStore {
    /// An empty store.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StateStore for MemoryStore {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        Ok(self.map().get(key).cloned())
    }

    fn save(&self, record: &Record) -> Result<()> {
        self.map().insert(record.key().to_owned(), record.clone());
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.map().remove(key);
        Ok(())
    }

    fn try_lock(&self, key: &str) -> Result<Option<StoreLock>> {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        if !held.insert(key.to_owned()) {
            return Ok(None);
        }
        Ok(Some(self.guard(key)))
    }

    fn lock(&self, key: &str) -> Result<StoreLock> {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        while !held.insert(key.to_owned()) {
            held = self
                .locks
                .freed
                .wait(held)
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(self.guard(key))
    }
}

impl MemoryStore {
    fn guard(&self, key: &str) -> StoreLock {
        StoreLock::new(MemoryGuard {
            locks: std::sync::Arc::clone(&self.locks),
            key: key.to_owned(),
        })
    }
}

/// One JSON file per upload in a directory (created `0700`; files `0600`, written atomically).
///
/// Records can hold upload tokens, so on Unix the directory and its records must be private:
/// see [`DirStore::new`] for the directory, and a record that is readable by others or owned
/// by another user is refused with [`Error::Store`] instead of being trusted.
///
/// Files hold a [`Record`]'s serde form, which says its format version: records of earlier
/// versions of this crate are read; one of a newer version is refused with [`Error::Store`] and
/// left in place; a damaged one is reported (a warning), removed, and the upload starts anew.
#[derive(Debug, Clone)]
pub(crate) struct DirStore {
    dir: PathBuf,
    // The uid records must belong to (Unix): this process's effective uid where it can be
    // read, else the directory's owner.
    owner: Option<u32>,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl DirStore {
    /// Uses `dir`, creating it (mode `0700`) when missing.
    ///
    /// On Unix an existing directory must be private too:
    /// - owned by another user: refused ([`Error::Store`]);
    /// - writable by group or others (`/tmp`, mode `0775`, ...): refused, since others could
    ///   plant or replace records, and tightening a shared directory is not ours to do;
    /// - ours and only readable or listable by others (such as `0755`): tightened to `0700`,
    ///   with a warning.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the directory can't be created, or is not private as said above.
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| store_err(&dir, "cannot create the state directory", &e))?;
        let owner = secure_dir(&dir)?;
        remove_stale_temp_files(&dir);
        let store = Self { dir, owner };
        store.remove_old_finished_records();
        Ok(store)
    }

    /// The file a key's record lives in.
    pub(crate) fn path_for(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!("{:016x}.json", fnv1a(key.as_bytes())))
    }
}

impl StateStore for DirStore {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        let path = self.path_for(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_err(&path, "cannot read", &e)),
        };
        check_private(&path, self.owner)?;
        match serde_json::from_slice::<Record>(&bytes) {
            Ok(rec) if rec.key() == key => Ok(Some(rec)),
            // A hash collision: not ours.
            Ok(_) => Ok(None),
            Err(e) => {
                // A newer version's record: not ours to drop, nor to guess at.
                if let Some(v) = format::newer_version(&bytes) {
                    return Err(Error::store(format!(
                        "refusing {}: {}",
                        path.display(),
                        format::FormatError::Newer(v)
                    )));
                }
                // A damaged record is not trusted: the upload starts over and replaces it.
                log::warn!("ignoring corrupt state file {}: {e}", path.display());
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    fn save(&self, record: &Record) -> Result<()> {
        let path = self.path_for(record.key());
        let json = serde_json::to_vec(record)
            .map_err(|e| Error::store_with("cannot encode a record", e))?;
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        // A temp file of this name can be left over by a process that was killed while saving
        // and had our pid (pids are reused; in a container every run may get the same one):
        // take the next name rather than fail for good.
        let mut attempts = 0;
        let (tmp, mut f) = loop {
            let tmp = self.dir.join(format!(
                ".{:016x}.{}.{}.tmp",
                fnv1a(record.key().as_bytes()),
                std::process::id(),
                TMP_SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            match opts.open(&tmp) {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 1000 => {
                    attempts += 1;
                }
                Err(e) => return Err(store_err(&tmp, "cannot create", &e)),
            }
        };
        let mut write = || -> std::io::Result<()> {
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            store_err(&path, "cannot write", &e)
        })
    }

    fn remove(&self, key: &str) -> Result<()> {
        let path = self.path_for(key);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(store_err(&path, "cannot remove", &e))
            }
            _ => Ok(()),
        }
    }

    fn try_lock(&self, key: &str) -> Result<Option<StoreLock>> {
        let (path, file) = self.lock_file(key)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(StoreLock::new(file))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(store_err(&path, "cannot lock", &e)),
        }
    }

    fn lock(&self, key: &str) -> Result<StoreLock> {
        let (path, file) = self.lock_file(key)?;
        file.lock()
            .map_err(|e| store_err(&path, "cannot lock", &e))?;
        Ok(StoreLock::new(file))
    }
}

impl DirStore {
    // Finished uploads' records are kept for writers that wait for them, which come within the
    // hour; older ones (and their lock files) go.
    fn remove_old_finished_records(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") || !older_than(&entry, FINISHED_KEPT) {
                continue;
            }
            let finished = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
                .is_some_and(|r| r.completed_at().is_some());
            if finished {
                let _ = fs::remove_file(&path);
                let _ = fs::remove_file(path.with_extension("lock"));
            }
        }
    }

    // The file whose advisory lock (flock) stands for the key's; the kernel releases it when
    // the process dies, so a killed holder never blocks anyone.
    fn lock_file(&self, key: &str) -> Result<(PathBuf, fs::File)> {
        let path = self
            .dir
            .join(format!("{:016x}.lock", fnv1a(key.as_bytes())));
        let mut opts = fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts
            .open(&path)
            .map_err(|e| store_err(&path, "cannot open", &e))?;
        Ok((path, file))
    }
}

// Records can hold upload tokens: a file others can read, or that another user owns (and so
// may have planted), is refused, not trusted.
fn check_private(path: &Path, owner: Option<u32>) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = fs::metadata(path).map_err(|e| store_err(path, "cannot stat", &e))?;
        if let Some(owner) = owner.filter(|o| *o != meta.uid()) {
            return Err(Error::store(format!(
                "refusing {}: it is owned by uid {}, not by uid {owner} (this process)",
                path.display(),
                meta.uid()
            )));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::store(format!(
                "refusing {}: mode {mode:o} lets other users read it (expected 600)",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, owner);
    Ok(())
}

// Checks an existing state directory (see `DirStore::new`); returns the uid records must have.
#[cfg(unix)]
fn secure_dir(dir: &Path) -> Result<Option<u32>> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::metadata(dir).map_err(|e| store_err(dir, "cannot stat", &e))?;
    if !meta.is_dir() {
        return Err(Error::store(format!(
            "the state directory {} is not a directory",
            dir.display()
        )));
    }
    let me = effective_uid().unwrap_or(meta.uid());
    if meta.uid() != me {
        return Err(Error::store(format!(
            "refusing the state directory {}: it is owned by uid {}, not by uid {me} (this \
             process)",
            dir.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Error::store(format!(
            "refusing the state directory {}: mode {mode:o} lets other users write to it \
             (use a private directory, mode 700)",
            dir.display()
        )));
    }
    if mode & 0o077 != 0 {
        log::info!(
            "the state directory {} had mode {mode:o}: tightening it to 700",
            dir.display()
        );
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| store_err(dir, "cannot make private", &e))?;
    }
    Ok(Some(me))
}

#[cfg(not(unix))]
fn secure_dir(_dir: &Path) -> Result<Option<u32>> {
    Ok(None)
}

// The effective uid, from `/proc/self/status` (`Uid: real effective saved fs`): std has no
// geteuid and this crate has no unsafe code.
#[cfg(target_os = "linux")]
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

// Elsewhere the directory's owner stands in: it is the process's uid when the directory was
// just created.
#[cfg(all(unix, not(target_os = "linux")))]
fn effective_uid() -> Option<u32> {
    None
}

fn store_err(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::store(format!("{what} {}: {e}", path.display()))
}

/// A save writes its temp file in milliseconds; one this old was left by a killed process. It
/// holds a copy of a record (and so maybe a token): don't leave it lying around.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(600);

fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        if older_than(&entry, STALE_TEMP) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// How long a finished upload's record is kept.
pub(crate) const FINISHED_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

fn older_than(entry: &fs::DirEntry, age: std::time::Duration) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|a| a > age)
}

// Stable across processes and Rust versions, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> Record {
        let meta = wix_media_tus::Metadata::new()
            .with_secret("token", "S3CRET")
            .unwrap();
        Record::new(key, "http://h/files", "http://h/files/1", Some(10))
            .with_offset(4)
            .with_created_at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1))
            .with_metadata(&meta)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wmu-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn memory_round_trip() {
        let s = MemoryStore::new();
        assert_eq!(s.load("k").unwrap(), None);
        s.save(&record("k")).unwrap();
        assert_eq!(s.load("k").unwrap(), Some(record("k")));
        s.remove("k").unwrap();
        assert_eq!(s.load("k").unwrap(), None);
    }

    #[test]
    fn times_are_kept_to_the_millisecond_so_a_saved_record_loads_equal() {
        use std::time::{Duration, UNIX_EPOCH};
        let d = temp_dir("ms");
        let s = DirStore::new(&d).unwrap();
        let at = UNIX_EPOCH + Duration::from_nanos(1_800_000_000_123_456_789);
        let rec = record("k")
            .with_created_at(at)
            .with_expires_at(Some(at + Duration::from_secs(3600)));
        let ms = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        assert_eq!(rec.created_at(), ms);
        assert_eq!(rec.expires_at(), Some(ms + Duration::from_secs(3600)));
        s.save(&rec).unwrap();
        assert_eq!(s.load("k").unwrap(), Some(rec));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dir_round_trip_with_private_modes() {
        let d = temp_dir("rt");
        let s = DirStore::new(d.join("nested")).unwrap();
        s.save(&record("k")).unwrap();
        s.save(&record("k")).unwrap();
        assert_eq!(s.load("k").unwrap(), Some(record("k")));
        assert_eq!(s.load("other").unwrap(), None);
        // The file holds the record's serde form (the current format, version and all).
        let file: serde_json::Value =
            serde_json::from_slice(&fs::read(s.path_for("k")).unwrap()).unwrap();
        assert_eq!(file, serde_json::to_value(record("k")).unwrap());
        assert_eq!(file["version"], 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&s.path_for("k")), 0o600);
            assert_eq!(mode(&d.join("nested")), 0o700);
        }
        // No temp files are left behind.
        assert_eq!(fs::read_dir(d.join("nested")).unwrap().count(), 1);
        s.remove("k").unwrap();
        s.remove("k").unwrap();
        assert_eq!(s.load("k").unwrap(), None);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_temp_files_are_removed_fresh_ones_kept() {
        let d = temp_dir("stale");
        fs::create_dir_all(&d).unwrap();
        let (old, new) = (d.join(".abc.1.0.tmp"), d.join(".abc.2.0.tmp"));
        fs::write(&old, b"x").unwrap();
        fs::write(&new, b"x").unwrap();
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        DirStore::new(&d).unwrap();
        assert!(!old.exists() && new.exists());
        fs::remove_dir_all(&d).unwrap();
    }

    /// A save writes `.<hash>.<pid>.<n>.tmp` and renames it over `<hash>.json`: a kill before
    /// the rename leaves the temp file and the previous record intact.
    #[test]
    fn a_temp_file_left_by_a_killed_save_is_ignored() {
        let d = temp_dir("stray");
        let store = DirStore::new(&d).unwrap();
        let rec = record("k");
        store.save(&rec).unwrap();
        let path = store.path_for("k");
        let hash = path.file_stem().unwrap().to_str().unwrap().to_owned();
        // A half-written record of another (dead) process, and plain garbage.
        let full = fs::read(&path).unwrap();
        fs::write(
            d.join(format!(".{hash}.999999.0.tmp")),
            &full[..full.len() / 2],
        )
        .unwrap();
        fs::write(d.join(format!(".{hash}.999998.7.tmp")), b"\x00\xffnot json").unwrap();

        assert_eq!(store.load("k").unwrap(), Some(rec));
        let newer = record("k").with_offset(8);
        store.save(&newer).unwrap();
        assert_eq!(store.load("k").unwrap(), Some(newer.clone()));
        // A new store (another process) reads the same.
        assert_eq!(DirStore::new(&d).unwrap().load("k").unwrap(), Some(newer));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        fs::remove_dir_all(&d).unwrap();
    }

    /// A save killed by SIGKILL leaves `.<hash>.<pid>.0.tmp`; pids are reused (a container may
    /// give every run the same one), so a later process with that pid must still be able to
    /// save. Runs in a child process of this test binary, whose temp-file sequence starts at 0.
    #[test]
    fn a_temp_file_with_our_own_pid_does_not_block_saving() {
        const CHILD: &str = "WMU_STORE_CHILD_DIR";
        let name = "store::tests::a_temp_file_with_our_own_pid_does_not_block_saving";
        if let Some(dir) = std::env::var_os(CHILD) {
            let dir = PathBuf::from(dir);
            let store = DirStore::new(&dir).unwrap();
            let path = store.path_for("k");
            let hash = path.file_stem().unwrap().to_str().unwrap();
            for n in 0..3 {
                let stray = dir.join(format!(".{hash}.{}.{n}.tmp", std::process::id()));
                fs::write(stray, b"{\"key\":\"k\",\"endp").unwrap();
            }
            store.save(&record("k")).unwrap();
            assert_eq!(store.load("k").unwrap(), Some(record("k")));
            return;
        }
        let d = temp_dir("stray-pid");
        fs::create_dir_all(&d).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, &d)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(text.contains("1 passed"), "the child ran nothing:\n{text}");
        assert_eq!(
            DirStore::new(&d).unwrap().load("k").unwrap(),
            Some(record("k"))
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_records_are_dropped() {
        let d = temp_dir("corrupt");
        let s = DirStore::new(&d).unwrap();
        s.save(&record("k")).unwrap();
        let p = s.path_for("k");
        let full = fs::read(&p).unwrap();
        fs::write(&p, &full[..full.len() / 2]).unwrap();
        assert_eq!(s.load("k").unwrap(), None);
        assert!(!p.exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = temp_dir("perm");
        let s = DirStore::new(&d).unwrap();
        s.save(&record("k")).unwrap();
        fs::set_permissions(s.path_for("k"), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(s.load("k"), Err(Error::Store(_))));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn debug_hides_the_token() {
        let dbg = format!("{:?}", record("k"));
        assert!(!dbg.contains("S3CRET"), "{dbg}");
    }
}
