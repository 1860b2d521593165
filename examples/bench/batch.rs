//! Section `batch` (issue 11 §5): many small files to the emulator in Wix mode through the
//! latency relay, `wix-media upload --jobs N` against Wix's own flow in Node (tus-js-client
//! between generate-resumable-upload-url and finalize, N at a time), alternating; then a
//! rerun of the CLI on the same state dir (every file skipped by the manifest).
//!
//! Requests are counted by the emulator (`Emulator::route_counts`), connections by the relay.
//! After every run the emulator must hold one new file per input, with the input's name, size
//! and MD5.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_emulator::Emulator;

use crate::common::{
    Opts, Sample, Stat, fresh_emulator, js_client_ready, js_dir, show_counts, show_list, timed,
    wix_media_bin,
};
use crate::relay::LatencyRelay;

struct Run {
    sample: Sample,
    routes: BTreeMap<String, u64>,
    requests: u64,
    connections: u64,
}

pub fn run(o: &Opts) {
    let runs = o.runs_or(5);
    let root = o.dir.join("batch");
    let files_dir = root.join(format!("files-{}x{}k", o.batch.files, o.batch.file_kib));
    let inputs = make_inputs(&files_dir, o.batch.files, o.batch.file_kib * 1024);
    let emu_dir = root.join("emulator");
    let emu = fresh_emulator(&emu_dir);
    let relay = LatencyRelay::start(emu.addr(), Duration::from_millis(o.batch.latency_ms));
    let mut clients: Vec<&str> = o.batch.clients.iter().map(String::as_str).collect();
    if clients.contains(&"tus-js") && !js_client_ready() {
        clients.retain(|c| *c != "tus-js");
    }
    println!(
        "\n# batch: {} files of {} KiB, {} at a time, Wix mode, in-process emulator behind a relay adding {} ms each way; {runs} alternating runs",
        o.batch.files, o.batch.file_kib, o.batch.jobs, o.batch.latency_ms
    );
    let mut results: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    let mut reruns: Vec<Run> = Vec::new();
    let state = root.join("state-ours");
    for i in 0..runs {
        // Alternate who goes first.
        let order: Vec<&str> = if i % 2 == 0 {
            clients.clone()
        } else {
            clients.iter().rev().copied().collect()
        };
        for client in order {
            let before = file_ids(&emu);
            let r = measure(&emu, &relay, || match client {
                "ours" => {
                    let _ = std::fs::remove_dir_all(&state);
                    ours(o, &relay, &state, &files_dir, false)
                }
                "tus-js" => node(o, &relay, &files_dir),
                lib => {
                    // lib (the uploader's own agent) or lib-poolN (N idle connections per host).
                    let per_host = lib.strip_prefix("lib-pool").unwrap_or("0");
                    let mut c = Command::new(crate::common::self_exe());
                    c.args(["lib-batch", &relay.base_url()])
                        .arg(&files_dir)
                        .args([&o.batch.jobs.to_string(), per_host]);
                    timed(c, None)
                }
            });
            verify(&emu, &before, &inputs, o.batch.file_kib * 1024, client);
            eprintln!(
                "run {i} {client}: {:.2} s, {:.0} files/s, {} requests ({}), {} connections, {:.1} MiB rss",
                r.sample.wall,
                o.batch.files as f64 / r.sample.wall,
                r.requests,
                show_counts(&r.routes),
                r.connections,
                r.sample.rss_mib()
            );
            if client == "ours" {
                let again = measure(&emu, &relay, || ours(o, &relay, &state, &files_dir, true));
                assert_eq!(
                    emu.files().len(),
                    before.len() + o.batch.files,
                    "the rerun uploaded"
                );
                eprintln!(
                    "run {i} ours rerun: {:.2} s, {} requests, {} connections",
                    again.sample.wall, again.requests, again.connections
                );
                reruns.push(again);
            }
            results.entry(client).or_default().push(r);
        }
    }
    report(o, &results, &reruns);
}

pub fn make_inputs(dir: &Path, n: usize, len: u64) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in 0..n {
        let name = format!("f{i:04}.bin");
        let path = crate::common::input_file(&dir.join(&name), len, i as u64 * 7919);
        out.insert(name, crate::common::md5_hex(&path));
    }
    out
}

