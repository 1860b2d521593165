//! Listing files: one folder (`GET /site-media/v1/files`) or everything under a root, with a
//! search term (`POST /site-media/v1/files/search`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::page::{Listing, NextCursor, Page, sealed};
use crate::error::Result;
use crate::wix::action::{Action, RestRequest, json};
use crate::wix::{FileDescriptor, MediaType, WixClient};
use wix_media_tus::Method;

/// Most files a list page holds (Wix documents none; 100 is safe, and the emulator's bound).
const MAX_LIST_PAGE: u32 = 100;
/// Most files a search page holds (Wix: "up to 200").
const MAX_SEARCH_PAGE: u32 = 200;

/// What a listing is sorted by (`sort.fieldName`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortField {
    /// `displayName`.
    DisplayName,
    /// `updatedDate`: Wix's default, newest first.
    UpdatedDate,
    /// `sizeInBytes` (files only).
    SizeInBytes,
}

impl SortField {
    fn as_str(self) -> &'static str {
        match self {
            SortField::DisplayName => "displayName",
            SortField::UpdatedDate => "updatedDate",
            SortField::SizeInBytes => "sizeInBytes",
        }
    }
}

/// Ascending or descending (`sort.order`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortOrder {
    /// `ASC`.
    Asc,
    /// `DESC`.
    Desc,
}

impl SortOrder {
    fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        }
    }
}

/// `sort.fieldName` and `sort.order` as query pairs.
pub(crate) fn sort_pairs(sort: Option<(SortField, SortOrder)>) -> Vec<(&'static str, String)> {
    sort.map_or_else(Vec::new, |(field, order)| {
        vec![
            ("sort.fieldName", field.as_str().to_owned()),
            ("sort.order", order.as_str().to_owned()),
        ]
    })
}

/// `paging.limit` and, when set, `paging.cursor` as query pairs.
pub(crate) fn paging_pairs(limit: u32, cursor: Option<&str>) -> Vec<(&'static str, String)> {
    let mut pairs = vec![("paging.limit", limit.to_string())];
    pairs.extend(cursor.map(|c| ("paging.cursor", c.to_owned())));
    pairs
}

/// Where a search looks (`rootFolder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootFolder {
    /// `MEDIA_ROOT`: every folder's files, not those in the trash (the default).
    #[default]
    Media,
    /// `TRASH_ROOT`: the files in the trash.
    Trash,
    /// `VISITOR_UPLOADS_ROOT`: what site visitors uploaded.
    VisitorUploads,
}

impl RootFolder {
    fn as_str(self) -> &'static str {
        match self {
            RootFolder::Media => "MEDIA_ROOT",
            RootFolder::Trash => "TRASH_ROOT",
            RootFolder::VisitorUploads => "VISITOR_UPLOADS_ROOT",
        }
    }
}

/// The files of one folder, not of its subfolders (*List Files*): run it with
/// [`WixClient::list`] (`.take(n)` for the first `n`).
///
/// Pages are as large as Wix allows (100); the order is Wix's default, `updatedDate` newest
/// first, unless [`sort`](ListFiles::sort) says otherwise. A file just created can be missing for a while
/// (Wix's listings lag; reading it by id sees it at once).
///
/// ```no_run
/// use wix_media_upload::wix::{ListFiles, MediaType, SortField, SortOrder, WixClient};
///
/// let client = WixClient::from_env()?;
/// let images = ListFiles::new()
///     .parent_folder_id("a-folder-id")
///     .media_type(MediaType::Image)
///     .sort(SortField::SizeInBytes, SortOrder::Desc);
/// for file in client.list(images) {
///     println!("{:?}", file?.display_name);
/// }
/// # Ok::<(), wix_media_upload::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct ListFiles {
    parent_folder_id: Option<String>,
    media_types: Vec<MediaType>,
    private: Option<bool>,
    sort: Option<(SortField, SortOrder)>,
    cursor: Option<String>,
}

impl ListFiles {
    /// The files of the Media Manager's root folder (`media-root`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The folder to list (`parentFolderId`; default `media-root`).
    pub fn parent_folder_id(mut self, id: impl Into<String>) -> Self {
        self.parent_folder_id = Some(id.into());
        self
    }

