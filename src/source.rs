//! What is uploaded: a file, a seekable reader, or a plain stream.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// Anything that reads and seeks and can move to another thread.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The bytes to upload.
///
/// Seekable sources are streamed straight from where they lie, so memory does not grow with
/// their size. A plain [`Read`] keeps at most one chunk in memory, so that a failed request can
/// be sent again.
pub struct Source {
    kind: Kind,
    // `None`: a stream of unknown length (uploaded with a deferred length).
    length: Option<u64>,
    key: Option<String>,
}

enum Kind {
    File {
        path: PathBuf,
        file: File,
        modified: Option<SystemTime>,
        stamp: Option<String>,
    },
    Seekable(Box<dyn ReadSeek>),
    Stream(StreamBuffer),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::File { path, .. } => format!("File({})", path.display()),
            Kind::Seekable(_) => "Seekable".to_owned(),
            Kind::Stream(_) => "Stream".to_owned(),
        };
        f.debug_struct("Source")
            .field("kind", &kind)
            .field("length", &self.length)
            .finish()
    }
}

impl Source {
    /// Opens the file at `path`. Its canonical path, size and modification time make the key
    /// under which its upload is resumed.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when it can't be opened, [`Error::InvalidInput`] for a directory or
    /// anything else that is not a regular file.
    pub fn file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let unreadable = |source| Error::File {
            path: path.into(),
            source,
        };
        let file = File::open(path).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if !meta.is_file() {
            return Err(Error::InvalidInput(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let canonical = std::fs::canonicalize(path).map_err(unreadable)?;
        let modified = meta.modified().ok();
        let stamp = stamp_of(&meta);
        let mtime = modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let key = format!("file:{}:{}:{mtime}", canonical.display(), meta.len());
        Ok(Self {
            kind: Kind::File {
                path: canonical,
                file,
                modified,
                stamp,
            },
            length: Some(meta.len()),
            key: Some(key),
        })
    }

    /// A reader that can seek; its length is found by seeking to its end.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when seeking to its end fails.
    pub fn seekable(mut reader: impl Read + Seek + Send + 'static) -> Result<Self> {
        let length = reader.seek(SeekFrom::End(0))?;
        Ok(Self {
            kind: Kind::Seekable(Box::new(reader)),
            length: Some(length),
            key: None,
        })
    }

    /// A reader that cannot seek, holding exactly `length` bytes.
    pub fn stream(reader: impl Read + Send + 'static, length: u64) -> Self {
        Self::stream_of(reader, Some(length))
    }

    /// A reader that cannot seek and whose length is unknown: uploaded with tus's
    /// `creation-defer-length`, the length sent once the reader ends.
    pub fn stream_unknown_length(reader: impl Read + Send + 'static) -> Self {
        Self::stream_of(reader, None)
    }

    fn stream_of(reader: impl Read + Send + 'static, length: Option<u64>) -> Self {
        Self {
            kind: Kind::Stream(StreamBuffer {
                reader: Box::new(reader),
                buf: Vec::new(),
                start: 0,
            }),
            length,
            key: None,
        }
    }

    /// Sets the key under which this source's upload is saved and resumed (files have one
    /// already; other sources are not resumed across calls without one).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(format!("key:{}", key.into()));
        self
    }

    /// The number of bytes, when known.
    pub(crate) fn length(&self) -> Option<u64> {
        self.length
    }

    /// Opens the same file again (for another connection); `None` for other sources.
    pub(crate) fn reopen(&self) -> Option<Result<Self>> {
        match &self.kind {
            Kind::File { path, .. } => Some(Source::file(path)),
            _ => None,
        }
    }

    /// Reads ahead (streams only) and says how many of up to `max` bytes from `start` exist:
    /// fewer than `max` means the stream ends there.
    pub(crate) fn available(&mut self, start: u64, max: u64) -> Result<u64> {
        match &mut self.kind {
            Kind::Stream(s) => s.fill(start, max),
            _ => Ok(self.length.unwrap_or(0).saturating_sub(start).min(max)),
        }
    }

    /// What it is, for messages: a file's path, or "a stream".
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Kind::File { path, .. } => path.display().to_string(),
            Kind::Seekable(_) => "a seekable source".to_owned(),
            Kind::Stream(_) => "a stream".to_owned(),
        }
    }

    /// The resume key, if any.
    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The file's name, for files.
    pub(crate) fn file_name(&self) -> Option<String> {
        match &self.kind {
            Kind::File { path, .. } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            _ => None,
        }
    }

    pub(crate) fn is_file(&self) -> bool {
        matches!(self.kind, Kind::File { .. })
    }

    pub(crate) fn is_stream(&self) -> bool {
        matches!(self.kind, Kind::Stream(_))
    }

    /// A file's identity and change time when it was opened (Unix: device, inode and ctime;
    /// elsewhere `None`). Writing a file changes its ctime even when its size and mtime are
    /// put back, and replacing it changes its inode.
    pub(crate) fn stamp(&self) -> Option<&str> {
        match &self.kind {
            Kind::File { stamp, .. } => stamp.as_deref(),
            _ => None,
        }
    }

    /// Fails when a file no longer has the size, mtime and ctime it was opened with.
    pub(crate) fn check_unchanged(&self) -> Result<()> {
        if let Kind::File {
            file,
            modified,
            stamp,
            ..
        } = &self.kind
        {
            let meta = file.metadata()?;
            if Some(meta.len()) != self.length
                || meta.modified().ok() != *modified
                || stamp_of(&meta) != *stamp
            {
                return Err(Error::SourceChanged {
                    expected: self.length.unwrap_or(0),
                    found: meta.len(),
                });
            }
        }
        Ok(())
    }

    /// A reader of exactly the bytes in `range`.
    pub(crate) fn range(&mut self, range: Range<u64>) -> Result<Box<dyn Read + '_>> {
        let len = range.end - range.start;
        match &mut self.kind {
            Kind::File { file, .. } => {
                file.seek(SeekFrom::Start(range.start))?;
                Ok(Box::new(Read::by_ref(file).take(len)))
            }
            Kind::Seekable(r) => {
                r.seek(SeekFrom::Start(range.start))?;
                Ok(Box::new(r.take(len)))
            }
            Kind::Stream(s) => Ok(Box::new(s.window(range, self.length)?)),
        }
    }
}

