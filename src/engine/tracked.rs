//! One upload and its resume record: opened from the store or fresh, persisted, restarted.

use std::time::SystemTime;

use super::Engine;
use crate::error::{Error, Result};
use crate::proto::{Metadata, Upload};
use crate::secret::Secret;
use crate::store::{Record, StoreLock};

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
    created_at: u64,
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
        Some(Record {
            key: key.clone(),
            endpoint: self.up.endpoint().to_owned(),
            upload_url: url.to_owned(),
            length: self.up.length(),
            offset: self.up.offset(),
            created_at: self.created_at,
            expires_at: self.up.expires().map(unix),
            metadata: self
                .meta
                .iter()
                .map(|(k, v)| (k.to_owned(), Secret::new(v)))
                .collect(),
            secret_keys: self
                .meta
                .iter()
                .filter(|(k, _)| self.meta.is_secret(k))
                .map(|(k, _)| k.to_owned())
                .collect(),
            chunk_size: self.learned_chunk,
            completed_at: None,
            result: None,
            finished_by: None,
        })
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
        Ok(self.store.load(key)?.filter(|rec| {
            rec.completed_at.is_some_and(|at| at >= unix_ms(since))
                && rec.finished_by.as_deref() != Some(self.writer_id.as_str())
        }))
    }

    /// Keeps `record` as finished (for a writer that waits for this one), with `result` and
    /// without its secrets.
    pub(crate) fn finished(
        &self,
        mut record: Record,
        result: Option<serde_json::Value>,
    ) -> Result<()> {
        record.completed_at = Some(unix_ms(self.now()));
        record.result = result;
        record.finished_by = Some(self.writer_id.clone());
        // A finished upload needs no token: the secrets go.
        let secret = std::mem::take(&mut record.secret_keys);
        record.metadata.retain(|(k, _)| !secret.contains(k));
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
            created_at: unix(self.now()),
            acked_any: false,
            resumed_from: None,
            high: 0,
            learned_chunk: None,
        };
        let Some(k) = &key else {
            return Ok(new(None, metadata.clone()));
        };
        match self.store.load(k)? {
            Some(rec) if rec.completed_at.is_some() => {
                // A finished upload: its record was only kept for whoever waited for it.
                self.store.remove(k)?;
                Ok(new(key, metadata.clone()))
            }
            Some(rec)
                if rec.length == length
                    && length.is_some()
                    && rec.endpoint == endpoint
                    && rec.expires_at.is_none_or(|at| at > unix(self.now())) =>
            {
                let mut t = new(key, record_metadata(&rec)?);
                t.up.resume_at(&rec.upload_url);
                if let Some(chunk) = rec.chunk_size {
                    t.up.limit_chunk_size(chunk);
                    t.learned_chunk = Some(chunk);
                }
                t.from_record = true;
                t.created_at = rec.created_at;
                log::debug!("found a saved upload (offset {} when saved)", rec.offset);
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
        t.created_at = unix(self.now());
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

pub(crate) fn record_metadata(rec: &Record) -> Result<Metadata> {
    let mut m = Metadata::new();
    for (k, v) in &rec.metadata {
        m = if rec.secret_keys.contains(k) {
            m.with_secret(k, v.expose())
        } else {
            m.with(k, v.expose())
        }
        .map_err(|e| Error::store_with("saved metadata is invalid", e))?;
    }
    Ok(m)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
