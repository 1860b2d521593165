//! One writer per upload: two uploaders (as two processes would) of the same file to the same
//! place from the same state directory make one upload; a killed lock holder blocks no one.

use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::support::proxy::{FaultProxy, ProxyConfig};
use crate::support::{TempDir, TusServer, temp_file_with};
use wix_media_upload::{DirStore, Metadata, Source, StateStore, UploadOptions, Uploader};

const MIB: usize = 1024 * 1024;

#[test]
fn two_writers_of_one_file_make_one_upload() {
    let server = TusServer::start();
    // 4 MiB/s per connection: each upload takes about a second, so the two overlap.
    let mut config = ProxyConfig::transparent();
    config.rate_per_connection = Some(4 * MIB as u64);
    let proxy = FaultProxy::to_url(&server.endpoint(), config);
    let endpoint = proxy.url_for(&server.endpoint());
    let (file, bytes) = temp_file_with(4 * MIB, 77);
    let state = TempDir::new("wmu-writers");
    let start = Arc::new(Barrier::new(2));
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (start, endpoint, path) = (Arc::clone(&start), &endpoint, file.path());
                let state = state.path();
                s.spawn(move || {
                    // Each its own uploader and store on the same directory: what two processes
                    // have.
                    let up = Uploader::builder().state_dir(state).build().unwrap();
                    let meta = Metadata::new().with("filename", "same.bin").unwrap();
                    start.wait();
                    let began = Instant::now();
                    let done = up.upload(
                        endpoint,
                        Source::file(path).unwrap(),
                        UploadOptions::new().metadata(meta),
                    );
                    (done, began.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let urls: Vec<String> = results
        .iter()
        .map(|(r, _)| r.as_ref().expect("both succeed").url.clone())
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
    let store = DirStore::new(state.path()).unwrap();
    let first = Uploader::builder()
        .state_dir(state.path())
        .chunk_size(MIB as u64)
        .build()
        .unwrap();
    let key = first
        .resume_key(&server.endpoint(), &Source::file(file.path()).unwrap())
        .unwrap();
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
    let held = store.lock(&key).unwrap();
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
    std::thread::sleep(Duration::from_millis(300));
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

/// Not a test on its own: the child process of the next one, holding a lock until killed.
#[test]
#[ignore = "run by a_killed_lock_holder_blocks_no_one as its child process"]
fn hold_a_lock_until_killed() {
    let Ok(dir) = std::env::var("WMU_LOCK_DIR") else {
        return;
    };
    let store = DirStore::new(&dir).unwrap();
    let _held = store.lock("the key").unwrap();
    println!("HOLDING");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_lock_holder_blocks_no_one() {
    let dir = TempDir::new("wmu-killed-holder");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::support::test_path(module_path!(), "hold_a_lock_until_killed"),
            "--ignored",
            "--nocapture",
        ])
        .env("WMU_LOCK_DIR", dir.path())
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
    let store = DirStore::new(dir.path()).unwrap();
    assert!(
        store.try_lock("the key").unwrap().is_none(),
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
        store.try_lock("the key").unwrap().is_some(),
        "a dead holder's lock is free"
    );
}
