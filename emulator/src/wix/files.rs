//! Media Manager files: making a [`FileRecord`] from arrived bytes, and the read routes by
//! id: `get-file-by-id`, `files/{id}` and `get-files`.

use std::io::{self, Read};

use md5::{Digest as _, Md5};
use serde_json::{Value, json};

use super::descriptor::descriptor;
use super::media::{id_extension, image_size, media_type, owner_prefix};
use super::{Answer, Refusal, Violation, ok, read_json_object, validation_error};
use crate::http::Request;
use crate::store::{BUF_SIZE, FileRecord, FileState, Origin, Stage, TokenRecord};
use crate::{State, millis, now_ms, random_hex};

/// Bytes of a file's start kept for reading image sizes.
const HEAD_BYTES: usize = 32;

/// What is learned from a file's bytes while they stream by.
pub(crate) struct Digest {
    hasher: Md5,
    pub size: u64,
    head: Vec<u8>,
}

impl Digest {
    pub fn new() -> Self {
        Digest {
            hasher: Md5::new(),
            size: 0,
            head: Vec::new(),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Lowercase hex MD5, and the image size when the bytes are a PNG or GIF.
    pub fn finish(self) -> (String, u64, (u32, u32)) {
        let hash = self
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (hash, self.size, image_size(&self.head))
    }

    /// Digests a whole file, read with a fixed buffer.
    pub fn of_file(path: &std::path::Path) -> io::Result<Digest> {
        let mut f = std::fs::File::open(path)?;
        let mut d = Digest::new();
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(d);
            }
            d.update(&buf[..n]);
        }
    }
}

/// A media id like Wix's: `<owner>_<32 hex>~mv2.<ext>`.
pub(crate) fn new_file_id(site_id: &str, mime: &str, file_name: &str) -> String {
    format!(
        "{}_{}~mv2.{}",
        owner_prefix(site_id),
        random_hex(16),
        id_extension(mime, file_name)
    )
}

/// The record of a file uploaded with `token` (finalize or simple upload) whose bytes are in.
pub(crate) fn uploaded_file(
    state: &State,
    token: &TokenRecord,
    origin: Origin,
    id: String,
    file_name: &str,
    upload_id: Option<String>,
    digest: Digest,
) -> FileRecord {
    let kind = media_type(&token.mime_type).unwrap_or("OTHER");
    let (hash, size, (width, height)) = digest.finish();
    let now = now_ms();
    // Videos are transcoded: PENDING for a while. Everything else is ready at once.
    let ready_ms = if kind == "VIDEO" {
        now.saturating_add(millis(state.config.processing_delay))
    } else {
        now
    };
    FileRecord {
        id,
        origin,
        display_name: file_name.to_string(),
        mime_type: Some(token.mime_type.clone()),
        media_type: kind.to_string(),
        placement: token.placement.clone(),
        site_id: token.site_id.clone(),
        source_url: None,
        upload_id,
        size: Some(size),
        hash: Some(hash),
        width,
        height,
        created_ms: now,
        ready_ms,
        stage: Stage::Processing,
        error: None,
        state: FileState::Ok,
        updated_ms: 0,
    }
}

/// The plain id of `wix:image://v1/<id>/<name>#...` (any media kind), else the id as given.
fn plain_id(id: &str) -> &str {
    match id.strip_prefix("wix:").and_then(|r| r.split_once("://v1/")) {
        Some((_, rest)) => rest.split(['/', '#']).next().unwrap_or(rest),
        None => id,
    }
}

/// A file the caller's site may read now: created by that site, past the lookup delay
/// (trashed files included).
pub(crate) fn visible(state: &State, id: &str, site_id: &str, now: u64) -> Option<FileRecord> {
    let rec = state.store.file(plain_id(id))?;
    let delay = millis(state.config.lookup_delay);
    (rec.site_id == site_id && now >= rec.created_ms.saturating_add(delay)).then_some(rec)
}

pub(crate) fn not_found(id: &str) -> Refusal {
    Refusal::NotFound(format!("file {id} not found"))
}

/// The files `ids` name, every one of which the site must be able to read now.
pub(crate) fn visible_all(
    state: &State,
    ids: &[String],
    site_id: &str,
    now: u64,
) -> Result<Vec<FileRecord>, Refusal> {
    ids.iter()
        .map(|id| visible(state, id, site_id, now).ok_or_else(|| not_found(id)))
        .collect()
}

/// `fileIds` of a request body: a non-empty array of strings.
pub(crate) fn file_ids(v: &Value) -> Result<Vec<String>, Refusal> {
    let ids: Option<Vec<String>> = v
        .get("fileIds")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|id| id.as_str().map(str::to_string)).collect());
    ids.filter(|ids| !ids.is_empty()).ok_or_else(|| {
        Refusal::Invalid(vec![Violation::new(
            "fileIds",
            "REQUIRED_FIELD",
            "fileIds must be a non-empty array of strings",
        )])
    })
}

/// `GET /site-media/v1/files/get-file-by-id?fileId=ID`.
pub(crate) fn get_file_by_id(state: &State, req: &Request<'_>, site_id: &str) -> Answer {
    match req.query_param("fileId").filter(|id| !id.is_empty()) {
        Some(id) => get_file(state, &id, site_id),
        None => Err(validation_error(&[Violation::new(
            "fileId",
            "REQUIRED_FIELD",
            "fileId is required",
        )])),
    }
}

/// `GET /site-media/v1/files/{id}`.
pub(crate) fn get_file(state: &State, id: &str, site_id: &str) -> Answer {
    let now = now_ms();
    let rec = visible(state, id, site_id, now).ok_or_else(|| not_found(id))?;
    ok(&json!({ "file": descriptor(&rec, now) }))
}

/// `POST /site-media/v1/files/get-files` with `{"fileIds": [...]}`: every id must be found.
pub(crate) fn get_files(state: &State, req: &mut Request<'_>, site_id: &str) -> Answer {
    let v = read_json_object(req)?;
    let ids = file_ids(&v)?;
    let now = now_ms();
    let files: Vec<Value> = visible_all(state, &ids, site_id, now)?
        .iter()
        .map(|f| descriptor(f, now))
        .collect();
    ok(&json!({ "files": files }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wix_uris_name_plain_ids() {
        assert_eq!(
            plain_id("wix:image://v1/2acbb8_abc~mv2.png/a.png#originWidth=1"),
            "2acbb8_abc~mv2.png"
        );
        assert_eq!(plain_id("wix:video://v1/2acbb8_v/clip.mp4"), "2acbb8_v");
        assert_eq!(plain_id("2acbb8_abc~mv2.png"), "2acbb8_abc~mv2.png");
    }
}
