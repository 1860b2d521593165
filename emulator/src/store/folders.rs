//! Media Manager folders: `folders/<id>.json` ([`FolderRecord`]). The system root
//! `media-root` is not stored: every site has it.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Store, load_json, write_json};
use crate::http::lock;

/// One folder a site made (by the folders route, or by a `filePath`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FolderRecord {
    pub id: String,
    pub display_name: String,
    pub parent_folder_id: String,
    pub site_id: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

pub(super) fn load(dir: &Path) -> io::Result<HashMap<String, FolderRecord>> {
    Ok(load_json::<FolderRecord>(dir)?
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect())
}

impl Store {
    fn folder_path(&self, id: &str) -> PathBuf {
        self.folders_dir.join(format!("{id}.json"))
    }

    pub fn folder(&self, id: &str) -> Option<FolderRecord> {
        lock(&self.folders).get(id).cloned()
    }

    /// Every folder, oldest first.
    pub fn folders(&self) -> Vec<FolderRecord> {
        let mut v: Vec<_> = lock(&self.folders).values().cloned().collect();
        v.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        v
    }

    pub fn add_folder(&self, rec: FolderRecord) -> io::Result<()> {
        let mut folders = lock(&self.folders);
        write_json(&self.folder_path(&rec.id), &rec)?;
        folders.insert(rec.id.clone(), rec);
        Ok(())
    }

    /// The folder at `names` below `parent`, made where missing by `make` (which is given
    /// the parent id and the name). One lock over the walk, so that two calls naming the same
    /// new path make it once. Where a parent holds several folders of one name, the oldest is
    /// taken.
    pub fn folder_at_path(
        &self,
        site_id: &str,
        parent: &str,
        names: &[&str],
        make: impl Fn(&str, &str) -> FolderRecord,
    ) -> io::Result<String> {
        let mut folders = lock(&self.folders);
        let mut current = parent.to_string();
        for name in names {
            let existing = folders
                .values()
                .filter(|f| {
                    f.site_id == site_id && f.parent_folder_id == current && f.display_name == *name
                })
                .min_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
            current = match existing {
                Some(f) => f.id.clone(),
                None => {
                    let rec = make(&current, name);
                    write_json(&self.folder_path(&rec.id), &rec)?;
                    let id = rec.id.clone();
                    folders.insert(id.clone(), rec);
                    id
                }
            };
        }
        Ok(current)
    }
}
