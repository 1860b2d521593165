//! The benchmark runner (`cargo build --release --workspace --examples --bins`, then
//! `target/release/examples/bench`; `bash benches/run.sh` does both). Not a test: run it by hand
//! on a quiet machine; the tables it prints go to docs/PERFORMANCE.md.
//!
//! ```text
//! bench [SECTION...] [OPTIONS]
//!   batch    200 × 64 KiB, wix-media --jobs 4 vs Node + tus-js-client, +10 ms each way
//!   folder   peak RSS of wix-media --jobs 8 over 100 files of 1 to 50 MB
//!   single   512 MiB to @tus/server: curl vs wix-media (one PATCH, 8 MiB chunks), in sets
//!   caps     300 MB through an early-413 cap relay (8 MiB, 256 MiB; honouring / ignoring Expect)
//!   expect   512 MiB with Expect: 100-continue on vs off, to @tus/server and to a relay ignoring it
//!   expect-wix   20 × 5 MB on the Wix simple route behind a proxy honouring / ignoring Expect
//!   sync     1,000 small files: a no-op `wix-media sync` from an empty state dir (requests, wall
//!            time), after `touch`, after changing 10 files
//!   quota    the site's REST quota (issue 18 §4), its four parts: quota-1s and quota-60s (250
//!            × 20 KiB by `wix-media upload --jobs 4,8,16` against the emulator limiting REST
//!            calls to 20/1 s and 200/60 s, fixed and sliding, with and without Retry-After),
//!            quota-two (two processes on one site), quota-import (bulk vs one by one)
//!   chart    the SVG chart from the saved numbers (also written after batch and single; with
//!            another --results dir only when --chart is given too, so docs/ keeps the full one)
//!   ingest, parallel   the earlier emulator ingest and parallel-upload sections
//!   (no section: batch folder single caps expect expect-wix, then the chart)
//! OPTIONS: --runs N  --sets N  --dir D  --results D  --chart FILE.svg  --size-mib N
//!   --clients curl,ours,ours-8m[,tus-js]  --rss-sizes 64,2048  --files N  --file-kib N
//!   --jobs N  --latency-ms N  --batch-clients ours,tus-js[,lib,lib-pool8]
//!   --emulator-dir D  --parallel-mib N  --quota-jobs 4,8,16  --long-runs N
//! ```
//! Every section checks the uploaded bytes after every run and panics when they differ.

use wix_media_testkit as support;

mod batch;
mod caps;
mod chart;
mod common;
mod folder;
mod legacy;
mod quota;
mod relay;
mod single;
mod sync;

use std::path::{Path, PathBuf};

use common::{BatchOpts, LegacyOpts, MIB, Opts, QuotaOpts, SingleOpts};

const SECTIONS: [&str; 15] = [
    "batch",
    "folder",
    "single",
    "caps",
    "expect",
    "expect-wix",
    "chart",
    "ingest",
    "parallel",
    "sync",
    "quota",
    "quota-1s",
    "quota-60s",
    "quota-two",
    "quota-import",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("stream-client") => {
            return legacy::stream_client(
                &args[2],
                Path::new(&args[3]),
                args[4].parse().unwrap_or(8 * MIB),
            );
        }
        Some("emulator-server") => return legacy::emulator_server(Path::new(&args[2])),
        Some("lib-upload") => return caps::lib_upload(&args[2..]),
        Some("lib-batch") => return batch::lib_batch(&args[2..]),
        _ => {}
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut o = Opts {
        runs: None,
        dir: std::env::temp_dir().join("wmu-bench"),
        results: manifest.join("target").join("bench-results"),
        chart: manifest.join("docs").join("perf-batch.svg"),
        single: SingleOpts {
            sets: 3,
            size_mib: 512,
            clients: vec!["curl".into(), "ours".into(), "ours-8m".into()],
            rss_sizes: Vec::new(),
        },
        batch: BatchOpts {
            files: 200,
            file_kib: 64,
            jobs: 4,
            latency_ms: 10,
            clients: vec!["ours".into(), "tus-js".into()],
        },
        legacy: LegacyOpts {
            emulator_dir: None,
            parallel_mib: 256,
        },
        quota: QuotaOpts {
            jobs: vec![4, 8, 16],
            long_runs: 1,
        },
    };
    let mut sections: Vec<String> = Vec::new();
    let default_results = o.results.clone();
    let mut chart_given = false;
    let mut it = args.into_iter().skip(1);
    while let Some(a) = it.next() {
        if SECTIONS.contains(&a.as_str()) {
            sections.push(a);
            continue;
        }
        let v = it.next().unwrap_or_default();
        let num = |what: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| panic!("{what} needs a number, not {v:?}"))
        };
        match a.as_str() {
            "--runs" => o.runs = Some(num("--runs") as usize),
            "--sets" => o.single.sets = num("--sets") as usize,
            "--dir" => o.dir = v.into(),
            "--results" => o.results = v.into(),
            "--chart" => {
                o.chart = v.into();
                chart_given = true;
            }
            "--size-mib" => o.single.size_mib = num("--size-mib"),
            "--clients" => o.single.clients = v.split(',').map(str::to_owned).collect(),
            "--rss-sizes" => {
                o.single.rss_sizes = v.split(',').filter_map(|s| s.parse().ok()).collect();
            }
            "--files" => o.batch.files = num("--files") as usize,
            "--file-kib" => o.batch.file_kib = num("--file-kib"),
            "--jobs" => o.batch.jobs = num("--jobs") as usize,
            "--latency-ms" => o.batch.latency_ms = num("--latency-ms"),
            "--batch-clients" => o.batch.clients = v.split(',').map(str::to_owned).collect(),
            "--emulator-dir" => o.legacy.emulator_dir = Some(PathBuf::from(v)),
            "--parallel-mib" => o.legacy.parallel_mib = num("--parallel-mib"),
            "--quota-jobs" => {
                o.quota.jobs = v.split(',').filter_map(|s| s.parse().ok()).collect();
            }
            "--long-runs" => o.quota.long_runs = num("--long-runs") as usize,
            _ => panic!("unknown section or option {a} (sections: {SECTIONS:?})"),
        }
    }
    if sections.is_empty() {
        sections = ["batch", "folder", "single", "caps", "expect", "expect-wix"]
            .map(String::from)
            .to_vec();
    }
    std::fs::create_dir_all(&o.dir).expect("bench dir");
    println!("# machine: {}", common::machine());
    let mut chart = false;
    for s in &sections {
        let load = common::loadavg();
        eprintln!("== {s} (load average {load:.2})");
        match s.as_str() {
            "batch" => batch::run(&o),
            "folder" => folder::run(&o),
            "single" => single::run(&o),
            "caps" => caps::caps(&o),
            "expect" => caps::expect(&o),
            "expect-wix" => caps::expect_wix(&o),
            "ingest" => legacy::ingest(&o),
            "parallel" => legacy::parallel(&o),
            "sync" => sync::run(&o),
            q if q.starts_with("quota") => quota::run(&o, q),
            _ => {}
        }
        chart |= matches!(s.as_str(), "batch" | "single" | "chart");
    }
    if chart && !chart_given && o.results != default_results {
        eprintln!("chart not redrawn: --results is not the default and no --chart was given");
    } else if chart {
        chart::write(&o);
    }
}
