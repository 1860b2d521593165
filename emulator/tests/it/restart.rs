//! The emulator keeps what it received when its process dies in the middle of a body: the
//! `emulator` example is SIGKILLed while a raw client is still sending a PATCH, and an
//! emulator started on the same directory answers HEAD with what is on disk. A body that
//! carried `Upload-Checksum` keeps nothing: its bytes were never verified.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;
use wix_media_emulator::Emulator;

use wix_media_testkit::emulator::{Api, data, md5_hex};
use wix_media_testkit::http::{eventually, patch_head};
use wix_media_testkit::{TempDir, upload_id};

const MIB: usize = 1024 * 1024;
/// The upload's length...
const LEN: usize = 64 * MIB;
/// ...and how much of its one PATCH is sent before the kill.
const SENT: usize = 24 * MIB;

/// The example, running on `dir`.
struct Running {
    child: Child,
    base: String,
}

impl Running {
    fn start(dir: &Path) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wix-media-emulator"))
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the emulator example");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the base URL");
        let base = line.trim().to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
        Running { child, base }
    }

    /// SIGKILL: no destructor, no clean end of the write.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a PATCH of the whole upload from offset 0 and sends its first `SENT` bytes; the
/// connection is left open, mid-body.
fn start_patch(url: &str, base: &str, bytes: &[u8], extra: &str) -> TcpStream {
    let path = url.strip_prefix(base).expect("path");
    let addr = base.strip_prefix("http://").expect("http");
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = patch_head(path, 0, &format!("Content-Length: {LEN}\r\n{extra}"));
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(&bytes[..SENT]).expect("first bytes");
    s
}

/// The example started on a fresh directory, with a `LEN`-byte upload created on it: the
/// directory, the upload's bytes, the example, the calls to it and the upload's URL.
fn upload_on_the_example() -> (TempDir, Vec<u8>, Running, Api, String) {
    let dir = TempDir::new("wmu-emu-killed");
    let running = Running::start(dir.path());
    let api = Api::new(&running.base);
    let url = api.new_upload(&api.token_for(&json!({"mimeType": "text/plain"})), LEN);
    (dir, data(LEN), running, api, url)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn a_killed_emulator_keeps_the_bytes_it_received() {
    let (dir, bytes, running, api, url) = upload_on_the_example();
    let dir = dir.path();
    let patch = start_patch(&url, &running.base, &bytes, "");
    // While the body arrives, the offset is recorded as it goes (every 8 MiB or second).
    let seen = eventually("the running write records progress", || {
        let o = api.offset(&url);
        (o >= 16 * MIB as u64).then_some(o)
    });
    running.kill();
    drop(patch);

    let emu = Emulator::start(dir).expect("restart on the same dir");
    let id = upload_id(&url);
    let info = emu.upload(id).expect("the upload survived");
    let on_disk = file_len(&info.path);
    assert!(on_disk >= seen && on_disk <= SENT as u64, "{on_disk}");
    assert_eq!(info.offset, on_disk, "the record follows the data file");
    let url = format!("{}/{id}", emu.tus_endpoint());
    assert_eq!(api.offset(&url), on_disk);
    let kept = emu.stored_bytes(id).expect("bytes");
    assert!(
        kept == bytes[..on_disk as usize],
        "kept bytes are what was sent"
    );

    // The upload goes on from there and finalizes to the whole file.
    let on_disk = on_disk as usize;
    let rest = api.patch(&url, on_disk, &bytes[on_disk..], &[]);
    assert_eq!(rest.status, 204, "{}", rest.body);
    let token = info.token.expect("token");
    let fin = Api::new(emu.base_url()).finalize(&token, Some("a.txt"));
    assert_eq!(fin.status, 200, "{}", fin.body);
    assert_eq!(fin.json()["file"]["hash"], md5_hex(&bytes));
}

#[test]
fn a_killed_emulator_drops_the_unverified_bytes_of_a_checksummed_body() {
    let (dir, bytes, running, api, url) = upload_on_the_example();
    let dir = dir.path();
    // The digest is never checked: the body doesn't end.
    let checksum = "Upload-Checksum: sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\r\n";
    let patch = start_patch(&url, &running.base, &bytes, checksum);
    let data_file = dir.join("uploads").join(format!("{}.bin", upload_id(&url)));
    eventually("bytes reach the data file", || {
        (file_len(&data_file) >= 16 * MIB as u64).then_some(())
    });
    assert_eq!(api.offset(&url), 0, "unverified bytes don't count");
    running.kill();
    drop(patch);
    assert!(
        file_len(&data_file) >= 16 * MIB as u64,
        "the dead process left them"
    );

    let emu = Emulator::start(dir).expect("restart on the same dir");
    let id = upload_id(&url);
    let url = format!("{}/{id}", emu.tus_endpoint());
    assert_eq!(api.offset(&url), 0);
    assert_eq!(file_len(&emu.upload(id).expect("upload").path), 0);
    let next = api.patch(&url, 0, &bytes[..MIB], &[]);
    assert_eq!(next.status, 204, "{}", next.body);
    assert_eq!(next.header("Upload-Offset"), Some("1048576"));
}
