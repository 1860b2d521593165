//! Reliability under injected network faults: uploads of random sizes go through a
//! fault-injecting proxy (`crate::support::proxy`) to the official tus server and to the emulator, and
//! every one must complete with the stored bytes identical to the source.
//!
//! The run is seeded: set `WMU_FAULT_SEED` (decimal or `0x` hex) to replay one; a failure
//! prints its seed.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::proxy::{Fault, FaultCounts, FaultProxy, ProxyConfig};
use crate::support::{TempDir, TusServer, XorShift, big_temp_file_with, file_digest};
use serde_json::json;
use wix_media_emulator::Emulator;
use wix_media_upload::{RetryPolicy, Source, UploadOptions, Uploader};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const DEFAULT_SEED: u64 = 0x5EED_FA17;
/// Chance that a request (or a new connection) gets a fault.
const FAULT_PROBABILITY: f64 = 0.2;
/// The whole test must end well within this.
const WATCHDOG: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Tus,
    Emulator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The rest of the file in one PATCH.
    Single,
    /// PATCH bodies of at most this many bytes.
    Chunks(u64),
    /// `parallel(3)`: partial uploads and a final concatenation (emulator only).
    Parallel3,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    target: Target,
    len: u64,
    mode: Mode,
    checksum: bool,
}

