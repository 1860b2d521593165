//! State directories of uploads: the records in them, as JSON.

use std::fs;
use std::path::{Path, PathBuf};

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
/// marked `completed_at_ms`, for a writer that waited for it).
pub fn unfinished_records(dir: &Path) -> Vec<PathBuf> {
    records(dir)
        .into_iter()
        .filter(|(_, rec)| rec["completed_at_ms"].is_null())
        .map(|(p, _)| p)
        .collect()
}

/// Checks that every record left in a state directory is of a finished upload (kept for a
/// second writer that waited for it).
pub fn assert_only_finished_records(dir: &Path) {
    for (path, rec) in records(dir) {
        assert!(
            rec["completed_at_ms"].is_u64(),
            "an unfinished record outlived the upload: {}: {rec}",
            path.display()
        );
    }
}
