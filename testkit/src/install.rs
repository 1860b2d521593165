//! Installing what a test server needs (the Node server's npm packages, the Python server's
//! venv), once, under a cross-process lock: test binaries run in parallel.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for another test process that is installing the packages.
const INSTALL_LOCK_TIMEOUT: Duration = Duration::from_secs(300);
/// A lock directory older than this is assumed to be left over by a killed process.
const INSTALL_LOCK_STALE: Duration = Duration::from_secs(600);

/// Holds `<dir>/.install-lock` (a directory: `mkdir` is atomic) while alive: one test process
/// at a time installs a test server's packages.
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

/// An installation step for a test server's directory.
pub struct Install {
    /// The command as the messages name it (`npm ci`).
    pub name: &'static str,
    /// The command, run in the directory.
    pub command: Command,
    /// What the messages add when it cannot run or fails: what it needs, what to do.
    pub needs: &'static str,
    /// Whether what it installs is there (and of the pinned version).
    pub installed: fn(&Path) -> bool,
}

/// Makes sure `install` is done in `dir`: when it is not, runs its command there (once, under
/// the directory's [`InstallLock`]) and checks again.
pub fn ensure(dir: &Path, mut install: Install) {
    if (install.installed)(dir) {
        return;
    }
    let _lock = InstallLock::acquire(dir);
    // Another process may have installed it while we waited.
    if (install.installed)(dir) {
        return;
    }
    let name = install.name;
    let out = install
        .command
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{name}` in {} ({e}); {}",
                dir.display(),
                install.needs
            )
        });
    if !out.status.success() {
        panic!(
            "`{name}` in {} failed ({}); {}:\n{}\n{}",
            dir.display(),
            out.status,
            install.needs,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        (install.installed)(dir),
        "`{name}` succeeded but what it installs is still missing in {}",
        dir.display()
    );
}
