//! Sections `caps` and `expect` (issue 9): body caps and what `Expect: 100-continue` costs.
//!
//! `caps`: a 300 MB default `wix-media upload --endpoint` to `@tus/server` through the cap relay
//! of the tests (`testkit/src/proxy/cap.rs`): a `Content-Length` over the cap gets `413` +
//! `Connection: close` right after the head, the body unread. Two kinds: one that honours
//! `Expect` (the 413 instead of `100 Continue`, as nginx does) and one that ignores it (strips
//! it, so the client waits its await-100 timeout, then 413s once the body streams). Against the
//! same relay with no cap, and the server without the relay.
//!
//! `expect`: the same 512 MiB with `expect_continue` on and off (a library runner, since the CLI
//! has no flag), to `@tus/server` (Node answers `100 Continue` at once) and through a relay that
//! ignores `Expect` (ureq waits its await-100 timeout, 1 s, then sends the body).
//!
//! A fresh relay per run (its counts are that run's). Bytes are checked after every run.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::common::{
    MIB, Opts, Sample, Stat, fresh_emulator, input_file, self_exe, show_counts, timed,
    wix_media_bin,
};
use crate::single::{clear, verify};
use crate::support::proxy::cap::{CapConfig, CapProxy, CapStats};
use crate::support::{TusServer, file_digest};

struct Case {
    name: String,
    cap: Option<CapConfig>,
    /// `None`: the CLI with its defaults; `Some(expect)`: the library runner.
    lib_expect: Option<bool>,
}

impl Case {
    /// Through a relay capping bodies at `mib` MiB that honours or ignores `Expect`: the CLI, or
    /// the library with `expect_continue(false)`.
    fn capped(mib: u64, honours: bool, library: bool) -> Case {
        let (cap, verb) = if honours {
            (CapConfig::honouring_expect(mib * MIB), "honours")
        } else {
            (CapConfig::ignoring_expect(mib * MIB), "ignores")
        };
        let client = if library {
            "; library, expect_continue(false)"
        } else {
            ""
        };
        Case {
            name: format!("{mib} MiB cap, {verb} Expect{client}"),
            cap: Some(cap),
            lib_expect: library.then_some(false),
        }
    }
}

struct Row {
    sample: Sample,
    stats: Option<CapStats>,
}

