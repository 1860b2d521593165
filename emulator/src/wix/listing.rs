//! Listing files: `GET /site-media/v1/files` (one folder) and `POST .../files/search` (all
//! folders under a root, with a search term). Both page with cursors (see [`paging`]) and
//! leave out files younger than the list lag.
//!
//! [`paging`]: super::paging

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::descriptor::{descriptor, shown_size, updated_ms};
use super::folders::{exists, missing};
use super::paging::{self, PageAsk, Paged, Sort, SortField, SortKey};
use super::{Answer, Refusal, Violation, folder_or_root, ok, read_json_object};
use crate::http::Request;
use crate::store::{FileRecord, FileState};
use crate::{State, millis, now_ms};

/// Files per page of a listing: the default, and the most a page may ask for.
const DEFAULT_PAGE: usize = 50;
const MAX_LIST_PAGE: usize = 100;
const MAX_SEARCH_PAGE: usize = 200;
/// Every `mediaType` a filter may name.
const FILTER_MEDIA_TYPES: [&str; 9] = [
    "UNKNOWN", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "VECTOR", "ARCHIVE", "MODEL3D", "OTHER",
];
const ALL_SORTS: [SortField; 3] = [
    SortField::DisplayName,
    SortField::UpdatedDate,
    SortField::SizeInBytes,
];

/// Where a listing looks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Scope {
    /// One folder (not its subfolders), files not in the trash.
    Folder(String),
    /// `MEDIA_ROOT`: every folder, files not in the trash.
    MediaRoot,
    /// `TRASH_ROOT`: the trashed files.
    TrashRoot,
    /// `VISITOR_UPLOADS_ROOT`: nothing here (no visitor uploads).
    VisitorUploads,
}

/// What a listing pages through (kept in its cursors).
#[derive(Serialize, Deserialize)]
struct FileQuery {
    scope: Scope,
    /// Lowercased search term.
    search: Option<String>,
    media_types: Vec<String>,
    private: Option<bool>,
    sort: Sort,
}

impl FileQuery {
    fn matches(&self, f: &FileRecord) -> bool {
        let in_scope = match &self.scope {
            Scope::Folder(id) => f.state == FileState::Ok && f.placement.parent_folder_id == *id,
            Scope::MediaRoot => f.state == FileState::Ok,
            Scope::TrashRoot => f.state == FileState::Deleted,
            Scope::VisitorUploads => false,
        };
        in_scope
            && (self.media_types.is_empty() || self.media_types.contains(&f.media_type))
            && self.private.is_none_or(|p| p == f.placement.private)
            && self.search.as_deref().is_none_or(|term| found(term, f))
    }

    fn key(&self, f: &FileRecord, now: u64) -> SortKey {
        match self.sort.field {
            SortField::DisplayName => SortKey::Text(f.display_name.clone()),
            SortField::UpdatedDate => SortKey::Number(updated_ms(f, now)),
            SortField::SizeInBytes => SortKey::Number(shown_size(f, now).unwrap_or(0)),
        }
    }
}

/// The search term (lowercased) is part of the display name, the MIME type or a label.
fn found(term: &str, f: &FileRecord) -> bool {
    let has = |s: &str| s.to_lowercase().contains(term);
    has(&f.display_name)
        || f.mime_type.as_deref().is_some_and(has)
        || f.placement.labels.iter().any(|l| has(l))
}

/// `GET /site-media/v1/files?parentFolderId=ID&mediaTypes=IMAGE&private=false
/// &sort.fieldName=..&sort.order=..&paging.limit=N&paging.cursor=C` → `{files, nextCursor}`.
pub(crate) fn list(state: &State, req: &Request<'_>, site: &str) -> Answer {
    let fresh = || list_query(req);
    let paged = paging::resolve(PageAsk::of_query(req), fresh, DEFAULT_PAGE, MAX_LIST_PAGE)
        .map_err(Refusal::Invalid)?;
    if let Scope::Folder(id) = &paged.query.scope
        && !exists(state, site, id)
    {
        return Err(missing(id).into());
    }
    answer(state, site, &paged)
}

