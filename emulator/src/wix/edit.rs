//! Changing files: `PATCH .../files/update-file-descriptor` (rename, move, relabel),
//! `POST .../bulk/files/delete` (to the trash, or for good) and
//! `POST .../bulk/trash-bin/files/restore`.

use serde_json::{Value, json};

use super::descriptor::descriptor;
use super::files::{file_ids, not_found, visible, visible_all};
use super::folders::{exists, missing};
use super::{Answer, Fields, Refusal, Violation, internal, ok, read_json_object};
use crate::http::Request;
use crate::store::{FileRecord, FileState};
use crate::{State, now_ms};

/// What an update asks to change; `None` leaves a field as it is.
struct Changes {
    id: String,
    display_name: Option<String>,
    parent_folder_id: Option<String>,
    labels: Option<Vec<String>>,
    private: Option<bool>,
}

/// Whether a field is given (not absent, not null).
fn given(v: &Value, field: &str) -> bool {
    v.get(field).is_some_and(|x| !x.is_null())
}

fn changes(v: &Value) -> Result<Changes, Refusal> {
    let file = v.get("file").filter(|f| f.is_object()).ok_or_else(|| {
        Refusal::Invalid(vec![Violation::new(
            "file",
            "REQUIRED_FIELD",
            "file is required",
        )])
    })?;
    let mut f = Fields::new(file);
    let id = f.string("id").filter(|id| !id.is_empty());
    let display_name = f.string("displayName");
    let parent_folder_id = f.string("parentFolderId");
    let labels = given(file, "labels").then(|| f.labels());
    let private = given(file, "private").then(|| f.boolean("private"));
    let mut bad = f.bad;
    if id.is_none() {
        bad.push(Violation::new(
            "id",
            "REQUIRED_FIELD",
            "file.id is required",
        ));
    }
    if display_name.as_deref() == Some("") {
        bad.push(Violation::new(
            "displayName",
            "MIN_LENGTH",
            "displayName can't be empty",
        ));
    }
    match id.filter(|_| bad.is_empty()) {
        Some(id) => Ok(Changes {
            id,
            display_name,
            parent_folder_id,
            labels,
            private,
        }),
        None => Err(Refusal::Invalid(bad)),
    }
}

/// `PATCH /site-media/v1/files/update-file-descriptor` `{file: {id, displayName,
/// parentFolderId, labels}}` → `{file}`. Only the fields given change; `private` can't.
pub(crate) fn update(state: &State, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let c = changes(&v)?;
    let now = now_ms();
    let rec = visible(state, &c.id, site, now).ok_or_else(|| not_found(&c.id))?;
    if c.private.is_some_and(|p| p != rec.placement.private) {
        return Err(Refusal::Invalid(vec![Violation::new(
            "private",
            "OTHER",
            "a file's privacy can't change after upload",
        )])
        .into());
    }
    if let Some(parent) = &c.parent_folder_id
        && !exists(state, site, parent)
    {
        return Err(missing(parent).into());
    }
    state
        .store
        .update_file(&rec.id, |f| apply(f, c, now))
        .map_err(|e| internal(&e))?;
    let rec = state
        .store
        .file(&rec.id)
        .ok_or_else(|| not_found(&rec.id))?;
    ok(&json!({ "file": descriptor(&rec, now) }))
}

fn apply(f: &mut FileRecord, c: Changes, now: u64) {
    if let Some(name) = c.display_name {
        f.display_name = name;
    }
    if let Some(parent) = c.parent_folder_id {
        f.placement.parent_folder_id = parent;
    }
    if let Some(labels) = c.labels {
        f.placement.labels = labels;
    }
    f.updated_ms = now;
}

/// `POST /site-media/v1/bulk/files/delete` `{fileIds, permanent}` → `{}`: to the trash
/// (`state` `DELETED`; trashing a trashed file changes nothing), or for good with
/// `permanent: true`. Every id must name a file the site can read, else nothing changes.
pub(crate) fn delete(state: &State, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let ids = file_ids(&v)?;
    let mut f = Fields::new(&v);
    let permanent = f.boolean("permanent");
    if !f.bad.is_empty() {
        return Err(Refusal::Invalid(f.bad).into());
    }
    let files = visible_all(state, &ids, site, now_ms())?;
    if permanent {
        for file in &files {
            state.store.remove_file(&file.id);
        }
        return ok(&json!({}));
    }
    set_state(state, &files, FileState::Deleted)
}

/// `POST /site-media/v1/bulk/trash-bin/files/restore` `{fileIds}` → `{}`: back from the
/// trash to their folder (restoring a file that isn't trashed changes nothing).
pub(crate) fn restore(state: &State, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let ids = file_ids(&v)?;
    let files = visible_all(state, &ids, site, now_ms())?;
    set_state(state, &files, FileState::Ok)
}

fn set_state(state: &State, files: &[FileRecord], to: FileState) -> Answer {
    let now = now_ms();
    for file in files.iter().filter(|f| f.state != to) {
        state
            .store
            .update_file(&file.id, |f| {
                f.state = to;
                f.updated_ms = now;
            })
            .map_err(|e| internal(&e))?;
    }
    ok(&json!({}))
}
