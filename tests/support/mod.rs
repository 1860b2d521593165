//! Shared helpers for the integration tests (`mod support;` in each test crate).
//!
//! The main piece is [`TusServer`]: the official tus server (`@tus/server` + `@tus/file-store`,
//! pinned in `tests/tus-server/package.json`) run by the machine's Node.js on 127.0.0.1 with an
//! ephemeral port and a fresh storage directory per instance. Everything here uses std only
//! (plus `serde_json` for the upload info files).
//!
//! Node.js is required: when `node` cannot be run the tests PANIC instead of being skipped, so
//! that a CI run without Node fails loudly rather than passing with nothing tested.
#![allow(dead_code)]

pub mod cap_proxy;
pub mod logs;
pub mod proxy;
pub mod py_server;
pub mod raw_server;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long to wait for the server's `LISTENING` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait for another test process that is installing the npm packages.
const INSTALL_LOCK_TIMEOUT: Duration = Duration::from_secs(300);
/// A lock directory older than this is assumed to be left over by a killed process.
const INSTALL_LOCK_STALE: Duration = Duration::from_secs(600);

/// `tests/tus-server` in this crate.
pub fn tus_server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("tus-server")
}

// ---------------------------------------------------------------------------------------------
// Temporary files and directories
// ---------------------------------------------------------------------------------------------

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A fresh directory under [`std::env::temp_dir`], removed (recursively) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/<prefix>-<pid>-<nanos>-<counter>`; the name is never reused.
    pub fn new(prefix: &str) -> TempDir {
        let base = std::env::temp_dir();
        for _ in 0..100 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("{prefix}-{}-{nanos}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create temp dir {}: {e}", path.display()),
            }
        }
        panic!("cannot find a free temp dir name under {}", base.display());
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(name)`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A file inside its own [`TempDir`]; both are removed on drop.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    _dir: TempDir,
}

impl TempFile {
    /// A (not yet created) path `name` inside a fresh temp dir.
    pub fn new(name: &str) -> TempFile {
        let dir = TempDir::new("wmu-file");
        TempFile {
            path: dir.join(name),
            _dir: dir,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), the same for the same `seed`.
pub struct XorShift(u64);

impl XorShift {
    /// A generator; any seed (even 0) is fine.
    pub fn new(seed: u64) -> XorShift {
        let s = seed ^ 0x9E37_79B9_7F4A_7C15;
        XorShift(if s == 0 { 0x2545_F491_4F6C_DD1D } else { s })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `buf`.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let bytes = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&bytes[..rest.len()]);
        }
    }
}

/// `len` pseudo-random bytes for `seed`.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    XorShift::new(seed).fill(&mut v);
    v
}

/// A temp file of `len` pseudo-random bytes (see [`pseudo_random_bytes`]) and its contents.
pub fn temp_file_with(len: usize, seed: u64) -> (TempFile, Vec<u8>) {
    let bytes = pseudo_random_bytes(len, seed);
    let file = TempFile::new(&format!("data-{len}-{seed}.bin"));
    fs::write(file.path(), &bytes)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.path().display()));
    (file, bytes)
}

/// Like [`temp_file_with`] but streams the file to disk without keeping it in memory (for big
/// files); returns its [`Fnv64`] digest, to compare with [`file_digest`] of the stored upload.
pub fn big_temp_file_with(len: u64, seed: u64) -> (TempFile, u64) {
    let file = TempFile::new(&format!("big-{len}-{seed}.bin"));
    let mut out = std::io::BufWriter::new(
        fs::File::create(file.path())
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", file.path().display())),
    );
    let mut rng = XorShift::new(seed);
    let mut hash = Fnv64::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        // Same byte stream as pseudo_random_bytes: whole 8-byte words until the very end.
        rng.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        out.write_all(&buf[..n]).expect("write temp file");
        left -= n as u64;
    }
    out.flush().expect("flush temp file");
    (file, hash.finish())
}

/// FNV-1a 64-bit: a tiny, dependency-free digest for comparing big files.
pub struct Fnv64(u64);

impl Fnv64 {
    /// A fresh hasher.
    pub fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The digest.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// [`Fnv64`] of a byte slice.
pub fn digest(data: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.update(data);
    h.finish()
}

/// [`Fnv64`] digest of a file's contents, streamed.
pub fn file_digest(path: impl AsRef<Path>) -> u64 {
    let path = path.as_ref();
    let mut f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Fnv64::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if n == 0 {
            return h.finish();
        }
        h.update(&buf[..n]);
    }
}

// ---------------------------------------------------------------------------------------------
// npm install, guarded by a cross-process lock
// ---------------------------------------------------------------------------------------------

