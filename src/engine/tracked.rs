//! One upload and its resume record: opened from the store or fresh, persisted, restarted.

use std::time::{Duration, Instant, SystemTime};

use super::Engine;
use crate::digest::{Md5Digest, Md5Stream};
use crate::error::Result;
use crate::store::StateStore;
use crate::store::{Record, StoreLock, whole_ms};
use wix_media_tus::{Metadata, Upload};

/// While bytes are acknowledged, the record (offset and digest) is saved at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The one-writer lock of an upload's record, and whether taking it meant waiting for
/// another writer (since when).
#[derive(Debug)]
pub(crate) struct Writer {
    _lock: StoreLock,
    pub(crate) waited_since: Option<SystemTime>,
}

/// An upload under way, with what its record needs.
pub(crate) struct Tracked {
    pub(crate) up: Upload,
    /// Where its record lives; `None`: not resumable across calls.
    pub(crate) key: Option<String>,
    /// The metadata the server-side upload was created with (on a resume, the earlier call's).
    pub(crate) meta: Metadata,
    // What this call passed, for when a saved upload turns out to be gone.
    caller_meta: Metadata,
    /// It came from a saved record (not yet known to be gone).
    pub(crate) from_record: bool,
    created_at: SystemTime,
    /// The server acknowledged something during this call.
    pub(crate) acked_any: bool,
    /// The server's offset when this call resumed a saved upload.
    pub(crate) resumed_from: Option<u64>,
    /// The highest offset seen: the retry count restarts above it.
    pub(crate) high: u64,
    // A chunk size learned from refused bodies.
    learned_chunk: Option<u64>,
    /// The MD5 of the bytes sent, from 0.
    pub(crate) md5: Md5Stream,
    /// The source's stamp the record vouches for (see `Source::stamp`): the source's, or
    /// while a saved upload is not checked yet, the saved one.
    pub(crate) stamp: Option<String>,
    // The source's stamp now.
    source_stamp: Option<String>,
    /// What a saved record said of the source, until the resume checked it.
    pub(crate) saved: Option<Saved>,
    // When the record was last saved during this call.
    saved_at: Option<Instant>,
}

/// What a saved record says of the source its upload was sent from.
#[derive(Debug)]
pub(crate) struct Saved {
    /// The digest of the first bytes the server acknowledged.
    pub(crate) acked_md5: Option<(u64, Md5Digest)>,
    /// The source's stamp when the upload was created (`None`: not known).
    pub(crate) stamp: Option<String>,
}

impl Tracked {
    /// Secrets to mask in what is logged of its requests.
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.meta
            .secret_values()
            .chain(self.caller_meta.secret_values())
            .map(str::to_owned)
            .collect()
    }

    /// Remembers a chunk size that works, for the record.
    pub(crate) fn learned(&mut self, chunk_size: u64) {
        self.learned_chunk = Some(chunk_size);
    }

    /// The record of this upload, once it exists on the server.
    pub(crate) fn record(&self) -> Option<Record> {
        let (Some(key), Some(url)) = (&self.key, self.up.url()) else {
            return None;
        };
        let acked = self
            .md5
            .latest_mark()
            .filter(|(at, _)| *at <= self.up.offset())
            .or(self.saved.as_ref().and_then(|s| s.acked_md5));
        let rec = Record::new(key.clone(), self.up.endpoint(), url, self.up.length())
            .with_offset(self.up.offset())
            .with_created_at(self.created_at)
            .with_expires_at(self.up.expires())
            .with_metadata(&self.meta)
            .with_chunk_size(self.learned_chunk)
            .with_acked_md5(acked)
            .with_source_stamp(self.stamp.clone());
        Some(rec)
    }

    /// Continues the saved upload of `rec`, to be checked against the source first.
    fn resume_from(&mut self, rec: &Record) {
        self.up.resume_at(rec.upload_url());
        if let Some(chunk) = rec.chunk_size() {
            self.up.limit_chunk_size(chunk);
            self.learned_chunk = Some(chunk);
        }
        self.from_record = true;
        self.created_at = rec.created_at();
        self.stamp = rec.source_stamp().map(str::to_owned);
        self.saved = Some(Saved {
            acked_md5: rec.acked_md5(),
            stamp: self.stamp.clone(),
        });
        log::debug!("found a saved upload (offset {} when saved)", rec.offset());
    }

    /// A saved upload was checked against the source: its record vouches for the source now.
    pub(crate) fn vouch(&mut self) {
        self.saved = None;
        self.stamp = self.source_stamp.clone();
    }

    /// Whether the record is due to be saved again (at most once per `SAVE_EVERY`).
    pub(crate) fn due_for_save(&mut self) -> bool {
        let due = self.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY);
        if due {
            self.saved_at = Some(Instant::now());
        }
        due
    }
}

