//! Section `quota` (issue 18 §4): the site's REST quota. The release `wix-media` against the
//! in-process emulator limiting REST calls (`EmulatorConfig::rate_limit`), each run on a fresh
//! emulator and a fresh state directory (so nothing is known of the quota at the start):
//!
//! - `quota-1s`, `quota-60s`: 250 files of 20 KiB by `wix-media upload --jobs N` at 20 calls
//!   per 1 s and at 200 calls per 60 s, fixed and sliding windows, with and without
//!   `Retry-After`: wall time beside the quota's bound, REST calls refused, files failed;
//! - `quota-two`: two `wix-media upload` processes at once (125 files each) on one site, with
//!   one state directory (the shared pace) and, for contrast, with one each;
//! - `quota-import`: 250 URLs served from 127.0.0.1 imported by one `wix-media import
//!   --from-file --wait` (bulk) and by 250 `wix-media import URL --wait`, one after the other.
//!
//! `quota` runs the four. Requests and refusals are the emulator's counts; after every upload
//! run each file the CLI says it uploaded must be in the emulator with its name and MD5.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wix_media_emulator::{Emulator, EmulatorConfig, RateWindow};

use crate::batch::make_inputs;
use crate::common::{Opts, Stat, show_counts, wix_media_on as cli};

const FILES: usize = 250;
const FILE_LEN: u64 = 20 * 1024;

/// The emulator's rate limit for a run.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub calls: u32,
    pub window: Duration,
    pub kind: RateWindow,
    pub retry_after: bool,
}

impl Limit {
    fn name(&self) -> String {
        let kind = match self.kind {
            RateWindow::Fixed => "fixed",
            _ => "sliding",
        };
        let ra = if self.retry_after {
            "Retry-After"
        } else {
            "none"
        };
        format!(
            "{}/{} s {kind}, {ra}",
            self.calls,
            self.window.as_secs_f64()
        )
    }

    /// The best possible time for `calls` REST calls let through: `N` at once, then `N` more
    /// each window (the last answers' round trip left out: under a millisecond here).
    pub fn bound(&self, calls: u64) -> f64 {
        let windows = calls.div_ceil(u64::from(self.calls)).saturating_sub(1);
        windows as f64 * self.window.as_secs_f64()
    }
}

/// What one `wix-media` run did.
#[derive(Clone, Debug, Default)]
struct Run {
    wall: f64,
    /// REST calls the emulator received (refused ones included), and refused (429).
    rest: u64,
    refused: u64,
    uploaded: usize,
    failed: usize,
    routes: BTreeMap<String, u64>,
}

impl Run {
    fn refused_pct(&self) -> f64 {
        100.0 * self.refused as f64 / (self.rest.max(1)) as f64
    }

    /// The bound for the calls let through, over the wall time (1.0: as fast as the quota
    /// allows).
    fn of_bound(&self, limit: &Limit) -> f64 {
        limit.bound(self.rest - self.refused) / self.wall
    }
}

pub fn run(o: &Opts, part: &str) {
    let root = o.dir.join("quota");
    let files = root.join("files");
    let inputs = make_inputs(&files, FILES, FILE_LEN);
    if matches!(part, "quota" | "quota-1s") {
        uploads(o, &root, &inputs, 20, Duration::from_secs(1), o.runs_or(3));
    }
    if matches!(part, "quota" | "quota-60s") {
        let runs = o.quota.long_runs.max(1);
        uploads(o, &root, &inputs, 200, Duration::from_secs(60), runs);
    }
    if matches!(part, "quota" | "quota-two") {
        two(o, &root, &inputs);
    }
    if matches!(part, "quota" | "quota-import") {
        imports(o, &root);
    }
}