fn list_query(req: &Request<'_>) -> Result<FileQuery, Vec<Violation>> {
    let mut bad = Vec::new();
    // `mediaTypes` repeats (`mediaTypes=IMAGE&mediaTypes=VIDEO`) or lists (`IMAGE,VIDEO`).
    let types: Vec<String> = req
        .query_params("mediaTypes")
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let private = match req.query_param("private").as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            bad.push(Violation::new(
                "private",
                "FORMAT",
                "private is true or false",
            ));
            None
        }
    };
    let sort = Sort::parse(
        req.query_param("sort.fieldName").as_deref(),
        req.query_param("sort.order").as_deref(),
        &ALL_SORTS,
    );
    query(
        Scope::Folder(folder_or_root(req.query_param("parentFolderId"))),
        None,
        types,
        private,
        sort,
        bad,
    )
}

/// Checks the parts of a query; the query, or every violation found.
fn query(
    scope: Scope,
    search: Option<String>,
    media_types: Vec<String>,
    private: Option<bool>,
    sort: Result<Sort, Violation>,
    mut bad: Vec<Violation>,
) -> Result<FileQuery, Vec<Violation>> {
    if let Some(t) = media_types
        .iter()
        .find(|t| !FILTER_MEDIA_TYPES.contains(&t.as_str()))
    {
        bad.push(Violation::new(
            "mediaTypes",
            "FORMAT",
            format!("unknown media type {t}"),
        ));
    }
    let sort = sort.map_err(|v| bad.push(v));
    match sort {
        Ok(sort) if bad.is_empty() => Ok(FileQuery {
            scope,
            search: search.map(|s| s.to_lowercase()).filter(|s| !s.is_empty()),
            media_types,
            private,
            sort,
        }),
        _ => Err(bad),
    }
}

/// `POST /site-media/v1/files/search` `{search, rootFolder, mediaTypes, private, sort,
/// paging}` → `{files, nextCursor}`.
pub(crate) fn search(state: &State, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let fresh = || search_query(&v);
    let paged = paging::resolve(PageAsk::of_body(&v), fresh, DEFAULT_PAGE, MAX_SEARCH_PAGE)
        .map_err(Refusal::Invalid)?;
    answer(state, site, &paged)
}

fn search_query(v: &Value) -> Result<FileQuery, Vec<Violation>> {
    let mut bad = Vec::new();
    let scope = match v.get("rootFolder").and_then(Value::as_str) {
        None | Some("MEDIA_ROOT") => Scope::MediaRoot,
        Some("TRASH_ROOT") => Scope::TrashRoot,
        Some("VISITOR_UPLOADS_ROOT") => Scope::VisitorUploads,
        Some(other) => {
            bad.push(Violation::new(
                "rootFolder",
                "FORMAT",
                format!(
                    "rootFolder is MEDIA_ROOT, TRASH_ROOT or VISITOR_UPLOADS_ROOT, not {other}"
                ),
            ));
            Scope::MediaRoot
        }
    };
    let mut f = super::Fields::new(v);
    let search = f.string("search");
    let private = match v.get("private") {
        None | Some(Value::Null) => None,
        Some(_) => Some(f.boolean("private")),
    };
    bad.append(&mut f.bad);
    let types = match v.get("mediaTypes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => {
            bad.push(Violation::new(
                "mediaTypes",
                "FORMAT",
                "mediaTypes is an array",
            ));
            Vec::new()
        }
    };
    let sort = Sort::parse(
        v["sort"]["fieldName"].as_str(),
        v["sort"]["order"].as_str(),
        &ALL_SORTS,
    );
    query(scope, search, types, private, sort, bad)
}

/// One page of the files `paged` asks for, as `{files, nextCursor}`.
fn answer(state: &State, site: &str, paged: &Paged<FileQuery>) -> Answer {
    let now = now_ms();
    let lag = millis(state.config.list_lag);
    let q = &paged.query;
    let items = state
        .store
        .files()
        .into_iter()
        .filter(|f| f.site_id == site && now >= f.created_ms.saturating_add(lag) && q.matches(f))
        .map(|f| (q.key(&f, now), f.id.clone(), f))
        .collect();
    let (page, next) = paging::page(paged, q.sort.descending, items);
    let files: Vec<Value> = page.iter().map(|f| descriptor(f, now)).collect();
    ok(&json!({ "files": files, "nextCursor": paging::next_cursor(next) }))
}
