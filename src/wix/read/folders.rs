//! Folders: create (`POST /site-media/v1/folders`), list by parent (`GET .../folders`), get
//! (`GET .../folders/{id}`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::files::{SortField, SortOrder, paging_pairs, sealed_by_action, sort_pairs};
use super::page::{Listing, NextCursor, Page, sealed};
use crate::error::Result;
use crate::wix::action::{Action, RestRequest, json, segment};
use crate::wix::{FileState, WixClient};
use wix_media_tus::Method;

/// The id of the Media Manager's root folder, where files go by default.
pub const MEDIA_ROOT: &str = "media-root";
/// Most folders a list page holds (as for files).
const MAX_PAGE: u32 = 100;

/// A Media Manager folder. Unknown fields are ignored and unknown `state` values kept.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Folder {
    /// Folder ID (never empty in a folder this crate returns).
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// Display name (two folders of one parent may share it).
    pub display_name: Option<String>,
    /// Parent folder ID (`media-root` at the top; none for the root itself).
    pub parent_folder_id: Option<String>,
    /// Creation time (RFC 3339).
    pub created_date: Option<String>,
    /// Last update time (RFC 3339).
    pub updated_date: Option<String>,
    /// `OK`, or `DELETED` (in the trash).
    pub state: Option<FileState>,
}

/// An id: a string, or a number kept as its text; anything else is none (empty).
fn id_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// A folder read from an answer: one without id is unusable.
fn checked(folder: Folder) -> Result<Folder, String> {
    if folder.id.is_empty() {
        return Err("a folder has no id".into());
    }
    Ok(folder)
}

/// `{folder}`.
fn parse_folder(body: &[u8]) -> Result<Folder, String> {
    #[derive(Deserialize)]
    struct Envelope {
        folder: Folder,
    }
    checked(json::<Envelope>(body)?.folder)
}

/// The folders of one folder (*List Folders*): run it with [`WixClient::list`] (`.take(n)`
/// for the first `n`). Pages are as large as Wix allows (100).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct ListFolders {
    parent_folder_id: Option<String>,
    sort: Option<(SortField, SortOrder)>,
    cursor: Option<String>,
}

impl ListFolders {
    /// The folders at the top of the Media Manager (in `media-root`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The folder whose folders to list (`parentFolderId`; default `media-root`).
    pub fn parent_folder_id(mut self, id: impl Into<String>) -> Self {
        self.parent_folder_id = Some(id.into());
        self
    }

    /// The order: by [`SortField::DisplayName`] or [`SortField::UpdatedDate`] (Wix's
    /// default, newest first).
    pub fn sort(mut self, field: SortField, order: SortOrder) -> Self {
        self.sort = Some((field, order));
        self
    }
}

impl Action for ListFolders {
    type Output = Page<Folder>;

    fn request(&self) -> RestRequest {
        let mut query = Vec::new();
        if self.cursor.is_none() {
            query.extend(
                self.parent_folder_id
                    .clone()
                    .map(|id| ("parentFolderId", id)),
            );
            query.extend(sort_pairs(self.sort));
        }
        query.extend(paging_pairs(MAX_PAGE, self.cursor.as_deref()));
        RestRequest::get("/site-media/v1/folders", &query)
    }

    fn parse_response(&self, body: &[u8]) -> Result<Page<Folder>, String> {
        #[derive(Deserialize)]
        struct Folders {
            #[serde(default)]
            folders: Option<Vec<Folder>>,
            #[serde(flatten)]
            next: NextCursor,
        }
        let answer: Folders = json(body)?;
        let items = answer.folders.unwrap_or_default();
        Ok(Page {
            items: items.into_iter().map(checked).collect::<Result<_, _>>()?,
            next_cursor: answer.next.next(),
        })
    }
}

impl Listing for ListFolders {
    type Item = Folder;
}

sealed_by_action!(ListFolders);