fn measure(emu: &Emulator, relay: &LatencyRelay, f: impl FnOnce() -> Sample) -> Run {
    emu.reset_request_counts();
    let c0 = relay.stats().connections;
    let sample = f();
    let routes = emu.route_counts();
    Run {
        sample,
        requests: routes.values().sum(),
        routes,
        connections: relay.stats().connections - c0,
    }
}

fn ours(o: &Opts, relay: &LatencyRelay, state: &Path, files: &Path, rerun: bool) -> Sample {
    let jobs = o.batch.jobs.to_string();
    let mut cmd = Command::new(wix_media_bin());
    cmd.args(["upload", "--no-progress", "--jobs", &jobs])
        .arg("--state-dir")
        .arg(state)
        .arg(files)
        .env("WIX_API_KEY", "bench")
        .env("WIX_SITE_ID", "bench")
        .env("WIX_API_BASE", relay.base_url())
        .env_remove("WIX_ACCOUNT_ID")
        .env_remove("RUST_LOG");
    let out = o.dir.join("batch").join("ours-stdout.jsonl");
    let s = timed(cmd, Some(&out));
    let text = std::fs::read_to_string(&out).expect("stdout");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), o.batch.files, "one line per file");
    for l in &lines {
        assert_eq!(l["skipped"], json!(rerun), "skipped must be {rerun}: {l}");
        assert!(l["file"]["id"].is_string(), "no file in {l}");
    }
    s
}

fn node(o: &Opts, relay: &LatencyRelay, files: &Path) -> Sample {
    let mut cmd = Command::new("node");
    cmd.arg(js_dir().join("wix-batch.js"))
        .arg(relay.base_url())
        .arg(o.batch.jobs.to_string())
        .arg(files)
        .env("WIX_API_KEY", "bench")
        .env("WIX_SITE_ID", "bench");
    timed(cmd, None)
}

pub fn file_ids(emu: &Emulator) -> BTreeSet<String> {
    emu.files()
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect()
}

