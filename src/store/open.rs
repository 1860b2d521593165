//! Which sources have an unfinished record: every store an uploader uses is wrapped in
//! [`Watched`], which notes the keys of unfinished records it loads or saves (and drops
//! them when they are removed or marked finished), by the source they belong to. That
//! answers `Uploader::has_saved` without reading the store, so a caller learns after a
//! failure whether calling again resumes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::key::source_of;
use super::{Record, StateStore, StoreLock};
use crate::error::Result;

/// Most sources remembered: the oldest is forgotten first, so memory stays flat over any
/// batch (a caller asks right after the upload, long before that many others).
const MAX_SOURCES: usize = 10_000;

/// A store, and the unfinished records of it this process saw.
pub(crate) struct Watched {
    inner: Box<dyn StateStore>,
    open: Mutex<Open>,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").finish_non_exhaustive()
    }
}

impl Watched {
    pub(crate) fn new(inner: impl StateStore + 'static) -> Self {
        Self {
            inner: Box::new(inner),
            open: Mutex::default(),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an unfinished record of the source whose key is `source_key` was seen.
    pub(crate) fn has_open(&self, source_key: &str) -> bool {
        self.open().by_source.contains_key(source_key)
    }

    fn note(&self, key: &str, record: Option<&Record>) {
        let Some(source) = source_of(key) else {
            return;
        };
        let mut open = self.open();
        match record {
            Some(rec) if rec.completed_at().is_none() => open.insert(source, key),
            _ => open.remove(source, key),
        }
    }
}

impl StateStore for Watched {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        let found = self.inner.load(key)?;
        self.note(key, found.as_ref());
        Ok(found)
    }

    fn save(&self, record: &Record) -> Result<()> {
        self.inner.save(record)?;
        self.note(record.key(), Some(record));
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        self.inner.remove(key)?;
        self.note(key, None);
        Ok(())
    }

    fn try_lock(&self, key: &str) -> Result<Option<StoreLock>> {
        self.inner.try_lock(key)
    }

    fn lock(&self, key: &str) -> Result<StoreLock> {
        self.inner.lock(key)
    }
}

/// Unfinished records' keys by source key, and the sources in the order first seen.
#[derive(Debug, Default)]
struct Open {
    by_source: HashMap<String, HashSet<String>>,
    order: VecDeque<String>,
}

impl Open {
    fn insert(&mut self, source: &str, key: &str) {
        if !self.by_source.contains_key(source) {
            if self.by_source.len() >= MAX_SOURCES {
                self.forget_oldest();
            }
            self.order.push_back(source.to_owned());
        }
        let keys = self.by_source.entry(source.to_owned()).or_default();
        keys.insert(key.to_owned());
    }

    fn remove(&mut self, source: &str, key: &str) {
        let Some(keys) = self.by_source.get_mut(source) else {
            return;
        };
        keys.remove(key);
        if keys.is_empty() {
            self.by_source.remove(source);
        }
        // Sources gone from the map stay in `order` until it is twice as long as needed.
        if self.order.len() > 2 * self.by_source.len().max(MAX_SOURCES / 2) {
            let mut live: HashSet<&str> = self.by_source.keys().map(String::as_str).collect();
            self.order.retain(|s| live.remove(s.as_str()));
        }
    }

    fn forget_oldest(&mut self) {
        while let Some(s) = self.order.pop_front() {
            if self.by_source.remove(&s).is_some() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryStore;
    use super::*;

    #[test]
    fn unfinished_records_are_seen_until_removed_or_finished() {
        let store = Watched::new(MemoryStore::new());
        let rec = |key: &str| Record::new(key, "http://h/files", "http://h/files/1", Some(5));
        store.save(&rec("http://h/files\nkey:a\npart 0/2")).unwrap();
        store.save(&rec("http://h/files\nkey:a\npart 1/2")).unwrap();
        assert!(store.has_open("key:a"));
        assert!(!store.has_open("key:b"));
        store.remove("http://h/files\nkey:a\npart 0/2").unwrap();
        assert!(store.has_open("key:a"), "one slice is left");
        let finished = rec("http://h/files\nkey:a\npart 1/2").finished(
            std::time::SystemTime::UNIX_EPOCH,
            "w",
            None,
        );
        store.save(&finished).unwrap();
        assert!(!store.has_open("key:a"));

        // A record found by another store over the same records (an earlier run's).
        let earlier = MemoryStore::new();
        earlier.save(&rec("http://h/files\nkey:c")).unwrap();
        let store = Watched::new(earlier);
        assert!(!store.has_open("key:c"));
        assert!(store.load("http://h/files\nkey:c").unwrap().is_some());
        assert!(store.has_open("key:c"));
        assert!(store.load("http://h/files\nkey:d").unwrap().is_none());
        assert!(!store.has_open("key:d"));
    }

    #[test]
    fn memory_stays_flat() {
        let mut open = Open::default();
        for i in 0..3 * MAX_SOURCES {
            open.insert(&format!("key:{i}"), &format!("e\nkey:{i}"));
            if i % 2 == 0 {
                open.remove(&format!("key:{i}"), &format!("e\nkey:{i}"));
            }
        }
        assert_eq!(open.by_source.len(), MAX_SOURCES);
        assert!(open.order.len() <= 2 * MAX_SOURCES);
        assert!(
            open.by_source
                .contains_key(&format!("key:{}", 3 * MAX_SOURCES - 1))
        );
        assert!(
            !open.by_source.contains_key("key:1"),
            "the oldest went first"
        );
    }
}
