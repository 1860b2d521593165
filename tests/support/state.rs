//! Records to put in state directories (`DirStore`), and the keys they are saved under; what
//! is in a state directory is read by `wix_media_testkit::state`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
pub use wix_media_testkit::state::*;
use wix_media_tus::Metadata;
use wix_media_upload::{Record, Source, UploadOptions, Uploader};

/// The key an uploader saves the record of an upload of `source` to `endpoint` under.
pub fn state_key(endpoint: &str, source: &Source) -> String {
    let uploader = Uploader::builder().build().expect("an uploader");
    uploader
        .resume_key(endpoint, source)
        .expect("the source has a key")
}

/// [`state_key`] of a file.
pub fn file_state_key(endpoint: &str, file: &Path) -> String {
    state_key(endpoint, &Source::file(file).expect("open the file"))
}

/// A record of an unfinished upload of `length` bytes at `upload_url` (made at `endpoint`),
/// `offset` of them acknowledged, with `metadata`, as the state file's JSON (format 2, which
/// `Record`'s serde form is): created at the Unix epoch, no expiry; a `token` entry is marked
/// secret, as the Wix upload's is. Change a field, then [`to_record`].
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

/// The record a state file's JSON holds.
pub fn to_record(json: Value) -> Record {
    serde_json::from_value(json).expect("a record")
}

/// A record's JSON form (the state file's), to read its fields.
pub fn json_of(rec: &Record) -> Value {
    serde_json::to_value(rec).expect("a record's JSON")
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