// The emulator holds one new file per input, with its name, size and MD5.
pub fn verify(
    emu: &Emulator,
    before: &BTreeSet<String>,
    inputs: &BTreeMap<String, String>,
    len: u64,
    client: &str,
) {
    let new: Vec<Value> = emu
        .files()
        .into_iter()
        .filter(|f| f["id"].as_str().is_some_and(|id| !before.contains(id)))
        .collect();
    assert_eq!(new.len(), inputs.len(), "{client}: new files");
    let size = |f: &Value| {
        f["sizeInBytes"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
    };
    assert!(new.iter().all(|f| size(f) == Some(len)), "{client}: sizes");
    let got: BTreeSet<(String, String)> = new
        .iter()
        .map(|f| {
            (
                f["displayName"].as_str().unwrap_or("").to_owned(),
                f["hash"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> =
        inputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want, "{client}: stored files differ from the inputs");
}

fn report(o: &Opts, results: &BTreeMap<&str, Vec<Run>>, reruns: &[Run]) {
    let n = o.batch.files as f64;
    let stat =
        |runs: &[Run], f: &dyn Fn(&Run) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "\n| client | files/s median (min–max) | wall s median (min–max) | CPU s median | peak RSS MiB median | HTTP requests per file | requests by route (one run) | connections |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut json_clients = serde_json::Map::new();
    let jobs = o.batch.jobs;
    let label = |key: &str| match key {
        "ours" => {
            format!("wix-media upload --jobs {jobs} (simple route: generate-upload-url + PUT)")
        }
        "tus-js" => format!("Node: generate + tus-js-client 4.3.1 + finalize, {jobs} at a time"),
        "lib" => format!("library: WixClient::upload_with on {jobs} threads"),
        other => format!(
            "library, agent keeping {} idle connections per host",
            other.trim_start_matches("lib-pool")
        ),
    };
    for key in &o.batch.clients {
        let Some(runs) = results.get(key.as_str()) else {
            continue;
        };
        let label = label(key);
        let fps = stat(runs, &|r| n / r.sample.wall);
        let wall = stat(runs, &|r| r.sample.wall);
        let cpu = stat(runs, &|r| r.sample.cpu);
        let rss = stat(runs, &|r| r.sample.rss_mib());
        let rpf = stat(runs, &|r| r.requests as f64 / n);
        let conns = stat(runs, &|r| r.connections as f64);
        println!(
            "| {label} | {} | {} | {:.2} | {:.1} | {:.2} | {} | {:.0} |",
            fps.show(0),
            wall,
            cpu.med,
            rss.med,
            rpf.med,
            show_counts(&runs[0].routes),
            conns.med
        );
        json_clients.insert(
            key.to_string(),
            json!({
                "label": label,
                "files_per_s": fps.json(),
                "wall_s": wall.json(),
                "cpu_s": cpu.json(),
                "rss_mib": rss.json(),
                "requests_per_file": rpf.json(),
                "routes": runs[0].routes,
                "connections": conns.json(),
                "runs": runs.iter().map(|r| r.sample.wall).collect::<Vec<_>>(),
            }),
        );
    }
    if !reruns.is_empty() {
        let wall = stat(reruns, &|r| r.sample.wall);
        let req: u64 = reruns.iter().map(|r| r.requests).sum();
        println!(
            "| rerun of wix-media on the same state dir (manifest: all skipped) | {} | {} | {:.2} | {:.1} | {:.2} | {} | {:.0} |",
            stat(reruns, &|r| n / r.sample.wall).show(0),
            wall,
            stat(reruns, &|r| r.sample.cpu).med,
            stat(reruns, &|r| r.sample.rss_mib()).med,
            req as f64 / n / reruns.len() as f64,
            if req == 0 {
                "none".to_owned()
            } else {
                show_counts(&reruns[0].routes)
            },
            stat(reruns, &|r| r.connections as f64).med
        );
        json_clients.insert(
            "rerun".into(),
            json!({"wall_s": wall.json(), "requests": req}),
        );
    }
    let mut ratio = Value::Null;
    if let (Some(a), Some(b)) = (results.get("ours"), results.get("tus-js")) {
        let per_run: Vec<f64> = a
            .iter()
            .zip(b)
            .map(|(x, y)| y.sample.wall / x.sample.wall)
            .collect();
        let s = Stat::of(&per_run);
        println!(
            "\nfiles/s ours / tus-js: per run {}; median {:.2} (target ≥ 2)",
            show_list(&per_run, 2),
            s.med
        );
        ratio = s.json();
    }
    o.save(
        "batch",
        &json!({
            "machine": crate::common::machine(),
            "files": o.batch.files,
            "file_kib": o.batch.file_kib,
            "jobs": o.batch.jobs,
            "latency_ms_each_way": o.batch.latency_ms,
            "clients": json_clients,
            "ratio_files_per_s": ratio,
            "loadavg_at_end": crate::common::loadavg(),
        }),
    );
}

/// Internal: the batch through the library alone
/// (`bench lib-batch API_BASE DIR JOBS PER_HOST [on|off]`), `JOBS` threads sharing one
/// `WixClient`. `PER_HOST` 0 keeps the uploader's own agent (ureq's pool keeps at most 3 idle
/// connections per host); otherwise an agent configured like the uploader's own but keeping
/// `PER_HOST` idle connections per host. `off`: `UploaderBuilder::expect_continue(false)`.
pub fn lib_batch(args: &[String]) {
    use std::sync::Mutex;
    use wix_media_upload::wix::{FileUpload, WixClient};
    use wix_media_upload::{Credentials, Uploader};
    let (base, dir) = (&args[0], Path::new(&args[1]));
    let jobs: usize = args[2].parse().expect("JOBS");
    let per_host: usize = args[3].parse().expect("PER_HOST");
    let expect = args.get(4).is_none_or(|a| a == "on");
    let mut uploader = Uploader::builder().expect_continue(expect);
    if per_host > 0 {
        let agent = wix_media_upload::ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .output_buffer_size(64 * 1024)
            .max_idle_connections_per_host(per_host)
            .max_idle_connections(per_host.max(10))
            .build()
            .new_agent();
        uploader = uploader.agent(agent);
    }
    let client = WixClient::builder(Credentials::site("bench", "bench").with_api_base(base))
        .uploader(uploader)
        .build()
        .expect("client");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let queue = Mutex::new(files.into_iter());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some(path) = next else { return };
                    client
                        .upload_with(&path, FileUpload::new())
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                }
            });
        }
    });
}
