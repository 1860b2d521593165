//! The official tus server harness: `@tus/server` + `@tus/file-store` (pinned in
//! `testkit/tus-server/package.json`) run by the machine's Node.js on 127.0.0.1 with an ephemeral
//! port and a fresh storage directory per instance (see [`crate::server_process`]).
//!
//! Node.js is required: when `node` cannot be run the tests PANIC instead of being skipped, so
//! that a CI run without Node fails loudly rather than passing with nothing tested.

use std::fs;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::TempDir;
use crate::install::{self, Install};
use crate::server_process::{Harness, ReadyOn, launch, upload_id};

/// How long to wait for the server's `LISTENING` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// `testkit/tus-server` in the testkit crate.
pub fn tus_server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tus-server")
}

/// Panics with a clear message when `node` cannot be run; returns its version.
fn require_node() -> String {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "`node --version` failed ({}): {}\nThe tus integration tests need Node.js >= 20.19 \
             on PATH to run the official tus server (testkit/tus-server).",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run `node` ({e}).\nThe tus integration tests need Node.js >= 20.19 on PATH \
             to run the official tus server (testkit/tus-server); install Node.js (e.g. \
             `apt-get install nodejs npm`) and run `npm ci --prefix testkit/tus-server`. \
             These tests fail rather than skip so that CI really runs them."
        ),
    }
}

/// True when every dependency pinned in `package.json` is installed at exactly that version.
fn npm_packages_installed(dir: &Path) -> bool {
    let manifest: serde_json::Value = match fs::read(dir.join("package.json")) {
        Ok(b) => serde_json::from_slice(&b).expect("testkit/tus-server/package.json is not JSON"),
        Err(e) => panic!("cannot read testkit/tus-server/package.json: {e}"),
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

/// Makes sure `testkit/tus-server/node_modules` holds the pinned packages, running `npm ci` there
/// (once, under a cross-process lock) when they are missing or of another version.
pub fn ensure_npm_packages() {
    let mut command = Command::new("npm");
    command.args(["ci", "--no-audit", "--no-fund"]);
    install::ensure(
        &tus_server_dir(),
        Install {
            name: "npm ci",
            command,
            needs: "install npm, or run `npm ci --prefix testkit/tus-server` yourself",
            installed: npm_packages_installed,
        },
    );
}

/// Options for [`TusServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct TusServerOptions {
    /// FileStore `expirationPeriodInMilliseconds`: makes the server send `Upload-Expires`.
    pub expiration_ms: Option<u64>,
    /// Server `maxSize` in bytes: advertised as `Tus-Max-Size`, bigger uploads get 413.
    pub max_size: Option<u64>,
}

/// A running official tus server (Node.js) on `127.0.0.1:<ephemeral port>` with its own
/// storage directory. Killed, and its directory removed, on drop. Derefs to the
/// [`ServerProcess`](crate::server_process::ServerProcess) for its URLs and stored bytes.
pub type TusServer = Harness<Node>;

/// The kind of a [`TusServer`].
pub struct Node;

/// An upload's data file sits next to its `<id>.json` info file.
fn is_upload(dir: &Path, name: &str) -> bool {
    !name.ends_with(".json") && dir.join(format!("{name}.json")).is_file()
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

        let mut cmd = Command::new("node");
        cmd.arg("server.js")
            .arg(dir.path())
            .current_dir(tus_server_dir())
            .env_remove("TUS_EXPIRATION_MS")
            .env_remove("TUS_MAX_SIZE")
            .env_remove("TUS_PORT");
        if let Some(ms) = options.expiration_ms {
            cmd.env("TUS_EXPIRATION_MS", ms.to_string());
        }
        if let Some(max) = options.max_size {
            cmd.env("TUS_MAX_SIZE", max.to_string());
        }
        // Its one stdout line once listening: `LISTENING 127.0.0.1:PORT`.
        let listening = |line: &str| {
            let port = line.strip_prefix("LISTENING 127.0.0.1:")?.parse().ok();
            port.filter(|p| *p != 0)
        };
        let launched = launch(&mut cmd, ReadyOn::Stdout, STARTUP_TIMEOUT, listening)
            .unwrap_or_else(|e| panic!("cannot spawn `node server.js` ({e}); is Node.js on PATH?"));
        TusServer {
            process: launched.listening("the tus server (testkit/tus-server)", dir, is_upload),
            kind: PhantomData,
        }
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
}
