//! A file's `FileDescriptor` as it stands at a given time: its processing state, its dates,
//! and the `media` of its kind once its bytes are known.

use serde_json::{Value, json};

use super::media::id_extension;
use crate::rfc3339;
use crate::store::{FileRecord, FileState, Origin, Stage};

/// `operationStatus` at `now`.
pub(crate) fn status(rec: &FileRecord, now: u64) -> &'static str {
    match rec.stage {
        Stage::Failed => "FAILED",
        Stage::Fetching => "PENDING",
        Stage::Processing if now >= rec.ready_ms => "READY",
        Stage::Processing => "PENDING",
    }
}

/// Whether the descriptor shows the bytes (size, hash, media): an import's only once
/// processed, an upload's at once.
fn bytes_known(rec: &FileRecord, status: &str) -> bool {
    match rec.origin {
        Origin::Import => status == "READY",
        Origin::Resumable | Origin::Simple => rec.stage != Stage::Failed,
    }
}

/// `sizeInBytes` at `now`, when shown.
pub(crate) fn shown_size(rec: &FileRecord, now: u64) -> Option<u64> {
    bytes_known(rec, status(rec, now)).then(|| rec.size.unwrap_or(0))
}

/// `updatedDate` at `now` (ms): creation, the end of processing, or the last change by a call.
pub(crate) fn updated_ms(rec: &FileRecord, now: u64) -> u64 {
    let processed = if status(rec, now) == "PENDING" {
        rec.created_ms
    } else {
        rec.ready_ms.max(rec.created_ms)
    };
    processed.max(rec.updated_ms)
}

/// The `FileDescriptor` of a file as it stands at `now`.
pub(crate) fn descriptor(rec: &FileRecord, now: u64) -> Value {
    let status = status(rec, now);
    let known = bytes_known(rec, status);
    let url = format!("https://static.wixstatic.com/media/{}", rec.id);
    let kind = rec.media_type.as_str();
    let mut file = json!({
        "id": rec.id,
        "displayName": rec.display_name,
        "url": url,
        "parentFolderId": rec.placement.parent_folder_id,
        "private": rec.placement.private,
        "mediaType": kind,
        "operationStatus": status,
        "sourceUrl": rec.source_url,
        "thumbnailUrl": (matches!(kind, "IMAGE" | "VECTOR") && known).then(|| url.clone()),
        "labels": rec.placement.labels,
        "createdDate": rfc3339(rec.created_ms),
        "updatedDate": rfc3339(updated_ms(rec, now)),
        "siteId": rec.site_id,
        "state": match rec.state {
            FileState::Ok => "OK",
            FileState::Deleted => "DELETED",
        },
    });
    if let Some(info) = &rec.placement.external_info {
        file["externalInfo"] = info.clone();
    }
    // Not a documented descriptor field: the path the generate or import call asked for.
    if let Some(path) = &rec.placement.file_path {
        file["filePath"] = json!(path);
    }
    if known {
        file["hash"] = json!(rec.hash);
        file["sizeInBytes"] = json!(rec.size.unwrap_or(0).to_string());
        file["media"] = media(rec, status, &url, now);
    }
    file
}

/// `media`: `{<kind>: {...}}` in the shape of the file's media type.
fn media(rec: &FileRecord, status: &str, url: &str, now: u64) -> Value {
    let (id, name) = (rec.id.as_str(), rec.display_name.as_str());
    let size = rec.size.unwrap_or(0).to_string();
    let url_expires = rfc3339(now.saturating_add(24 * 60 * 60 * 1000));
    let format = id_extension(rec.mime_type.as_deref().unwrap_or(""), name);
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
    match rec.media_type.as_str() {
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
    }
}
