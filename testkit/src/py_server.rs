//! The second interop reference server: `resumable-upload` 0.3.0 from PyPI (pure Python, no
//! dependencies; pinned in `testkit/py-server/requirements.txt`), run on 127.0.0.1 with a fresh
//! storage directory per instance. [`PyTusServer`] mirrors [`crate::TusServer`]
//! (both deref to a [`ServerProcess`](crate::server_process::ServerProcess)).
//!
//! What it does (read off its source, `resumable_upload/server/http_handler.py`, handlers/, and
//! `storage/sqlite_storage.py`):
//! - Stores the bytes of an upload in `<upload-dir>/<uuid>` and its state (length, offset,
//!   metadata, completed, expiry, concatenation) in the SQLite database `--db-path`
//!   (here `<upload-dir>/db.sqlite`, WAL mode). `Location` is relative: `/files/<uuid>`.
//! - It is `http.server` (BaseHTTPRequestHandler, HTTP/1.1, one thread per connection; backlog 5).
//!   The stdlib answers `Expect: 100-continue` with `100 Continue` as soon as the head is parsed,
//!   whatever follows: a PATCH over `--max-chunk-size` (or any body over `--max-size`) then gets
//!   `413` + `Connection: close` at once, before a byte of the body is read, and the connection
//!   is closed with the body unread (a reset, as far as the client can tell). So `Expect` does
//!   not spare a client the body here: it must see the 413 while sending, or shrink the body.
//!   POST bodies (creation-with-upload) are not held to `--max-chunk-size`.
//! - Reads a whole PATCH (or POST) body into memory before handling it. A body cut short by the
//!   client closing (EOF) is handled as the (shorter) body: without `Upload-Checksum` those
//!   bytes are kept and the offset advances; with one it fails the checksum (460) and nothing is
//!   kept. A body cut by a reset or the 30 s read timeout is dropped whole.
//! - `--port 0` binds an ephemeral port, but the server never says which: its one start-up log
//!   line repeats the requested port (`listening on http://127.0.0.1:0/files`). So the harness
//!   picks a free port itself (bind `127.0.0.1:0`, note the port, close) and starts the server on
//!   it, again with another port when that one was taken meanwhile (`Address already in use`).
//!
//! Started as `.venv/bin/python testkit/py-server/serve.py serve --host 127.0.0.1 --port P
//! --upload-dir D --db-path D/db.sqlite [--checksum-algorithms ..] [--max-chunk-size N]
//! [--max-size N] [--upload-expiry SECS] [--disable-concatenation]`: `serve.py` runs the
//! package's own CLI entry point (what the `resumable-upload` script runs) and exits when its
//! stdin closes, so the server dies with the test process even when that one is killed. Ready
//! once its log (stderr) says `TUS server listening on`, which it prints after binding.
//!
//! Python 3 with `venv` is required: like the Node server, these tests PANIC when the server
//! cannot be installed or started instead of being skipped.

use std::fs;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::TempDir;
use crate::install::{self, Install};
use crate::server_process::{Harness, Launched, ReadyOn, kill, launch, upload_id};

/// How long to wait for the server's start-up log line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Fresh ports tried when the picked one was taken before the server bound it.
const PORT_ATTEMPTS: usize = 20;
/// What the server prints to stderr once it is bound and listening.
const LISTENING: &str = "TUS server listening on";

/// `testkit/py-server` in the testkit crate.
pub fn py_server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py-server")
}

/// The venv's Python.
pub fn venv_python() -> PathBuf {
    py_server_dir().join(".venv").join("bin").join("python")
}

/// True when `.venv/.installed` (written last by `install.sh`) equals `requirements.txt`.
fn py_packages_installed(dir: &Path) -> bool {
    let wanted = fs::read(dir.join("requirements.txt"))
        .unwrap_or_else(|e| panic!("cannot read testkit/py-server/requirements.txt: {e}"));
    fs::read(dir.join(".venv").join(".installed")).is_ok_and(|have| have == wanted)
        && venv_python().is_file()
}

/// Makes sure `testkit/py-server/.venv` holds the pinned `resumable-upload`, running
/// `testkit/py-server/install.sh` (once, under a cross-process lock) when it is missing or stale.
pub fn ensure_py_packages() {
    let mut command = Command::new("bash");
    command.arg(py_server_dir().join("install.sh"));
    install::ensure(
        &py_server_dir(),
        Install {
            name: "bash testkit/py-server/install.sh",
            command,
            needs: "it installs the Python tus server (resumable-upload, from PyPI) into \
                    testkit/py-server/.venv and needs python3 with the venv module (or \
                    WMU_PYTHON) and PyPI",
            installed: py_packages_installed,
        },
    );
}

/// Options for [`PyTusServer::start_with`]; each is the CLI flag of the same name.
#[derive(Debug, Clone, Default)]
pub struct PyTusServerOptions {
    /// `--checksum-algorithms` (comma list; the server's default is `sha1`).
    pub checksum_algorithms: Option<String>,
    /// `--max-chunk-size`: a PATCH whose body is larger gets an early 413 (see the module docs).
    pub max_chunk_size: Option<u64>,
    /// `--max-size`: advertised as `Tus-Max-Size`.
    pub max_size: Option<u64>,
    /// `--upload-expiry` in seconds: the server sends `Upload-Expires`.
    pub upload_expiry: Option<u64>,
    /// `--disable-concatenation`.
    pub disable_concatenation: bool,
}

