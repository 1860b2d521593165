//! The MD5 of an upload's bytes, computed while they stream: the content digest kept with the
//! result, and the digest of the acknowledged prefix kept in the resume record.
//!
//! MD5 costs about as much CPU as sending the bytes over a fast link (0.9 s per 512 MiB on a
//! small box), so a large source is hashed on a thread of its own: the sending thread copies
//! what it sends into a few recycled buffers (constant memory) and goes on.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use md5::{Digest as _, Md5};

/// An MD5 digest.
pub(crate) type Md5Digest = [u8; 16];

/// Sources of at least this size are hashed on a thread of their own.
const THREAD_FROM: u64 = 8 * 1024 * 1024;
/// The size of the buffers handed to the hashing thread.
const BUF: usize = 256 * 1024;
/// How many of them exist at most (the memory bound: 2 MiB per upload).
const BUFFERS: usize = 8;

/// The MD5 of the file at `path`, 32 lowercase hex digits: what
/// [`WixUpload::content_md5`](crate::wix::WixUpload::content_md5) holds after an upload, and
/// what Wix's `hash` of the file should be, to compare a local file with a Media Manager file
/// without uploading it. The file is read once, hashed on a second thread as it is read.
///
/// # Errors
///
/// [`Error::File`](crate::Error::File) when the file can't be opened or read.
pub fn file_md5(path: impl AsRef<std::path::Path>) -> crate::Result<String> {
    let path = path.as_ref();
    let unreadable = |source| crate::Error::File {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    let mut md5 = Md5Stream::new(Some(len));
    md5.feed_from(file, 0, len).map_err(unreadable)?;
    md5.digest()
        .map(|d| hex(&d))
        .ok_or(crate::Error::Internal("a file's MD5 was lost"))
}

/// The lowercase hex form of `d` (Wix's `hash` form).
pub(crate) fn hex(d: &Md5Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `s` as a digest, when it is 32 hex digits.
pub(crate) fn parse_hex(s: &str) -> Option<Md5Digest> {
    if s.len() != 32 {
        return None;
    }
    let mut d = [0u8; 16];
    for (i, byte) in d.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(d)
}

/// The MD5 of an upload's bytes from 0, fed in order: bytes fed again are skipped, and a gap
/// (bytes fed past the end of what was hashed) ends it for good.
pub(crate) struct Md5Stream {
    // Bytes hashed (or queued) so far; `None` after a gap.
    fed: Option<u64>,
    mode: Mode,
}

enum Mode {
    /// Only the digest of what was hashed elsewhere; more bytes end it.
    Known(Md5Digest),
    Inline {
        md5: Md5,
        mark: Option<(u64, Md5Digest)>,
    },
    Thread(Hasher),
}

impl std::fmt::Debug for Md5Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Md5Stream").field("fed", &self.fed).finish()
    }
}

impl Md5Stream {
    /// A stream for a source of `len` bytes (hashed on a thread when large or unknown).
    pub(crate) fn new(len: Option<u64>) -> Self {
        let mode = if len.is_none_or(|n| n >= THREAD_FROM) {
            Mode::Thread(Hasher::spawn())
        } else {
            Mode::Inline {
                md5: Md5::new(),
                mark: None,
            }
        };
        Self { fed: Some(0), mode }
    }

    /// A stream that has hashed `len` bytes whose digest is `d` (computed elsewhere).
    pub(crate) fn known(len: u64, d: Md5Digest) -> Self {
        Self {
            fed: Some(len),
            mode: Mode::Known(d),
        }
    }

    /// How many bytes from 0 are hashed; `None` once a gap made the digest unknowable.
    pub(crate) fn position(&self) -> Option<u64> {
        self.fed
    }

    /// Feeds the bytes at `offset`.
    pub(crate) fn feed(&mut self, offset: u64, data: &[u8]) {
        let Some(fed) = self.fed else { return };
        if offset > fed {
            self.fed = None;
            return;
        }
        let end = offset + data.len() as u64;
        if end <= fed {
            return;
        }
        let new = &data[usize::try_from(fed - offset).unwrap_or(usize::MAX)..];
        match &mut self.mode {
            Mode::Known(_) => {
                self.fed = None;
                return;
            }
            Mode::Inline { md5, .. } => md5.update(new),
            Mode::Thread(h) => h.push(new),
        }
        self.fed = Some(end);
    }

