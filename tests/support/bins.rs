//! The binaries the tests run: the `wix-media` CLI and the `emulator` example.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

/// The `wix-media` binary Cargo built for this test binary (`CARGO_BIN_EXE_wix-media`, set when
/// the `cli` feature is on); panics when there is none.
pub fn wix_media() -> &'static Path {
    match option_env!("CARGO_BIN_EXE_wix-media") {
        Some(path) => Path::new(path),
        None => panic!("wix-media was not built for these tests: enable the `cli` feature"),
    }
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
/// target dir of its own. (Cargo tells test binaries where its binaries are, not its examples.)
pub fn emulator_example() -> &'static Path {
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
        // Cargo's per-target temp dir is known to tests (not to examples/bench.rs).
        let tmp = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let target = tmp.join("emulator-example-build");
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
