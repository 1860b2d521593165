//! What a finished upload of the Wix client keeps in its job's record, so that a second writer
//! that waited for it returns the same file. The store keeps it without reading it.

use serde::{Deserialize, Serialize};

use super::client::{Route, WixUpload};
use super::types::FileDescriptor;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::Record;

/// The record's result: `{"file": descriptor, "route": "simple" | "resumable"}` (as 0.1.0
/// wrote it too).
#[derive(Serialize, Deserialize)]
struct Finished<F> {
    file: F,
    route: FinishedRoute,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FinishedRoute {
    Simple,
    Resumable,
}

/// Keeps `done` as the outcome of the job under `key` (a file of `size` bytes, to the Wix API
/// at `api_base`), for a writer that waits for this one.
pub(super) fn keep(
    engine: &Engine,
    key: String,
    api_base: &str,
    size: u64,
    done: &WixUpload,
) -> Result<()> {
    let rec = Record::new(key, api_base, "", Some(size)).with_offset(size);
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
            assert_eq!(done.resumed_from, None);
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
            };
            let rec = Record::new("k", "http://api", "", Some(3)).finished(
                SystemTime::now(),
                "w",
                Some(result(&done).unwrap()),
            );
            let saved: Record = serde_json::from_slice(&serde_json::to_vec(&rec).unwrap()).unwrap();
            let back = read(&saved).unwrap();
            assert_eq!((back.file, back.route), (done.file, route));
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
