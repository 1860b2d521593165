//! The `upload` example as a user runs it: a child process with its own state dir and cache,
//! no `WIX_*` variables, and every run bounded in time.
#![cfg(feature = "emulator")]

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use support::{TempDir, TusServer, big_temp_file_with, file_digest, temp_file_with};
use wix_media_upload::emulator::Emulator;

const MIB: u64 = 1024 * 1024;
/// No run of the example may take longer than this.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// Finding (or building) the example
// ---------------------------------------------------------------------------------------------

fn newest_source_mtime() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in rd.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(t);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(&root.join("src"), &mut newest);
    for f in ["examples/upload.rs", "Cargo.toml"] {
        if let Ok(t) = std::fs::metadata(root.join(f)).and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    newest
}

fn is_fresh(bin: &Path) -> bool {
    std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= newest_source_mtime())
}

/// `target/<profile>/examples/upload`, as `cargo test --all-features` builds it; when it is
/// missing or older than the sources, the example is built once into a target dir of its own
/// (so as not to wait on the lock of the cargo running these tests).
fn upload_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let name = format!("upload{}", std::env::consts::EXE_SUFFIX);
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary lives in target/<profile>/deps");
        let bin = profile_dir.join("examples").join(&name);
        if is_fresh(&bin) {
            return bin;
        }
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-example-build");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", "upload", "--features", "emulator"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", &target)
            .stdin(Stdio::null())
            .status()
            .expect("run cargo build --example upload");
        assert!(status.success(), "cargo build --example upload failed");
        let built = target.join("debug").join("examples").join(&name);
        assert!(
            built.is_file(),
            "{} missing after the build",
            built.display()
        );
        built
    })
}

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

/// A fresh state dir and cache dir for one test.
struct Home {
    state: TempDir,
    cache: TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            state: TempDir::new("wmu-cli-state"),
            cache: TempDir::new("wmu-cli-cache"),
        }
    }

    /// `upload --state-dir STATE ARGS...` with a clean environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(upload_bin());
        cmd.arg("--state-dir")
            .arg(self.state.path())
            .args(args)
            .env_remove("WIX_API_KEY")
            .env_remove("WIX_SITE_ID")
            .env_remove("WIX_API_BASE")
            .env_remove("RUST_LOG")
            .env_remove("RUST_BACKTRACE")
            .env("XDG_CACHE_HOME", self.cache.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// The one stdout line, as JSON.
    fn json(&self) -> Value {
        let lines = self.stdout_lines();
        assert_eq!(
            lines.len(),
            1,
            "stdout is not one line: {:?}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", lines[0]))
    }

    fn assert_success(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }
}