/// Panics with a clear message when `node` cannot be run; returns its version.
fn require_node() -> String {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "`node --version` failed ({}): {}\nThe tus integration tests need Node.js >= 20.19 \
             on PATH to run the official tus server (tests/tus-server).",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run `node` ({e}).\nThe tus integration tests need Node.js >= 20.19 on PATH \
             to run the official tus server (tests/tus-server); install Node.js (e.g. \
             `apt-get install nodejs npm`) and run `npm ci --prefix tests/tus-server`. \
             These tests fail rather than skip so that CI really runs them."
        ),
    }
}

/// True when every dependency pinned in `package.json` is installed at exactly that version.
fn npm_packages_installed(dir: &Path) -> bool {
    let manifest: serde_json::Value = match fs::read(dir.join("package.json")) {
        Ok(b) => serde_json::from_slice(&b).expect("tests/tus-server/package.json is not JSON"),
        Err(e) => panic!("cannot read tests/tus-server/package.json: {e}"),
    };
    let Some(deps) = manifest["dependencies"].as_object() else {
        return true;
    };
    deps.iter().all(|(name, pin)| {
        let installed = dir.join("node_modules").join(name).join("package.json");
        let Ok(bytes) = fs::read(installed) else {
            return false;
        };
        let Ok(pkg) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return false;
        };
        pkg["version"].as_str().is_some() && pkg["version"].as_str() == pin.as_str()
    })
}

/// Holds `<dir>/.install-lock` (a directory: `mkdir` is atomic) while alive: one test process
/// at a time installs a test server's packages (test binaries run in parallel).
pub struct InstallLock {
    path: PathBuf,
}

impl InstallLock {
    /// Waits (up to 5 minutes) for `<dir>/.install-lock`; a lock older than 10 minutes is taken
    /// over as left by a killed process.
    pub fn acquire(dir: &Path) -> InstallLock {
        let path = dir.join(".install-lock");
        let start = Instant::now();
        loop {
            match fs::create_dir(&path) {
                Ok(()) => return InstallLock { path },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > INSTALL_LOCK_STALE);
                    if stale {
                        let _ = fs::remove_dir(&path);
                        continue;
                    }
                    if start.elapsed() > INSTALL_LOCK_TIMEOUT {
                        panic!(
                            "waited {INSTALL_LOCK_TIMEOUT:?} for {} (another test process \
                             installing packages?); remove it if it is stale",
                            path.display()
                        );
                    }
                    thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create lock dir {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.path);
    }
}

/// Makes sure `tests/tus-server/node_modules` holds the pinned packages, running `npm ci` there
/// (once, under a cross-process lock) when they are missing or of another version.
pub fn ensure_npm_packages() {
    let dir = tus_server_dir();
    if npm_packages_installed(&dir) {
        return;
    }
    let _lock = InstallLock::acquire(&dir);
    // Another process may have installed them while we waited.
    if npm_packages_installed(&dir) {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `npm ci` in {} ({e}); install npm, or run \
                 `npm ci --prefix tests/tus-server` yourself",
                dir.display()
            )
        });
    if !out.status.success() {
        panic!(
            "`npm ci` in {} failed ({}):\n{}\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        npm_packages_installed(&dir),
        "`npm ci` succeeded but the pinned packages are still not in {}/node_modules",
        dir.display()
    );
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// Options for [`TusServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct TusServerOptions {
    /// FileStore `expirationPeriodInMilliseconds`: makes the server send `Upload-Expires`.
    pub expiration_ms: Option<u64>,
    /// Server `maxSize` in bytes: advertised as `Tus-Max-Size`, bigger uploads get 413.
    pub max_size: Option<u64>,
}

/// A running official tus server (Node.js) on `127.0.0.1:<ephemeral port>` with its own
/// storage directory. Killed, and its directory removed, on drop.
pub struct TusServer {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    port: u16,
    stderr: Arc<Mutex<String>>,
    dir: TempDir,
}

impl TusServer {
    /// Starts a server with default options.
    pub fn start() -> TusServer {
        TusServer::start_with(TusServerOptions::default())
    }