fn upstream(server: &TusServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

pub fn caps(o: &Opts) {
    const SIZE: u64 = 300_000_000;
    let runs = o.runs_or(3);
    let server = TusServer::start();
    let input = input_file(&o.dir.join("input-300mb.bin"), SIZE, 0);
    let digest = file_digest(&input);
    let cases = [
        Case {
            name: "no relay".into(),
            cap: None,
            lib_expect: None,
        },
        Case {
            name: "relay, no cap".into(),
            cap: Some(CapConfig::honouring_expect(u64::MAX)),
            lib_expect: None,
        },
        Case::capped(256, true, false),
        Case::capped(256, false, false),
        Case::capped(8, true, false),
        Case::capped(8, false, false),
        // What Expect buys and costs at a cap: the library with it switched off.
        Case::capped(8, true, true),
        Case::capped(8, false, true),
        Case::capped(256, false, true),
    ];
    println!(
        "\n# body caps: 300 MB (286 MiB), `wix-media upload --endpoint` defaults, @tus/server behind the cap relay, {runs} alternating runs"
    );
    let mut rows: Vec<Vec<Row>> = (0..cases.len()).map(|_| Vec::new()).collect();
    for run in 0..runs {
        for k in 0..cases.len() {
            let i = (k + run) % cases.len();
            let case = &cases[i];
            let proxy = case.cap.map(|c| CapProxy::start(upstream(&server), c));
            let endpoint = proxy
                .as_ref()
                .map_or_else(|| server.endpoint(), |p| format!("{}/files", p.base_url()));
            clear(&server);
            let sample = match case.lib_expect {
                None => cli_upload(&endpoint, &input, &o.dir),
                Some(expect) => {
                    let mut c = Command::new(self_exe());
                    c.args(["lib-upload", &endpoint, &input.to_string_lossy()])
                        .arg(if expect { "on" } else { "off" })
                        .env_remove("RUST_LOG");
                    timed(c, None)
                }
            };
            verify(&server, digest, &case.name);
            let stats = proxy.as_ref().map(CapProxy::stats);
            eprintln!(
                "run {run} {}: {:.2} s, {}",
                case.name,
                sample.wall,
                stats.as_ref().map_or(String::new(), describe)
            );
            rows[i].push(Row { sample, stats });
        }
    }
    let relay_med = Stat::of(&rows[1].iter().map(|r| r.sample.wall).collect::<Vec<_>>()).med;
    println!(
        "\n| where | wall s median (min–max) | / relay without cap | requests (one run) | refused | largest body relayed | CPU s | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut out = Vec::new();
    for (case, rs) in cases.iter().zip(&rows) {
        let w = Stat::of(&rs.iter().map(|r| r.sample.wall).collect::<Vec<_>>());
        let cpu = Stat::of(&rs.iter().map(|r| r.sample.cpu).collect::<Vec<_>>());
        let rss = Stat::of(&rs.iter().map(|r| r.sample.rss_mib()).collect::<Vec<_>>());
        let st = rs[0].stats.as_ref();
        println!(
            "| {} | {w} | {:.2} | {} | {} | {} | {:.2} | {:.1} |",
            case.name,
            w.med / relay_med,
            st.map_or("-".into(), |s| show_counts(&s.requests)),
            st.map_or("-".into(), |s| s.refused_total().to_string()),
            st.map_or("-".into(), |s| format!(
                "{:.2} MiB",
                s.largest_relayed as f64 / MIB as f64
            )),
            cpu.med,
            rss.med
        );
        out.push(json!({
            "case": case.name,
            "wall_s": w.json(),
            "over_relay_uncapped": w.med / relay_med,
            "requests": st.map(|s| s.requests.clone()),
            "refused": st.map(|s| s.refused.clone()),
            "largest_relayed": st.map(|s| s.largest_relayed),
            "cpu_s": cpu.json(),
            "rss_mib": rss.json(),
        }));
    }
    o.save(
        "caps",
        &json!({"machine": crate::common::machine(), "bytes": SIZE, "cases": out}),
    );
}

fn describe(s: &CapStats) -> String {
    format!(
        "{}; refused {}; {} connections; largest relayed {:.2} MiB",
        show_counts(&s.requests),
        s.refused_total(),
        s.connections,
        s.largest_relayed as f64 / MIB as f64
    )
}

fn cli_upload(endpoint: &str, input: &Path, dir: &Path) -> Sample {
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let mut c = Command::new(wix_media_bin());
    c.args(["upload", "--no-progress", "--state-dir"])
        .arg(&state)
        .args(["--endpoint", endpoint])
        .arg(input)
        .env_remove("RUST_LOG");
    timed(c, None)
}

struct ExpectCase {
    name: &'static str,
    ignoring_relay: bool,
    chunk: u64,
    expect: bool,
}

pub fn expect(o: &Opts) {
    let runs = o.runs_or(5);
    let server = TusServer::start();
    let input = input_file(
        &o.dir.join(format!("input-{}.bin", o.single.size_mib)),
        o.single.size_mib * MIB,
        0,
    );
    let digest = file_digest(&input);
    let mut cases = Vec::new();
    for (name, ignoring_relay, chunk) in [
        ("@tus/server (answers 100 Continue), one PATCH", false, 0),
        ("relay that ignores Expect, one PATCH", true, 0),
        ("relay that ignores Expect, 8 MiB chunks", true, 8 * MIB),
    ] {
        for expect in [true, false] {
            cases.push(ExpectCase {
                name,
                ignoring_relay,
                chunk,
                expect,
            });
        }
    }
    println!(
        "\n# Expect: 100-continue on vs off: {} MiB, library runner (`UploaderBuilder::expect_continue`), {runs} alternating runs",
        o.single.size_mib
    );
    let mut rows: Vec<Vec<Row>> = (0..cases.len()).map(|_| Vec::new()).collect();
    for run in 0..runs {
        for k in 0..cases.len() {
            let i = (k + run) % cases.len();
            let case = &cases[i];
            let proxy = case
                .ignoring_relay
                .then(|| CapProxy::start(upstream(&server), CapConfig::ignoring_expect(u64::MAX)));
            let endpoint = proxy
                .as_ref()
                .map_or_else(|| server.endpoint(), |p| format!("{}/files", p.base_url()));
            clear(&server);
            let mut c = Command::new(self_exe());
            c.args([
                "lib-upload",
                &endpoint,
                &input.to_string_lossy(),
                if case.expect { "on" } else { "off" },
                &case.chunk.to_string(),
            ]);
            let sample = timed(c, None);
            verify(&server, digest, case.name);
            let stats = proxy.as_ref().map(CapProxy::stats);
            eprintln!(
                "run {run} {} expect {}: {:.2} s{}",
                case.name,
                case.expect,
                sample.wall,
                stats
                    .as_ref()
                    .map_or(String::new(), |s| format!("; {}", describe(s)))
            );
            rows[i].push(Row { sample, stats });
        }
    }
    println!(
        "\n| server | Expect | wall s median (min–max) | on − off (median) | requests asking Expect (one run) | CPU s |"
    );
    println!("|---|---|---|---|---|---|");
    let mut out = Vec::new();
    for pair in 0..cases.len() / 2 {
        let (on, off) = (&rows[2 * pair], &rows[2 * pair + 1]);
        let w_on = Stat::of(&on.iter().map(|r| r.sample.wall).collect::<Vec<_>>());
        let w_off = Stat::of(&off.iter().map(|r| r.sample.wall).collect::<Vec<_>>());
        // Paired by run: each pair ran back to back.
        let diffs: Vec<f64> = on
            .iter()
            .zip(off)
            .map(|(a, b)| a.sample.wall - b.sample.wall)
            .collect();
        let d = Stat::of(&diffs);
        for (rs, w, flag) in [(on, w_on, "on"), (off, w_off, "off")] {
            let asked = rs[0]
                .stats
                .as_ref()
                .map_or("-".into(), |s| s.expect_continue.to_string());
            let cpu = Stat::of(&rs.iter().map(|r| r.sample.cpu).collect::<Vec<_>>());
            println!(
                "| {} | {flag} | {w} | {} | {asked} | {:.2} |",
                cases[2 * pair].name,
                if flag == "on" {
                    format!("{:+.2} s ({:+.2} to {:+.2})", d.med, d.min, d.max)
                } else {
                    String::new()
                },
                cpu.med
            );
        }
        out.push(json!({
            "case": cases[2 * pair].name,
            "on_s": w_on.json(), "off_s": w_off.json(), "on_minus_off_s": d.json(),
        }));
    }
    o.save(
        "expect",
        &json!({"machine": crate::common::machine(), "size_mib": o.single.size_mib, "cases": out}),
    );
}

/// Internal: one library upload (`bench lib-upload ENDPOINT FILE on|off CHUNK`), as its own
/// process so that it can be timed.
pub fn lib_upload(args: &[String]) {
    use wix_media_upload::{Source, UploadOptions, Uploader};
    let (endpoint, file) = (&args[0], Path::new(&args[1]));
    let expect = args.get(2).is_none_or(|a| a == "on");
    let chunk: u64 = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut b = Uploader::builder().expect_continue(expect);
    if chunk > 0 {
        b = b.chunk_size(chunk);
    }
    let uploader = b.build().expect("uploader");
    uploader
        .upload(
            endpoint,
            Source::file(file).expect("input"),
            UploadOptions::new().metadata("filename", "bench.bin"),
        )
        .expect("upload");
}

/// Section `expect-wix`: the Wix simple route behind a proxy that ignores `Expect`. A batch of
/// 5 MB files (simple route: one `PUT` each, with `Expect: 100-continue` above 1 MiB) in Wix
/// mode, through the latency relay and a cap relay without a cap, honouring or ignoring
/// `Expect`: the CLI, and the library with `expect_continue` on and off.
pub fn expect_wix(o: &Opts) {
    use std::time::Duration;

    use crate::batch::{file_ids, make_inputs, verify};
    use crate::relay::LatencyRelay;
    const FILES: usize = 20;
    const LEN: u64 = 5_000_000;
    let runs = o.runs_or(3);
    let root = o.dir.join("expect-wix");
    let inputs = make_inputs(&root.join("files"), FILES, LEN);
    let emu_dir = root.join("emulator");
    let emu = fresh_emulator(&emu_dir);
    let proxies: Vec<(&str, CapProxy)> = vec![
        (
            "honours Expect",
            CapProxy::start(emu.addr(), CapConfig::honouring_expect(u64::MAX)),
        ),
        (
            "ignores Expect",
            CapProxy::start(emu.addr(), CapConfig::ignoring_expect(u64::MAX)),
        ),
    ];
    let relays: Vec<LatencyRelay> = proxies
        .iter()
        .map(|(_, p)| {
            LatencyRelay::start_with(
                p.addr(),
                Duration::from_millis(o.batch.latency_ms),
                emu.addr().port(),
            )
        })
        .collect();
    let clients = ["cli", "lib", "lib-noexpect"];
    let jobs = o.batch.jobs.to_string();
    println!(
        "\n# Expect on the simple route: {FILES} files of 5 MB, Wix mode, {} at a time, +{} ms each way, through a proxy that honours or ignores Expect; {runs} alternating runs",
        o.batch.jobs, o.batch.latency_ms
    );
    let files_dir = root.join("files");
    let mut rows: Vec<Vec<(f64, u64)>> = vec![Vec::new(); proxies.len() * clients.len()];
    for run in 0..runs {
        for k in 0..rows.len() {
            let i = (k + run) % rows.len();
            let (p, c) = (i / clients.len(), clients[i % clients.len()]);
            let base = relays[p].base_url();
            let e0 = proxies[p].1.stats().expect_continue;
            let before = file_ids(&emu);
            let cmd = match c {
                "cli" => {
                    let state = root.join("state");
                    let _ = std::fs::remove_dir_all(&state);
                    let mut cmd = Command::new(wix_media_bin());
                    cmd.args(["upload", "--no-progress", "--jobs", &jobs])
                        .arg("--state-dir")
                        .arg(&state)
                        .arg(&files_dir)
                        .env("WIX_API_KEY", "bench")
                        .env("WIX_SITE_ID", "bench")
                        .env("WIX_API_BASE", &base)
                        .env_remove("RUST_LOG");
                    cmd
                }
                lib => {
                    let mut cmd = Command::new(self_exe());
                    cmd.args(["lib-batch", &base])
                        .arg(&files_dir)
                        .args([jobs.as_str(), "0"])
                        .arg(if lib == "lib" { "on" } else { "off" });
                    cmd
                }
            };
            let s = timed(cmd, None);
            verify(&emu, &before, &inputs, LEN, c);
            let asked = proxies[p].1.stats().expect_continue - e0;
            eprintln!(
                "run {run} {} {c}: {:.2} s, {asked} requests asked Expect",
                proxies[p].0, s.wall
            );
            rows[i].push((s.wall, asked));
        }
    }
    println!(
        "\n| proxy | client | wall s median (min–max) | files/s | requests asking Expect per run |"
    );
    println!("|---|---|---|---|---|");
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let (p, c) = (i / clients.len(), clients[i % clients.len()]);
        let w = Stat::of(&r.iter().map(|x| x.0).collect::<Vec<_>>());
        let label = match c {
            "cli" => "wix-media upload (defaults)",
            "lib" => "library, defaults",
            _ => "library, `expect_continue(false)`",
        };
        println!(
            "| {} | {label} | {w} | {:.1} | {} |",
            proxies[p].0,
            FILES as f64 / w.med,
            r[0].1
        );
        out.push(
            json!({"proxy": proxies[p].0, "client": c, "wall_s": w.json(), "asked_expect": r[0].1}),
        );
    }
    drop(relays);
    o.save(
        "expect-wix",
        &json!({"machine": crate::common::machine(), "files": FILES, "bytes_each": LEN, "rows": out}),
    );
}