fn collect(mut child: Child, timeout: Duration) -> Output {
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the example ran longer than {timeout:?}; stderr: {}",
                err_t.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code(),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

fn run(mut cmd: Command) -> Output {
    collect(cmd.spawn().expect("spawn the example"), RUN_TIMEOUT)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy that stops forwarding the client's bytes past a limit
// ---------------------------------------------------------------------------------------------

struct Gate {
    forwarded: Mutex<(u64, Option<u64>)>,
    changed: Condvar,
}

/// Forwards to `target`; while a limit is set, holds the client's bytes once that many went
/// through (over all connections). The client then stalls, deterministically, mid-upload.
struct GateProxy {
    addr: SocketAddr,
    gate: Arc<Gate>,
}

impl GateProxy {
    fn start(target: SocketAddr, limit: Option<u64>) -> GateProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let gate = Arc::new(Gate {
            forwarded: Mutex::new((0, limit)),
            changed: Condvar::new(),
        });
        let g = Arc::clone(&gate);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let g = Arc::clone(&g);
                thread::spawn(move || pump_gated(client, server, &g));
                thread::spawn(move || {
                    let (mut from, mut to) = (s2, c2);
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        GateProxy { addr, gate }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lifts the limit.
    fn open(&self) {
        self.gate.forwarded.lock().unwrap().1 = None;
        self.gate.changed.notify_all();
    }
}

fn pump_gated(mut from: TcpStream, mut to: TcpStream, gate: &Gate) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        {
            let mut g = gate.forwarded.lock().unwrap();
            while g.1.is_some_and(|limit| g.0 >= limit) {
                g = gate.changed.wait(g).unwrap();
            }
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        gate.forwarded.lock().unwrap().0 += n as u64;
    }
    let _ = to.shutdown(Shutdown::Write);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn wix_emulator_mode_prints_one_file_descriptor() {
    let home = Home::new();
    let (file, _) = temp_file_with(1000, 1);
    let out = run(home.command(&["--no-progress", path_str(file.path())]));
    out.assert_success();
    let desc = out.json();
    assert_eq!(desc["sizeInBytes"], "1000", "{desc}");
    assert!(desc["id"].as_str().is_some_and(|s| !s.is_empty()), "{desc}");
    assert!(out.stderr.contains("emulator"), "stderr: {}", out.stderr);
}

#[test]
fn tus_mode_prints_the_upload() {
    let server = TusServer::start();
    let home = Home::new();
    let (file, bytes) = temp_file_with(300_000, 2);
    let endpoint = server.endpoint();
    let out = run(home.command(&["--endpoint", &endpoint, path_str(file.path())]));
    out.assert_success();
    let v = out.json();
    let url = v["uploadUrl"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(url.starts_with(&endpoint), "{v}");
    assert_eq!(v["size"], 300_000, "{v}");
    assert_eq!(v["resumedFrom"], 0, "{v}");
    assert_eq!(server.stored_bytes(url), bytes);
    assert_eq!(server.uploads().len(), 1);
}

#[test]
fn killed_upload_resumes_on_the_next_run() {
    let server = TusServer::start();
    let target: SocketAddr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    // The proxy holds the client once 9 MiB went through: the upload can't finish before the
    // kill, whatever the machine's speed.
    let proxy = GateProxy::start(target, Some(9 * MIB));
    let endpoint = format!("{}/files", proxy.url());
    let home = Home::new();
    let (file, digest) = big_temp_file_with(64 * MIB, 3);
    let args = [
        "--endpoint",
        endpoint.as_str(),
        "--chunk-size",
        "1048576",
        path_str(file.path()),
    ];

    let mut child = home.command(&args).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = match server.uploads().as_slice() {
            [id] => std::fs::metadata(server.stored_path(id)).map_or(0, |m| m.len()),
            _ => 0,
        };
        if stored > 8 * MIB {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out = collect(child, RUN_TIMEOUT);
            panic!(
                "the example ended ({status}) before 8 MiB were stored: {}",
                out.stderr
            );
        }
        assert!(
            Instant::now() < deadline,
            "8 MiB not stored within 120 s (uploads: {:?})",
            server.uploads()
        );
        thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL the example");
    let killed = collect(child, RUN_TIMEOUT);
    assert_ne!(killed.code, Some(0));
    assert!(killed.stdout.is_empty(), "{}", killed.stdout);
    // Let the held bytes (and the connection's end) through, then run the same command again.
    proxy.open();

    let out = run(home.command(&args));
    out.assert_success();
    let v = out.json();
    let resumed = v["resumedFrom"].as_u64().unwrap_or_else(|| panic!("{v}"));
    assert!(resumed > 8 * MIB, "{v}");
    assert_eq!(v["size"], 64 * MIB, "{v}");
    assert_eq!(server.uploads().len(), 1, "{:?}", server.uploads());
    let url = v["uploadUrl"].as_str().unwrap();
    assert_eq!(
        file_digest(server.stored_path(url)),
        digest,
        "stored bytes differ"
    );
}

fn assert_one_clean_line(out: &Output) {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "stderr is not one line: {:?}", out.stderr);
    assert!(lines[0].starts_with("upload: "), "{}", lines[0]);
    for bad in ["panicked", "RUST_BACKTRACE"] {
        assert!(!out.stderr.contains(bad), "{}", out.stderr);
    }
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn missing_file_fails_with_one_line() {
    let home = Home::new();
    let missing = home.cache.join("no-such-file.bin");
    let out = run(home.command(&[path_str(&missing)]));
    assert!(out.code.is_some_and(|c| c != 0), "exit {:?}", out.code);
    assert_one_clean_line(&out);
    assert!(out.stderr.contains("no-such-file.bin"), "{}", out.stderr);
}

#[test]
fn unreachable_endpoint_fails_with_one_line() {
    let home = Home::new();
    let (file, _) = temp_file_with(100, 4);
    let out = run(home.command(&[
        "--endpoint",
        "http://127.0.0.1:1/files",
        "--retry-delays",
        "",
        path_str(file.path()),
    ]));
    assert!(out.code.is_some_and(|c| c != 0), "exit {:?}", out.code);
    assert_one_clean_line(&out);
}

#[test]
fn bad_option_exits_2_with_usage() {
    let home = Home::new();
    let out = run(home.command(&["--no-such-option", "x.bin"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--no-such-option"), "{}", out.stderr);
    assert!(out.stderr.contains("usage: upload"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let out = run(home.command(&["--chunk-size", "lots", "x.bin"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn debug_log_shows_requests_but_never_the_token() {
    let home = Home::new();
    let (file, _) = temp_file_with(5000, 5);
    let mut cmd = home.command(&["--no-progress", path_str(file.path())]);
    cmd.env("RUST_LOG", "debug");
    let out = run(cmd);
    out.assert_success();
    assert_eq!(out.json()["sizeInBytes"], "5000");
    let err = &out.stderr;
    assert!(
        err.lines()
            .any(|l| l.contains("POST http://127.0.0.1:") && l.contains("/upload/tus -> 201")),
        "no creation line in {err}"
    );
    let finalize = err
        .lines()
        .find(|l| l.contains("PUT http://127.0.0.1:") && l.contains("/upload/tus/"))
        .unwrap_or_else(|| panic!("no finalize line in {err}"));
    assert!(finalize.contains("/upload/tus/***?filename="), "{finalize}");
    // Wix tokens are JWTs: none, nor this run's token in any form, may show.
    assert!(!err.contains("eyJ"), "{err}");
    let emu = Emulator::start(home.state.join("emulator")).expect("reopen the emulator's store");
    let tokens = emu.issued_tokens();
    assert_eq!(tokens.len(), 1);
    for t in &tokens {
        for form in [t.clone(), STANDARD.encode(t), URL_SAFE_NO_PAD.encode(t)] {
            assert!(!err.contains(&form), "stderr shows the token: {err}");
        }
    }
}
