//! Temporary files and directories, and test data: deterministic pseudo-random bytes, files of
//! them (streamed to disk for big ones), and a small digest to compare big files by.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

impl Default for Fnv64 {
    fn default() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// A fresh hasher.
    pub fn new() -> Fnv64 {
        Fnv64::default()
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
/// Writes `files` (relative path, contents) under `root`, creating folders.
pub fn write_tree<P: AsRef<Path>, B: AsRef<[u8]>>(root: &Path, files: &[(P, B)]) {
    for (rel, bytes) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folder");
        }
        fs::write(&path, bytes).expect("write file");
    }
}