#[cfg(unix)]
fn stamp_of(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!(
        "unix:{}:{}:{}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

#[cfg(not(unix))]
fn stamp_of(_meta: &std::fs::Metadata) -> Option<String> {
    None
}

// Keeps the bytes of the current chunk of a non-seekable reader, so a retry can resend them.
struct StreamBuffer {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    // The offset of buf[0].
    start: u64,
}

impl StreamBuffer {
    fn fill(&mut self, start: u64, max: u64) -> Result<u64> {
        self.seek_to(start, None)?;
        let want = usize::try_from(max)
            .map_err(|_| Error::InvalidInput("chunk too large for memory".into()))?;
        if self.buf.len() < want {
            let missing = (want - self.buf.len()) as u64;
            self.buf.reserve_exact(want - self.buf.len());
            Read::by_ref(&mut self.reader)
                .take(missing)
                .read_to_end(&mut self.buf)?;
        }
        Ok((self.buf.len() as u64).min(max))
    }

    // Drops buffered bytes before `start`, or skips the reader forward to it.
    fn seek_to(&mut self, start: u64, length: Option<u64>) -> Result<()> {
        if start < self.start {
            return Err(Error::InvalidInput(format!(
                "a stream source cannot go back to offset {start} (it holds bytes from {})",
                self.start
            )));
        }
        let end_held = self.start + self.buf.len() as u64;
        if start >= end_held {
            let skip = start - end_held;
            let skipped = io::copy(
                &mut Read::by_ref(&mut self.reader).take(skip),
                &mut io::sink(),
            )?;
            if skipped < skip {
                return Err(Error::SourceChanged {
                    expected: length.unwrap_or(start),
                    found: end_held + skipped,
                });
            }
            self.buf.clear();
        } else {
            let drop = usize::try_from(start - self.start).unwrap_or(usize::MAX);
            self.buf.drain(..drop.min(self.buf.len()));
        }
        self.start = start;
        Ok(())
    }

    fn window(&mut self, range: Range<u64>, length: Option<u64>) -> Result<&[u8]> {
        let want = range.end - range.start;
        self.seek_to(range.start, length)?;
        let got = self.fill(range.start, want)?;
        if got < want {
            return Err(Error::SourceChanged {
                expected: length.unwrap_or(range.end),
                found: range.start + got,
            });
        }
        // `got == want` fits in memory: `fill` checked it.
        Ok(&self.buf[..self.buf.len().min(want as usize)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(src: &mut Source, r: Range<u64>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        src.range(r)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn seekable_ranges() {
        let mut s = Source::seekable(Cursor::new(b"0123456789".to_vec())).unwrap();
        assert_eq!(s.length(), Some(10));
        assert_eq!(read(&mut s, 3..6).unwrap(), b"345");
        assert_eq!(read(&mut s, 0..2).unwrap(), b"01");
    }

    #[test]
    fn stream_resends_the_unacknowledged_part_of_its_chunk() {
        let mut s = Source::stream(Cursor::new(b"0123456789".to_vec()), 10);
        assert_eq!(read(&mut s, 0..4).unwrap(), b"0123");
        assert_eq!(read(&mut s, 2..6).unwrap(), b"2345");
        assert_eq!(read(&mut s, 6..10).unwrap(), b"6789");
        assert!(matches!(read(&mut s, 1..3), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn stream_skips_ahead_and_notices_short_input() {
        let mut s = Source::stream(Cursor::new(b"0123456789".to_vec()), 12);
        assert_eq!(read(&mut s, 5..8).unwrap(), b"567");
        assert!(matches!(
            read(&mut s, 8..12),
            Err(Error::SourceChanged {
                expected: 12,
                found: 10
            })
        ));
    }

    #[test]
    fn file_changes_are_noticed() {
        let dir = std::env::temp_dir().join(format!("wmu-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        std::fs::write(&path, b"hello").unwrap();
        let s = Source::file(&path).unwrap();
        assert_eq!(s.file_name().as_deref(), Some("f.bin"));
        assert!(s.key().unwrap().contains("f.bin:5:"));
        s.check_unchanged().unwrap();
        std::fs::write(&path, b"hello world").unwrap();
        assert!(matches!(
            s.check_unchanged(),
            Err(Error::SourceChanged {
                expected: 5,
                found: 11
            })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn directories_are_refused() {
        assert!(Source::file(std::env::temp_dir()).is_err());
    }
}