    /// Feeds `len` bytes at `offset` read from `reader`.
    pub(crate) fn feed_from(
        &mut self,
        mut reader: impl Read,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        let mut buf = vec![0u8; BUF];
        let mut done = 0;
        while done < len {
            let want = buf
                .len()
                .min(usize::try_from(len - done).unwrap_or(usize::MAX));
            let n = match reader.read(&mut buf[..want]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.feed(offset + done, &buf[..n]);
            done += n as u64;
        }
        Ok(())
    }

    /// Asks for the digest at `at` to be kept as the latest mark, when exactly that much was
    /// fed (it is taken once the bytes before it are hashed; see [`Md5Stream::latest_mark`]).
    pub(crate) fn mark(&mut self, at: u64) {
        if self.fed != Some(at) {
            return;
        }
        match &mut self.mode {
            Mode::Known(_) => {}
            Mode::Inline { md5, mark } => *mark = Some((at, md5.clone().finalize().into())),
            Mode::Thread(h) => h.send(Msg::Mark(at)),
        }
    }

    /// The latest mark taken: an offset and the digest of the bytes before it.
    pub(crate) fn latest_mark(&self) -> Option<(u64, Md5Digest)> {
        match &self.mode {
            Mode::Known(d) => self.fed.map(|at| (at, *d)),
            Mode::Inline { mark, .. } => *mark,
            Mode::Thread(h) => *h.mark.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The digest of everything fed (waiting for the thread to catch up), also kept as the
    /// latest mark; `None` after a gap.
    pub(crate) fn digest(&mut self) -> Option<Md5Digest> {
        let at = self.fed?;
        let d = match &mut self.mode {
            Mode::Known(d) => *d,
            Mode::Inline { md5, mark } => {
                let d: Md5Digest = md5.clone().finalize().into();
                *mark = Some((at, d));
                d
            }
            Mode::Thread(h) => {
                let (tx, rx) = sync_channel(1);
                h.send(Msg::Snapshot(at, tx));
                rx.recv().ok()?
            }
        };
        Some(d)
    }
}

/// What the sending thread tells the hashing thread.
enum Msg {
    Data(Vec<u8>),
    /// Keep the digest at this offset as the latest mark.
    Mark(u64),
    /// Keep it as the latest mark and send it back.
    Snapshot(u64, SyncSender<Md5Digest>),
}

/// The hashing thread and its recycled buffers.
struct Hasher {
    tx: Option<SyncSender<Msg>>,
    free: Receiver<Vec<u8>>,
    // The buffer being filled.
    pending: Vec<u8>,
    allocated: usize,
    mark: Arc<Mutex<Option<(u64, Md5Digest)>>>,
    thread: Option<JoinHandle<()>>,
}

impl Hasher {
    fn spawn() -> Self {
        let (tx, rx) = sync_channel::<Msg>(BUFFERS + 2);
        let (free_tx, free) = sync_channel::<Vec<u8>>(BUFFERS);
        let mark = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&mark);
        let thread = std::thread::Builder::new()
            .name("wix-media-md5".into())
            .spawn(move || hash_loop(&rx, &free_tx, &shared))
            .ok();
        Self {
            tx: thread.is_some().then_some(tx),
            free,
            pending: Vec::new(),
            allocated: 0,
            mark,
            thread,
        }
    }

    // Copies `data` into buffers, handing each full one to the thread.
    fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending = self.buffer();
            }
            let room = BUF - self.pending.len();
            let n = room.min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.pending.len() == BUF {
                self.flush();
            }
        }
    }

    // A free buffer: a recycled one, a new one while fewer than `BUFFERS` exist, else the
    // next one the thread gives back.
    fn buffer(&mut self) -> Vec<u8> {
        match self.free.try_recv() {
            Ok(b) => return b,
            Err(TryRecvError::Disconnected) => return Vec::with_capacity(BUF),
            Err(TryRecvError::Empty) => {}
        }
        if self.allocated < BUFFERS {
            self.allocated += 1;
            return Vec::with_capacity(BUF);
        }
        self.free.recv().unwrap_or_else(|_| Vec::with_capacity(BUF))
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let full = std::mem::take(&mut self.pending);
            self.send_now(Msg::Data(full));
        }
    }

    // Sends `msg` after what is pending.
    fn send(&mut self, msg: Msg) {
        self.flush();
        self.send_now(msg);
    }

    fn send_now(&mut self, msg: Msg) {
        if let Some(tx) = &self.tx {
            // The thread only ends when this side hangs up.
            let _ = tx.send(msg);
        }
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn hash_loop(
    rx: &Receiver<Msg>,
    free: &SyncSender<Vec<u8>>,
    mark: &Mutex<Option<(u64, Md5Digest)>>,
) {
    let mut md5 = Md5::new();
    let mut pos = 0u64;
    let set = |at, d| *mark.lock().unwrap_or_else(|e| e.into_inner()) = Some((at, d));
    for msg in rx {
        match msg {
            Msg::Data(mut buf) => {
                md5.update(&buf);
                pos += buf.len() as u64;
                buf.clear();
                // Full when the sender dropped its end: the buffer just goes.
                let _ = free.try_send(buf);
            }
            Msg::Mark(at) if at == pos => set(at, md5.clone().finalize().into()),
            Msg::Mark(_) => {}
            Msg::Snapshot(at, reply) => {
                let d: Md5Digest = md5.clone().finalize().into();
                if at == pos {
                    set(at, d);
                }
                let _ = reply.send(d);
            }
        }
    }
}

/// A reader that feeds what it reads, at its offset, to an [`Md5Stream`].
pub(crate) struct Tee<'a, R> {
    inner: R,
    offset: u64,
    md5: &'a mut Md5Stream,
}

