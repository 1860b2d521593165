//! One upload and its resume record: opened from the store or fresh, persisted, restarted.

use std::time::SystemTime;

use super::Engine;
use crate::error::Result;
use crate::store::{Record, StoreLock, whole_ms};
use wix_media_tus::{Metadata, Upload};

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
        let rec = Record::new(key.clone(), self.up.endpoint(), url, self.up.length())
            .with_offset(self.up.offset())
            .with_created_at(self.created_at)
            .with_expires_at(self.up.expires())
            .with_metadata(&self.meta)
            .with_chunk_size(self.learned_chunk);
        Some(rec)
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

    /// Loads the saved upload under `key` if it matches, or starts a new one with `fresh`.
    pub(crate) fn open(
        &self,
        endpoint: &str,
        key: Option<String>,
        length: Option<u64>,
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
                t.up.resume_at(rec.upload_url());
                if let Some(chunk) = rec.chunk_size() {
                    t.up.limit_chunk_size(chunk);
                    t.learned_chunk = Some(chunk);
                }
                t.from_record = true;
                t.created_at = rec.created_at();
                log::debug!("found a saved upload (offset {} when saved)", rec.offset());
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
        Ok(())
    }
}
