//! The Media Manager's side of `sync`, `ls` and `rm`: the tree under a folder path, read with
//! the largest pages (one listing of folders and one of files per folder, 100 a page).

use std::collections::{BTreeMap, VecDeque};

use wix_media_upload::Result;
use wix_media_upload::wix::{
    FileDescriptor, FileState, Folder, ListFiles, ListFolders, SortField, SortOrder, WixClient,
};

use crate::interrupt::Stop;

/// A folder found under the root, with its path relative to the root (`""` for the root).
#[derive(Clone, Debug)]
pub struct RemoteFolder {
    pub id: String,
    pub rel: String,
}

/// The files and folders under a folder path.
#[derive(Debug, Default)]
pub struct Tree {
    /// The root folder's id; `None` when the path does not exist (then the tree is empty).
    pub root: Option<String>,
    /// Every folder, by path relative to the root (`""` is the root).
    pub folders: BTreeMap<String, String>,
    /// Every file not in the trash, by path relative to the root (`a/b/x.jpg`); Wix allows
    /// several files of one name in a folder.
    pub files: BTreeMap<String, Vec<FileDescriptor>>,
}

/// `rel` joined with `name`, with `/` (no leading one at the root).
pub fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Whether Wix says the item is in the trash.
pub fn trashed(state: Option<&FileState>) -> bool {
    state == Some(&FileState::Deleted)
}

/// Reads the tree under `path` (`/` for the whole Media Manager); `Ok(None)` when stopped.
pub fn read_tree(client: &WixClient, path: &str, stop: &Stop) -> Result<Option<Tree>> {
    let mut tree = Tree::default();
    let Some(root) = client.find_folder(path)? else {
        return Ok(Some(tree));
    };
    tree.root = Some(root.id.clone());
    let mut walk = Folders::new(root.id);
    while let Some(folder) = walk.next(client)? {
        if stop.stopped() {
            return Ok(None);
        }
        for file in client.list(ListFiles::new().parent_folder_id(&folder.id)) {
            let file = file?;
            if trashed(file.state.as_ref()) {
                continue;
            }
            let name = file.display_name.clone().unwrap_or_default();
            tree.files
                .entry(join(&folder.rel, &name))
                .or_default()
                .push(file);
        }
        tree.folders.insert(folder.rel, folder.id);
    }
    Ok(Some(tree))
}

/// The folders under a root, breadth first, each listed once for its children.
#[derive(Debug)]
pub struct Folders {
    queue: VecDeque<RemoteFolder>,
}

impl Folders {
    pub fn new(root_id: String) -> Self {
        Folders {
            queue: VecDeque::from([RemoteFolder {
                id: root_id,
                rel: String::new(),
            }]),
        }
    }

    /// Takes the next queued folder without listing it.
    pub fn pop(&mut self) -> Option<RemoteFolder> {
        self.queue.pop_front()
    }

    /// The next folder (its children queued), or `None` at the end.
    pub fn next(&mut self, client: &WixClient) -> Result<Option<RemoteFolder>> {
        let Some(folder) = self.queue.pop_front() else {
            return Ok(None);
        };
        let by_name = ListFolders::new()
            .parent_folder_id(&folder.id)
            .sort(SortField::DisplayName, SortOrder::Asc);
        for child in client.list(by_name) {
            let child: Folder = child?;
            if trashed(child.state.as_ref()) {
                continue;
            }
            let name = child.display_name.clone().unwrap_or_default();
            self.queue.push_back(RemoteFolder {
                id: child.id,
                rel: join(&folder.rel, &name),
            });
        }
        Ok(Some(folder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_without_a_leading_slash() {
        assert_eq!(join("", "x.jpg"), "x.jpg");
        assert_eq!(join("a/b", "x.jpg"), "a/b/x.jpg");
    }
}
