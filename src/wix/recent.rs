//! The few reads reconciling needs: a folder by its path, and a folder's newest files. (A
//! stand-in, private and minimal, for the SDK's read side; see `reconcile::Listing`.)

use std::time::SystemTime;

use percent_encoding::utf8_percent_encode;
use serde::Deserialize;

use super::FileDescriptor;
use super::reconcile::{Listing, Place};
use super::rest::{Answer, Rest};
use super::resumable::COMPONENT;
use super::time::parse_rfc3339;
use crate::error::Result;

/// The most a listing page holds.
const PAGE: u32 = 100;
/// Wix's root folder.
pub(crate) const ROOT: &str = "media-root";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilesPage {
    #[serde(default)]
    files: Vec<FileDescriptor>,
    #[serde(default)]
    next_cursor: Option<NextCursor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FoldersPage {
    #[serde(default)]
    folders: Vec<FolderEntry>,
    #[serde(default)]
    next_cursor: Option<NextCursor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FolderEntry {
    id: Option<String>,
    display_name: Option<String>,
    state: Option<String>,
    created_date: Option<String>,
}

#[derive(Deserialize)]
struct NextCursor {
    #[serde(default)]
    cursors: Option<Cursors>,
}

#[derive(Deserialize)]
struct Cursors {
    next: Option<String>,
}

impl Answer for FilesPage {}
impl Answer for FoldersPage {}

fn next(cursor: Option<NextCursor>) -> Option<String> {
    cursor?.cursors?.next.filter(|c| !c.is_empty())
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

impl Listing for Rest<'_> {
    fn folder(&self, place: &Place<'_>) -> Result<Option<String>> {
        let mut id = place.parent_folder_id.unwrap_or(ROOT).to_owned();
        let segments = place.file_path.unwrap_or("").split('/');
        for name in segments.filter(|s| !s.is_empty()) {
            match self.child_folder(&id, name)? {
                Some(child) => id = child,
                None => return Ok(None),
            }
        }
        Ok(Some(id))
    }

    fn newest_files(&self, folder: &str, since: SystemTime) -> Result<Vec<FileDescriptor>> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("paging.limit={PAGE}&paging.cursor={}", enc(c)),
                None => format!(
                    "parentFolderId={}&sort.fieldName=updatedDate&sort.order=DESC&\
                     paging.limit={PAGE}",
                    enc(folder)
                ),
            };
            let page: FilesPage = self.get(&format!("/site-media/v1/files?{query}"))?;
            // Newest first: once a page reaches files older than `since`, no later one matters.
            let older = page.files.iter().any(|f| {
                f.updated_date
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .is_some_and(|t| t < since)
            });
            found.extend(page.files);
            cursor = next(page.next_cursor);
            if older || cursor.is_none() {
                return Ok(found);
            }
        }
    }
}

impl Rest<'_> {
    // The folder named `name` in `parent` (the oldest, when several share the name).
    fn child_folder(&self, parent: &str, name: &str) -> Result<Option<String>> {
        let mut best: Option<(Option<SystemTime>, String)> = None;
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("paging.limit={PAGE}&paging.cursor={}", enc(c)),
                None => format!("parentFolderId={}&paging.limit={PAGE}", enc(parent)),
            };
            let page: FoldersPage = self.get(&format!("/site-media/v1/folders?{query}"))?;
            for f in page.folders {
                let live = f.state.as_deref().is_none_or(|s| s == "OK");
                if let (true, Some(id), Some(n)) = (live, f.id, f.display_name.as_deref())
                    && n == name
                {
                    let at = f.created_date.as_deref().and_then(parse_rfc3339);
                    if best.as_ref().is_none_or(|(b, _)| at < *b) {
                        best = Some((at, id));
                    }
                }
            }
            cursor = next(page.next_cursor);
            if cursor.is_none() {
                return Ok(best.map(|(_, id)| id));
            }
        }
    }
}
