//! Looking for a file that may have landed: a request that creates one (the simple `PUT`,
//! finalize, import) was sent whole and no answer came (`Error::is_outcome_unknown`), so it
//! must not be sent again before looking.
//!
//! The target folder's newest files are read (newest first, no further than the attempt's
//! start) for one with the same display name and size (an import: the same `sourceUrl`),
//! created since the attempt began (less [`SKEW`] for the server's clock), with the same
//! content hash when both sides have one, and not already the result of another upload of
//! this client. New files may be missing from listings for a while (Wix's list lag): the
//! folder is read again every few seconds until a deadline.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::FileDescriptor;
use super::time::parse_rfc3339;
use super::types::FileState;
use crate::control::{AbortHandle, Clock, sleep_unless_aborted};
use crate::digest::{Md5Digest, parse_hex};
use crate::error::{Error, Result};

/// How far behind ours the server's clock may be.
pub(crate) const SKEW: Duration = Duration::from_secs(300);
/// The longest wait between two looks.
const POLL: Duration = Duration::from_secs(3);

/// How many of a client's results are remembered (the oldest are forgotten first): memory
/// stays flat over any batch.
const TAKEN_KEPT: usize = 10_000;

/// The files a client's uploads made or took, the latest [`TAKEN_KEPT`]: never taken for
/// another upload's.
#[derive(Debug, Default)]
pub(crate) struct Taken(Mutex<(HashSet<String>, VecDeque<String>)>);

impl Taken {
    /// Remembers `id`.
    pub(crate) fn insert(&self, id: &str) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if set.insert(id.to_owned()) {
            order.push_back(id.to_owned());
        }
        while order.len() > TAKEN_KEPT {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
    }

    /// Whether `id` is remembered.
    pub(crate) fn contains(&self, id: &str) -> bool {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.contains(id)
    }
}

/// What looking needs of the read side.
pub(crate) trait ReadBack {
    /// The id of the folder `place` names; `None` when it does not exist (yet).
    fn folder(&self, place: &Place<'_>) -> Result<Option<String>>;
    /// The files of folder `id`, newest first by update time, at least down to the first one
    /// updated before `since`.
    fn newest_files(&self, id: &str, since: SystemTime) -> Result<Vec<FileDescriptor>>;
}

/// Where a file goes: `parentFolderId` (default the root), and `filePath` below it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Place<'a> {
    pub(crate) parent_folder_id: Option<&'a str>,
    pub(crate) file_path: Option<&'a str>,
}

/// The file that would have landed.
#[derive(Clone, Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) place: Place<'a>,
    pub(crate) name: Option<&'a str>,
    pub(crate) size: Option<u64>,
    pub(crate) md5: Option<Md5Digest>,
    pub(crate) source_url: Option<&'a str>,
    /// When the first attempt to create it began.
    pub(crate) since: SystemTime,
}

impl Expected<'_> {
    fn matches(&self, f: &FileDescriptor, since: SystemTime) -> bool {
        let same = |want: Option<&str>, have: &Option<String>| {
            want.is_none_or(|w| have.as_deref() == Some(w))
        };
        let created = f.created_date.as_deref().and_then(parse_rfc3339);
        let hash = f.hash.as_deref().and_then(parse_hex);
        same(self.name, &f.display_name)
            && same(self.source_url, &f.source_url)
            && (self.size.is_none() || f.size_in_bytes.is_none() || self.size == f.size_in_bytes)
            && (self.md5.is_none() || hash.is_none() || self.md5 == hash)
            && created.is_none_or(|t| t >= since)
            && f.state != Some(FileState::Deleted)
    }
}

/// Where and how to look.
pub(crate) struct Lookout<'a> {
    pub(crate) listing: &'a dyn ReadBack,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) abort: Option<&'a AbortHandle>,
    /// Ids that are another upload's result: never adopted.
    pub(crate) taken: &'a Taken,
}

