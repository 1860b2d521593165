//! The state files' format across versions, through an uploader's state directory: an
//! interrupted upload recorded by 0.1.0 (format 1, kept in tests/fixtures/state-v1/) resumes
//! after an upgrade, and its record is written anew in the current format; a record of a
//! newer format is refused with a store error and left in place. (How each fixture reads,
//! times and all, is a unit test of `src/store/format.rs`.)

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::http::{agent, tus, tus_patch};
use crate::support::state::{file_state_key, load, plant, record_json, record_path};
use crate::support::{TempDir, TusServer, temp_file_with};
use wix_media_upload::{Error, Source, UploadOptions, Uploader};

const MIB: usize = 1024 * 1024;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state-v1")
        .join(name);
    serde_json::from_slice(&fs::read(&path).expect("the fixture")).expect("JSON")
}

/// An upload interrupted under 0.1.0 and resumed after the upgrade: its record, in format 1
/// (moved to this server and file; nothing else changed), leads to the server's offset, which
/// is past the recorded one, and the upload ends with the file's bytes.
#[test]
fn an_upload_recorded_in_format_1_resumes_from_the_servers_offset() {
    let server = TusServer::start();
    let mut json = fixture("tus-interrupted.json");
    let len = json["length"].as_u64().unwrap() as usize;
    let (file, bytes) = temp_file_with(len, 1501);

    // The server holds 2 MiB; the record says 1 MiB.
    let http = agent();
    let endpoint = server.endpoint();
    let length = len.to_string();
    let created = tus(&http, "POST", &endpoint, &[("Upload-Length", &length)], b"");
    assert_eq!(created.status, 201, "{}", created.body);
    let mut url = created.location();
    if url.starts_with('/') {
        url = format!("{}{url}", server.base_url());
    }
    let patched = tus_patch(&http, &url, 0, &bytes[..2 * MIB], &[]);
    assert_eq!(patched.status, 204, "{}", patched.body);

    let state = TempDir::new("wmu-v1-resume");
    json["key"] = json!(file_state_key(&endpoint, file.path()));
    json["endpoint"] = json!(endpoint);
    json["upload_url"] = json!(url);
    assert!(json.get("version").is_none() && json["created_at"].is_u64());
    plant(state.path(), &json);

    let uploader = Uploader::builder()
        .chunk_size(MIB as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let done = uploader
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new().metadata("filename", "movie.bin"),
        )
        .unwrap();
    assert_eq!(done.url, url);
    assert_eq!(done.resumed_from, Some(2 * MIB as u64));
    assert_eq!(done.metadata("filename"), Some("movie.bin"));
    assert_eq!(server.uploads().len(), 1, "no new upload");
    assert_eq!(server.stored_bytes(&url), bytes);

    // The finished record is written in the current format.
    let key = json["key"].as_str().unwrap();
    let left = load(state.path(), key).expect("the finished record");
    assert_eq!(left["version"], 2, "{left}");
    assert!(left["completed_at_ms"].is_u64(), "{left}");
    assert_eq!(left["created_at_ms"], 1_796_285_291_000_u64, "{left}");
}

/// A record written by a newer version (a downgrade, or two versions sharing a state
/// directory): a store error that says so, before any request; the file stays for its writer.
#[test]
fn a_record_of_a_newer_format_is_refused_and_kept() {
    let server = TusServer::start();
    let (file, _) = temp_file_with(MIB, 1601);
    let endpoint = server.endpoint();
    let state = TempDir::new("wmu-v3");
    let key = file_state_key(&endpoint, file.path());
    let path = record_path(state.path(), &key);
    let upload_url = format!("{endpoint}/x");
    let mut json = record_json(&key, &endpoint, &upload_url, MIB as u64, 0, &[]);
    json["version"] = json!(3);
    json["a_field_of_the_future"] = json!({"anything": true});
    plant(state.path(), &json);

    let refused = |err: Error| match err {
        Error::Store(e) => {
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(
                text.contains("format 3") && text.contains("newer"),
                "{text}"
            );
        }
        other => panic!("expected Error::Store, got {other:?}"),
    };
    let uploader = Uploader::builder().state_dir(state.path()).build().unwrap();
    let err = uploader
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new(),
        )
        .unwrap_err();
    refused(err);
    assert!(server.uploads().is_empty(), "nothing was sent");
    let kept: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(kept, json, "the newer record is left as it was");
}