/// The same files, on every kind of window, with every `--jobs`.
fn uploads(
    o: &Opts,
    root: &Path,
    inputs: &BTreeMap<String, String>,
    calls: u32,
    window: Duration,
    runs: usize,
) {
    let name = format!("quota-{}s", window.as_secs());
    println!(
        "\n# {name}: {FILES} files of {} KiB, `wix-media upload --jobs N` against the in-process emulator limiting REST calls to {calls} per {} s; {runs} run(s) each",
        FILE_LEN / 1024,
        window.as_secs()
    );
    let mut rows = Vec::new();
    for kind in [RateWindow::Fixed, RateWindow::Sliding] {
        for retry_after in [false, true] {
            let limit = Limit {
                calls,
                window,
                kind,
                retry_after,
            };
            for &jobs in &o.quota.jobs {
                let mut got = Vec::new();
                for i in 0..runs {
                    let r = upload_once(root, inputs, limit, jobs);
                    eprintln!(
                        "{}, --jobs {jobs}, run {i}: {:.2} s ({:.0}% of the bound), {} REST calls, {} refused, {} failed (load {:.2})",
                        limit.name(),
                        r.wall,
                        100.0 * r.of_bound(&limit),
                        r.rest,
                        r.refused,
                        r.failed,
                        crate::common::loadavg()
                    );
                    got.push(r);
                }
                rows.push((limit, jobs, got));
            }
        }
    }
    report_uploads(o, &name, &rows);
}

/// One upload of all the files on a fresh emulator and state directory.
fn upload_once(root: &Path, inputs: &BTreeMap<String, String>, limit: Limit, jobs: usize) -> Run {
    let emu = emulator(&root.join("emulator"), Some(limit));
    let state = fresh_dir(&root.join("state"));
    let mut cmd = cli(emu.base_url(), &state, "upload");
    cmd.args(["--no-progress", "--jobs", &jobs.to_string()])
        .arg(root.join("files"));
    let out = root.join("stdout.jsonl");
    let t = Instant::now();
    let mut child = spawn(cmd, &out);
    let _ = child.wait().expect("wait for wix-media");
    let wall = t.elapsed().as_secs_f64();
    let mut r = counted(&emu, wall);
    (r.uploaded, r.failed) = outcome(&emu, &out, inputs, FILES);
    emu.stop();
    r
}

/// Two `wix-media upload` processes at once, 125 files each, 20 calls per sliding second:
/// sharing one state directory, then each with its own.
fn two(o: &Opts, root: &Path, inputs: &BTreeMap<String, String>) {
    let runs = o.runs_or(3);
    let limit = Limit {
        calls: 20,
        window: Duration::from_secs(1),
        kind: RateWindow::Sliding,
        retry_after: false,
    };
    println!(
        "\n# quota-two: two `wix-media upload --jobs 8` at once, {} files each, one site limited to {}; {runs} runs",
        FILES / 2,
        limit.name()
    );
    let halves = split_inputs(root, inputs);
    let mut rows = Vec::new();
    for shared in [true, false] {
        let mut got = Vec::new();
        for i in 0..runs {
            let (run, finish) = two_once(root, inputs, &halves, limit, shared);
            eprintln!(
                "shared state dir {shared}, run {i}: {:.2} s (A {:.2} s, B {:.2} s), {} REST calls, {} refused, {} failed",
                run.wall, finish[0], finish[1], run.rest, run.refused, run.failed
            );
            got.push((run, finish));
        }
        rows.push((shared, got));
    }
    report_two(o, limit, &rows);
}

/// The inputs in two folders of 125 (hard links), and the expected files of each.
fn split_inputs(root: &Path, inputs: &BTreeMap<String, String>) -> [PathBuf; 2] {
    let dirs = [root.join("half-a"), root.join("half-b")];
    for (i, name) in inputs.keys().enumerate() {
        let dir = &dirs[i % 2];
        std::fs::create_dir_all(dir).expect("half dir");
        let to = dir.join(name);
        if !to.exists() {
            std::fs::hard_link(root.join("files").join(name), &to)
                .or_else(|_| std::fs::copy(root.join("files").join(name), &to).map(drop))
                .expect("link an input");
        }
    }
    dirs
}