/// `POST /site-media/v1/folders` `{displayName, parentFolderId}` → `{folder}`.
pub(crate) struct CreateFolder<'a> {
    pub(crate) parent_folder_id: &'a str,
    pub(crate) display_name: &'a str,
}

impl Action for CreateFolder<'_> {
    type Output = Folder;

    fn request(&self) -> RestRequest {
        let body = json!({
            "displayName": self.display_name,
            "parentFolderId": self.parent_folder_id,
        });
        RestRequest::json(Method::Post, "/site-media/v1/folders", body)
    }

    fn parse_response(&self, body: &[u8]) -> Result<Folder, String> {
        parse_folder(body)
    }
}

/// `GET /site-media/v1/folders/{id}` → `{folder}`.
pub(crate) struct GetFolder<'a>(pub(crate) &'a str);

impl Action for GetFolder<'_> {
    type Output = Folder;

    fn request(&self) -> RestRequest {
        RestRequest::get(&format!("/site-media/v1/folders/{}", segment(self.0)), &[])
    }

    fn parse_response(&self, body: &[u8]) -> Result<Folder, String> {
        parse_folder(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_requests() {
        let list = ListFolders::new()
            .parent_folder_id("p")
            .sort(SortField::DisplayName, SortOrder::Asc);
        assert_eq!(
            list.request().path,
            "/site-media/v1/folders?parentFolderId=p&sort.fieldName=displayName&sort.order=ASC\
             &paging.limit=100"
        );
        let mut next = list;
        sealed::Sealed::set_cursor(&mut next, Some("c".into()));
        assert_eq!(
            next.request().path,
            "/site-media/v1/folders?paging.limit=100&paging.cursor=c"
        );
        let create = CreateFolder {
            parent_folder_id: MEDIA_ROOT,
            display_name: "a b",
        }
        .request();
        assert_eq!(
            create,
            RestRequest {
                method: Method::Post,
                path: "/site-media/v1/folders".into(),
                body: Some(json!({"displayName": "a b", "parentFolderId": "media-root"})),
            }
        );
        assert_eq!(
            GetFolder("x/y").request().path,
            "/site-media/v1/folders/x%2Fy"
        );
    }

    #[test]
    fn folders_are_read_leniently_but_need_an_id() {
        let f = GetFolder("f1")
            .parse_response(
                br#"{"folder": {"id": "f1", "displayName": "a", "parentFolderId": "media-root",
                  "createdDate": "2024-01-01T00:00:00.000Z", "state": "ARCHIVED", "new": 1}}"#,
            )
            .unwrap();
        assert_eq!(f.id, "f1");
        assert_eq!(f.display_name.as_deref(), Some("a"));
        assert_eq!(f.state, Some(FileState::Unrecognized("ARCHIVED".into())));
        assert!(
            GetFolder("f1")
                .parse_response(br#"{"folder": {}}"#)
                .is_err()
        );
        assert!(
            GetFolder("f1")
                .parse_response(br#"{"folder": {"id": null}}"#)
                .is_err()
        );
        let numbered = GetFolder("7").parse_response(br#"{"folder": {"id": 7}}"#);
        assert_eq!(numbered.unwrap().id, "7");
        assert!(GetFolder("f1").parse_response(br#"{}"#).is_err());
        let list = ListFolders::new();
        let page = list
            .parse_response(
                br#"{"folders": [{"id": "a"}], "nextCursor": {"cursors": {"next": "n"}}}"#,
            )
            .unwrap();
        assert_eq!(
            page.items,
            vec![Folder {
                id: "a".into(),
                ..Folder::default()
            }]
        );
        assert_eq!(page.next_cursor.as_deref(), Some("n"));
        assert!(
            list.parse_response(br#"{"folders": [{"displayName": "x"}]}"#)
                .is_err()
        );
        assert_eq!(list.parse_response(b"{}").unwrap().items, vec![]);
    }
}