impl Lookout<'_> {
    /// Looks for the file until `deadline`: the newest match, or `None` when none showed.
    pub(crate) fn find(
        &self,
        expected: &Expected<'_>,
        deadline: SystemTime,
    ) -> Result<Option<FileDescriptor>> {
        loop {
            if let Some(found) = self.look(expected)? {
                return Ok(Some(found));
            }
            let now = self.clock.now();
            let Ok(left) = deadline.duration_since(now) else {
                return Ok(None);
            };
            if left.is_zero() {
                return Ok(None);
            }
            log::debug!("no file landed yet; looking again (the list lags)");
            if !sleep_unless_aborted(self.clock, POLL.min(left), self.abort) {
                return Err(Error::Aborted);
            }
        }
    }

    fn look(&self, expected: &Expected<'_>) -> Result<Option<FileDescriptor>> {
        let Some(folder) = self.listing.folder(&expected.place)? else {
            return Ok(None);
        };
        let since = expected
            .since
            .checked_sub(SKEW)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let files = self.listing.newest_files(&folder, since)?;
        let created = |f: &FileDescriptor| f.created_date.as_deref().and_then(parse_rfc3339);
        Ok(files
            .into_iter()
            .filter(|f| expected.matches(f, since))
            .filter(|f| f.id.as_deref().is_some_and(|id| !self.taken.contains(id)))
            .max_by_key(created))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::control::ManualClock;

    /// A folder whose files show up on a given look.
    struct Shelf {
        files: Vec<(usize, serde_json::Value)>,
        looks: RefCell<usize>,
    }

    impl ReadBack for Shelf {
        fn folder(&self, place: &Place<'_>) -> Result<Option<String>> {
            Ok(match place.file_path {
                Some("/missing") => None,
                _ => Some("f1".into()),
            })
        }

        fn newest_files(&self, _: &str, _: SystemTime) -> Result<Vec<FileDescriptor>> {
            let look = {
                let mut n = self.looks.borrow_mut();
                *n += 1;
                *n
            };
            Ok(self
                .files
                .iter()
                .filter(|(from, _)| *from <= look)
                .map(|(_, v)| serde_json::from_value(v.clone()).unwrap())
                .collect())
        }
    }

    fn file(id: &str, name: &str, size: u64, hash: &str, created: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "displayName": name, "sizeInBytes": size.to_string(),
            "hash": hash, "createdDate": created, "state": "OK"})
    }

    const T0: &str = "2026-01-01T00:00:00Z";
    const LATER: &str = "2026-01-01T00:00:10Z";
    const LONG_AGO: &str = "2025-12-31T23:00:00Z";

    fn expected(md5: Option<Md5Digest>) -> Expected<'static> {
        Expected {
            place: Place::default(),
            name: Some("a.png"),
            size: Some(5),
            md5,
            source_url: None,
            since: parse_rfc3339(T0).unwrap(),
        }
    }

    fn find(shelf: &Shelf, expected: &Expected<'_>, wait: u64) -> Option<String> {
        let clock = ManualClock::new();
        let taken = Taken::default();
        taken.insert("taken");
        let lookout = Lookout {
            listing: shelf,
            clock: &clock,
            abort: None,
            taken: &taken,
        };
        let deadline = clock.now() + Duration::from_secs(wait);
        lookout.find(expected, deadline).unwrap().and_then(|f| f.id)
    }

    #[test]
    fn the_newest_file_of_the_same_name_size_and_hash_is_found() {
        let md5 = [0x11; 16];
        let shelf = Shelf {
            files: vec![
                (1, file("old", "a.png", 5, &hex(&md5), LONG_AGO)),
                (1, file("other-size", "a.png", 6, "", LATER)),
                (1, file("other-name", "b.png", 5, "", LATER)),
                (1, file("other-hash", "a.png", 5, &"22".repeat(16), LATER)),
                (1, file("taken", "a.png", 5, &hex(&md5), LATER)),
                (1, file("mine", "a.png", 5, &hex(&md5), T0)),
                (1, file("no-hash", "a.png", 5, "", "2026-01-01T00:00:01Z")),
            ],
            looks: RefCell::new(0),
        };
        // With a hash: the hashless one is newer and may be it (Wix may not say).
        assert_eq!(
            find(&shelf, &expected(Some(md5)), 0).as_deref(),
            Some("no-hash")
        );
        let shelf = Shelf {
            files: shelf
                .files
                .into_iter()
                .filter(|(_, f)| f["id"] != "no-hash")
                .collect(),
            looks: RefCell::new(0),
        };
        assert_eq!(
            find(&shelf, &expected(Some(md5)), 0).as_deref(),
            Some("mine")
        );
    }

    #[test]
    fn a_lagging_list_is_read_again_until_the_deadline() {
        let shelf = || Shelf {
            files: vec![(4, file("late", "a.png", 5, "", LATER))],
            looks: RefCell::new(0),
        };
        // Looks at 0, 3, 6 and 9 s: the fourth sees it.
        assert_eq!(find(&shelf(), &expected(None), 10).as_deref(), Some("late"));
        let early = shelf();
        assert_eq!(find(&early, &expected(None), 5), None);
        assert_eq!(*early.looks.borrow(), 3, "looks at 0, 3 and 5 s");
    }

    #[test]
    fn a_missing_folder_holds_nothing() {
        let shelf = Shelf {
            files: vec![(1, file("x", "a.png", 5, "", LATER))],
            looks: RefCell::new(0),
        };
        let mut e = expected(None);
        e.place.file_path = Some("/missing");
        assert_eq!(find(&shelf, &e, 0), None);
        assert_eq!(*shelf.looks.borrow(), 0);
    }

    fn hex(d: &Md5Digest) -> String {
        crate::digest::hex(d)
    }

    #[test]
    fn only_the_latest_results_are_remembered() {
        let taken = Taken::default();
        for i in 0..TAKEN_KEPT + 5 {
            taken.insert(&format!("f{i}"));
        }
        taken.insert("f10");
        assert!(!taken.contains("f0") && !taken.contains("f4"));
        assert!(taken.contains("f5") && taken.contains(&format!("f{}", TAKEN_KEPT + 4)));
        assert_eq!(taken.0.lock().unwrap().1.len(), TAKEN_KEPT);
    }
}
