//! What every section shares: options, timing a process, statistics, input files, digests.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

pub const MIB: u64 = 1024 * 1024;

/// The command line, shared by the sections.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Runs per client and set (each section has its own default when unset).
    pub runs: Option<usize>,
    /// Inputs, state and emulator storage.
    pub dir: PathBuf,
    /// Where each section leaves its numbers as JSON (the chart reads them).
    pub results: PathBuf,
    /// The SVG chart.
    pub chart: PathBuf,
    pub single: SingleOpts,
    pub batch: BatchOpts,
    pub legacy: LegacyOpts,
    pub quota: QuotaOpts,
}

/// The large file of the single-file comparison (its size also serves `expect` and `ingest`).
#[derive(Clone, Debug)]
pub struct SingleOpts {
    /// Sets of alternating runs.
    pub sets: usize,
    /// The file's size and the clients.
    pub size_mib: u64,
    pub clients: Vec<String>,
    /// Extra files whose peak RSS is measured (MiB; none by default).
    pub rss_sizes: Vec<u64>,
}

/// The batch of small files (how many at once and the latency also serve `expect-wix`).
#[derive(Clone, Debug)]
pub struct BatchOpts {
    /// How many files, how large, how many at once, latency each way.
    pub files: usize,
    pub file_kib: u64,
    pub jobs: usize,
    pub latency_ms: u64,
    /// ours, tus-js, lib (the library on threads), lib-poolN.
    pub clients: Vec<String>,
}

/// The legacy sections: the emulator's storage, the parallel upload's size.
#[derive(Clone, Debug)]
pub struct LegacyOpts {
    pub emulator_dir: Option<PathBuf>,
    pub parallel_mib: u64,
}

/// The quota sections: `--jobs` of the uploads, runs at the 60 s window (about a minute each).
#[derive(Clone, Debug)]
pub struct QuotaOpts {
    pub jobs: Vec<usize>,
    pub long_runs: usize,
}

impl Opts {
    pub fn runs_or(&self, default: usize) -> usize {
        self.runs.unwrap_or(default).max(1)
    }

    /// Saves a section's numbers as `<results>/<name>.json`.
    pub fn save(&self, name: &str, value: &Value) {
        std::fs::create_dir_all(&self.results).expect("results dir");
        let path = self.results.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(value).expect("json");
        std::fs::write(&path, text).expect("write results");
        eprintln!("(numbers saved to {})", path.display());
    }

    /// A section's saved numbers, if it ran.
    pub fn load(&self, name: &str) -> Option<Value> {
        let path = self.results.join(format!("{name}.json"));
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

/// One timed process: wall clock, user+sys CPU (with its children) and peak RSS.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub wall: f64,
    pub cpu: f64,
    pub rss_kib: u64,
}

impl Sample {
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

/// Runs `cmd` under `/usr/bin/time` (CPU and peak RSS); the wall time is taken here, around
/// the whole process. Stdout goes to `stdout` (or nowhere). Panics when it fails.
pub fn timed(cmd: Command, stdout: Option<&Path>) -> Sample {
    let out_file = std::env::temp_dir().join(format!("wmu-bench-time-{}", std::process::id()));
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .args(["-f", "%e %U %S %M", "-o"])
        .arg(&out_file)
        .arg(program)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    match stdout {
        Some(p) => wrapped.stdout(std::fs::File::create(p).expect("stdout file")),
        None => wrapped.stdout(Stdio::null()),
    };
    let t = Instant::now();
    let status = wrapped
        .status()
        .expect("run /usr/bin/time (apt-get install time)");
    let wall = t.elapsed().as_secs_f64();
    assert!(status.success(), "{cmd:?} failed: {status}");
    let mut text = String::new();
    std::fs::File::open(&out_file)
        .and_then(|mut f| f.read_to_string(&mut text))
        .expect("time output");
    let v: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 4, "unexpected /usr/bin/time output {text:?}");
    Sample {
        wall,
        cpu: v[1] + v[2],
        rss_kib: v[3] as u64,
    }
}

pub fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median and range of some numbers.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub med: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(v: &[f64]) -> Stat {
        let (min, max) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        Stat {
            med: median(v),
            min,
            max,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::json!({"median": self.med, "min": self.min, "max": self.max})
    }

    /// `median (min–max)` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.med,
            self.min,
            self.max,
            d = digits
        )
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.show(2))
    }
}

/// A pseudo-random file of `len` bytes (kept between runs when its size is right).
pub fn input_file(path: &Path, len: u64, seed: u64) -> PathBuf {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == len) {
        return path.to_owned();
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("input dir");
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create input"));
    let mut rng = crate::support::XorShift::new(len ^ seed ^ 0x5eed);
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        rng.fill(&mut buf);
        let n = left.min(MIB) as usize;
        f.write_all(&buf[..n]).expect("write input");
        left -= n as u64;
    }
    f.flush().expect("flush input");
    path.to_owned()
}

pub fn md5_hex(path: &Path) -> String {
    use md5::Digest as _;
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The CLI: target/<profile>/wix-media, next to this runner's target/<profile>/examples.
pub fn wix_media_bin() -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    let profile = me
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile.join(format!("wix-media{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "build it first: cargo build --release --workspace --examples --bins"
    );
    bin
}

pub fn self_exe() -> PathBuf {
    std::env::current_exe().expect("current exe")
}

pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("js")
}

/// Whether tus-js-client can be loaded (installs it with `npm ci` when missing).
pub fn js_client_ready() -> bool {
    let dir = js_dir();
    if dir.join("node_modules").join("tus-js-client").exists() {
        return true;
    }
    let ok = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("tus-js-client not installable: skipping it");
    }
    ok
}

/// The 1-minute load average, to show how quiet the machine was.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// The machine and the date, for the results.
pub fn machine() -> Value {
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    serde_json::json!({
        "date": cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "kernel": cmd("uname", &["-r"]),
        "node": cmd("node", &["--version"]),
        "curl": cmd("curl", &["--version"]).lines().next().unwrap_or("").to_owned(),
        "loadavg_at_start": loadavg(),
    })
}

/// `1.00, 2.50` of some numbers, with `digits` decimals.
pub fn show_list(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a: 1, b: 2` of a count map.
pub fn show_counts(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Removes files over 1 MiB under `dir` (uploaded bodies pile up otherwise).
pub fn remove_big_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => remove_big_files(&path),
            Ok(m) if m.len() > MIB => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
}

/// A fresh emulator in `dir` (what was there is removed), files READY at once.
pub fn fresh_emulator(dir: &Path) -> wix_media_emulator::Emulator {
    let _ = std::fs::remove_dir_all(dir);
    wix_media_emulator::EmulatorConfig::new()
        .processing_delay(std::time::Duration::ZERO)
        .start(dir)
        .expect("emulator")
}

/// `wix-media SUBCOMMAND --state-dir STATE` on the emulator at `base`.
pub fn wix_media_on(base: &str, state: &Path, subcommand: &str) -> Command {
    let mut cmd = Command::new(wix_media_bin());
    cmd.arg(subcommand)
        .arg("--state-dir")
        .arg(state)
        .env("WIX_API_KEY", "bench")
        .env("WIX_SITE_ID", "bench")
        .env("WIX_API_BASE", base)
        .env_remove("WIX_ACCOUNT_ID")
        .env_remove("RUST_LOG");
    cmd
}