fn seed() -> u64 {
    match std::env::var("WMU_FAULT_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("WMU_FAULT_SEED={s:?} is not a number: {e}"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

fn between(rng: &mut XorShift, lo: u64, hi: u64) -> u64 {
    lo + rng.next_u64() % (hi - lo + 1)
}

/// 80 uploads: 0 B and 1 B, three big ones (16–50 MiB), the rest mostly under 8 MiB; each
/// target gets every mode.
fn plan(rng: &mut XorShift) -> Vec<Case> {
    let mut cases = Vec::new();
    let mode_for = |rng: &mut XorShift, target: Target, i: usize| match (target, i % 3) {
        (_, 0) => Mode::Single,
        (Target::Tus, 2) => Mode::Single,
        (Target::Emulator, 2) => Mode::Parallel3,
        _ => Mode::Chunks(between(rng, 256 * KIB, MIB)),
    };
    for (i, target) in [Target::Tus, Target::Emulator]
        .into_iter()
        .cycle()
        .take(80)
        .enumerate()
    {
        let len = match i {
            0 | 1 => 0,
            2 | 3 => 1,
            // The big ones: one each to the official server in one PATCH, to the emulator in
            // parallel, and to the emulator in chunks.
            4 | 9 | 13 => between(rng, 16 * MIB, 50 * MIB),
            _ => match rng.next_u64() % 10 {
                0 => between(rng, 2, 64 * KIB),
                1..=4 => between(rng, 64 * KIB, 2 * MIB),
                _ => between(rng, 2 * MIB, 8 * MIB),
            },
        };
        let mode = match i {
            4 => Mode::Single,
            9 => Mode::Parallel3,
            13 => Mode::Chunks(between(rng, MIB, 2 * MIB)),
            _ => mode_for(rng, target, i / 2),
        };
        // Checksums cost a second read of each body: only on the emulator, not on big files.
        let checksum =
            target == Target::Emulator && len < 16 * MIB && rng.next_u64().is_multiple_of(2);
        cases.push(Case {
            target,
            len,
            mode,
            checksum,
        });
    }
    cases
}

fn uploader(case: &Case) -> Uploader {
    let mut b = Uploader::builder()
        .retry(RetryPolicy::from_millis(&[
            0, 10, 20, 50, 100, 200, 400, 800,
        ]))
        .stall_timeout(Some(Duration::from_secs(5)))
        .connect_timeout(Some(Duration::from_secs(5)))
        .checksum(case.checksum);
    match case.mode {
        Mode::Single => {}
        Mode::Chunks(n) => b = b.chunk_size(n),
        Mode::Parallel3 => b = b.parallel(3),
    }
    b.build().expect("build the uploader")
}

/// A fresh upload token from the emulator (asked directly, not through the proxy).
fn token(emu: &Emulator, len: u64) -> String {
    let body = json!({
        "mimeType": "image/png",
        "fileName": "a.png",
        "sizeInBytes": len.max(1).to_string(),
    });
    let mut resp = ureq::post(emu.generate_url())
        .header("Authorization", "IST.key")
        .header("wix-site-id", "site-1")
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .expect("generate an upload token");
    let text = resp.body_mut().read_to_string().expect("generate answer");
    let v: serde_json::Value = serde_json::from_str(&text).expect("generate answer is JSON");
    v["uploadToken"].as_str().expect("uploadToken").to_owned()
}

struct Totals {
    uploads: u64,
    bytes: u64,
    parallel: u64,
    counts: FaultCounts,
}

fn run(seed: u64) -> Totals {
    let mut rng = XorShift::new(seed);
    let cases = plan(&mut rng);

    let tus = TusServer::start();
    let emu_dir = TempDir::new("wmu-faults-emu");
    let emu = Emulator::start(emu_dir.path()).expect("start the emulator");
    let config = |salt: u64| ProxyConfig::new(seed ^ salt, FAULT_PROBABILITY, 10_000);
    let tus_proxy = FaultProxy::to_url(&tus.base_url(), config(1));
    let emu_proxy = FaultProxy::to_url(emu.base_url(), config(2));
    let tus_endpoint = tus_proxy.url_for(&tus.endpoint());
    let emu_endpoint = emu_proxy.url_for(&emu.tus_endpoint());

    let mut totals = Totals {
        uploads: 0,
        bytes: 0,
        parallel: 0,
        counts: FaultCounts::default(),
    };
    for (i, case) in cases.iter().enumerate() {
        let file_seed = seed.wrapping_add(i as u64);
        let (file, want) = big_temp_file_with(case.len, file_seed);
        let (endpoint, proxy, options) = match case.target {
            Target::Tus => (
                &tus_endpoint,
                &tus_proxy,
                UploadOptions::new().metadata("filename", "f.bin"),
            ),
            Target::Emulator => (
                &emu_endpoint,
                &emu_proxy,
                UploadOptions::new()
                    .metadata("filename", "a.png")
                    .metadata("token", token(&emu, case.len)),
            ),
        };
        let started = Instant::now();
        let done = uploader(case)
            .upload(endpoint, Source::file(file.path()).unwrap(), options)
            .unwrap_or_else(|e| {
                panic!(
                    "seed {seed:#x}: upload {i} ({case:?}) failed after {:?}: {e}\n\
                     error: {e:?}\nfaults so far: tus {:?}, emulator {:?}",
                    started.elapsed(),
                    tus_proxy.counts(),
                    emu_proxy.counts()
                )
            });
        let fail = |what: String| -> ! {
            panic!(
                "seed {seed:#x}: upload {i} ({case:?}) to {}: {what}",
                done.url
            )
        };
        if done.size != case.len {
            fail(format!("size {} instead of {}", done.size, case.len));
        }
        if !done.url.starts_with(&format!("http://{}/", proxy.addr())) {
            fail("the upload URL does not go through the proxy".into());
        }
        let mut final_upload = false;
        let stored = match case.target {
            Target::Tus => tus.stored_path(&done.url),
            Target::Emulator => {
                let info = emu
                    .upload(&done.url)
                    .unwrap_or_else(|| fail("the emulator has no such upload".into()));
                if info.offset != case.len || info.length != Some(case.len) {
                    fail(format!(
                        "emulator holds offset {} of {:?}",
                        info.offset, info.length
                    ));
                }
                final_upload = info.is_final;
                if info.is_final {
                    totals.parallel += 1;
                }
                emu.stored_path(&done.url)
                    .unwrap_or_else(|| fail("no stored bytes".into()))
            }
        };
        let got = file_digest(&stored);
        if got != want {
            let stored_len = std::fs::metadata(&stored).map(|m| m.len()).unwrap_or(0);
            fail(format!(
                "stored bytes differ: digest {got:#x} instead of {want:#x} \
                 ({stored_len} stored bytes)"
            ));
        }
        eprintln!(
            "upload {i:2}: {:?} {:>9} B {:?}{} in {:.2?}{}",
            case.target,
            case.len,
            case.mode,
            if case.checksum { " +checksum" } else { "" },
            started.elapsed(),
            if final_upload { " (concatenated)" } else { "" },
        );
        totals.uploads += 1;
        totals.bytes += case.len;
    }
    totals.counts = tus_proxy.counts().plus(&emu_proxy.counts());
    eprintln!(
        "tus server proxy: {:?}\nemulator proxy: {:?}",
        tus_proxy.counts(),
        emu_proxy.counts()
    );
    drop(tus_proxy);
    drop(emu_proxy);
    emu.stop();
    totals
}

#[test]
fn uploads_survive_injected_faults() {
    crate::support::logs::install();
    let seed = seed();
    eprintln!("fault seed {seed:#x} (replay with WMU_FAULT_SEED={seed:#x})");
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run(seed));
    });
    let totals = match rx.recv_timeout(WATCHDOG) {
        Ok(t) => t,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("seed {seed:#x}: the uploads did not finish within {WATCHDOG:?} (a hang?)")
        }
        // The run panicked: its message is above.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("seed {seed:#x}: the run failed"),
    };
    let c = &totals.counts;
    eprintln!(
        "seed {seed:#x}: {} uploads ({} in parallel), {} bytes ({:.1} MiB) in {:.1?}; \
         {} connections, {} requests; faults: {} in all: {} cut request bodies, \
         {} cut responses, {} error statuses, {} resets on connect, {} delays",
        totals.uploads,
        totals.parallel,
        totals.bytes,
        totals.bytes as f64 / MIB as f64,
        started.elapsed(),
        c.connections,
        c.requests,
        c.total(),
        c.cut_request_body,
        c.cut_response,
        c.error_status,
        c.reset_on_connect,
        c.delay,
    );
    assert!(totals.uploads >= 30, "only {} uploads", totals.uploads);
    assert!(
        totals.parallel >= 2,
        "only {} parallel uploads",
        totals.parallel
    );
    assert!(
        c.total() >= 50,
        "seed {seed:#x}: only {} faults were injected",
        c.total()
    );
    for (kind, n) in [
        ("cut request body", c.cut_request_body),
        ("cut response", c.cut_response),
        ("error status", c.error_status),
        ("reset on connect", c.reset_on_connect),
        ("delay", c.delay),
    ] {
        assert!(n > 0, "seed {seed:#x}: no {kind} fault was injected");
    }
}

