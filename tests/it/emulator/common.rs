//! Helpers shared by the emulator's own test files (emulator_routes, emulator_http,
//! emulator_restart): plain `ureq` calls that return 4xx/5xx as values, raw TCP, the compiled
//! `emulator` example.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use md5::Digest as _;
use serde_json::Value;
use ureq::Agent;

/// The headers every REST call of these tests sends.
pub const AUTH: [(&str, &str); 2] = [("Authorization", "IST.key"), ("wix-site-id", "site-1")];

/// A fresh directory under Cargo's per-target temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "emu-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A response read whole.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// `details.applicationError.code` of a Wix error body.
    pub fn code(&self) -> Option<String> {
        self.json()["details"]["applicationError"]["code"]
            .as_str()
            .map(str::to_string)
    }

    /// The `ruleName`s of a Wix validation error body.
    pub fn rule_names(&self) -> Vec<String> {
        self.json()["details"]["validationError"]["fieldViolations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|f| f["ruleName"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn into_resp(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.expect("transport error");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

/// An agent that returns every status as a response, with a generous overall timeout.
pub fn agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

pub fn post_json(agent: &Agent, url: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_resp(
        req.header("Content-Type", "application/json")
            .send(body.to_string().as_bytes()),
    )
}

pub fn get(agent: &Agent, url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_resp(req.call())
}

/// Polls `f` until it returns `Some`, for at most a minute (a bound, not a timing claim).
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Sends raw bytes on a new connection and returns everything the server answers.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `n` bytes of a fixed pattern.
pub fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// A PNG header for a `w` x `h` image, padded to `len` bytes.
pub fn png(w: u32, h: u32, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.resize(len.max(v.len()), 7);
    v
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn newest_mtime(dir: &Path, newest: &mut SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            newest_mtime(&path, newest);
        } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
            *newest = (*newest).max(t);
        }
    }
}

/// The compiled `emulator` example: `target/<profile>/examples/emulator` when it is newer
/// than the sources (as `cargo test --all-features` leaves it), else built once into a
/// target dir of its own.
pub fn emulator_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let name = format!("emulator{}", std::env::consts::EXE_SUFFIX);
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary lives in target/<profile>/deps");
        let bin = profile_dir.join("examples").join(&name);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut newest = SystemTime::UNIX_EPOCH;
        newest_mtime(&root.join("src"), &mut newest);
        newest_mtime(&root.join("examples"), &mut newest);
        let fresh = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= newest);
        if fresh {
            return bin;
        }
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("emulator-example-build");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", "emulator", "--features", "emulator"])
            .current_dir(root)
            .env("CARGO_TARGET_DIR", &target)
            .stdin(Stdio::null())
            .status()
            .expect("run cargo build --example emulator");
        assert!(status.success(), "cargo build --example emulator failed");
        target.join("debug").join("examples").join(&name)
    })
}
