//! tus uploads: `uploads/<id>.bin` (bytes) and `uploads/<id>.json` ([`UploadRecord`]).
//!
//! # What survives a process death
//! A body is written straight into the `.bin` file. While it arrives the record's offset is
//! brought up to date every [`CHECKPOINT_BYTES`] or [`CHECKPOINT_INTERVAL`]
//! ([`Store::checkpoint`]), and at start-up ([`load`]) the offset is set to the data file's
//! length: every byte that reached the file before the process died is kept, like
//! `@tus/file-store` does. A body that carried `Upload-Checksum` is different: its bytes are
//! unverified until its end, so [`Store::begin_write`] first records where it started
//! (`unverified_from`), no checkpoint moves the offset, and a start that finds the mark cuts
//! the file back to it.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BUF_SIZE, Store, load_json, write_json};
use crate::http::lock;

/// A write brings the record's offset up to date after this many new bytes...
pub(crate) const CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;
/// ...or after this long with new bytes, whichever comes first.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// How an upload takes part in the concatenation extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Concat {
    None,
    Partial,
    /// Final upload made of these upload ids, in order.
    Final(Vec<String>),
}

/// The persisted state of one tus upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub id: String,
    /// `None` while the length is deferred.
    pub length: Option<u64>,
    pub offset: u64,
    /// Metadata as sent: key and decoded value (lossy UTF-8), or no value.
    pub metadata: BTreeMap<String, Option<String>>,
    /// The raw `Upload-Metadata` header, echoed on HEAD.
    pub raw_metadata: Option<String>,
    pub token: Option<String>,
    pub concat: Concat,
    pub created_ms: u64,
    /// When an incomplete upload stops being usable (expiration extension).
    pub expires_ms: Option<u64>,
    /// A checksummed body is being written from this offset: bytes past it are unverified.
    pub unverified_from: Option<u64>,
}

impl UploadRecord {
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.offset)
    }
}

pub(super) struct Slot {
    rec: UploadRecord,
    /// A PATCH (or body-carrying POST) is writing this upload right now.
    busy: bool,
}

/// Why [`Store::begin_write`] refused.
pub(crate) enum Busy {
    NotFound,
    Locked,
    Io(io::Error),
}

/// Loads every upload, reconciling each record with its data file (see the module docs).
pub(super) fn load(dir: &Path) -> io::Result<HashMap<String, Slot>> {
    let mut uploads = HashMap::new();
    for mut rec in load_json::<UploadRecord>(dir)? {
        let data = dir.join(format!("{}.bin", rec.id));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&data)?;
        let on_disk = file.metadata()?.len();
        let before = (rec.offset, rec.unverified_from);
        let keep = match rec.unverified_from.take() {
            // The process died inside a checksummed body: nothing of it was verified.
            Some(from) => from.min(on_disk),
            // Whatever reached the file arrived, in order, from a body cut short.
            None => on_disk.min(rec.length.unwrap_or(u64::MAX)),
        };
        if on_disk > keep {
            file.set_len(keep)?;
        }
        rec.offset = keep;
        if (rec.offset, rec.unverified_from) != before {
            write_json(&dir.join(format!("{}.json", rec.id)), &rec)?;
        }
        uploads.insert(rec.id.clone(), Slot { rec, busy: false });
    }
    Ok(uploads)
}

impl Store {
    pub fn data_path(&self, id: &str) -> PathBuf {
        self.uploads_dir.join(format!("{id}.bin"))
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.uploads_dir.join(format!("{id}.json"))
    }

    pub fn create(&self, rec: UploadRecord) -> io::Result<()> {
        File::create(self.data_path(&rec.id))?;
        write_json(&self.info_path(&rec.id), &rec)?;
        lock(&self.uploads).insert(rec.id.clone(), Slot { rec, busy: false });
        Ok(())
    }

    /// Creates a final upload whose bytes are the given complete partial uploads, in order.
    pub fn create_final(&self, rec: UploadRecord, parts: &[String]) -> io::Result<()> {
        let path = self.data_path(&rec.id);
        let mut out = File::create(&path)?;
        let mut buf = vec![0u8; BUF_SIZE];
        for part in parts {
            let mut input = File::open(self.data_path(part))?;
            loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
            }
        }
        out.sync_data()?;
        write_json(&self.info_path(&rec.id), &rec)?;
        lock(&self.uploads).insert(rec.id.clone(), Slot { rec, busy: false });
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<UploadRecord> {
        lock(&self.uploads).get(id).map(|s| s.rec.clone())
    }

    pub fn all(&self) -> Vec<UploadRecord> {
        let mut v: Vec<_> = lock(&self.uploads)
            .values()
            .map(|s| s.rec.clone())
            .collect();
        v.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        v
    }

    pub fn remove(&self, id: &str) -> bool {
        let removed = lock(&self.uploads).remove(id).is_some();
        if removed {
            let _ = fs::remove_file(self.data_path(id));
            let _ = fs::remove_file(self.info_path(id));
        }
        removed
    }

    /// Changes the record (e.g. sets a deferred length) and persists it.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut UploadRecord)) -> io::Result<()> {
        let mut uploads = lock(&self.uploads);
        let Some(slot) = uploads.get_mut(id) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        f(&mut slot.rec);
        write_json(&self.info_path(id), &slot.rec)
    }

    /// Claims the upload for one writer and returns its current record. A `checksummed`
    /// write is noted on disk first, so a restart drops its bytes unless it ended well.
    pub fn begin_write(&self, id: &str, checksummed: bool) -> Result<UploadRecord, Busy> {
        let mut uploads = lock(&self.uploads);
        let slot = uploads.get_mut(id).ok_or(Busy::NotFound)?;
        if slot.busy {
            return Err(Busy::Locked);
        }
        if checksummed {
            let mut marked = slot.rec.clone();
            marked.unverified_from = Some(marked.offset);
            write_json(&self.info_path(id), &marked).map_err(Busy::Io)?;
            slot.rec = marked;
        }
        slot.busy = true;
        Ok(slot.rec.clone())
    }

    /// Records bytes of an unchecksummed body that are in the data file while the write goes
    /// on (memory and disk), so they survive the process.
    pub fn checkpoint(&self, id: &str, offset: u64) -> io::Result<()> {
        let mut uploads = lock(&self.uploads);
        let Some(slot) = uploads.get_mut(id) else {
            return Ok(());
        };
        if slot.rec.unverified_from.is_some() || slot.rec.offset == offset {
            return Ok(());
        }
        slot.rec.offset = offset;
        write_json(&self.info_path(id), &slot.rec)
    }

    /// Releases the claim, recording the new offset (the start offset when the bytes were
    /// refused).
    pub fn end_write(&self, id: &str, new_offset: u64) -> io::Result<()> {
        let mut uploads = lock(&self.uploads);
        let Some(slot) = uploads.get_mut(id) else {
            return Ok(());
        };
        slot.busy = false;
        let marked = slot.rec.unverified_from.take().is_some();
        if marked || slot.rec.offset != new_offset {
            slot.rec.offset = new_offset;
            write_json(&self.info_path(id), &slot.rec)?;
        }
        Ok(())
    }

    /// Opens the data file positioned at `offset`, dropping any bytes past it (left there by a
    /// refused write).
    pub fn open_at(&self, id: &str, offset: u64) -> io::Result<File> {
        let mut f = OpenOptions::new().write(true).open(self.data_path(id))?;
        f.set_len(offset)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(f)
    }

    /// Cuts the data file back to `len` bytes.
    pub fn truncate(&self, id: &str, len: u64) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .open(self.data_path(id))?
            .set_len(len)
    }
}