impl Engine {
    /// Becomes the one writer of `key`, waiting (and saying so) while another has it.
    pub(crate) fn writer(&self, key: &str, what: &str) -> Result<Writer> {
        if let Some(lock) = self.store.try_lock(key)? {
            return Ok(Writer {
                _lock: lock,
                waited_since: None,
            });
        }
        log::info!("another upload of {what} is under way (another process?): waiting for it");
        let since = self.now();
        let lock = self.store.lock(key)?;
        Ok(Writer {
            _lock: lock,
            waited_since: Some(since),
        })
    }

    /// The record another writer finished since this engine was made (or while `writer`
    /// waited), if any: that upload is this call's answer too. Records this engine finished
    /// itself are not (a second call of one uploader uploads again).
    pub(crate) fn finished_meanwhile(&self, key: &str, writer: &Writer) -> Result<Option<Record>> {
        let since = writer
            .waited_since
            .map_or(self.started, |w| w.min(self.started));
        // Records keep whole milliseconds: one finished in the same millisecond counts.
        let since = whole_ms(since);
        Ok(self.store.load(key)?.filter(|rec| {
            rec.completed_at().is_some_and(|at| at >= since)
                && rec.finished_by() != Some(self.writer_id.as_str())
        }))
    }

    /// Keeps `record` as finished (for a writer that waits for this one), with `result` and
    /// without its secrets.
    pub(crate) fn finished(&self, record: Record, result: Option<serde_json::Value>) -> Result<()> {
        let record = record.finished(self.now(), &self.writer_id, result);
        self.store.save(&record)
    }

    /// Loads the saved upload under `key` if it matches, or starts a new one with `fresh`;
    /// `stamp` is the source's (see `Source::stamp`).
    pub(crate) fn open(
        &self,
        endpoint: &str,
        key: Option<String>,
        (length, stamp): (Option<u64>, Option<&str>),
        metadata: Metadata,
        fresh: impl Fn(&Metadata) -> Upload,
    ) -> Result<Tracked> {
        let new = |key, meta: Metadata| Tracked {
            up: fresh(&meta),
            key,
            caller_meta: metadata.clone(),
            meta,
            from_record: false,
            created_at: self.now(),
            acked_any: false,
            resumed_from: None,
            high: 0,
            learned_chunk: None,
            md5: Md5Stream::new(length),
            stamp: stamp.map(str::to_owned),
            source_stamp: stamp.map(str::to_owned),
            saved: None,
            saved_at: None,
        };
        let Some(k) = &key else {
            return Ok(new(None, metadata.clone()));
        };
        match self.store.load(k)? {
            Some(rec) if rec.completed_at().is_some() => {
                // A finished upload: its record was only kept for whoever waited for it.
                self.store.remove(k)?;
                Ok(new(key, metadata.clone()))
            }
            Some(rec)
                if rec.length() == length
                    && length.is_some()
                    && rec.endpoint() == endpoint
                    && rec.expires_at().is_none_or(|at| at > self.now()) =>
            {
                let mut t = new(key, rec.metadata()?);
                t.resume_from(&rec);
                Ok(t)
            }
            Some(_) => {
                log::info!("saved upload is stale or expired: starting anew");
                self.store.remove(k)?;
                Ok(new(key, metadata.clone()))
            }
            None => Ok(new(key, metadata.clone())),
        }
    }

    /// Saves the record (once the upload exists on the server).
    pub(crate) fn persist(&self, t: &Tracked) -> Result<()> {
        match t.record() {
            Some(rec) => self.store.save(&rec),
            None => Ok(()),
        }
    }

    /// Forgets the record.
    pub(crate) fn forget(&self, t: &Tracked) -> Result<()> {
        match &t.key {
            Some(k) => self.store.remove(k),
            None => Ok(()),
        }
    }

    /// The upload was just created on the server.
    pub(crate) fn created(&self, t: &mut Tracked) -> Result<()> {
        t.created_at = self.now();
        t.acked_any = true;
        self.persist(t)
    }

    /// Drops a saved upload that can't be continued and starts a new one, with the caller's
    /// metadata (a fresh token), not the saved one.
    pub(crate) fn restart(&self, t: &mut Tracked) -> Result<()> {
        self.forget(t)?;
        t.from_record = false;
        t.meta = t.caller_meta.clone();
        t.up.restart_with(&t.meta);
        t.high = 0;
        t.md5 = Md5Stream::new(t.up.length());
        t.saved = None;
        t.stamp = t.source_stamp.clone();
        Ok(())
    }
}
