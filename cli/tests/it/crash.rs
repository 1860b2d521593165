//! Crash and resume: `wix-media upload` (src/bin/wix-media) is SIGKILLed again and again in
//! the middle of a large upload to the official tus server, and rerun each time with the same
//! `--state-dir` until it finishes.
//!
//! What is checked, from the server's side and from the requests a transparent [`FaultProxy`]
//! between the two logged (each with the answer it got):
//! - the server holds exactly one upload the whole time (no rerun creates another: no POST
//!   after the first run), and its stored size never decreases;
//! - every rerun resumes (its HEAD) at an offset at least the stored size sampled right after
//!   the kill, and after it stopped growing (bytes already in socket buffers still land):
//!   nothing the server had stored is sent again (`@tus/file-store` keeps the bytes of a PATCH
//!   cut short, and `@tus/server`'s lock makes the HEAD wait for that PATCH to end, so the
//!   HEAD answers the final size of the file);
//! - the first PATCH after a resume starts at the resume offset and carries one chunk (or the
//!   rest of the file);
//! - the final run's JSON reports the full size and `resumedFrom` equal to its HEAD offset,
//!   the stored bytes equal the file, and the state record is gone.
//!
//! The kill points are seeded-random (`WMU_CRASH_SEED` overrides the seed, which is printed).
//! The binary is the one Cargo builds for the tests (`crate::wix_media`).

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::wix_media;
use wix_media_testkit::child::wait_for;
use wix_media_testkit::proxy::{FaultProxy, ProxyConfig, SeenRequest};
use wix_media_testkit::state::records;
use wix_media_testkit::{TempDir, TusServer, XorShift, big_temp_file_with, file_digest};

const MIB: u64 = 1024 * 1024;
/// The file uploaded in each scenario.
const FILE_LEN: u64 = 96 * MIB;
/// Longest wait for the stored size to pass a kill threshold.
const KILL_WAIT: Duration = Duration::from_secs(60);
/// Longest wait for the final, uninterrupted run.
const FINAL_WAIT: Duration = Duration::from_secs(120);
/// After a kill, the stored size must hold still this long to count as settled...
const SETTLE: Duration = Duration::from_millis(150);
/// ...or this much time passes.
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// How often the server's storage is sampled.
const POLL: Duration = Duration::from_millis(2);

fn seed() -> u64 {
    std::env::var("WMU_CRASH_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0x5EED_C0DE)
}

/// One scenario's setup.
struct Scenario {
    name: &'static str,
    chunk: Option<u64>,
    kills: usize,
    /// Each kill comes once the stored size has grown by a random amount in this range since
    /// the run started.
    grow: (u64, u64),
    seed: u64,
}

/// What the server looks like at one instant.
struct Watch<'a> {
    server: &'a TusServer,
    id: Option<String>,
    last_size: u64,
    samples: u64,
}

impl Watch<'_> {
    /// The stored size now; checks the one-upload and never-shrinks invariants.
    fn sample(&mut self) -> u64 {
        self.samples += 1;
        let ids = self.server.uploads();
        assert!(
            ids.len() <= 1,
            "the server holds {} uploads: {ids:?}",
            ids.len()
        );
        match (&self.id, ids.first()) {
            (None, Some(id)) => self.id = Some(id.clone()),
            (Some(mine), Some(id)) => assert_eq!(mine, id, "the upload was replaced"),
            (Some(mine), None) => panic!("the upload {mine} vanished from the server"),
            (None, None) => return 0,
        }
        let path = self
            .server
            .stored_path(self.id.as_deref().unwrap_or_default());
        let size = fs::metadata(&path).map_or(0, |m| m.len());
        assert!(
            size >= self.last_size,
            "the stored size went down from {} to {size}",
            self.last_size
        );
        self.last_size = size;
        size
    }
}

/// What one run asked of the server, from the proxy's log.
struct Run {
    requests: Vec<SeenRequest>,
    /// The run's stderr (its debug log), for the messages.
    log: String,
}

impl Run {
    /// The requests the proxy logged from `from` on, and the stderr of run `run`.
    fn read(proxy: &FaultProxy, from: usize, logs: &TempDir, run: usize) -> Run {
        Run {
            requests: proxy.requests().split_off(from),
            log: fs::read_to_string(logs.join(format!("run{run}.err"))).unwrap_or_default(),
        }
    }

    fn of(&self, method: &str) -> impl Iterator<Item = &SeenRequest> {
        self.requests.iter().filter(move |r| r.method == method)
    }

    /// The offset its first HEAD was answered (where it resumed).
    fn resumed_at(&self) -> Option<u64> {
        self.of("HEAD")
            .next()
            .and_then(SeenRequest::answered_offset)
    }
}

