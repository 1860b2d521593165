//! Changing files: update a descriptor (`PATCH .../files/update-file-descriptor`: rename,
//! move, relabel), delete (`POST .../bulk/files/delete`: to the trash, or for good) and
//! restore from the trash (`POST .../bulk/trash-bin/files/restore`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::wix::FileDescriptor;
use crate::wix::action::{Action, RestRequest, json};
use wix_media_tus::Method;

/// Most ids one delete or restore carries (Wix documents no bound).
pub(crate) const MAX_IDS: usize = 100;

/// What to change in a file's descriptor (*Update File Descriptor*): only what is set is
/// sent, and changes. A file's privacy can't change after upload.
///
/// ```no_run
/// use wix_media_upload::wix::{FileUpdate, WixClient};
///
/// let client = WixClient::from_env()?;
/// let update = FileUpdate::new("file-id")
///     .display_name("cover.jpg")
///     .parent_folder_id("folder-id")
///     .labels(["2026", "cover"]);
/// let file = client.update_file(&update)?;
/// # Ok::<(), wix_media_upload::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct FileUpdate {
    id: String,
    display_name: Option<String>,
    parent_folder_id: Option<String>,
    labels: Option<Vec<String>>,
}

impl FileUpdate {
    /// Changes to the file `id`; none yet.
    pub fn new(id: impl Into<String>) -> Self {
        FileUpdate {
            id: id.into(),
            display_name: None,
            parent_folder_id: None,
            labels: None,
        }
    }

    /// Renames the file (`displayName`).
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Moves the file to another folder (`parentFolderId`).
    pub fn parent_folder_id(mut self, id: impl Into<String>) -> Self {
        self.parent_folder_id = Some(id.into());
        self
    }

    /// Replaces the file's labels with these (`labels`; none clears them).
    pub fn labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = Some(labels.into_iter().map(Into::into).collect());
        self
    }
}

impl Action for FileUpdate {
    type Output = FileDescriptor;

    fn request(&self) -> RestRequest {
        let mut file = Map::new();
        file.insert("id".into(), json!(self.id));
        if let Some(name) = &self.display_name {
            file.insert("displayName".into(), json!(name));
        }
        if let Some(parent) = &self.parent_folder_id {
            file.insert("parentFolderId".into(), json!(parent));
        }
        if let Some(labels) = &self.labels {
            file.insert("labels".into(), json!(labels));
        }
        let path = "/site-media/v1/files/update-file-descriptor";
        RestRequest::json(Method::Patch, path, json!({ "file": Value::Object(file) }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<FileDescriptor, String> {
        parse_file(body)
    }
}

/// `{file}` with an id.
pub(crate) fn parse_file(body: &[u8]) -> Result<FileDescriptor, String> {
    #[derive(Deserialize)]
    struct Envelope {
        file: FileDescriptor,
    }
    let file = json::<Envelope>(body)?.file;
    match file.id {
        Some(_) => Ok(file),
        None => Err("the file has no id".into()),
    }
}

/// What a bulk call on ids does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bulk {
    /// To the trash.
    Trash,
    /// For good.
    DeletePermanently,
    /// Back from the trash.
    Restore,
}

/// `POST .../bulk/files/delete` `{fileIds, permanent}` or `POST
/// .../bulk/trash-bin/files/restore` `{fileIds}`, answered `{}` (or anything: Wix's answer
/// says nothing the caller needs).
pub(crate) struct BulkFiles<'a> {
    pub(crate) what: Bulk,
    pub(crate) ids: &'a [&'a str],
}

impl Action for BulkFiles<'_> {
    type Output = ();

    fn request(&self) -> RestRequest {
        let (path, body) = match self.what {
            Bulk::Trash | Bulk::DeletePermanently => (
                "/site-media/v1/bulk/files/delete",
                json!({"fileIds": self.ids, "permanent": self.what == Bulk::DeletePermanently}),
            ),
            Bulk::Restore => (
                "/site-media/v1/bulk/trash-bin/files/restore",
                json!({"fileIds": self.ids}),
            ),
        };
        RestRequest::json(Method::Post, path, body)
    }

    fn parse_response(&self, body: &[u8]) -> Result<(), String> {
        // An empty body is as good as `{}`.
        match body.iter().all(u8::is_ascii_whitespace) {
            true => Ok(()),
            false => json::<Value>(body).map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sends_only_what_it_changes() {
        let r = FileUpdate::new("f1").request();
        assert_eq!(r.method, Method::Patch);
        assert_eq!(r.path, "/site-media/v1/files/update-file-descriptor");
        assert_eq!(r.body, Some(json!({"file": {"id": "f1"}})));
        let all = FileUpdate::new("f1")
            .display_name("n")
            .parent_folder_id("p")
            .labels(["a", "b"]);
        assert_eq!(
            all.request().body,
            Some(
                json!({"file": {"id": "f1", "displayName": "n", "parentFolderId": "p",
                "labels": ["a", "b"]}})
            )
        );
        let cleared = FileUpdate::new("f1").labels(Vec::<String>::new());
        assert_eq!(
            cleared.request().body,
            Some(json!({"file": {"id": "f1", "labels": []}}))
        );
        let answer = all.parse_response(br#"{"file": {"id": "f1", "displayName": "n"}}"#);
        assert_eq!(answer.unwrap().display_name.as_deref(), Some("n"));
        assert!(all.parse_response(br#"{"file": {}}"#).is_err());
    }

    #[test]
    fn bulk_calls_name_their_ids() {
        let ids = ["a", "b"];
        let request = |what| BulkFiles { what, ids: &ids }.request();
        let trash = request(Bulk::Trash);
        assert_eq!(trash.path, "/site-media/v1/bulk/files/delete");
        assert_eq!(
            trash.body,
            Some(json!({"fileIds": ["a", "b"], "permanent": false}))
        );
        let gone = request(Bulk::DeletePermanently);
        assert_eq!(
            gone.body,
            Some(json!({"fileIds": ["a", "b"], "permanent": true}))
        );
        let restore = request(Bulk::Restore);
        assert_eq!(restore.method, Method::Post);
        assert_eq!(restore.path, "/site-media/v1/bulk/trash-bin/files/restore");
        assert_eq!(restore.body, Some(json!({"fileIds": ["a", "b"]})));
        let bulk = BulkFiles {
            what: Bulk::Restore,
            ids: &ids,
        };
        assert_eq!(bulk.parse_response(b"{}"), Ok(()));
        assert_eq!(bulk.parse_response(b""), Ok(()));
        assert!(bulk.parse_response(b"<html>").is_err());
    }
}