/// A running `resumable-upload serve` on `127.0.0.1:<free port>` with its own storage
/// directory (uploads and the SQLite database). Killed, and its directory removed, on drop.
/// Derefs to the [`ServerProcess`](crate::server_process::ServerProcess) for its URLs and stored bytes.
pub type PyTusServer = Harness<Python>;

/// The kind of a [`PyTusServer`].
pub struct Python;

/// An upload's data file is named by its uuid.
fn is_upload(_dir: &Path, name: &str) -> bool {
    is_uuid(name)
}

impl PyTusServer {
    /// Starts a server with default options.
    pub fn start() -> PyTusServer {
        PyTusServer::start_with(PyTusServerOptions::default())
    }

    /// Starts a server; panics (with the server's stderr) when it does not come up in 20 s.
    pub fn start_with(options: PyTusServerOptions) -> PyTusServer {
        const WHAT: &str = "the Python tus server (testkit/py-server)";
        ensure_py_packages();
        let dir = TempDir::new("wmu-pytus");
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let launched = spawn(&cli_args(port, dir.path(), &options), dir.path(), port);
            let stderr = launched
                .stderr
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default();
            if launched.port.is_err() && stderr.contains("Address already in use") {
                kill(&mut Some(launched.child));
                last = stderr;
                continue;
            }
            return PyTusServer {
                process: launched.listening(WHAT, dir, is_upload),
                kind: PhantomData,
            };
        }
        panic!("no free port after {PORT_ATTEMPTS} attempts; last stderr:\n{last}");
    }

    /// Log lines that contain `needle`.
    pub fn log_lines_with(&self, needle: &str) -> Vec<String> {
        self.stderr_output()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// Size of the stored bytes of an upload (URL or id).
    pub fn stored_len(&self, upload_url_or_id: &str) -> u64 {
        let path = self.stored_path(upload_url_or_id);
        fs::metadata(&path)
            .unwrap_or_else(|e| panic!("no stored upload {} ({e})", path.display()))
            .len()
    }

    /// [`crate::file_digest`] of the stored bytes of an upload (URL or id).
    pub fn stored_digest(&self, upload_url_or_id: &str) -> u64 {
        crate::file_digest(self.stored_path(upload_url_or_id))
    }

    /// The server's database row for an upload (URL or id), as JSON: `upload_id`,
    /// `upload_length` (-1: deferred), `offset`, `metadata` (a JSON string), `completed`,
    /// `is_partial`, `expires_at`, `concat_partial_ids`; `None` when there is no such row.
    /// Read with the venv's Python (`sqlite3`), as the crate has no SQLite of its own.
    pub fn record(&self, upload_url_or_id: &str) -> Option<serde_json::Value> {
        const SCRIPT: &str = "import json, sqlite3, sys\n\
            c = sqlite3.connect(sys.argv[1])\n\
            c.row_factory = sqlite3.Row\n\
            r = c.execute('SELECT * FROM uploads WHERE upload_id = ?', (sys.argv[2],)).fetchone()\n\
            print(json.dumps(dict(r) if r is not None else None))\n";
        let out = Command::new(venv_python())
            .arg("-c")
            .arg(SCRIPT)
            .arg(self.dir().join("db.sqlite"))
            .arg(upload_id(upload_url_or_id))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", venv_python().display()));
        assert!(
            out.status.success(),
            "reading the server's database failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON from the db query ({e}): {:?}", out.stdout));
        (!v.is_null()).then_some(v)
    }
}

/// Spawns `serve.py ARGS` in `dir`, to listen on `port`, and waits for its listening line (or
/// its end: its stderr is then whole).
fn spawn(args: &[String], dir: &Path, port: u16) -> Launched {
    let mut cmd = Command::new(venv_python());
    cmd.arg(py_server_dir().join("serve.py"))
        .args(args)
        .current_dir(dir)
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("PYTHONPATH");
    let listening = move |line: &str| line.contains(LISTENING).then_some(port);
    launch(&mut cmd, ReadyOn::Stderr, STARTUP_TIMEOUT, listening)
        .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", venv_python().display()))
}

/// A port that was free a moment ago (the caller must cope with losing it).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn cli_args(port: u16, dir: &Path, o: &PyTusServerOptions) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--upload-dir".into(),
        dir.display().to_string(),
        "--db-path".into(),
        dir.join("db.sqlite").display().to_string(),
    ];
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            args.push(name.into());
            args.push(v);
        }
    };
    flag("--checksum-algorithms", o.checksum_algorithms.clone());
    flag("--max-chunk-size", o.max_chunk_size.map(|n| n.to_string()));
    flag("--max-size", o.max_size.map(|n| n.to_string()));
    flag("--upload-expiry", o.upload_expiry.map(|n| n.to_string()));
    if o.disable_concatenation {
        args.push("--disable-concatenation".into());
    }
    args
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