/// Both processes started together; the run and each one's finish time (s from the start).
fn two_once(
    root: &Path,
    inputs: &BTreeMap<String, String>,
    halves: &[PathBuf; 2],
    limit: Limit,
    shared: bool,
) -> (Run, [f64; 2]) {
    let emu = emulator(&root.join("emulator"), Some(limit));
    let states = [
        fresh_dir(&root.join("state")),
        fresh_dir(&root.join("state-b")),
    ];
    let outs = [root.join("stdout-a.jsonl"), root.join("stdout-b.jsonl")];
    let t = Instant::now();
    let mut children: Vec<Child> = (0..2)
        .map(|i| {
            let state = &states[if shared { 0 } else { i }];
            let mut cmd = cli(emu.base_url(), state, "upload");
            cmd.args(["--no-progress", "--jobs", "8"]).arg(&halves[i]);
            spawn(cmd, &outs[i])
        })
        .collect();
    let mut finish = [f64::NAN; 2];
    while finish.iter().any(|f| f.is_nan()) {
        for (i, c) in children.iter_mut().enumerate() {
            if finish[i].is_nan() && c.try_wait().expect("try_wait").is_some() {
                finish[i] = t.elapsed().as_secs_f64();
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut run = counted(&emu, finish[0].max(finish[1]));
    for out in &outs {
        let (up, failed) = outcome(&emu, out, inputs, FILES / 2);
        run.uploaded += up;
        run.failed += failed;
    }
    emu.stop();
    (run, finish)
}

/// 250 imports from a file server on 127.0.0.1: in bulk by one process, then one process per
/// URL (what a shell loop over `wix-media import URL` does), both with `--wait`.
fn imports(o: &Opts, root: &Path) {
    let runs = o.runs_or(3);
    println!(
        "\n# quota-import: {FILES} URLs (2 KiB each, served from 127.0.0.1) imported with `--wait`, in-process emulator (no rate limit, files READY once fetched); {runs} runs"
    );
    let source = crate::support::raw_server::file_server(vec![7u8; 2048], "image/png");
    let urls: Vec<String> = (0..FILES)
        .map(|i| source.url(&format!("/img{i:03}.png")))
        .collect();
    let list = root.join("urls.txt");
    std::fs::create_dir_all(root).expect("quota dir");
    std::fs::write(&list, urls.join("\n") + "\n").expect("url list");
    let mut bulk = Vec::new();
    let mut single = Vec::new();
    for i in 0..runs {
        let b = import_run(root, |base, state| {
            let mut cmd = cli(base, state, "import");
            cmd.args(["--wait", "--from-file"]).arg(&list);
            vec![cmd]
        });
        let s = import_run(root, |base, state| {
            urls.iter()
                .map(|url| {
                    let mut cmd = cli(base, state, "import");
                    cmd.args([url.as_str(), "--wait"]);
                    cmd
                })
                .collect()
        });
        eprintln!(
            "run {i}: bulk {:.2} s, {} requests; one by one {:.2} s, {} requests",
            b.wall, b.rest, s.wall, s.rest
        );
        bulk.push(b);
        single.push(s);
    }
    report_imports(o, &bulk, &single);
}

/// Runs the commands one after the other on a fresh emulator; every URL must be imported.
fn import_run(root: &Path, commands: impl FnOnce(&str, &Path) -> Vec<Command>) -> Run {
    let emu = emulator(&root.join("emulator"), None);
    let state = fresh_dir(&root.join("state"));
    let out = root.join("stdout.jsonl");
    let mut ready = 0;
    let t = Instant::now();
    for cmd in commands(emu.base_url(), &state) {
        let status = spawn(cmd, &out).wait().expect("wait for wix-media");
        assert!(status.success(), "an import failed: see {}", out.display());
        ready += lines(&out)
            .iter()
            .filter(|l| l["file"]["operationStatus"] == "READY")
            .count();
    }
    let mut r = counted(&emu, t.elapsed().as_secs_f64());
    assert_eq!(ready, FILES, "every URL imported and READY");
    r.uploaded = ready;
    emu.stop();
    r
}

/// A fresh emulator in `dir`, files READY at once, REST calls limited as `limit` says.
fn emulator(dir: &Path, limit: Option<Limit>) -> Emulator {
    let _ = std::fs::remove_dir_all(dir);
    let mut config = EmulatorConfig::new().processing_delay(Duration::ZERO);
    if let Some(l) = limit {
        config = config
            .rate_limit(l.calls, l.window)
            .rate_window(l.kind)
            .rate_limit_retry_after(l.retry_after);
    }
    config.start(dir).expect("emulator")
}

fn fresh_dir(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    dir.to_owned()
}

/// Starts `cmd`, its stdout to `out`, its stderr to `out` with `.err` added.
fn spawn(mut cmd: Command, out: &Path) -> Child {
    let err = out.with_extension("err");
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(out).expect("stdout file"))
        .stderr(std::fs::File::create(err).expect("stderr file"))
        .spawn()
        .expect("spawn wix-media")
}

fn lines(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .expect("stdout")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The emulator's counts after a run of `wall` seconds.
fn counted(emu: &Emulator, wall: f64) -> Run {
    let routes = emu.route_counts();
    let rest = routes
        .iter()
        .filter(|(k, _)| !is_upload_host(k))
        .map(|(_, n)| n)
        .sum();
    Run {
        wall,
        rest,
        refused: emu.refused_counts().values().sum(),
        routes,
        ..Run::default()
    }
}

// Routes of the upload host (not REST calls, not rate-limited).
fn is_upload_host(route: &str) -> bool {
    ["simple-upload", "tus", "finalize", "download", "null"]
        .iter()
        .any(|r| route.ends_with(r))
}

/// Files uploaded (each checked in the emulator: name and MD5) and failed, of `expected`.
fn outcome(
    emu: &Emulator,
    out: &Path,
    inputs: &BTreeMap<String, String>,
    expected: usize,
) -> (usize, usize) {
    let mut uploaded = 0;
    for l in lines(out) {
        let Some(id) = l["file"]["id"].as_str() else {
            continue;
        };
        let f = emu.file(id).expect("an uploaded file is in the emulator");
        let name = f["displayName"].as_str().unwrap_or("");
        assert_eq!(
            inputs.get(name).map(String::as_str),
            f["hash"].as_str(),
            "{name}: the stored file differs from the input"
        );
        uploaded += 1;
    }
    (uploaded, expected.saturating_sub(uploaded))
}

fn report_uploads(o: &Opts, name: &str, rows: &[(Limit, usize, Vec<Run>)]) {
    println!(
        "\n| window | Retry-After | --jobs | wall s median (min–max) | bound s | % of bound | REST calls | refused % median (max) | files failed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut saved = Vec::new();
    for (limit, jobs, runs) in rows {
        let stat = |f: &dyn Fn(&Run) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
        let wall = stat(&|r| r.wall);
        let of_bound = stat(&|r| 100.0 * r.of_bound(limit));
        let refused = stat(&Run::refused_pct);
        let rest = stat(&|r| r.rest as f64);
        let failed: usize = runs.iter().map(|r| r.failed).sum();
        let bound = limit.bound(FILES as u64);
        let kind = if limit.kind == RateWindow::Fixed {
            "fixed"
        } else {
            "sliding"
        };
        println!(
            "| {kind} | {} | {jobs} | {} | {bound:.0} | {} | {:.0} | {:.1} ({:.1}) | {failed} |",
            if limit.retry_after { "yes" } else { "no" },
            if runs.len() > 1 {
                wall.show(2)
            } else {
                format!("{:.2}", wall.med)
            },
            if runs.len() > 1 {
                of_bound.show(0)
            } else {
                format!("{:.0}", of_bound.med)
            },
            rest.med,
            refused.med,
            refused.max
        );
        saved.push(json!({
            "limit": limit.name(), "jobs": jobs, "wall_s": wall.json(), "bound_s": bound,
            "of_bound_pct": of_bound.json(), "rest_calls": rest.json(),
            "refused_pct": refused.json(), "failed": failed,
            "runs": runs.iter().map(|r| json!({"wall_s": r.wall, "rest": r.rest,
                "refused": r.refused, "failed": r.failed})).collect::<Vec<_>>(),
        }));
    }
    verdict(rows);
    o.save(
        name,
        &json!({"machine": crate::common::machine(), "files": FILES, "rows": saved}),
    );
}

// The targets over every run of a table.
fn verdict(rows: &[(Limit, usize, Vec<Run>)]) {
    let all: Vec<(&Limit, &Run)> = rows
        .iter()
        .flat_map(|(l, _, runs)| runs.iter().map(move |r| (l, r)))
        .collect();
    let worst_bound = all
        .iter()
        .map(|(l, r)| r.of_bound(l))
        .fold(f64::MAX, f64::min);
    let worst_refused = all.iter().map(|(_, r)| r.refused_pct()).fold(0.0, f64::max);
    let failed: usize = all.iter().map(|(_, r)| r.failed).sum();
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "worst run: {:.0}% of the bound (target ≥ 90: {}), {:.1}% refused (target ≤ 5: {}), {failed} files failed (target 0: {})",
        100.0 * worst_bound,
        met(worst_bound >= 0.9),
        worst_refused,
        met(worst_refused <= 5.0),
        met(failed == 0)
    );
}

/// One run of two processes: the run, and when each was done.
type TwoRun = (Run, [f64; 2]);

fn report_two(o: &Opts, limit: Limit, rows: &[(bool, Vec<TwoRun>)]) {
    let bound = limit.bound(FILES as u64);
    println!(
        "\n| state directories | wall s (both done) | A done, s | B done, s | bound s | REST calls | refused % median (max) | files failed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut saved = Vec::new();
    for (shared, runs) in rows {
        let stat = |f: &dyn Fn(&TwoRun) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
        let wall = stat(&|r| r.0.wall);
        let a = stat(&|r| r.1[0]);
        let b = stat(&|r| r.1[1]);
        let refused = stat(&|r| r.0.refused_pct());
        let rest = stat(&|r| r.0.rest as f64);
        let failed: usize = runs.iter().map(|r| r.0.failed).sum();
        let dirs = if *shared { "one, shared" } else { "one each" };
        println!(
            "| {dirs} | {wall} | {a} | {b} | {bound:.0} | {:.0} | {:.1} ({:.1}) | {failed} |",
            rest.med, refused.med, refused.max
        );
        saved.push(json!({
            "shared": shared, "wall_s": wall.json(), "a_s": a.json(), "b_s": b.json(),
            "bound_s": bound, "rest_calls": rest.json(), "refused_pct": refused.json(),
            "failed": failed, "routes": runs[0].0.routes,
        }));
    }
    o.save(
        "quota-two",
        &json!({"machine": crate::common::machine(), "limit": limit.name(), "rows": saved}),
    );
}

fn report_imports(o: &Opts, bulk: &[Run], single: &[Run]) {
    println!(
        "\n| how | wall s median (min–max) | REST requests | import requests | requests by route (first run) |"
    );
    println!("|---|---|---|---|---|");
    let mut saved = serde_json::Map::new();
    for (name, runs) in [
        ("`wix-media import --from-file LIST --wait` (bulk)", bulk),
        ("250 × `wix-media import URL --wait`", single),
    ] {
        let wall = Stat::of(&runs.iter().map(|r| r.wall).collect::<Vec<_>>());
        let imports: u64 = runs[0]
            .routes
            .iter()
            .filter(|(k, _)| k.contains("import"))
            .map(|(_, n)| n)
            .sum();
        println!(
            "| {name} | {wall} | {} | {imports} | {} |",
            runs[0].rest,
            show_counts(&runs[0].routes)
        );
        saved.insert(
            name.into(),
            json!({"wall_s": wall.json(), "rest": runs[0].rest, "imports": imports,
                "routes": runs[0].routes}),
        );
    }
    o.save(
        "quota-import",
        &json!({"machine": crate::common::machine(), "urls": FILES, "how": saved}),
    );
}
