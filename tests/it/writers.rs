//! One writer per upload: two uploaders (as two processes would) of the same file to the same
//! place from the same state directory make one upload; a killed lock holder blocks no one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::http::eventually;
use crate::support::mock::MockTus;
use crate::support::proxy::gate::GateProxy;
use crate::support::proxy::{FaultProxy, ProxyConfig};
use crate::support::state::{file_state_key, hold_lock, keyed_state_key, try_hold_lock};
use crate::support::{TempDir, TusServer, temp_file_with};
use wix_media_upload::{Source, UploadOptions, Uploader};

const MIB: usize = 1024 * 1024;

/// The lock file of the one key locked in the state directory `dir`.
fn lock_file(dir: &Path) -> PathBuf {
    let locks: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lock"))
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    locks[0].clone()
}

/// Waits until a thread (of any process) is blocked on the lock of `path`: Linux lists each
/// waiter for an flock in /proc/locks with `->` before it.
fn wait_for_a_waiter(what: &str, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    let inode = format!(":{}", fs::metadata(path).unwrap().ino());
    eventually(what, || {
        let locks = fs::read_to_string("/proc/locks").expect("read /proc/locks");
        locks
            .lines()
            .any(|l| l.contains("-> FLOCK") && l.split_whitespace().any(|f| f.ends_with(&inode)))
            .then_some(())
    });
}

#[test]
fn two_writers_of_one_file_make_one_upload() {
    let server = TusServer::start();
    let proxy = FaultProxy::to_url(&server.endpoint(), ProxyConfig::transparent());
    // The first writer is held mid-body (holding the upload's lock) until the second waits.
    let gate = GateProxy::to_url(&proxy.base_url(), Some(MIB as u64));
    let endpoint = gate.url_for(&proxy.url_for(&server.endpoint()));
    let (file, bytes) = temp_file_with(4 * MIB, 77);
    let state = TempDir::new("wmu-writers");
    // Each its own uploader and store on the same directory: what two processes have.
    let upload = || {
        let up = Uploader::builder().state_dir(state.path()).build().unwrap();
        let options = UploadOptions::new().metadata("filename", "same.bin");
        up.upload(&endpoint, Source::file(file.path()).unwrap(), options)
    };
    let results = std::thread::scope(|s| {
        let first = s.spawn(upload);
        eventually("the first writer's body reaches the gate", || {
            gate.holding().then_some(())
        });
        let second = s.spawn(upload);
        wait_for_a_waiter(
            "the second writer waits for the first's lock",
            &lock_file(state.path()),
        );
        gate.open();
        [first.join().unwrap(), second.join().unwrap()]
    });
    let urls: Vec<String> = results
        .iter()
        .map(|r| r.as_ref().expect("both succeed").url.clone())
        .collect();
    assert_eq!(urls[0], urls[1], "both return the same upload");
    assert_eq!(server.uploads().len(), 1, "one upload on the server");
    assert!(
        server.stored_bytes(&urls[0]) == bytes,
        "stored bytes differ"
    );
    // The body went once: one creation, and PATCH bytes of one file.
    assert_eq!(proxy.count("POST"), 1);
    assert_eq!(proxy.body_bytes("PATCH"), bytes.len() as u64);
}

#[test]
fn a_second_writer_continues_what_the_first_left() {
    // The first writer stops half-way (abort); the second, which was waiting, takes over from
    // the server's offset.
    let server = TusServer::start();
    let (file, bytes) = temp_file_with(3 * MIB, 78);
    let state = TempDir::new("wmu-writers-take-over");
    let first = Uploader::builder()
        .state_dir(state.path())
        .chunk_size(MIB as u64)
        .build()
        .unwrap();
    let key = file_state_key(&server.endpoint(), file.path());
    let abort = wix_media_upload::AbortHandle::new();
    let stop = abort.clone();
    let r = first.upload(
        &server.endpoint(),
        Source::file(file.path()).unwrap(),
        UploadOptions::new().abort(abort).progress(move |p| {
            if p.acked >= MIB as u64 {
                stop.abort();
            }
        }),
    );
    assert!(matches!(r, Err(wix_media_upload::Error::Aborted)), "{r:?}");
    // Someone holds the lock while the second starts: it waits, then continues.
    let held = hold_lock(state.path(), &key);
    let second = std::thread::spawn({
        let (endpoint, path, state) = (
            server.endpoint(),
            file.path().to_owned(),
            state.path().to_owned(),
        );
        move || {
            let up = Uploader::builder().state_dir(state).build().unwrap();
            up.upload(
                &endpoint,
                Source::file(&path).unwrap(),
                UploadOptions::new(),
            )
        }
    });
    wait_for_a_waiter(
        "the second writer waits for the lock",
        &lock_file(state.path()),
    );
    assert!(!second.is_finished(), "the second writer did not wait");
    drop(held);
    let done = second.join().unwrap().unwrap();
    assert!(
        done.resumed_from.is_some_and(|o| o >= MIB as u64),
        "{done:?}"
    );
    assert_eq!(server.uploads().len(), 1);
    assert!(
        server.stored_bytes(&done.url) == bytes,
        "stored bytes differ"
    );
}

/// The lock is held by a child process (this test, run again in child mode), killed with
/// SIGKILL while it holds it; then an upload of that key goes ahead.
#[test]
fn a_killed_lock_holder_blocks_no_one() {
    const CHILD: &str = "WMU_LOCK_DIR";
    const KEY: &str = "WMU_LOCK_KEY";
    if let (Some(dir), Ok(key)) = (std::env::var_os(CHILD), std::env::var(KEY)) {
        let _held = hold_lock(Path::new(&dir), &key);
        println!("HOLDING");
        std::thread::sleep(Duration::from_secs(120));
        panic!("the holder was not killed within 120 s");
    }
    let dir = TempDir::new("wmu-killed-holder");
    let mut tus = MockTus::new();
    let key = keyed_state_key(&tus.endpoint(), "killed");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::support::test_path(module_path!(), "a_killed_lock_holder_blocks_no_one"),
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .env(KEY, &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the child to hold it.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("HOLDING") {
        line.clear();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(n > 0, "the child ended before holding the lock");
    }
    assert!(
        try_hold_lock(dir.path(), &key).is_none(),
        "held by the child"
    );
    // kill -9: no cleanup runs in the child.
    let killed = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    assert!(
        try_hold_lock(dir.path(), &key).is_some(),
        "a dead holder's lock is free"
    );
    // The uploader's store takes it too: the upload of that key is not held up.
    let post = tus.creates("/files", 3, "/files/k");
    let patch = tus.takes("/files/k", 0, b"abc");
    let up = Uploader::builder().state_dir(dir.path()).build().unwrap();
    let source = Source::seekable(std::io::Cursor::new(b"abc".to_vec()))
        .unwrap()
        .with_key("killed");
    up.upload(&tus.endpoint(), source, UploadOptions::new())
        .unwrap();
    post.assert();
    patch.assert();
}
