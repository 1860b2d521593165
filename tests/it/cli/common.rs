//! Running the `wix-media` binary as a user does: a child process with its own state dir and
//! cache, a clean environment, every run bounded in time. Shared by tests/cli.rs and
//! tests/cli_batch.rs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::TempDir;

pub const MIB: u64 = 1024 * 1024;
/// No run may take longer than this (generous: a busy 2-core box, debug builds).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// The binary Cargo built for these tests.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wix-media"))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// A fresh state dir and cache dir for one test.
pub struct Home {
    pub state: TempDir,
    pub cache: TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            state: TempDir::new("wmu-cli-state"),
            cache: TempDir::new("wmu-cli-cache"),
        }
    }

    /// `wix-media ARGS...` with a clean environment (no `WIX_*`, no `RUST_LOG`), stdin closed,
    /// stdout and stderr piped. The state dir is not passed: see [`Home::upload`].
    pub fn raw(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env_remove("WIX_API_KEY")
            .env_remove("WIX_SITE_ID")
            .env_remove("WIX_ACCOUNT_ID")
            .env_remove("WIX_API_BASE")
            .env_remove("RUST_LOG")
            .env_remove("RUST_BACKTRACE")
            .env("XDG_CACHE_HOME", self.cache.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `wix-media SUBCOMMAND --state-dir STATE ARGS...`.
    pub fn command(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut cmd = self.raw(&[subcommand]);
        cmd.arg("--state-dir").arg(self.state.path()).args(args);
        cmd
    }

    /// `wix-media upload --state-dir STATE ARGS...`.
    pub fn upload(&self, args: &[&str]) -> Command {
        self.command("upload", args)
    }
}

/// Points a command at an emulator running in the test process, as real credentials would.
pub fn with_wix(cmd: &mut Command, base_url: &str) {
    cmd.env("WIX_API_KEY", "test-key")
        .env("WIX_SITE_ID", "test-site")
        .env("WIX_API_BASE", base_url);
}

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!(
                        "stdout line is not JSON ({e}): {l}\nstderr: {}",
                        self.stderr
                    )
                })
            })
            .collect()
    }

    /// The one stdout line, as JSON.
    pub fn json(&self) -> Value {
        let lines = self.lines();
        assert_eq!(
            lines.len(),
            1,
            "stdout is not one line: {:?}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        lines.into_iter().next().unwrap_or_default()
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }

    pub fn assert_success(&self) {
        self.assert_code(0);
    }

    /// No panic, no backtrace hint.
    pub fn assert_no_panic(&self) {
        for bad in ["panicked", "RUST_BACKTRACE"] {
            assert!(!self.stderr.contains(bad), "{}", self.stderr);
        }
    }

    /// The summary line: `(uploaded, skipped, failed)`.
    pub fn summary(&self) -> (u64, u64, u64) {
        let line = self
            .stderr
            .lines()
            .find(|l| l.contains(" uploaded, ") && l.contains(" skipped, "))
            .unwrap_or_else(|| panic!("no summary line in {}", self.stderr));
        let num = |word: &str| -> u64 {
            let before = line.split(word).next().unwrap_or("");
            before
                .rsplit(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no count before {word:?} in {line}"))
        };
        (num(" uploaded"), num(" skipped"), num(" failed"))
    }

    /// The result line for the file whose path ends with `suffix`.
    pub fn line_for(&self, suffix: &str) -> Value {
        self.lines()
            .into_iter()
            .find(|v| v["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
            .unwrap_or_else(|| panic!("no line for {suffix} in {}", self.stdout))
    }
}

/// Waits for `child` (killing it after `timeout`) and collects its output.
pub fn collect(mut child: Child, timeout: Duration) -> Output {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let out_t = thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut out) = out {
            let _ = out.read_to_string(&mut s);
        }
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut err) = err {
            let _ = err.read_to_string(&mut s);
        }
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
                "wix-media ran longer than {timeout:?}; stderr: {}",
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

pub fn run(mut cmd: Command) -> Output {
    collect(cmd.spawn().expect("spawn wix-media"), RUN_TIMEOUT)
}

/// Sends SIGINT (what Ctrl-C sends) to a child, with the system's `kill`.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .expect("run kill -INT");
    assert!(status.success(), "kill -INT failed");
}

/// Writes `files` (relative path, contents) under `root`, creating folders.
pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, bytes) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, bytes).expect("write file");
    }
}

/// The paths of the result lines, relative to `root`, sorted.
pub fn relative_paths(out: &Output, root: &Path) -> Vec<String> {
    let mut paths: Vec<String> = out
        .lines()
        .iter()
        .map(|v| {
            let p = PathBuf::from(v["path"].as_str().unwrap_or_default());
            p.strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| p.to_string_lossy().into_owned())
        })
        .collect();
    paths.sort();
    paths
}

/// Reads lines of a child's stdout (or stderr) on a thread.
pub fn line_reader(stdout: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let reader = BufReader::new(stdout);
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
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
pub struct GateProxy {
    addr: SocketAddr,
    gate: Arc<Gate>,
}

impl GateProxy {
    pub fn start(target: SocketAddr, limit: Option<u64>) -> GateProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
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
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
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

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the limit is reached: the client's bytes are being held.
    pub fn holding(&self) -> bool {
        let g = self.gate.forwarded.lock().unwrap();
        g.1.is_some_and(|limit| g.0 >= limit)
    }

    /// Lifts the limit.
    pub fn open(&self) {
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

/// A one-route HTTP server on 127.0.0.1: every GET gets `body` (for imports).
pub struct FileServer {
    pub addr: SocketAddr,
}

impl FileServer {
    pub fn start(body: Vec<u8>, content_type: &'static str) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind file server");
        let addr = listener.local_addr().expect("file server address");
        let body = Arc::new(body);
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let body = Arc::clone(&body);
                thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match conn.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let is_head = head.starts_with(b"HEAD ");
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes());
                    if !is_head {
                        let _ = conn.write_all(&body);
                    }
                    let _ = conn.shutdown(Shutdown::Write);
                });
            }
        });
        FileServer { addr }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }
}
