//! The state files' format across versions: records written by 0.1.0 (format 1, kept in
//! tests/fixtures/state-v1/) still load, with their times, and an interrupted upload recorded
//! in that format resumes after an upgrade; new records carry their version; a record of a
//! newer format is refused with a store error and left in place.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::http::{agent, tus, tus_patch};
use crate::support::state::file_state_key;
use crate::support::{TempDir, TusServer, temp_file_with};
use wix_media_upload::{
    DirStore, Error, Metadata, Record, Source, StateStore, UploadOptions, Uploader,
};

const MIB: usize = 1024 * 1024;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state-v1")
        .join(name);
    serde_json::from_slice(&fs::read(&path).expect("the fixture")).expect("JSON")
}

/// Writes `json` as the record file of its key in `store`, as a `DirStore` would (mode 0600).
fn plant(store: &DirStore, json: &Value) {
    let key = json["key"].as_str().expect("a key");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(store.path_for(key))
        .unwrap();
    f.write_all(json.to_string().as_bytes()).unwrap();
}

/// The fixture `name` planted in a new store, and loaded from it.
fn load_fixture(name: &str) -> Record {
    let dir = TempDir::new("wmu-v1-load");
    let store = DirStore::new(dir.path()).unwrap();
    let json = fixture(name);
    plant(&store, &json);
    let key = json["key"].as_str().unwrap();
    let rec = store.load(key).unwrap().expect(name);
    assert_eq!(rec.key(), key);
    rec
}

fn secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[test]
fn records_of_format_1_load_with_their_times() {
    // An interrupted tus upload: seconds for creation and expiry.
    let rec = load_fixture("tus-interrupted.json");
    let endpoint = "http://127.0.0.1:35523/files";
    assert_eq!(rec.endpoint(), endpoint);
    assert_eq!(
        rec.upload_url(),
        format!("{endpoint}/a1e0ef5708022285ad8ee9c567a24c83")
    );
    assert_eq!(
        (rec.length(), rec.offset()),
        (Some(3 * MIB as u64), MIB as u64)
    );
    assert_eq!(rec.created_at(), secs(1_796_285_291));
    assert_eq!(rec.expires_at(), Some(secs(4_949_885_291)));
    assert_eq!((rec.completed_at(), rec.chunk_size()), (None, None));
    assert_eq!(rec.metadata().unwrap().get("filename"), Some("movie.bin"));

    // The same upload finished: milliseconds for the completion.
    let rec = load_fixture("tus-finished.json");
    assert_eq!(rec.offset(), 3 * MIB as u64);
    assert_eq!(rec.created_at(), secs(1_796_285_291));
    assert_eq!(rec.completed_at(), Some(millis(1_796_285_291_632)));

    // A Wix upload: the token is in the metadata, secret, and not in Debug.
    let rec = load_fixture("wix-interrupted.json");
    let meta = rec.metadata().unwrap();
    let token = meta.get("token").expect("the token");
    let meta_shown = format!("{meta:?} {meta:#?}");
    assert!(
        token.starts_with("eyJ") && !meta_shown.contains(token),
        "{meta_shown}"
    );
    assert_eq!(rec.expires_at(), Some(secs(1_796_371_691)));
    let shown = format!("{rec:?} {rec:#?}");
    assert!(!shown.contains(token), "{shown}");

    // The Wix client's finished jobs (created at 0: the epoch).
    for (name, done) in [
        ("wix-finished-simple.json", 1_796_285_291_667),
        ("wix-finished-resumable.json", 1_796_285_291_752),
    ] {
        let rec = load_fixture(name);
        assert_eq!(rec.created_at(), UNIX_EPOCH, "{name}");
        assert_eq!(rec.completed_at(), Some(millis(done)), "{name}");
        assert_eq!(rec.offset(), rec.length().unwrap(), "{name}");
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
    let store = DirStore::new(state.path()).unwrap();
    json["key"] = json!(file_state_key(&endpoint, file.path()));
    json["endpoint"] = json!(endpoint);
    json["upload_url"] = json!(url);
    assert!(json.get("version").is_none() && json["created_at"].is_u64());
    plant(&store, &json);

    let uploader = Uploader::builder()
        .chunk_size(MIB as u64)
        .state_dir(state.path())
        .build()
        .unwrap();
    let meta = Metadata::new().with("filename", "movie.bin").unwrap();
    let done = uploader
        .upload(
            &endpoint,
            Source::file(file.path()).unwrap(),
            UploadOptions::new().metadata(meta),
        )
        .unwrap();
    assert_eq!(done.url, url);
    assert_eq!(done.resumed_from, Some(2 * MIB as u64));
    assert_eq!(done.metadata.get("filename"), Some("movie.bin"));
    assert_eq!(server.uploads().len(), 1, "no new upload");
    assert_eq!(server.stored_bytes(&url), bytes);

    // The finished record is written in the current format.
    let key = json["key"].as_str().unwrap();
    let left: Value = serde_json::from_slice(&fs::read(store.path_for(key)).unwrap()).unwrap();
    assert_eq!(left["version"], 2, "{left}");
    assert!(left["completed_at_ms"].is_u64(), "{left}");
    assert_eq!(left["created_at_ms"], 1_796_285_291_000_u64, "{left}");
}

#[test]
fn a_new_record_is_written_with_its_version_and_loads_equal() {
    let dir = TempDir::new("wmu-v2");
    let store = DirStore::new(dir.path()).unwrap();
    let meta = Metadata::new()
        .with("filename", "a.bin")
        .unwrap()
        .with_secret("token", "S3CRET")
        .unwrap();
    let now = SystemTime::now();
    let rec = Record::new("k", "http://h/files", "http://h/files/1", Some(10))
        .with_offset(4)
        .with_created_at(now)
        .with_expires_at(Some(now + Duration::from_secs(3600)))
        .with_metadata(&meta);
    store.save(&rec).unwrap();
    let json: Value = serde_json::from_slice(&fs::read(store.path_for("k")).unwrap()).unwrap();
    assert_eq!(json["version"], 2, "{json}");
    let ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert_eq!(json["created_at_ms"], ms, "{json}");
    assert_eq!(json["expires_at_ms"], ms + 3_600_000, "{json}");
    let back = store.load("k").unwrap().expect("the record");
    assert_eq!(back, rec);
    assert_eq!(back.created_at(), millis(ms), "kept to the millisecond");
    assert_eq!(back.metadata().unwrap(), meta);
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
    let rec = Record::new(
        key.as_str(),
        endpoint.as_str(),
        format!("{endpoint}/x"),
        Some(MIB as u64),
    );
    store.save(&rec).unwrap();
    let path = store.path_for(&key);
    let mut json: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    json["version"] = json!(3);
    json["a_field_of_the_future"] = json!({"anything": true});
    plant(&store, &json);

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
