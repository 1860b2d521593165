//! State files of format 1 (written before records carried a version) still work after an
//! upgrade: the command honours a manifest entry written by the code of that time
//! (cli/tests/fixtures/state-v1/).

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use serde_json::Value;
use sha2::{Digest, Sha256};
use wix_media_testkit::TempDir;

use crate::common::{Home, path_str, run};

const ENTRY: &str = "tests/fixtures/state-v1/manifest-entry.json";

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(ENTRY);
    serde_json::from_slice(&fs::read(&path).expect("the fixture")).expect("JSON")
}

/// The fixture's entry moved to `file` (its identity names the file's canonical path, its
/// `mtimeNs` is the file's), written where the command looks for it in `state`. Nothing else
/// of the entry changes.
fn plant_entry(state: &Path, file: &Path) -> Value {
    let mut entry = fixture();
    let old_path = entry["path"].as_str().expect("path").to_owned();
    let canonical = fs::canonicalize(file).expect("canonical path");
    let new_path = canonical.to_str().expect("UTF-8 path");
    let identity = entry["identity"].as_str().expect("identity").replace(
        &Value::from(old_path).to_string(),
        &Value::from(new_path).to_string(),
    );
    let mtime = fs::metadata(file).unwrap().modified().unwrap();
    let mtime_ns = mtime.duration_since(UNIX_EPOCH).unwrap().as_nanos();
    entry["identity"] = Value::from(identity.as_str());
    entry["path"] = Value::from(new_path);
    entry["mtimeNs"] = Value::from(mtime_ns.to_string());
    let digest = Sha256::digest(identity.as_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let dir = state.join("manifest");
    fs::create_dir_all(&dir).unwrap();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("{name}.json")))
        .unwrap();
    std::io::Write::write_all(&mut f, entry.to_string().as_bytes()).unwrap();
    entry
}

#[test]
fn a_manifest_entry_of_format_1_is_honoured() {
    let home = Home::new();
    let files = TempDir::new("wmu-v1-manifest");
    let fixture = fixture();
    let size = fixture["size"].as_u64().expect("size");
    let file = files.join("photo.jpg");
    fs::write(&file, vec![7u8; usize::try_from(size).unwrap()]).unwrap();
    let entry = plant_entry(home.state.path(), &file);

    let out = run(home.upload_emu(&["--no-progress", path_str(&file)]));
    out.assert_success();
    assert_eq!(out.summary(), (0, 1, 0));
    let line = out.line_for("photo.jpg");
    assert_eq!(line["skipped"], true, "{line}");
    assert_eq!(line["file"], entry["result"]["file"], "the stored result");
    out.assert_stderr_lacks("emulator", "a skipped file needs no emulator");
}