    /// Starts a server; panics (with the server's stderr) when it does not come up in 20 s.
    pub fn start_with(options: TusServerOptions) -> TusServer {
        require_node();
        ensure_npm_packages();
        let dir = TempDir::new("wmu-tus");
        let store = dir.path().to_path_buf();

        let mut cmd = Command::new("node");
        cmd.arg("server.js")
            .arg(&store)
            .current_dir(tus_server_dir())
            .env_remove("TUS_EXPIRATION_MS")
            .env_remove("TUS_MAX_SIZE")
            .env_remove("TUS_PORT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(ms) = options.expiration_ms {
            cmd.env("TUS_EXPIRATION_MS", ms.to_string());
        }
        if let Some(max) = options.max_size {
            cmd.env("TUS_MAX_SIZE", max.to_string());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `node server.js` ({e}); is Node.js on PATH?"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");

        // Collect stderr for diagnostics.
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = Arc::clone(&stderr);
            thread::spawn(move || {
                let mut reader = BufReader::new(stderr_pipe);
                let mut line = String::new();
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    if let Ok(mut s) = stderr.lock() {
                        s.push_str(&line);
                    }
                    line.clear();
                }
            });
        }

        // Wait for the one LISTENING line, then keep draining stdout.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = match reader.read_line(&mut line) {
                Ok(0) => Err("stdout closed before the LISTENING line".to_string()),
                Ok(_) => Ok(line.trim().to_string()),
                Err(e) => Err(format!("reading stdout: {e}")),
            };
            let _ = tx.send(first);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });

        let mut server = TusServer {
            child: Some(child),
            stdin,
            port: 0,
            stderr,
            dir,
        };
        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => server.fail_start(&e),
            Err(_) => server.fail_start(&format!("no LISTENING line within {STARTUP_TIMEOUT:?}")),
        };
        let port = line
            .strip_prefix("LISTENING 127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok());
        match port {
            Some(p) if p != 0 => server.port = p,
            _ => server.fail_start(&format!("unexpected first stdout line {line:?}")),
        }
        server
    }

    fn fail_start(&mut self, why: &str) -> ! {
        self.stop();
        // Give the stderr thread a moment to collect the last lines.
        thread::sleep(Duration::from_millis(100));
        panic!(
            "the tus server (node tests/tus-server/server.js) did not start: {why}\n\
             --- server stderr ---\n{}",
            self.stderr_output()
        );
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The tus creation endpoint, `http://127.0.0.1:PORT/files`.
    pub fn endpoint(&self) -> String {
        format!("{}/files", self.base_url())
    }

    /// The server's storage directory (fresh for this server).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr_output(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Ids of the uploads in the storage directory (files with a `<id>.json` sibling), sorted.
    pub fn uploads(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.dir())
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", self.dir().display()))
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| !name.ends_with(".json"))
            .filter(|name| self.dir().join(format!("{name}.json")).is_file())
            .collect();
        ids.sort();
        ids
    }

    /// Path of the stored bytes of an upload, given its URL (`Location`) or id.
    pub fn stored_path(&self, upload_url_or_id: &str) -> PathBuf {
        self.dir().join(upload_id(upload_url_or_id))
    }

    /// The bytes the server stored for an upload (URL or id); panics when there is no such file.
    pub fn stored_bytes(&self, upload_url_or_id: &str) -> Vec<u8> {
        let path = self.stored_path(upload_url_or_id);
        fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "no stored upload {} ({e}); uploads present: {:?}",
                path.display(),
                self.uploads()
            )
        })
    }

    /// The server's info file `<id>.json` for an upload (URL or id): id, size, offset, metadata,
    /// creation_date, ...
    pub fn info(&self, upload_url_or_id: &str) -> serde_json::Value {
        let id = upload_id(upload_url_or_id);
        let path = self.dir().join(format!("{id}.json"));
        let bytes = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "no upload info {} ({e}); uploads present: {:?}",
                path.display(),
                self.uploads()
            )
        });
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    }

    /// Kills the server (idempotent); its directory stays until drop. Useful to test a client
    /// against a server that went away.
    pub fn stop(&mut self) {
        self.stdin.take();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TusServer {
    fn drop(&mut self) {
        self.stop();
        let stderr = self.stderr_output();
        if !stderr.trim().is_empty() {
            // Captured by the test harness: shown only for failing tests.
            eprintln!("--- tus server stderr ---\n{stderr}");
        }
    }
}

/// The upload id in an upload URL (last path segment, without query or fragment), or the
/// argument itself when it is already an id.
pub fn upload_id(upload_url_or_id: &str) -> &str {
    let s = upload_url_or_id
        .split(['?', '#'])
        .next()
        .unwrap_or(upload_url_or_id)
        .trim_end_matches('/');
    s.rsplit('/').next().unwrap_or(s)
}

/// The records of unfinished uploads in a state directory (a finished upload's record is kept,
/// marked `completed_at`, for a writer that waited for it).
pub fn unfinished_records(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            let rec: serde_json::Value = fs::read(p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            rec["completed_at"].is_null()
        })
        .collect();
    v.sort();
    v
}

/// The name the test harness knows the test `name` of `module` (its `module_path!()`) by:
/// `subject::name`, without the crate's own name. For a test that runs itself again in a child
/// process (`current_exe() --exact NAME`).
pub fn test_path(module: &str, name: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}