    /// Only files of this kind (`mediaTypes`); call again for several kinds.
    pub fn media_type(mut self, media_type: MediaType) -> Self {
        self.media_types.push(media_type);
        self
    }

    /// Only private files, or only public ones (`private`).
    pub fn private(mut self, private: bool) -> Self {
        self.private = Some(private);
        self
    }

    /// The order (default `updatedDate`, newest first).
    pub fn sort(mut self, field: SortField, order: SortOrder) -> Self {
        self.sort = Some((field, order));
        self
    }
}

impl Action for ListFiles {
    type Output = Page<FileDescriptor>;

    fn request(&self) -> RestRequest {
        let mut query = Vec::new();
        if self.cursor.is_none() {
            query.extend(
                self.parent_folder_id
                    .clone()
                    .map(|id| ("parentFolderId", id)),
            );
            for t in &self.media_types {
                query.push(("mediaTypes", t.as_str().to_owned()));
            }
            query.extend(self.private.map(|p| ("private", p.to_string())));
            query.extend(sort_pairs(self.sort));
        }
        query.extend(paging_pairs(MAX_LIST_PAGE, self.cursor.as_deref()));
        RestRequest::get("/site-media/v1/files", &query)
    }

    fn parse_response(&self, body: &[u8]) -> Result<Page<FileDescriptor>, String> {
        parse_files(body)
    }
}

/// The files of every folder under a root, optionally matching a term (*Search Files*): run
/// it with [`WixClient::list`] (`.take(n)` for the first `n`).
///
/// Pages are as large as Wix allows (200). The term matches part of the display name, the MIME type or a label. Like
/// every listing, it can miss a file created a moment ago.
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct SearchFiles {
    search: Option<String>,
    root_folder: RootFolder,
    media_types: Vec<MediaType>,
    private: Option<bool>,
    sort: Option<(SortField, SortOrder)>,
    cursor: Option<String>,
}

impl SearchFiles {
    /// Every file of the Media Manager not in the trash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only files whose display name, MIME type or a label holds `term` (`search`).
    pub fn search(mut self, term: impl Into<String>) -> Self {
        self.search = Some(term.into());
        self
    }

    /// Where to look (`rootFolder`; default [`RootFolder::Media`]).
    pub fn root_folder(mut self, root: RootFolder) -> Self {
        self.root_folder = root;
        self
    }

    /// Only files of this kind (`mediaTypes`); call again for several kinds.
    pub fn media_type(mut self, media_type: MediaType) -> Self {
        self.media_types.push(media_type);
        self
    }

    /// Only private files, or only public ones (`private`).
    pub fn private(mut self, private: bool) -> Self {
        self.private = Some(private);
        self
    }

    /// The order (default `updatedDate`, newest first).
    pub fn sort(mut self, field: SortField, order: SortOrder) -> Self {
        self.sort = Some((field, order));
        self
    }
}

impl Action for SearchFiles {
    type Output = Page<FileDescriptor>;

    fn request(&self) -> RestRequest {
        let mut paging = json!({"limit": MAX_SEARCH_PAGE});
        let mut body = Map::new();
        match &self.cursor {
            Some(cursor) => paging["cursor"] = json!(cursor),
            None => {
                if let Some(term) = &self.search {
                    body.insert("search".into(), json!(term));
                }
                body.insert("rootFolder".into(), json!(self.root_folder.as_str()));
                if !self.media_types.is_empty() {
                    body.insert("mediaTypes".into(), json!(self.media_types));
                }
                if let Some(private) = self.private {
                    body.insert("private".into(), json!(private));
                }
                if let Some((field, order)) = self.sort {
                    let sort = json!({"fieldName": field.as_str(), "order": order.as_str()});
                    body.insert("sort".into(), sort);
                }
            }
        }
        body.insert("paging".into(), paging);
        let path = "/site-media/v1/files/search";
        RestRequest::json(Method::Post, path, Value::Object(body))
    }

    fn parse_response(&self, body: &[u8]) -> Result<Page<FileDescriptor>, String> {
        parse_files(body)
    }
}

/// `{files, nextCursor}`: a missing or null `files` is an empty page.
fn parse_files(body: &[u8]) -> Result<Page<FileDescriptor>, String> {
    #[derive(Deserialize)]
    struct Files {
        #[serde(default)]
        files: Option<Vec<FileDescriptor>>,
        #[serde(flatten)]
        next: NextCursor,
    }
    let answer: Files = json(body)?;
    Ok(Page {
        items: answer.files.unwrap_or_default(),
        next_cursor: answer.next.next(),
    })
}

