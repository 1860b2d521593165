//! Running the `wix-media` binary as a user does: a child process with its own state dir and
//! cache, a clean environment, every run bounded in time. Shared by the `cli` tests and the
//! `crash` tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::Value;

use wix_media_emulator::Emulator;
pub use wix_media_testkit::child::line_reader;
use wix_media_testkit::child::{read_all, signal, wait_for};
pub use wix_media_testkit::proxy::gate::GateProxy;
pub use wix_media_testkit::write_tree;
use wix_media_testkit::{TempDir, TempFile, TusServer, big_temp_file_with, file_digest};

pub const MIB: u64 = 1024 * 1024;
/// No run may take longer than this (generous: a busy 2-core box, debug builds).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(240);

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
        let mut cmd = Command::new(crate::wix_media());
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

    /// `wix-media upload --state-dir STATE --emulator ARGS...`: to the built-in emulator.
    pub fn upload_emu(&self, args: &[&str]) -> Command {
        let mut cmd = self.command("upload", &["--emulator"]);
        cmd.args(args);
        cmd
    }

    /// `wix-media SUBCOMMAND --state-dir STATE ARGS...` against the Wix API at `base` (an
    /// emulator), run to its end.
    pub fn run_on(&self, base: &str, subcommand: &str, args: &[&str]) -> Output {
        let mut cmd = self.command(subcommand, args);
        with_wix(&mut cmd, base);
        run(cmd)
    }

    /// `wix-media upload --state-dir STATE ARGS...` against the Wix API at `base`, run to its
    /// end.
    pub fn upload_on(&self, base: &str, args: &[&str]) -> Output {
        self.run_on(base, "upload", args)
    }
}

/// `wix-media upload --endpoint ENDPOINT --timeout SECS FILE` (progress on) started on a
/// fresh [`Home`], in tus mode to the official server behind a [`GateProxy`] that holds the
/// client's bytes once `limit` went through; its stderr read line by line.
pub struct HeldUpload {
    pub server: TusServer,
    pub proxy: GateProxy,
    // The state dirs and the file, kept until the end.
    _home: Home,
    _file: TempFile,
    /// The file's digest.
    pub digest: u64,
    pub child: Child,
    pub stderr: Receiver<String>,
}

/// A [`HeldUpload`] of a `len`-byte file (seed `seed`) with a stall timeout of `timeout_secs`.
pub fn held_tus_upload(limit: u64, (len, seed): (u64, u64), timeout_secs: &str) -> HeldUpload {
    let (server, proxy, endpoint) = gated_tus_server(limit);
    let home = Home::new();
    let (file, digest) = big_temp_file_with(len, seed);
    let args = [
        "--endpoint",
        endpoint.as_str(),
        "--timeout",
        timeout_secs,
        path_str(file.path()),
    ];
    let mut child = home.upload(&args).spawn().expect("spawn");
    let stderr = line_reader(child.stderr.take().expect("stderr"));
    HeldUpload {
        server,
        proxy,
        _home: home,
        _file: file,
        digest,
        child,
        stderr,
    }
}

/// The official tus server behind a [`GateProxy`] that holds the client's bytes once `limit`
/// went through, and the creation endpoint through the gate.
pub fn gated_tus_server(limit: u64) -> (TusServer, GateProxy, String) {
    let server = TusServer::start();
    let gate = GateProxy::to_url(&server.base_url(), Some(limit));
    let endpoint = gate.url_for(&server.endpoint());
    (server, gate, endpoint)
}

