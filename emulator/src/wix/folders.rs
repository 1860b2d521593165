//! Folders: create, list by parent, get; and [`place`], which puts a new file's placement in
//! a real folder, making the folders of its `filePath` where missing.
//!
//! `media-root`, the Media Manager's root, is every site's and always there (get answers a
//! folder for it). The other system roots (`trash-root`, `visitor-uploads-root`) are not
//! folders here: files go to the trash by `state`, not by folder.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::paging::{self, PageAsk, Sort, SortField, SortKey};
use super::{Answer, Fields, Refusal, Violation, folder_or_root, ok, read_json_object};
use crate::http::Request;
use crate::store::{FolderRecord, Placement};
use crate::{State, now_ms, random_hex, rfc3339};

/// The id of the Media Manager's root folder.
pub(crate) const MEDIA_ROOT: &str = "media-root";
/// Folders per page: the default, and the most a page may ask for.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;

/// Whether `id` is a folder `site` can put files and folders in.
pub(crate) fn exists(state: &State, site: &str, id: &str) -> bool {
    id == MEDIA_ROOT || state.store.folder(id).is_some_and(|f| f.site_id == site)
}

pub(crate) fn missing(id: &str) -> Refusal {
    Refusal::NotFound(format!("folder {id} not found"))
}

/// Puts a new file's `placement` in a real folder: `parentFolderId` must exist, and the
/// folders of `filePath` are found, or made, below it (`parentFolderId` is the root of the
/// path). The placement's folder becomes the last one of the path.
pub(crate) fn place(state: &State, site: &str, placement: &mut Placement) -> Result<(), Refusal> {
    let parent = placement.parent_folder_id.clone();
    if !exists(state, site, &parent) {
        return Err(missing(&parent));
    }
    let Some(path) = placement.file_path.as_deref() else {
        return Ok(());
    };
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    placement.parent_folder_id = state
        .store
        .folder_at_path(site, &parent, &names, |parent, name| {
            new_folder(site, parent, name)
        })
        .map_err(|e| Refusal::Internal(format!("could not store a folder: {e}")))?;
    Ok(())
}

fn new_folder(site: &str, parent: &str, name: &str) -> FolderRecord {
    let now = now_ms();
    FolderRecord {
        id: random_hex(16),
        display_name: name.to_string(),
        parent_folder_id: parent.to_string(),
        site_id: site.to_string(),
        created_ms: now,
        updated_ms: now,
    }
}

/// A folder as Wix answers it.
pub(crate) fn folder_json(f: &FolderRecord) -> Value {
    json!({
        "id": f.id,
        "displayName": f.display_name,
        "parentFolderId": f.parent_folder_id,
        "createdDate": rfc3339(f.created_ms),
        "updatedDate": rfc3339(f.updated_ms),
        "state": "OK",
    })
}

/// `POST /site-media/v1/folders` `{displayName, parentFolderId}` → `{folder}`.
pub(crate) fn create(state: &State, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let mut f = Fields::new(&v);
    let name = f.string("displayName").filter(|n| !n.is_empty());
    let parent = folder_or_root(f.string("parentFolderId"));
    let mut bad = f.bad;
    if name.is_none() {
        bad.push(Violation::new(
            "displayName",
            "REQUIRED_FIELD",
            "displayName is required",
        ));
    }
    let Some(name) = name.filter(|_| bad.is_empty()) else {
        return Err(Refusal::Invalid(bad).into());
    };
    if !exists(state, site, &parent) {
        return Err(missing(&parent).into());
    }
    let folder = new_folder(site, &parent, &name);
    let answer = json!({ "folder": folder_json(&folder) });
    state
        .store
        .add_folder(folder)
        .map_err(|e| Refusal::Internal(format!("could not store the folder: {e}")))?;
    ok(&answer)
}

/// `GET /site-media/v1/folders/{id}` → `{folder}`.
pub(crate) fn get(state: &State, id: &str, site: &str) -> Answer {
    if id == MEDIA_ROOT {
        return ok(&json!({"folder": {
            "id": MEDIA_ROOT, "displayName": MEDIA_ROOT, "parentFolderId": null, "state": "OK"
        }}));
    }
    match state.store.folder(id).filter(|f| f.site_id == site) {
        Some(f) => ok(&json!({ "folder": folder_json(&f) })),
        None => Err(missing(id).into()),
    }
}

/// What a folder listing pages through (kept in its cursors).
#[derive(Serialize, Deserialize)]
struct FolderQuery {
    parent: String,
    sort: Sort,
}

/// `GET /site-media/v1/folders?parentFolderId=ID&sort.fieldName=..&sort.order=..
/// &paging.limit=N&paging.cursor=C` → `{folders, nextCursor}`: one folder's folders.
pub(crate) fn list(state: &State, req: &Request<'_>, site: &str) -> Answer {
    let fresh = || {
        let sort = Sort::parse(
            req.query_param("sort.fieldName").as_deref(),
            req.query_param("sort.order").as_deref(),
            &[SortField::DisplayName, SortField::UpdatedDate],
        )
        .map_err(|v| vec![v])?;
        let parent = folder_or_root(req.query_param("parentFolderId"));
        Ok(FolderQuery { parent, sort })
    };
    let paged = paging::resolve(PageAsk::of_query(req), fresh, DEFAULT_PAGE, MAX_PAGE)
        .map_err(Refusal::Invalid)?;
    let q = &paged.query;
    if !exists(state, site, &q.parent) {
        return Err(missing(&q.parent).into());
    }
    let items = state
        .store
        .folders()
        .into_iter()
        .filter(|f| f.site_id == site && f.parent_folder_id == q.parent)
        .map(|f| {
            let key = match q.sort.field {
                SortField::DisplayName => SortKey::Text(f.display_name.clone()),
                _ => SortKey::Number(f.updated_ms),
            };
            (key, f.id.clone(), folder_json(&f))
        })
        .collect();
    let (folders, next) = paging::page(&paged, q.sort.descending, items);
    ok(&json!({ "folders": folders, "nextCursor": paging::next_cursor(next) }))
}
