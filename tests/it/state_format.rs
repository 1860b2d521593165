//! The state files' format across versions: records written by 0.1.0 (format 1, kept in
//! tests/fixtures/state-v1/) still load, with their times, and an interrupted upload recorded
//! in that format resumes after an upgrade; new records carry their version; a record of a
//! newer format is refused with a store error and left in place.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::support::http::{agent, tus, tus_patch};
use crate::support::state::{
    file_state_key, json_of, metadata_value, ms, record_json, record_path, to_record,
};
use crate::support::{TempDir, TusServer, temp_file_with};
use wix_media_upload::{DirStore, Error, Record, Source, StateStore, UploadOptions, Uploader};

const MIB: usize = 1024 * 1024;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state-v1")
        .join(name);
    serde_json::from_slice(&fs::read(&path).expect("the fixture")).expect("JSON")
}

/// Writes `json` as the record file of its key in the state directory `dir`, as a `DirStore`
/// would (mode 0600).
fn plant(dir: &Path, json: &Value) {
    let key = json["key"].as_str().expect("a key");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(record_path(dir, key))
        .unwrap();
    f.write_all(json.to_string().as_bytes()).unwrap();
}

/// The fixture `name` planted in a new store, loaded from it, and what it is now: the loaded
/// record and its serde form (the current format: times in milliseconds).
fn load_fixture(name: &str) -> (Record, Value) {
    let dir = TempDir::new("wmu-v1-load");
    let store = DirStore::new(dir.path()).unwrap();
    let json = fixture(name);
    plant(dir.path(), &json);
    let key = json["key"].as_str().unwrap();
    let rec = store.load(key).unwrap().expect(name);
    assert_eq!(rec.key(), key);
    let now = json_of(&rec);
    assert_eq!(now["version"], 2, "{now}");
    (rec, now)
}

/// Seconds since the epoch, as format 2 writes them (in milliseconds).
fn secs(s: u64) -> u64 {
    s * 1000
}

#[test]
fn records_of_format_1_load_with_their_times() {
    // An interrupted tus upload: seconds for creation and expiry.
    let (_, rec) = load_fixture("tus-interrupted.json");
    let endpoint = "http://127.0.0.1:35523/files";
    assert_eq!(rec["endpoint"], endpoint);
    assert_eq!(
        rec["upload_url"],
        format!("{endpoint}/a1e0ef5708022285ad8ee9c567a24c83")
    );
    assert_eq!(
        (&rec["length"], &rec["offset"]),
        (&json!(3 * MIB), &json!(MIB))
    );
    assert_eq!(rec["created_at_ms"], secs(1_796_285_291));
    assert_eq!(rec["expires_at_ms"], secs(4_949_885_291));
    assert_eq!(
        (&rec["completed_at_ms"], &rec["chunk_size"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(metadata_value(&rec, "filename"), Some("movie.bin"));

    // The same upload finished: milliseconds for the completion.
    let (_, rec) = load_fixture("tus-finished.json");
    assert_eq!(rec["offset"], 3 * MIB as u64);
    assert_eq!(rec["created_at_ms"], secs(1_796_285_291));
    assert_eq!(rec["completed_at_ms"], 1_796_285_291_632_u64);

    // A Wix upload: the token is in the metadata, secret, and not in Debug.
    let (loaded, rec) = load_fixture("wix-interrupted.json");
    let token = metadata_value(&rec, "token").expect("the token");
    assert!(token.starts_with("eyJ"), "{token}");
    assert_eq!(rec["secret_keys"], json!(["token"]));
    assert_eq!(rec["expires_at_ms"], secs(1_796_371_691));
    let shown = format!("{loaded:?} {loaded:#?}");
    assert!(!shown.contains(token), "{shown}");

    // The Wix client's finished jobs (created at 0: the epoch).
    for (name, done) in [
        ("wix-finished-simple.json", 1_796_285_291_667_u64),
        ("wix-finished-resumable.json", 1_796_285_291_752),
    ] {
        let (_, rec) = load_fixture(name);
        assert_eq!(rec["created_at_ms"], 0, "{name}");
        assert_eq!(rec["completed_at_ms"], done, "{name}");
        assert_eq!(rec["offset"], rec["length"], "{name}");
        assert!(rec["offset"].is_u64(), "{name}");
    }
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
    // A state directory as a store makes it (private), for the planted record.
    DirStore::new(state.path()).unwrap();
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
    let left: Value =
        serde_json::from_slice(&fs::read(record_path(state.path(), key)).unwrap()).unwrap();
    assert_eq!(left["version"], 2, "{left}");
    assert!(left["completed_at_ms"].is_u64(), "{left}");
    assert_eq!(left["created_at_ms"], 1_796_285_291_000_u64, "{left}");
}

#[test]
fn a_new_record_is_written_with_its_version_and_loads_equal() {
    let dir = TempDir::new("wmu-v2");
    let store = DirStore::new(dir.path()).unwrap();
    let meta = [("filename", "a.bin"), ("token", "S3CRET")];
    let now = ms(SystemTime::now());
    let mut made = record_json("k", "http://h/files", "http://h/files/1", 10, 4, &meta);
    made["created_at_ms"] = json!(now);
    made["expires_at_ms"] = json!(now + 3_600_000);
    let rec = to_record(made.clone());
    store.save(&rec).unwrap();
    let json: Value =
        serde_json::from_slice(&fs::read(record_path(dir.path(), "k")).unwrap()).unwrap();
    assert_eq!(json, made, "written as it was made, version and all");
    let back = store.load("k").unwrap().expect("the record");
    assert_eq!(back, rec);
    let back = json_of(&back);
    assert_eq!(back["created_at_ms"], now, "kept to the millisecond");
    assert_eq!(metadata_value(&back, "token"), Some("S3CRET"));
    assert_eq!(back["secret_keys"], json!(["token"]));
}

/// A record written by a newer version (a downgrade, or two versions sharing a state
/// directory): a store error that says so, before any request; the file stays for its writer.
#[test]
fn a_record_of_a_newer_format_is_refused_and_kept() {
    let server = TusServer::start();
    let (file, _) = temp_file_with(MIB, 1601);
    let endpoint = server.endpoint();
    let state = TempDir::new("wmu-v3");
    let store = DirStore::new(state.path()).unwrap();
    let key = file_state_key(&endpoint, file.path());
    let rec = to_record(record_json(
        &key,
        &endpoint,
        &format!("{endpoint}/x"),
        MIB as u64,
        0,
        &[],
    ));
    store.save(&rec).unwrap();
    let path = record_path(state.path(), &key);
    let mut json: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
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
    refused(store.load(&key).unwrap_err());
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
