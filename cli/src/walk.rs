//! The files under the command line's paths, found lazily: one open directory per level, no
//! list of files held, so memory does not grow with the number of files.
//!
//! Inside folders, hidden entries (names starting with `.`) are skipped and symbolic links are
//! not followed (nor uploaded); a path named on the command line is taken as named, even
//! hidden or a symlink.

use std::fs::{self, Metadata, ReadDir};
use std::path::PathBuf;

/// One thing found.
#[derive(Debug)]
pub enum Item {
    /// A regular file, with its metadata.
    File(PathBuf, Metadata),
    /// A path that could not be read.
    Error(PathBuf, String),
}

/// Walks the given roots depth first.
#[derive(Debug)]
pub struct Walk {
    roots: std::vec::IntoIter<PathBuf>,
    stack: Vec<(PathBuf, ReadDir)>,
}

impl Walk {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self {
            roots: roots.into_iter(),
            stack: Vec::new(),
        }
    }

    fn enter(&mut self, dir: PathBuf) -> Option<Item> {
        match fs::read_dir(&dir) {
            Ok(rd) => {
                self.stack.push((dir, rd));
                None
            }
            Err(e) => Some(Item::Error(dir, format!("cannot read the folder: {e}"))),
        }
    }
}

impl Iterator for Walk {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some((dir, rd)) = self.stack.last_mut() {
                let entry = match rd.next() {
                    None => {
                        self.stack.pop();
                        continue;
                    }
                    Some(Err(e)) => {
                        let dir = dir.clone();
                        // A failing directory stream would fail again: leave it.
                        self.stack.pop();
                        return Some(Item::Error(dir, format!("cannot read the folder: {e}")));
                    }
                    Some(Ok(entry)) => entry,
                };
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                let path = entry.path();
                let file_type = match entry.file_type() {
                    Ok(t) => t,
                    Err(e) => return Some(Item::Error(path, e.to_string())),
                };
                if file_type.is_symlink() {
                    log::info!("not following the symbolic link {}", path.display());
                    continue;
                }
                if file_type.is_dir() {
                    match self.enter(path) {
                        Some(err) => return Some(err),
                        None => continue,
                    }
                }
                if !file_type.is_file() {
                    log::info!("skipping {}: not a regular file", path.display());
                    continue;
                }
                // The entry's own metadata: a link would not be followed, but none gets here.
                return Some(match entry.metadata() {
                    Ok(meta) => Item::File(path, meta),
                    Err(e) => Item::Error(path, e.to_string()),
                });
            }
            let root = self.roots.next()?;
            match fs::metadata(&root) {
                Ok(meta) if meta.is_dir() => {
                    if let Some(err) = self.enter(root) {
                        return Some(err);
                    }
                }
                Ok(meta) if meta.is_file() => return Some(Item::File(root, meta)),
                Ok(_) => {
                    return Some(Item::Error(root, "not a regular file or folder".into()));
                }
                Err(e) => return Some(Item::Error(root, e.to_string())),
            }
        }
    }
}
