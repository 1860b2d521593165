//! Records to put in state directories (`Uploader::builder().state_dir(..)`) and to read
//! there, as their files' JSON, and the keys they are saved under; what is in a state
//! directory as a whole is read by `wix_media_testkit::state`.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
pub use wix_media_testkit::state::*;
use wix_media_tus::Metadata;
use wix_media_upload::UploadOptions;

/// The key an uploader saves the record of an upload of `file` to `endpoint` under: the
/// endpoint, then the file's canonical path, size and modification time (nanoseconds). Part
/// of the state directory's format, as the file's name is: an upgrade must find the same one.
pub fn file_state_key(endpoint: &str, file: &Path) -> String {
    let canonical = std::fs::canonicalize(file).expect("the file's path");
    let meta = std::fs::metadata(file).expect("the file's metadata");
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "{endpoint}\nfile:{}:{}:{mtime}",
        canonical.display(),
        meta.len()
    )
}

/// The key of an upload to `endpoint` of a source given `key` (`Source::with_key`).
pub fn keyed_state_key(endpoint: &str, key: &str) -> String {
    format!("{endpoint}\nkey:{key}")
}

/// A record of an unfinished upload of `length` bytes at `upload_url` (made at `endpoint`),
/// `offset` of them acknowledged, with `metadata`, as the state file's JSON (format 2):
/// created at the Unix epoch, no expiry; a `token` entry is marked secret, as the Wix
/// upload's is. Change a field, then [`plant`] it.
pub fn record_json(
    key: &str,
    endpoint: &str,
    upload_url: &str,
    length: u64,
    offset: u64,
    metadata: &[(&str, &str)],
) -> Value {
    let secret: Vec<&str> = metadata
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| *k == "token")
        .collect();
    json!({
        "version": 2, "key": key, "endpoint": endpoint, "upload_url": upload_url,
        "length": length, "offset": offset, "created_at_ms": 0, "expires_at_ms": null,
        "metadata": metadata, "secret_keys": secret, "chunk_size": null,
        "completed_at_ms": null, "result": null, "finished_by": null
    })
}

/// Writes `json` as the record file of its key in the state directory `dir` (made private
/// when missing, as an uploader makes it), as this crate's store does, or an earlier version
/// of it did: mode 0600.
pub fn plant(dir: &Path, json: &Value) {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).expect("the state directory");
    let key = json["key"].as_str().expect("a key");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(record_path(dir, key))
        .expect("the record file");
    f.write_all(json.to_string().as_bytes())
        .expect("write the record");
}

/// The record of `key` in the state directory `dir`, as its file's JSON; `None` when there
/// is none.
pub fn load(dir: &Path, key: &str) -> Option<Value> {
    let bytes = match std::fs::read(record_path(dir, key)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("reading the record of {key:?}: {e}"),
    };
    Some(serde_json::from_slice(&bytes).expect("a record's JSON"))
}

/// The value of `key` in the metadata of a record's JSON form.
pub fn metadata_value<'a>(rec: &'a Value, key: &str) -> Option<&'a str> {
    rec["metadata"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == key)?[1]
        .as_str()
}

/// The file a `DirStore` in `dir` keeps the record of `key` in: named by the key's 64-bit
/// FNV-1a hash (part of the state directory's format: an upgrade must find the same file).
pub fn record_path(dir: &Path, key: &str) -> std::path::PathBuf {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    dir.join(format!("{hash:016x}.json"))
}

/// The lock file of `key` in the state directory `dir`, open: the store takes an flock on it
/// for the one writer of the key (named as the record, `.lock`; part of the format too).
fn lock_file(dir: &Path, key: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(record_path(dir, key).with_extension("lock"))
        .expect("the lock file")
}

/// Takes the lock of `key` in `dir`, as another writer (another process) would, waiting for
/// it; held until the file is dropped.
pub fn hold_lock(dir: &Path, key: &str) -> std::fs::File {
    let file = lock_file(dir, key);
    file.lock().expect("the lock");
    file
}

/// Takes the lock of `key` in `dir` if no one holds it.
pub fn try_hold_lock(dir: &Path, key: &str) -> Option<std::fs::File> {
    let file = lock_file(dir, key);
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(std::fs::TryLockError::WouldBlock) => None,
        Err(std::fs::TryLockError::Error(e)) => panic!("locking {key:?}: {e}"),
    }
}

/// A time as records keep it: milliseconds since the Unix epoch.
pub fn ms(t: SystemTime) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).expect("after the epoch");
    u64::try_from(since.as_millis()).expect("a time records can hold")
}

/// Upload options with every pair of `meta` (its secrets stay secret).
pub fn with_metadata<'a>(options: UploadOptions<'a>, meta: &Metadata) -> UploadOptions<'a> {
    meta.iter().fold(options, |o, (k, v)| {
        if meta.is_secret(k) {
            o.secret_metadata(k, v)
        } else {
            o.metadata(k, v)
        }
    })
}