impl<'a, R: Read> Tee<'a, R> {
    /// `inner` reads the upload's bytes from `offset` on.
    pub(crate) fn new(inner: R, offset: u64, md5: &'a mut Md5Stream) -> Self {
        Self { inner, offset, md5 }
    }
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.md5.feed(self.offset, &buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5_of(bytes: &[u8]) -> Md5Digest {
        Md5::digest(bytes).into()
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn hex_round_trips_and_refuses_other_shapes() {
        let d = md5_of(b"abc");
        assert_eq!(hex(&d), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(parse_hex(&hex(&d)), Some(d));
        assert_eq!(parse_hex(&hex(&d).to_uppercase()), Some(d));
        assert_eq!(parse_hex("900150983cd24fb0"), None);
        assert_eq!(parse_hex(&"zz".repeat(16)), None);
        assert_eq!(parse_hex(&"é".repeat(16)), None);
    }

    #[test]
    fn both_modes_hash_resent_bytes_once_and_stop_at_a_gap() {
        let bytes = data(3 * BUF + 17);
        for len in [Some(bytes.len() as u64), None] {
            let mut s = Md5Stream::new(len);
            s.feed(0, &bytes[..1000]);
            // A resend overlapping what was fed, then the rest.
            s.feed(500, &bytes[500..BUF * 2]);
            s.mark(BUF as u64 * 2);
            s.feed(0, &bytes[..10]);
            let mut reader = &bytes[BUF * 2..];
            s.feed_from(&mut reader, BUF as u64 * 2, (bytes.len() - BUF * 2) as u64)
                .unwrap();
            assert_eq!(s.digest(), Some(md5_of(&bytes)), "{len:?}");
            assert_eq!(
                s.latest_mark(),
                Some((bytes.len() as u64, md5_of(&bytes))),
                "{len:?}"
            );
            s.feed(bytes.len() as u64 + 1, b"x");
            assert_eq!((s.position(), s.digest()), (None, None));
        }
    }

    #[test]
    fn marks_are_taken_only_where_exactly_that_much_was_fed() {
        let bytes = data(20 * BUF);
        let mut s = Md5Stream::new(None);
        s.feed(0, &bytes[..BUF + 3]);
        s.mark(BUF as u64);
        s.mark(BUF as u64 + 3);
        s.feed(BUF as u64 + 3, &bytes[BUF + 3..]);
        assert_eq!(s.digest(), Some(md5_of(&bytes)));
        // The mark at BUF + 3 was taken, then replaced by the snapshot.
        assert_eq!(s.latest_mark(), Some((bytes.len() as u64, md5_of(&bytes))));
        let mut t = Md5Stream::new(None);
        t.feed(0, &bytes[..BUF + 3]);
        t.mark(BUF as u64 + 3);
        assert_eq!(t.digest(), Some(md5_of(&bytes[..BUF + 3])));
    }

    #[test]
    fn a_files_md5_is_its_bytes() {
        let dir = std::env::temp_dir().join(format!("wmu-md5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let bytes = data(9 << 20);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(file_md5(&path).unwrap(), hex(&md5_of(&bytes)));
        std::fs::write(&path, b"").unwrap();
        assert_eq!(file_md5(&path).unwrap(), "d41d8cd98f00b204e9800998ecf8427e");
        assert!(matches!(
            file_md5(dir.join("missing")),
            Err(crate::Error::File { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tee_feeds_what_passes_through_it() {
        let bytes = data(5000);
        let mut s = Md5Stream::new(Some(5000));
        let mut out = Vec::new();
        Tee::new(&bytes[..], 0, &mut s)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, bytes);
        assert_eq!(s.digest(), Some(md5_of(&bytes)));
    }
}
