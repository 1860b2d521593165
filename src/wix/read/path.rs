//! Folder paths such as `/a/b/c`: finding the folder one names, and making what is missing.
//!
//! A path is a chain of display names from `media-root`. Two folders of one parent may share
//! a name: the oldest one is taken (then the smallest id), which is what Wix's `filePath`
//! does as far as the emulator knows, so a path names the folder uploads to that path land in.

use super::folders::{CreateFolder, Folder, ListFolders, MEDIA_ROOT};
use crate::error::Result;
use crate::wix::{FileState, WixClient};

/// The names of a path: `/a/b/c`, `a/b/c/` and `a//b/c` are `[a, b, c]`; `/` and `` none.
pub(crate) fn names(path: &str) -> Vec<&str> {
    path.split('/').filter(|n| !n.is_empty()).collect()
}

/// The folder of `folders` called `name` and not in the trash: the oldest, then the smallest
/// id. RFC 3339 times of one server compare as text; a folder without a time counts as newest.
pub(crate) fn pick(folders: Vec<Folder>, name: &str) -> Option<Folder> {
    folders
        .into_iter()
        .filter(|f| f.display_name.as_deref() == Some(name))
        .filter(|f| f.state != Some(FileState::Deleted))
        .min_by(|a, b| {
            let key = |f: &Folder| (f.created_date.is_none(), f.created_date.clone());
            key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
        })
}

/// Every folder in `parent`.
fn children(client: &WixClient, parent: &str) -> Result<Vec<Folder>> {
    client
        .list(ListFolders::new().parent_folder_id(parent))
        .collect()
}

/// The folder at `path` below the folder `from` (`media-root` for a path from the top), or
/// `None` when a folder of it is missing. One listing per level; an empty path is `from`
/// itself, of which only the id is known.
pub(crate) fn resolve(client: &WixClient, from: &str, path: &str) -> Result<Option<Folder>> {
    let mut folder = Folder {
        id: from.to_owned(),
        ..Folder::default()
    };
    for name in names(path) {
        match pick(children(client, &folder.id)?, name) {
            Some(child) => folder = child,
            None => return Ok(None),
        }
    }
    Ok(Some(folder))
}

/// The folder at `path`, made where missing (with its missing parents).
///
/// After making a folder it lists the parent again and takes the oldest of that name: two
/// callers making the same path at once (or a create retried after a lost answer) end up in
/// the same folder.
pub(crate) fn ensure(client: &WixClient, path: &str) -> Result<Folder> {
    let mut folder = Folder {
        id: MEDIA_ROOT.to_owned(),
        ..Folder::default()
    };
    // Below a folder made here, nothing exists yet: no need to look.
    let mut made = false;
    for name in names(path) {
        let found = match made {
            true => None,
            false => pick(children(client, &folder.id)?, name),
        };
        folder = match found {
            Some(child) => child,
            None => {
                let create = CreateFolder {
                    parent_folder_id: &folder.id,
                    display_name: name,
                };
                let created = client.rest(None).run(&create)?;
                log::debug!("made folder {name:?} ({})", created.id);
                let oldest = pick(children(client, &folder.id)?, name).unwrap_or(created.clone());
                made = oldest.id == created.id;
                oldest
            }
        };
    }
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, name: &str, created: Option<&str>, state: Option<FileState>) -> Folder {
        Folder {
            id: id.into(),
            display_name: Some(name.into()),
            created_date: created.map(Into::into),
            state,
            ..Folder::default()
        }
    }

    #[test]
    fn paths_split_into_names() {
        assert_eq!(names("/a/b/c"), ["a", "b", "c"]);
        assert_eq!(names("a//b/c/"), ["a", "b", "c"]);
        assert_eq!(names("/"), Vec::<&str>::new());
        assert_eq!(names(""), Vec::<&str>::new());
        assert_eq!(names("/with space/ü"), ["with space", "ü"]);
    }

    #[test]
    fn the_oldest_folder_of_a_name_is_picked() {
        let t1 = Some("2024-01-01T00:00:00.000Z");
        let t2 = Some("2024-06-01T00:00:00.000Z");
        let all = vec![
            folder("new", "a", t2, Some(FileState::Ok)),
            folder("none", "a", None, None),
            folder(
                "trashed",
                "a",
                Some("2000-01-01T00:00:00.000Z"),
                Some(FileState::Deleted),
            ),
            folder("z-old", "a", t1, None),
            folder("b-old", "a", t1, None),
            folder("other", "b", Some("1999-01-01T00:00:00.000Z"), None),
        ];
        assert_eq!(
            pick(all.clone(), "a").map(|f| f.id).as_deref(),
            Some("b-old")
        );
        assert_eq!(
            pick(all.clone(), "b").map(|f| f.id).as_deref(),
            Some("other")
        );
        assert_eq!(pick(all, "c"), None);
        let untimed = vec![folder("y", "a", None, None), folder("x", "a", None, None)];
        assert_eq!(pick(untimed, "a").map(|f| f.id).as_deref(), Some("x"));
    }
}
