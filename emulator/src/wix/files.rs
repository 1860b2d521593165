//! Media Manager files: making a [`FileRecord`] from arrived bytes, its `FileDescriptor`
//! (with the processing state at a given time), and the read routes `get-file-by-id`,
//! `files/{id}` and `get-files`.

use std::io::{self, Read};

use md5::{Digest as _, Md5};
use serde_json::{Value, json};

use super::media::{id_extension, image_size, media_type, owner_prefix};
use super::{Violation, error, read_json_object, validation_error};
use crate::http::{Request, Response};
use crate::store::{BUF_SIZE, FileRecord, Origin, Stage, TokenRecord};
use crate::{State, millis, now_ms, random_hex, rfc3339};

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
    }
}

/// `operationStatus` at `now`.
pub(crate) fn status(rec: &FileRecord, now: u64) -> &'static str {
    match rec.stage {
        Stage::Failed => "FAILED",
        Stage::Fetching => "PENDING",
        Stage::Processing if now >= rec.ready_ms => "READY",
        Stage::Processing => "PENDING",
    }
}

/// The `FileDescriptor` of a file as it stands at `now`.
pub(crate) fn descriptor(rec: &FileRecord, now: u64) -> Value {
    let status = status(rec, now);
    let id = &rec.id;
    let url = format!("https://static.wixstatic.com/media/{id}");
    let kind = rec.media_type.as_str();
    let name = rec.display_name.as_str();
    let mime = rec.mime_type.as_deref().unwrap_or("");
    // An import shows its bytes only once processed; an upload's bytes are in at once.
    let bytes_known = match rec.origin {
        Origin::Import => status == "READY",
        Origin::Resumable | Origin::Simple => rec.stage != Stage::Failed,
    };
    let updated = if status == "PENDING" {
        rec.created_ms
    } else {
        rec.ready_ms.max(rec.created_ms)
    };
    let mut file = json!({
        "id": id,
        "displayName": name,
        "url": url,
        "parentFolderId": rec.placement.parent_folder_id,
        "private": rec.placement.private,
        "mediaType": kind,
        "operationStatus": status,
        "sourceUrl": rec.source_url,
        "thumbnailUrl": (matches!(kind, "IMAGE" | "VECTOR") && bytes_known).then(|| url.clone()),
        "labels": rec.placement.labels,
        "createdDate": rfc3339(rec.created_ms),
        "updatedDate": rfc3339(updated),
        "siteId": rec.site_id,
        "state": "OK",
    });
    if let Some(info) = &rec.placement.external_info {
        file["externalInfo"] = info.clone();
    }
    if let Some(path) = &rec.placement.file_path {
        file["filePath"] = json!(path);
    }
    if !bytes_known {
        return file;
    }
    let size = rec.size.unwrap_or(0).to_string();
    file["hash"] = json!(rec.hash);
    file["sizeInBytes"] = json!(size);
    let url_expires = rfc3339(now.saturating_add(24 * 60 * 60 * 1000));
    let format = id_extension(mime, name);
    let image = || {
        json!({
            "image": {"id": id, "url": url, "height": rec.height, "width": rec.width,
                      "altText": null, "filename": name, "sizeInBytes": size},
            "colors": null, "faces": [], "previewImage": null
        })
    };
    // A video gets its resolutions once transcoded.
    let resolutions = if status == "READY" {
        json!([{"url": url, "height": 0, "width": 0, "format": format}])
    } else {
        json!([])
    };
    file["media"] = match kind {
        "IMAGE" => json!({ "image": image() }),
        "VECTOR" => json!({ "vector": image() }),
        "VIDEO" => json!({"video": {"id": id, "filename": name, "resolutions": resolutions}}),
        "AUDIO" => json!({"audio": {"id": id, "assets": [], "bitrate": null,
            "format": format, "duration": null, "sizeInBytes": size}}),
        "DOCUMENT" => json!({"document": {"id": id, "url": url, "filename": name}}),
        "ARCHIVE" => json!({"archive": {"id": id, "url": url, "urlExpirationDate": url_expires,
            "sizeInBytes": size, "filename": name}}),
        "MODEL3D" => json!({"model3d": {"id": id, "url": url, "thumbnail": null, "altText": null,
            "urlExpirationDate": url_expires, "filename": name, "sizeInBytes": size}}),
        _ => json!({}),
    };
    file
}

/// The plain id of `wix:image://v1/<id>/<name>#...` (any media kind), else the id as given.
fn plain_id(id: &str) -> &str {
    match id.strip_prefix("wix:").and_then(|r| r.split_once("://v1/")) {
        Some((_, rest)) => rest.split(['/', '#']).next().unwrap_or(rest),
        None => id,
    }
}

/// A file the caller's site may read now: created by that site, past the lookup delay.
fn visible(state: &State, id: &str, site_id: &str, now: u64) -> Option<FileRecord> {
    let rec = state.store.file(plain_id(id))?;
    let delay = millis(state.config.lookup_delay);
    (rec.site_id == site_id && now >= rec.created_ms.saturating_add(delay)).then_some(rec)
}

fn not_found(id: &str) -> Response {
    error(404, "NOT_FOUND", &format!("file {id} not found"))
}

/// `GET /site-media/v1/files/get-file-by-id?fileId=ID`.
pub(crate) fn get_file_by_id(state: &State, req: &Request<'_>, site_id: &str) -> Response {
    match req.query_param("fileId").filter(|id| !id.is_empty()) {
        Some(id) => get_file(state, &id, site_id),
        None => validation_error(&[Violation::new(
            "fileId",
            "REQUIRED_FIELD",
            "fileId is required",
        )]),
    }
}

/// `GET /site-media/v1/files/{id}`.
pub(crate) fn get_file(state: &State, id: &str, site_id: &str) -> Response {
    let now = now_ms();
    match visible(state, id, site_id, now) {
        Some(rec) => Response::new(200).json(&json!({ "file": descriptor(&rec, now) })),
        None => not_found(id),
    }
}

/// `POST /site-media/v1/files/get-files` with `{"fileIds": [...]}`: every id must be found.
pub(crate) fn get_files(state: &State, req: &mut Request<'_>, site_id: &str) -> Response {
    let v = match read_json_object(req) {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let ids: Option<Vec<&str>> = v
        .get("fileIds")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(Value::as_str).collect());
    let ids = match ids {
        Some(ids) if !ids.is_empty() => ids,
        _ => {
            return validation_error(&[Violation::new(
                "fileIds",
                "REQUIRED_FIELD",
                "fileIds must be a non-empty array of strings",
            )]);
        }
    };
    let now = now_ms();
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        match visible(state, id, site_id, now) {
            Some(rec) => files.push(descriptor(&rec, now)),
            None => return not_found(id),
        }
    }
    Response::new(200).json(&json!({ "files": files }))
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