impl Listing for ListFiles {
    type Item = FileDescriptor;
}

impl Listing for SearchFiles {
    type Item = FileDescriptor;
}

macro_rules! sealed_by_action {
    ($($query:ty),*) => {$(
        impl sealed::Sealed for $query {
            fn fetch(&self, client: &WixClient) -> Result<Page<<Self as Listing>::Item>, crate::Error> {
                client.rest(None).run(self)
            }

            fn set_cursor(&mut self, cursor: Option<String>) {
                self.cursor = cursor;
            }

            fn cursor(&self) -> Option<&str> {
                self.cursor.as_deref()
            }
        }
    )*};
}

pub(crate) use sealed_by_action;

sealed_by_action!(ListFiles, SearchFiles);

#[cfg(test)]
mod tests {
    use super::*;

    /// `query` at the page of `cursor`, as [`Items`](super::super::Items) sets it.
    fn at<Q: sealed::Sealed>(mut query: Q, cursor: &str) -> Q {
        query.set_cursor(Some(cursor.into()));
        query
    }

    #[test]
    fn a_listing_sends_its_settings_until_it_has_a_cursor() {
        let first = ListFiles::new()
            .parent_folder_id("f 1")
            .media_type(MediaType::Image)
            .media_type(MediaType::Video)
            .private(false)
            .sort(SortField::SizeInBytes, SortOrder::Desc);
        let r = first.request();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.body, None);
        assert_eq!(
            r.path,
            "/site-media/v1/files?parentFolderId=f%201&mediaTypes=IMAGE&mediaTypes=VIDEO\
             &private=false&sort.fieldName=sizeInBytes&sort.order=DESC&paging.limit=100"
        );
        let next = at(first, "c/1=");
        assert_eq!(
            next.request().path,
            "/site-media/v1/files?paging.limit=100&paging.cursor=c%2F1%3D"
        );
        assert_eq!(
            ListFiles::new().request().path,
            "/site-media/v1/files?paging.limit=100"
        );
    }

    #[test]
    fn a_search_sends_a_json_body() {
        let r = SearchFiles::new().request();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/site-media/v1/files/search");
        assert_eq!(
            r.body,
            Some(json!({"rootFolder": "MEDIA_ROOT", "paging": {"limit": 200}}))
        );
        let full = SearchFiles::new()
            .search("cat")
            .root_folder(RootFolder::Trash)
            .media_type(MediaType::Document)
            .private(true)
            .sort(SortField::DisplayName, SortOrder::Asc);
        assert_eq!(
            full.request().body,
            Some(json!({
                "search": "cat", "rootFolder": "TRASH_ROOT", "mediaTypes": ["DOCUMENT"],
                "private": true, "sort": {"fieldName": "displayName", "order": "ASC"},
                "paging": {"limit": 200}
            }))
        );
        assert_eq!(
            at(full, "c2").request().body,
            Some(json!({"paging": {"limit": 200, "cursor": "c2"}}))
        );
    }

    #[test]
    fn pages_are_read_leniently() {
        let page = parse_files(
            br#"{"files": [{"id": "a", "sizeInBytes": "3", "extra": 1}, {"_id": "b"}],
                "nextCursor": {"cursors": {"next": "n"}}, "unknown": true}"#,
        )
        .unwrap();
        let ids: Vec<_> = page.items.iter().map(|f| f.id.as_deref()).collect();
        assert_eq!(ids, [Some("a"), Some("b")]);
        assert_eq!(page.items[0].size_in_bytes, Some(3));
        assert_eq!(page.next_cursor.as_deref(), Some("n"));
        let empty =
            parse_files(br#"{"files": null, "nextCursor": {"cursors": {"next": null}}}"#).unwrap();
        assert_eq!(
            empty,
            Page {
                items: vec![],
                next_cursor: None
            }
        );
        assert_eq!(parse_files(b"{}").unwrap().items, vec![]);
        assert!(parse_files(b"[]").is_err());
        assert!(parse_files(br#"{"files": [1]}"#).is_err());
    }
}