fn spawn(
    sc: &Scenario,
    file: &Path,
    endpoint: &str,
    state: &Path,
    out: &TempDir,
    run: usize,
) -> Child {
    let stdout = fs::File::create(out.join(format!("run{run}.out"))).expect("stdout file");
    let stderr = fs::File::create(out.join(format!("run{run}.err"))).expect("stderr file");
    let mut cmd = Command::new(wix_media());
    cmd.arg("upload")
        .arg("--endpoint")
        .arg(endpoint)
        .arg("--state-dir")
        .arg(state)
        .arg("--no-progress");
    if let Some(c) = sc.chunk {
        cmd.arg("--chunk-size").arg(c.to_string());
    }
    cmd.arg(file)
        .env("RUST_LOG", "wix_media_upload=debug")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn the upload CLI")
}

fn run_scenario(sc: Scenario) {
    let started = Instant::now();
    let server = TusServer::start();
    let proxy = FaultProxy::to_url(&server.endpoint(), ProxyConfig::transparent());
    let endpoint = proxy.url_for(&server.endpoint());
    let (file, want_digest) = big_temp_file_with(FILE_LEN, sc.seed);
    let state = TempDir::new("wmu-crash-state");
    let state_dir = state.join("state");
    let logs = TempDir::new("wmu-crash-logs");
    let mut rng = XorShift::new(sc.seed);
    let mut watch = Watch {
        server: &server,
        id: None,
        last_size: 0,
        samples: 0,
    };
    // Stored size sampled right after each kill, and once it settled.
    let mut kills: Vec<(u64, u64)> = Vec::new();
    // (settled size after the kill, the next run's resume offset)
    let mut resumes: Vec<(u64, u64)> = Vec::new();
    let mut first_patch_after_resume: Vec<(u64, u64)> = Vec::new();
    let setup = started.elapsed();
    eprintln!(
        "[{}] seed {:#x}, {} MiB file ready in {setup:?}",
        sc.name,
        sc.seed,
        FILE_LEN / MIB
    );

    let mut run = 0;
    let final_json = loop {
        let base = watch.sample();
        let seen_before = proxy.requests().len();
        let mut child = spawn(&sc, file.path(), &endpoint, &state_dir, &logs, run);
        let last = kills.len() == sc.kills;
        if !last {
            let grow = sc.grow.0 + rng.next_u64() % (sc.grow.1 - sc.grow.0);
            let threshold = (base + grow).min(FILE_LEN - 1);
            let deadline = Instant::now() + KILL_WAIT;
            loop {
                if watch.sample() > threshold {
                    break;
                }
                if let Some(status) = child.try_wait().expect("try_wait") {
                    panic!(
                        "[{}] run {run} ended ({status}) before the kill at {threshold}; log:\n{}",
                        sc.name,
                        Run::read(&proxy, seen_before, &logs, run).log
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "[{}] run {run}: stored size stuck at {} below {threshold}",
                    sc.name,
                    watch.last_size
                );
                thread::sleep(POLL);
            }
            child.kill().expect("SIGKILL the CLI");
            child.wait().expect("reap the CLI");
            let at_kill = watch.sample();
            // Bytes already on their way (socket buffers) still land: wait until the size
            // holds still, so the next run's kill threshold counts only its own bytes.
            let (mut settled, mut still_since, until) =
                (at_kill, Instant::now(), Instant::now() + SETTLE_MAX);
            while still_since.elapsed() < SETTLE && Instant::now() < until {
                thread::sleep(Duration::from_millis(10));
                let now = watch.sample();
                if now != settled {
                    (settled, still_since) = (now, Instant::now());
                }
            }
            kills.push((at_kill, settled));
        } else {
            let status = wait_for(&mut child, FINAL_WAIT, || {
                watch.sample();
            })
            .unwrap_or_else(|| {
                panic!(
                    "[{}] the final run did not finish in {FINAL_WAIT:?}",
                    sc.name
                )
            });
            assert!(
                status.success(),
                "[{}] final run failed ({status}):\n{}",
                sc.name,
                Run::read(&proxy, seen_before, &logs, run).log
            );
        }

        let log = Run::read(&proxy, seen_before, &logs, run);
        let posts = log.of("POST").count();
        if run == 0 {
            assert_eq!(
                posts, 1,
                "[{}] run 0 creates the upload:\n{}",
                sc.name, log.log
            );
            assert_eq!(
                log.of("HEAD").count(),
                0,
                "[{}] run 0 has nothing to resume",
                sc.name
            );
        } else {
            assert_eq!(
                posts, 0,
                "[{}] run {run} created an upload:\n{}",
                sc.name, log.log
            );
            let resume = log.resumed_at().unwrap_or_else(|| {
                panic!(
                    "[{}] run {run} did not resume with a HEAD:\n{}",
                    sc.name, log.log
                )
            });
            let (killed_at, settled) = kills[run - 1];
            assert!(
                resume >= settled && settled >= killed_at,
                "[{}] run {run} resumed at {resume}, below the {settled} bytes the server \
                 had stored after run {} was killed ({killed_at} at the kill): it re-sends \
                 stored bytes",
                sc.name,
                run - 1
            );
            assert!(resume <= FILE_LEN);
            resumes.push((settled, resume));
            // The run stored bytes (it was killed past a threshold, or it finished), so it sent a
            // PATCH unless nothing was left.
            let first = log.of("PATCH").next();
            if resume == FILE_LEN {
                assert!(
                    first.is_none(),
                    "[{}] run {run}: a PATCH of nothing",
                    sc.name
                );
            } else {
                let first = first.unwrap_or_else(|| {
                    panic!("[{}] run {run} sent no PATCH:\n{}", sc.name, log.log)
                });
                let length = sc.chunk.unwrap_or(FILE_LEN).min(FILE_LEN - resume);
                assert_eq!(
                    (first.offset(), first.header("Content-Length")),
                    (Some(resume), Some(length.to_string().as_str())),
                    "[{}] run {run}: the first PATCH after resuming at {resume} is not one chunk \
                     from there",
                    sc.name
                );
                first_patch_after_resume.push((resume, resume + length));
            }
        }
        if last {
            let out = fs::read_to_string(logs.join(format!("run{run}.out"))).expect("stdout");
            let json: serde_json::Value = serde_json::from_str(out.trim())
                .unwrap_or_else(|e| panic!("[{}] final output {out:?}: {e}", sc.name));
            assert_eq!(
                json["resumedFrom"].as_u64(),
                log.resumed_at(),
                "[{}] resumedFrom is the final run's HEAD offset",
                sc.name
            );
            break json;
        }
        run += 1;
    };

    let id = watch.id.clone().expect("an upload");
    assert_eq!(
        server.uploads(),
        vec![id.clone()],
        "[{}] exactly one upload",
        sc.name
    );
    assert_eq!(final_json["size"].as_u64(), Some(FILE_LEN));
    assert!(
        final_json["uploadUrl"]
            .as_str()
            .is_some_and(|u| u.ends_with(&id)),
        "{final_json}"
    );
    assert_eq!(watch.sample(), FILE_LEN);
    assert_eq!(
        file_digest(server.stored_path(&id)),
        want_digest,
        "[{}] stored bytes differ from the file",
        sc.name
    );
    let left: Vec<String> = fs::read_dir(&state_dir)
        .expect("state dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // What is left is at most the finished upload's record (kept for a second writer that
    // waited for this one), marked finished and without secrets.
    for (_, rec) in records(&state_dir) {
        assert!(
            rec["completed_at_ms"].is_u64(),
            "[{}] an unfinished record outlived the upload: {rec}",
            sc.name
        );
        assert_eq!(
            rec["secret_keys"],
            serde_json::json!([]),
            "[{}] {rec}",
            sc.name
        );
    }

    let gaps: Vec<u64> = resumes.iter().map(|(k, r)| r - k).collect();
    let late: Vec<u64> = kills.iter().map(|(k, s)| s - k).collect();
    eprintln!(
        "[{}] {} kills survived in {:?} ({} runs, {} server samples)",
        sc.name,
        kills.len(),
        started.elapsed(),
        run + 1,
        watch.samples
    );
    for (i, ((k, s), r)) in kills.iter().zip(resumes.iter().map(|x| x.1)).enumerate() {
        eprintln!(
            "[{}]   kill {i}: stored {k} at kill, {s} once settled (+{}), resumed at {r} (+{})",
            sc.name,
            s - k,
            r - s
        );
    }
    eprintln!(
        "[{}] max re-sent bytes per resume: 0 (resume >= stored at kill for all {}); resume \
         == settled size in {}; most bytes landing after the kill: {} B; first PATCH after \
         resume: {:?}; leftover temp files in the state dir: {}",
        sc.name,
        resumes.len(),
        gaps.iter().filter(|g| **g == 0).count(),
        late.iter().max().copied().unwrap_or(0),
        first_patch_after_resume.first(),
        left.len()
    );
}

#[test]
fn chunked_upload_survives_ten_sigkills() {
    run_scenario(Scenario {
        name: "chunked",
        chunk: Some(MIB),
        kills: 10,
        grow: (2 * MIB, 7 * MIB),
        seed: seed(),
    });
}

#[test]
fn single_patch_upload_survives_sigkills() {
    run_scenario(Scenario {
        name: "single-patch",
        chunk: None,
        kills: 4,
        grow: (4 * MIB, 14 * MIB),
        seed: seed().wrapping_add(1),
    });
}
