//! What a finished upload of the Wix client keeps in its job's record, so that a second writer
//! that waited for it returns the same file. The store keeps it without reading it.

use serde::{Deserialize, Serialize};

use super::client::{Route, WixUpload};
use super::types::FileDescriptor;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::Record;

/// The record's result: `{"file": descriptor, "route": "simple" | "resumable"}` (as 0.1.0
/// wrote it too), and since 0.2 `"md5"`: the source's MD5 (32 hex digits) when known.
#[derive(Serialize, Deserialize)]
struct Finished<F> {
    file: F,
    route: FinishedRoute,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    md5: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FinishedRoute {
    Simple,
    Resumable,
}

/// Keeps `done` as the outcome of the job under `key` (a file of `size` bytes and `stamp`, to
/// the Wix API at `api_base`), for a later upload of the same job.
pub(super) fn keep(
    engine: &Engine,
    key: String,
    (api_base, size, stamp): (&str, u64, Option<String>),
    done: &WixUpload,
) -> Result<()> {
    let rec = Record::new(key, api_base, "", Some(size))
        .with_offset(size)
        .with_source_stamp(stamp);
    engine.finished(rec, Some(result(done)?))
}

/// The upload another writer finished, from its job's record (`None`: not a Wix job's).
pub(super) fn read(rec: &Record) -> Option<WixUpload> {
    let kept: Finished<FileDescriptor> = serde_json::from_value(rec.result()?.clone()).ok()?;
    Some(WixUpload {
        file: kept.file,
        route: match kept.route {
            FinishedRoute::Simple => Route::Simple,
            FinishedRoute::Resumable => Route::Resumable,
        },
        resumed_from: None,
        content_md5: kept.md5.filter(|m| crate::digest::parse_hex(m).is_some()),
    })
}

fn result(done: &WixUpload) -> Result<serde_json::Value> {
    let route = match done.route {
        Route::Simple => FinishedRoute::Simple,
        _ => FinishedRoute::Resumable,
    };
    let kept = Finished {
        file: &done.file,
        route,
        md5: done.content_md5.clone(),
    };
    serde_json::to_value(kept).map_err(|e| Error::store_with("cannot encode the Wix file", e))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn v1(name: &str) -> Record {
        let path = format!(
            "{}/tests/fixtures/state-v1/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn finished_records_of_format_1_give_the_file_and_route() {
        for (name, route, id) in [
            (
                "wix-finished-simple.json",
                Route::Simple,
                "3c0c38_8fb00b7a4b8bf63b4a9706dfa39f9f1b~mv2.png",
            ),
            (
                "wix-finished-resumable.json",
                Route::Resumable,
                "3c0c38_5ce5efecb75b439f007d213dd2abaaff~mv2.mp4",
            ),
        ] {
            let done = read(&v1(name)).expect(name);
            assert_eq!(done.route, route, "{name}");
            assert_eq!(done.file.id.as_deref(), Some(id), "{name}");
            assert_eq!((done.resumed_from, done.content_md5), (None, None));
        }
    }

    #[test]
    fn a_kept_upload_reads_back_through_a_saved_record() {
        for route in [Route::Simple, Route::Resumable] {
            let file: FileDescriptor = serde_json::from_value(serde_json::json!({
                "id": "f1", "displayName": "a.png", "sizeInBytes": "3", "operationStatus": "READY"
            }))
            .unwrap();
            let done = WixUpload {
                file,
                route,
                resumed_from: Some(1),
                content_md5: Some("ab".repeat(16)),
            };
            let rec = Record::new("k", "http://api", "", Some(3)).finished(
                SystemTime::now(),
                "w",
                Some(result(&done).unwrap()),
            );
            let saved: Record = serde_json::from_slice(&serde_json::to_vec(&rec).unwrap()).unwrap();
            let back = read(&saved).unwrap();
            assert_eq!((back.file, back.route), (done.file, route));
            assert_eq!(back.content_md5, done.content_md5);
        }
    }

    #[test]
    fn a_record_without_a_wix_result_gives_nothing() {
        assert!(read(&v1("tus-finished.json")).is_none());
        let odd = Record::new("k", "e", "", None).finished(
            SystemTime::now(),
            "w",
            Some(serde_json::json!({"file": {"id": "f"}, "route": "carrier-pigeon"})),
        );
        assert!(read(&odd).is_none());
    }
}
