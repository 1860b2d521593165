//! The files under the command line's paths, found lazily: one open directory per level, no
//! list of files held, so memory does not grow with the number of files.
//!
//! Inside folders, hidden entries (names starting with `.`), symbolic links (not followed)
//! and special files (sockets, pipes, devices) are left out and reported as
//! [`Item::Skipped`]; a path named on the command line is taken as named, even hidden or a
//! symlink. Each file comes with the folder it is in relative to the folder named on the
//! command line, so a tree keeps its shape.

use std::fs::{self, Metadata, ReadDir};
use std::path::{Path, PathBuf};

/// A regular file found.
#[derive(Clone, Debug)]
pub struct Found {
    /// The path as walked (under the named root).
    pub path: PathBuf,
    pub meta: Metadata,
    /// Its folder relative to the named folder (empty for a named file or a file at the top).
    pub subdir: PathBuf,
}

/// Why an entry inside a folder was left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Hidden,
    Symlink,
    Special,
}

/// One thing found.
#[derive(Debug)]
pub enum Item {
    File(Found),
    /// An entry inside a folder that is left out.
    Skipped(PathBuf, Skip),
    /// A path that could not be read.
    Error(PathBuf, String),
}

/// Walks the given roots depth first.
#[derive(Debug)]
pub struct Walk {
    roots: std::vec::IntoIter<PathBuf>,
    /// Open folders: the folder, its entries, its path relative to its root.
    stack: Vec<(PathBuf, ReadDir, PathBuf)>,
}

impl Walk {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self {
            roots: roots.into_iter(),
            stack: Vec::new(),
        }
    }

    fn enter(&mut self, dir: PathBuf, subdir: PathBuf) -> Option<Item> {
        match fs::read_dir(&dir) {
            Ok(rd) => {
                self.stack.push((dir, rd, subdir));
                None
            }
            Err(e) => Some(Item::Error(dir, format!("cannot read the folder: {e}"))),
        }
    }

    /// The next entry of the innermost open folder, as an item (`None`: nothing to report,
    /// go on); `Err(())` when that folder is done.
    fn next_entry(&mut self) -> Result<Option<Item>, ()> {
        let Some((dir, rd, subdir)) = self.stack.last_mut() else {
            return Err(());
        };
        let entry = match rd.next() {
            None => {
                self.stack.pop();
                return Ok(None);
            }
            Some(Err(e)) => {
                let dir = dir.clone();
                // A failing directory stream would fail again: leave it.
                self.stack.pop();
                return Ok(Some(Item::Error(
                    dir,
                    format!("cannot read the folder: {e}"),
                )));
            }
            Some(Ok(entry)) => entry,
        };
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            return Ok(Some(Item::Skipped(path, Skip::Hidden)));
        }
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => return Ok(Some(Item::Error(path, e.to_string()))),
        };
        if file_type.is_symlink() {
            return Ok(Some(Item::Skipped(path, Skip::Symlink)));
        }
        if file_type.is_dir() {
            let sub = subdir.join(&name);
            return Ok(self.enter(path, sub));
        }
        if !file_type.is_file() {
            return Ok(Some(Item::Skipped(path, Skip::Special)));
        }
        let subdir = subdir.clone();
        // The entry's own metadata: a link would not be followed, but none gets here.
        Ok(Some(match entry.metadata() {
            Ok(meta) => Item::File(Found { path, meta, subdir }),
            Err(e) => Item::Error(path, e.to_string()),
        }))
    }

    fn root(&mut self, root: PathBuf) -> Option<Item> {
        match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => self.enter(root, PathBuf::new()),
            Ok(meta) if meta.is_file() => Some(Item::File(Found {
                path: root,
                meta,
                subdir: PathBuf::new(),
            })),
            Ok(_) => Some(Item::Error(root, "not a regular file or folder".into())),
            Err(e) => Some(Item::Error(root, io_text(&e))),
        }
    }
}

impl Iterator for Walk {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            match self.next_entry() {
                Ok(Some(item)) => return Some(item),
                Ok(None) => continue,
                Err(()) => {}
            }
            let root = self.roots.next()?;
            if let Some(item) = self.root(root) {
                return Some(item);
            }
        }
    }
}

/// A file's path relative to its root, with `/`: `a/b/x.jpg`.
pub fn rel_path(found: &Found) -> String {
    let name = found
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts: Vec<String> = found
        .subdir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.push(name);
    parts.join("/")
}

/// An I/O error as a user reads it.
pub fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The Wix folder of a file in `subdir` under a root uploaded to `folder` (`None`: Wix's
/// root): `/site/path` and `a/b` give `/site/path/a/b`.
pub fn folder_for(folder: Option<&str>, subdir: &Path) -> Option<String> {
    let parts: Vec<String> = subdir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return folder.map(str::to_owned);
    }
    let base = folder.unwrap_or("").trim_end_matches('/');
    Some(format!("{base}/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_join_the_subfolder() {
        let sub = Path::new("a/b");
        assert_eq!(
            folder_for(Some("/site/path"), sub).as_deref(),
            Some("/site/path/a/b")
        );
        assert_eq!(
            folder_for(Some("/site/"), sub).as_deref(),
            Some("/site/a/b")
        );
        assert_eq!(folder_for(None, sub).as_deref(), Some("/a/b"));
        assert_eq!(folder_for(Some("/x"), Path::new("")).as_deref(), Some("/x"));
        assert_eq!(folder_for(None, Path::new("")), None);
    }
}
