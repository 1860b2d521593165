//! State directories of uploads (`DirStore`): what is in them, and records to put there.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use wix_media_upload::{Record, Secret, Source};

/// Every record in a state directory (its `*.json` files, parsed; unreadable ones as `null`),
/// sorted by path.
pub fn records(dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(PathBuf, serde_json::Value)> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let rec = fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            (p, rec)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The records of unfinished uploads in a state directory (a finished upload's record is kept,
/// marked `completed_at`, for a writer that waited for it).
pub fn unfinished_records(dir: &Path) -> Vec<PathBuf> {
    records(dir)
        .into_iter()
        .filter(|(_, rec)| rec["completed_at"].is_null())
        .map(|(p, _)| p)
        .collect()
}

/// Checks that every record left in a state directory is of a finished upload (kept for a
/// second writer that waited for it: see `StateStore::lock`).
pub fn assert_only_finished_records(dir: &Path) {
    for (path, rec) in records(dir) {
        assert!(
            rec["completed_at"].is_u64(),
            "an unfinished record outlived the upload: {}: {rec}",
            path.display()
        );
    }
}

/// The key an uploader saves the record of an upload of `source` to `endpoint` under.
pub fn state_key(endpoint: &str, source: &Source) -> String {
    format!(
        "{endpoint}\n{}",
        source.key().expect("the source has a key")
    )
}

/// [`state_key`] of a file.
pub fn file_state_key(endpoint: &str, file: &Path) -> String {
    state_key(endpoint, &Source::file(file).expect("open the file"))
}

/// A record of an unfinished upload of `length` bytes at `upload_url` (made at `endpoint`),
/// `offset` of them acknowledged, with `metadata`; a `token` entry is marked secret, as the
/// Wix upload's is. Other fields (`created_at`, `expires_at`...) are for the caller to set.
pub fn record(
    key: &str,
    endpoint: &str,
    upload_url: &str,
    length: u64,
    offset: u64,
    metadata: &[(&str, &str)],
) -> Record {
    let mut rec = Record::new(key, endpoint, upload_url, Some(length));
    rec.offset = offset;
    rec.metadata = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
        .collect();
    rec.secret_keys = metadata
        .iter()
        .filter(|(k, _)| *k == "token")
        .map(|(k, _)| (*k).to_owned())
        .collect();
    rec
}
