//! What the two reference tus servers' harnesses ([`crate::TusServer`], Node, and
//! [`crate::py_server::PyTusServer`], Python) share: a server running as a child process on
//! `127.0.0.1:<port>` with a fresh storage directory, its stderr collected for diagnostics,
//! killed on drop (its stdin closed first: both servers also exit when it closes, so they die
//! with a killed test process) and its directory then removed; and how both are started and
//! told ready ([`launch`]). Each harness is a [`Harness<K>`], `K` marking its kind, and derefs to
//! the process for the URLs and the stored bytes.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use crate::TempDir;

/// A running server process; see the module docs.
pub struct ServerProcess {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    port: u16,
    stderr: Arc<Mutex<String>>,
    dir: TempDir,
    /// Shown above the collected stderr when the server is dropped.
    label: &'static str,
    /// Whether a file name in the storage directory is an upload's data file.
    is_upload: fn(&Path, &str) -> bool,
}

impl ServerProcess {
    /// Takes over `child` (its stdin still piped) serving on `port` with storage in `dir`.
    pub fn new(
        mut child: Child,
        port: u16,
        stderr: Arc<Mutex<String>>,
        dir: TempDir,
        label: &'static str,
        is_upload: fn(&Path, &str) -> bool,
    ) -> ServerProcess {
        ServerProcess {
            stdin: child.stdin.take(),
            child: Some(child),
            port,
            stderr,
            dir,
            label,
            is_upload,
        }
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The tus creation endpoint, `http://127.0.0.1:PORT/files` (no trailing slash).
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

    /// Ids of the uploads in the storage directory (their data files), sorted.
    pub fn uploads(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.dir())
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", self.dir().display()))
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| (self.is_upload)(self.dir(), name))
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

    /// Kills the server (idempotent); its directory stays until drop. Useful to test a client
    /// against a server that went away.
    pub fn stop(&mut self) {
        self.stdin.take();
        kill(&mut self.child);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
        let stderr = self.stderr_output();
        if !stderr.trim().is_empty() {
            // Captured by the test harness: shown only for failing tests.
            eprintln!("--- {} (stderr) ---\n{stderr}", self.label);
        }
    }
}

/// A reference server of kind `K` (a marker: each kind has its own `start` and storage readers).
pub struct Harness<K> {
    pub(super) process: ServerProcess,
    pub(super) kind: PhantomData<K>,
}

impl<K> Deref for Harness<K> {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl<K> DerefMut for Harness<K> {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

/// Kills and reaps a child, if there is one.
pub fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Which pipe of a starting server says it listens.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReadyOn {
    Stdout,
    Stderr,
}

/// A spawned server process, its stderr (collected as long as it runs) and whether it said it
/// listens: the port `ready` read off the first line of `on` it accepted, or why not (that pipe
/// closed first, or `timeout` passed).
pub struct Launched {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
    pub port: Result<u16, String>,
}

impl Launched {
    /// The server `what` (it names it in messages), serving from `dir`, once it listens; it is
    /// killed and this panics, with why and its stderr, when it did not come up.
    pub fn listening(
        self,
        what: &'static str,
        dir: TempDir,
        is_upload: fn(&Path, &str) -> bool,
    ) -> ServerProcess {
        let port = match &self.port {
            Ok(port) => *port,
            Err(why) => {
                let why = why.clone();
                self.failed(what, &why)
            }
        };
        ServerProcess::new(self.child, port, self.stderr, dir, what, is_upload)
    }

    /// Kills it and panics: `what` did not start, why, and its stderr.
    fn failed(self, what: &str, why: &str) -> ! {
        kill(&mut Some(self.child));
        // Give the stderr thread a moment to collect the last lines.
        thread::sleep(Duration::from_millis(100));
        panic!(
            "{what} did not start: {why}\n--- server stderr ---\n{}",
            self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
        );
    }
}

/// Spawns `cmd` with its three pipes taken (stdin kept open, stdout drained) and waits for it
/// to say it listens (see [`Launched`]).
pub fn launch(
    cmd: &mut Command,
    on: ReadyOn,
    timeout: Duration,
    ready: impl FnMut(&str) -> Option<u16> + Send + 'static,
) -> io::Result<Launched> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let pipes: [(Box<dyn Read + Send>, ReadyOn); 2] = [
        (
            Box::new(child.stdout.take().expect("piped")),
            ReadyOn::Stdout,
        ),
        (
            Box::new(child.stderr.take().expect("piped")),
            ReadyOn::Stderr,
        ),
    ];
    let mut ready = Some(ready);
    for (pipe, which) in pipes {
        let (into, tx) = (Arc::clone(&stderr), tx.clone());
        let mut ready = if which == on { ready.take() } else { None };
        let watched = ready.is_some();
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                if which == ReadyOn::Stderr
                    && let Ok(mut s) = into.lock()
                {
                    s.push_str(&line);
                }
                if let Some(port) = ready.as_mut().and_then(|f| f(line.trim_end())) {
                    let _ = tx.send(Some(port));
                    ready = None;
                }
                line.clear();
            }
            // The pipe closed (every line of it collected); after a port, never read.
            if watched {
                let _ = tx.send(None);
            }
        });
    }
    let port = match rx.recv_timeout(timeout) {
        Ok(Some(port)) => Ok(port),
        Ok(None) => Err("it closed its output before it listened".to_owned()),
        Err(_) => Err(format!("it did not say it listens within {timeout:?}")),
    };
    Ok(Launched {
        child,
        stderr,
        port,
    })
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
