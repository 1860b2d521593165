//! Media Manager files: `files/<id>.json` ([`FileRecord`]) and, for simple uploads and
//! imports, the bytes in `files/<id>.bin` (a resumable upload's bytes stay in `uploads/`).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Placement, Store, load_json, write_json};
use crate::http::lock;

/// Which route made a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Origin {
    /// tus upload plus finalize.
    Resumable,
    /// generate-upload-url plus `PUT`.
    Simple,
    /// The import route.
    Import,
}

/// Where a file is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stage {
    /// An import whose source is still being fetched (`PENDING`).
    Fetching,
    /// The bytes are in; `PENDING` until `ready_ms`, then `READY`.
    Processing,
    /// `FAILED`.
    Failed,
}

/// In the Media Manager, or in its trash (`state` `OK` or `DELETED`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FileState {
    #[default]
    Ok,
    /// Moved to the trash: still readable by id, listed only by a search of the trash.
    Deleted,
}

/// One file, with everything its descriptor needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub id: String,
    pub origin: Origin,
    pub display_name: String,
    pub mime_type: Option<String>,
    /// `IMAGE`, `VIDEO`, ...; `UNKNOWN` for an import whose type shows only once fetched.
    pub media_type: String,
    /// Folder, privacy, labels, path and external ids, as the generate or import call asked.
    #[serde(flatten)]
    pub placement: Placement,
    pub site_id: String,
    pub source_url: Option<String>,
    /// The tus upload holding the bytes (resumable files).
    pub upload_id: Option<String>,
    pub size: Option<u64>,
    /// MD5 of the bytes, lowercase hex.
    pub hash: Option<String>,
    pub width: u32,
    pub height: u32,
    pub created_ms: u64,
    /// When processing ends (meaningful in [`Stage::Processing`]).
    pub ready_ms: u64,
    pub stage: Stage,
    /// Why the file failed.
    pub error: Option<String>,
    /// In the trash or not (records of older runs: not).
    #[serde(default)]
    pub state: FileState,
    /// When the descriptor last changed by a call (rename, move, labels, trash, restore); 0
    /// when never (records of older runs too).
    #[serde(default)]
    pub updated_ms: u64,
}

/// Loads every file; an import still fetching when the last run ended has failed.
pub(super) fn load(dir: &Path) -> io::Result<HashMap<String, FileRecord>> {
    let mut files = HashMap::new();
    for mut rec in load_json::<FileRecord>(dir)? {
        if rec.stage == Stage::Fetching {
            rec.stage = Stage::Failed;
            rec.error = Some("the emulator stopped while importing".into());
            let _ = fs::remove_file(dir.join(format!("{}.part", rec.id)));
            write_json(&dir.join(format!("{}.json", rec.id)), &rec)?;
        }
        files.insert(rec.id.clone(), rec);
    }
    // Bodies of simple uploads cut short by a process death.
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "part") {
            let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if !files.contains_key(id) {
                let _ = fs::remove_file(&path);
            }
        }
    }
    Ok(files)
}

impl Store {
    fn file_info_path(&self, id: &str) -> PathBuf {
        self.files_dir.join(format!("{id}.json"))
    }

    /// Where a simple upload or import keeps its bytes once complete.
    pub fn file_data_path(&self, id: &str) -> PathBuf {
        self.files_dir.join(format!("{id}.bin"))
    }

    /// Where bytes of a simple upload or import go while they arrive.
    pub fn file_part_path(&self, id: &str) -> PathBuf {
        self.files_dir.join(format!("{id}.part"))
    }

    /// The path of a file's bytes, wherever they live.
    pub fn bytes_path(&self, rec: &FileRecord) -> PathBuf {
        match &rec.upload_id {
            Some(upload) => self.data_path(upload),
            None => self.file_data_path(&rec.id),
        }
    }

    pub fn add_file(&self, rec: FileRecord) -> io::Result<()> {
        write_json(&self.file_info_path(&rec.id), &rec)?;
        lock(&self.files).insert(rec.id.clone(), rec);
        Ok(())
    }

    pub fn file(&self, id: &str) -> Option<FileRecord> {
        lock(&self.files).get(id).cloned()
    }

    /// Every file, oldest first.
    pub fn files(&self) -> Vec<FileRecord> {
        let mut v: Vec<_> = lock(&self.files).values().cloned().collect();
        v.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        v
    }

    /// Deletes a file for good: its record and its bytes (a resumable file's tus upload too).
    pub fn remove_file(&self, id: &str) {
        let Some(rec) = lock(&self.files).remove(id) else {
            return;
        };
        let _ = fs::remove_file(self.file_info_path(id));
        match &rec.upload_id {
            Some(upload) => {
                self.remove(upload);
            }
            None => {
                let _ = fs::remove_file(self.file_data_path(id));
            }
        }
    }

    /// Changes a file and persists it.
    pub fn update_file(&self, id: &str, f: impl FnOnce(&mut FileRecord)) -> io::Result<()> {
        let mut files = lock(&self.files);
        let Some(rec) = files.get_mut(id) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let mut next = rec.clone();
        f(&mut next);
        write_json(&self.file_info_path(id), &next)?;
        *rec = next;
        Ok(())
    }
}