/// `wix-media upload --state-dir STATE ARGS...` run twice at once against the Wix API at
/// `base`: both runs succeed; their outputs.
pub fn upload_twice_at_once(home: &Home, base: &str, args: &[&str]) -> (Output, Output) {
    let spawn = || {
        let mut cmd = home.upload(args);
        with_wix(&mut cmd, base);
        cmd.spawn().expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (collect(a, RUN_TIMEOUT), collect(b, RUN_TIMEOUT));
    a.assert_success();
    b.assert_success();
    (a, b)
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

    /// stderr says `needle`.
    pub fn assert_stderr_has(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "{needle:?} missing: {}",
            self.stderr
        );
    }

    /// stderr does not say `needle`; `why` is what that means.
    pub fn assert_stderr_lacks(&self, needle: &str, why: &str) {
        assert!(!self.stderr.contains(needle), "{why}: {}", self.stderr);
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
    let out_t = read_all(child.stdout.take());
    let err_t = read_all(child.stderr.take());
    let Some(status) = wait_for(&mut child, timeout, || {}) else {
        panic!(
            "wix-media ran longer than {timeout:?}; stderr: {}",
            err_t.join().unwrap_or_default()
        );
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

/// Sends SIGINT (what Ctrl-C sends) to a child.
pub fn interrupt(child: &Child) {
    signal(child, "INT");
}

/// Sends `name` (`TERM`, `HUP`...) to a child.
pub fn send_signal(child: &Child, name: &str) {
    signal(child, name);
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

/// Bytes the built-in emulator of `home` holds in its tus uploads.
pub fn emulator_stored(home: &Home) -> u64 {
    let uploads = home.state.join("emulator").join("uploads");
    std::fs::read_dir(&uploads)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".bin"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Runs `cmd` (an upload of `len` bytes to the built-in emulator of `home`) and Ctrl-C's it
/// mid-upload: once the emulator holds more than `bytes`, the process is stopped (SIGSTOP),
/// checked to hold less than the whole file, sent `signal` (`INT`, `TERM`, `HUP`) and
/// continued. The emulator lives in that process, so no relay can hold the body; stopped,
/// nothing moves until the signal is pending, and then the rest of the file can't go faster
/// than the handler. Its output: exit 128 + the signal's number, no panic.
pub fn interrupted_once_stored(
    home: &Home,
    mut cmd: Command,
    (bytes, len): (u64, u64),
    (signal_name, code): (&str, i32),
) -> Output {
    let mut child = cmd.spawn().expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while emulator_stored(home) <= bytes {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("ended ({status}) before {bytes} bytes were stored");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{bytes} bytes not stored within 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(&child, "STOP");
    let stopped_at = emulator_stored(home);
    signal(&child, signal_name);
    signal(&child, "CONT");
    assert!(stopped_at < len, "the upload ended before the stop");
    let out = collect(child, RUN_TIMEOUT);
    out.assert_code(code);
    out.assert_no_panic();
    out.assert_stderr_has("interrupted: run the same command again to resume");
    out
}

/// A Ctrl-C'd upload to the built-in emulator of `home` and its rerun: what each left.
pub struct Resumed {
    /// The interrupted run (exit 128 + the signal, no panic).
    pub interrupted: Output,
    /// Bytes the emulator held after the interrupt.
    pub held: u64,
    /// The rerun's result line.
    pub line: Value,
    /// The rerun's `resumedFrom`.
    pub resumed_from: u64,
    /// The emulator's store, reopened after the rerun.
    pub emu: Emulator,
}

/// Uploads a `len`-byte file (seed `seed`) on the resumable route with `extra` options to the
/// built-in emulator of `home`, Ctrl-C's it once the emulator holds more than `at` bytes, and
/// runs the same command again: the interrupted run left part of the file, the rerun succeeds,
/// says where it resumed, and the emulator holds one tus upload, resumed, with the file's bytes.
pub fn interrupt_and_resume_on_built_in_emulator(
    home: &Home,
    (len, seed): (u64, u64),
    extra: &[&str],
    at: u64,
) -> Resumed {
    signal_and_resume_on_built_in_emulator(home, (len, seed), extra, at, ("INT", 130))
}

/// [`interrupt_and_resume_on_built_in_emulator`] with another signal, and the exit it gives.
pub fn signal_and_resume_on_built_in_emulator(
    home: &Home,
    (len, seed): (u64, u64),
    extra: &[&str],
    at: u64,
    signal: (&str, i32),
) -> Resumed {
    let (file, digest) = big_temp_file_with(len, seed);
    let mut args = vec!["--no-progress", "--route", "resumable"];
    args.extend_from_slice(extra);
    args.push(path_str(file.path()));
    let interrupted = interrupted_once_stored(home, home.upload_emu(&args), (at, len), signal);
    let held = emulator_stored(home);
    assert!(held > at && held < len, "{held}");

    let out = run(home.upload_emu(&args));
    out.assert_success();
    let line = out.json();
    let resumed_from = line["resumedFrom"]
        .as_u64()
        .unwrap_or_else(|| panic!("{line}"));
    let emu = Emulator::start(home.state.join("emulator")).expect("reopen");
    assert_eq!(emu.uploads().len(), 1, "one tus upload, resumed");
    let bytes = emu.stored_path(&emu.uploads()[0].url).expect("bytes");
    assert_eq!(file_digest(bytes), digest);
    Resumed {
        interrupted,
        held,
        line,
        resumed_from,
        emu,
    }
}
