//! What was uploaded where: one small JSON file per (target, options, file), so a rerun of the
//! same command skips what is done without a single request.
//!
//! Location: `<state dir>/manifest/<sha256 of the entry's identity, 32 hex digits>.json`.
//! The identity is the target (Wix API base and site or account id, the built-in emulator,
//! or the tus endpoint), the options that change the result (folder, privacy, labels, MIME
//! type) and the file's canonical path. The entry holds the identity, the file's size and
//! modification time when it was uploaded, the content's MD5 when known, and the result (the
//! file descriptor, or the tus upload URL and size). It is used as is while the file still has
//! that size and mtime; a file of the same size with another mtime (`touch`, a fresh checkout)
//! is [`Lookup::Touched`]: the same file if its content has the MD5 of the entry (or the
//! `hash` of its Wix descriptor). The manifest saves work; it is never the truth of what the
//! site holds.
//!
//! Entries are written to a temp file (mode 0600, in the 0700 directory) and renamed into
//! place, so readers (other jobs, another process) see a whole entry or none; two processes
//! writing the same entry leave one of the two whole. No secret is stored: no API key, no
//! upload token.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::digest::md5_like;

const VERSION: u64 = 1;

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// What the manifest holds for a file.
#[derive(Debug)]
pub enum Lookup {
    /// Nothing usable.
    None,
    /// The result, for a file that still has the size and mtime it had.
    Same(Value),
    /// The result, for a file of the same size but another mtime: the same content if its
    /// MD5 is `md5` (unknown: `None`).
    Touched { result: Value, md5: Option<String> },
}

/// The manifest directory.
#[derive(Debug)]
pub struct Manifest {
    dir: PathBuf,
}

/// A file as found on disk: what an entry is checked against.
#[derive(Clone, Debug)]
pub struct FileState {
    pub canonical: PathBuf,
    pub size: u64,
    pub mtime_ns: u128,
}

impl FileState {
    pub fn of(path: &Path, meta: &fs::Metadata) -> std::io::Result<Self> {
        let canonical = fs::canonicalize(path)?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            canonical,
            size: meta.len(),
            mtime_ns,
        })
    }
}

impl Manifest {
    /// Opens (creating, mode 0700) `<state_dir>/manifest`.
    pub fn open(state_dir: &Path) -> Result<Self, String> {
        let dir = state_dir.join("manifest");
        private_dir(state_dir)?;
        private_dir(&dir)?;
        Ok(Self { dir })
    }

    /// The identity of an entry: what makes two uploads the same.
    pub fn identity(target: &Value, options: &Value, file: &FileState) -> String {
        json!([VERSION, target, options, file.canonical.to_string_lossy()]).to_string()
    }

    fn path_for(&self, identity: &str) -> PathBuf {
        let digest = Sha256::digest(identity.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.json"))
    }

    /// What the manifest holds for `identity`, seen from the file as it is now. A missing,
    /// unreadable or damaged entry is no entry.
    pub fn lookup(&self, identity: &str, file: &FileState) -> Lookup {
        let Some(entry) = self.entry(identity) else {
            return Lookup::None;
        };
        let result = entry["result"].clone();
        if entry["size"] != file.size || !result.is_object() {
            return Lookup::None;
        }
        if entry["mtimeNs"] == file.mtime_ns.to_string() {
            return Lookup::Same(result);
        }
        let md5 = entry["md5"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| md5_like(result["file"]["hash"].as_str()));
        Lookup::Touched { result, md5 }
    }

    /// The content's MD5 the entry holds, while the file has the size and mtime it had.
    pub fn md5_of(&self, identity: &str, file: &FileState) -> Option<String> {
        let entry = self.entry(identity)?;
        let same = entry["size"] == file.size && entry["mtimeNs"] == file.mtime_ns.to_string();
        let md5 = entry["md5"].as_str().map(str::to_owned);
        same.then(|| md5.or_else(|| md5_like(entry["result"]["file"]["hash"].as_str())))
            .flatten()
    }

    fn entry(&self, identity: &str) -> Option<Value> {
        let path = self.path_for(identity);
        let bytes = fs::read(&path).ok()?;
        let entry: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                log::warn!(
                    "ignoring the damaged manifest entry {}: {e}",
                    path.display()
                );
                return None;
            }
        };
        (entry["version"] == VERSION && entry["identity"] == identity).then_some(entry)
    }

    /// Records `result` for `identity` (replacing what was there), with the content's MD5
    /// when known.
    pub fn store(
        &self,
        identity: &str,
        file: &FileState,
        result: Value,
        md5: Option<&str>,
    ) -> Result<(), String> {
        let path = self.path_for(identity);
        let recorded = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut entry = json!({
            "version": VERSION,
            "identity": identity,
            "path": file.canonical.to_string_lossy(),
            "size": file.size,
            "mtimeNs": file.mtime_ns.to_string(),
            "recordedAt": recorded,
            "result": result,
        });
        if let Some(md5) = md5 {
            entry["md5"] = json!(md5);
        }
        let bytes = entry.to_string();
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let (tmp, mut f) = loop {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let tmp = self.dir.join(format!(
                ".{}.{}.{}.tmp",
                stem.unwrap_or_default(),
                std::process::id(),
                TMP_SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            match opts.open(&tmp) {
                Ok(f) => break (tmp, f),
                // Left by a killed process with our pid: take the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot write {}: {e}", tmp.display())),
            }
        };
        let written = f
            .write_all(bytes.as_bytes())
            .and_then(|()| f.flush())
            .and_then(|()| fs::rename(&tmp, &path));
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }
}

/// Creates `dir` with mode 0700 when missing; an existing one of ours is tightened to 0700.
fn private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wmu-manifest-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn entries_round_trip_and_go_stale_when_the_file_changes() {
        let dir = temp("rt");
        let m = Manifest::open(&dir).unwrap();
        let file = FileState {
            canonical: "/x/a.png".into(),
            size: 10,
            mtime_ns: 123,
        };
        let id = Manifest::identity(&json!({"kind": "tus"}), &json!({}), &file);
        assert!(matches!(m.lookup(&id, &file), Lookup::None));
        m.store(&id, &file, json!({"uploadUrl": "u"}), Some("abc"))
            .unwrap();
        let Lookup::Same(result) = m.lookup(&id, &file) else {
            panic!("not found")
        };
        assert_eq!(result["uploadUrl"], "u");
        // Touched: the MD5 tells whether it is the same content.
        let touched = FileState {
            mtime_ns: 124,
            ..file.clone()
        };
        let Lookup::Touched { md5, .. } = m.lookup(&id, &touched) else {
            panic!("not touched")
        };
        assert_eq!(md5.as_deref(), Some("abc"));
        let resized = FileState {
            size: 11,
            ..file.clone()
        };
        assert!(matches!(m.lookup(&id, &resized), Lookup::None));
        let other = Manifest::identity(&json!({"kind": "tus"}), &json!({"mime": "x"}), &file);
        assert!(matches!(m.lookup(&other, &file), Lookup::None));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&m.dir), 0o700);
            assert_eq!(mode(&m.path_for(&id)), 0o600);
        }
        fs::write(m.path_for(&id), b"{broken").unwrap();
        assert!(matches!(m.lookup(&id, &file), Lookup::None));
        fs::remove_dir_all(&dir).unwrap();
    }
}