/// A failed OPTIONS (5xx, or a connection closed without an answer) is retried: it must not
/// silently turn a parallel upload into a one-connection one.
#[test]
fn parallel_upload_survives_a_failed_options() {
    let dir = TempDir::new("wmu-faults-options");
    let emu = Emulator::start(dir.path()).expect("start the emulator");
    let len = 3 * MIB;
    let (file, want) = big_temp_file_with(len, 7);
    let case = Case {
        target: Target::Emulator,
        len,
        mode: Mode::Parallel3,
        checksum: false,
    };
    for fault in ["status", "drop"] {
        let options = UploadOptions::new().metadata("token", token(&emu, len));
        match fault {
            "status" => emu.fail_next(2, 503),
            _ => emu.drop_next(1),
        }
        let done = uploader(&case)
            .upload(
                &emu.tus_endpoint(),
                Source::file(file.path()).unwrap(),
                options,
            )
            .unwrap_or_else(|e| panic!("{fault}: {e}"));
        let info = emu.upload(&done.url).expect("the upload");
        assert!(info.is_final, "{fault}: not uploaded in parallel");
        assert_eq!(file_digest(info.path), want, "{fault}");
    }
    emu.stop();
}

/// Uploads `len` bytes to the emulator behind `proxy` with `case`'s settings and checks them.
fn upload_through(emu: &Emulator, proxy: &FaultProxy, case: &Case, seed: u64) {
    crate::support::logs::install();
    let (file, want) = big_temp_file_with(case.len, seed);
    let options = UploadOptions::new().metadata("token", token(emu, case.len));
    let done = uploader(case)
        .upload(
            &proxy.url_for(&emu.tus_endpoint()),
            Source::file(file.path()).unwrap(),
            options,
        )
        .unwrap_or_else(|e| panic!("{case:?}: {e}"));
    assert!(done.url.starts_with(&format!("http://{}/", proxy.addr())));
    let info = emu.upload(&done.url).expect("the upload");
    assert_eq!(info.offset, case.len, "{case:?}");
    assert_eq!(file_digest(info.path), want, "{case:?}");
}

/// Without faults the proxy is a plain relay that keeps the client's connection alive.
#[test]
fn transparent_proxy_keeps_connections_alive() {
    let dir = TempDir::new("wmu-faults-relay");
    let emu = Emulator::start(dir.path()).expect("start the emulator");
    let proxy = FaultProxy::to_url(emu.base_url(), ProxyConfig::transparent());
    let case = Case {
        target: Target::Emulator,
        len: 2 * MIB + 5,
        mode: Mode::Chunks(256 * KIB),
        checksum: true,
    };
    upload_through(&emu, &proxy, &case, 8);
    let c = proxy.counts();
    // OPTIONS, POST with the first chunk, 8 PATCHes.
    assert!(c.requests >= 10, "{c:?}");
    assert_eq!(c.connections, 1, "{c:?}");
    assert_eq!(c.total(), 0, "{c:?}");
    drop(proxy);
    emu.stop();
}

/// Every request delayed by 5–200 ms: the emulator and the client stay correct.
#[test]
fn emulator_stays_correct_when_every_request_is_delayed() {
    let dir = TempDir::new("wmu-faults-delay");
    let emu = Emulator::start(dir.path()).expect("start the emulator");
    let config = ProxyConfig {
        faults: vec![Fault::Delay],
        ..ProxyConfig::new(seed(), 1.0, u64::MAX)
    };
    let proxy = FaultProxy::to_url(emu.base_url(), config);
    for (i, mode) in [Mode::Chunks(512 * KIB), Mode::Parallel3, Mode::Single]
        .into_iter()
        .enumerate()
    {
        let case = Case {
            target: Target::Emulator,
            len: 3 * MIB + 1,
            mode,
            checksum: i % 2 == 0,
        };
        upload_through(&emu, &proxy, &case, 9 + i as u64);
    }
    let c = proxy.counts();
    assert_eq!(c.delay, c.requests, "{c:?}");
    assert_eq!(c.total(), c.delay, "{c:?}");
    eprintln!("delayed: {c:?}");
    drop(proxy);
    emu.stop();
}
