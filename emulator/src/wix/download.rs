//! Download URLs: `POST .../files/generate-file-download-url` issues one, and
//! `GET {base}/download/<token>` serves the file's bytes from the emulator (no
//! authentication: the URL is the permission, as Wix's signed URLs are). Issued URLs live in
//! memory: a restarted emulator doesn't know them.

use std::fs::File;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::files::{not_found, visible};
use super::{Answer, Fields, Refusal, Violation, error, ok, read_json_object};
use crate::http::{Request, Response, lock};
use crate::store::{FileRecord, Stage};
use crate::{State, now_ms, random_hex};

/// Download URLs are `{base}/download/<token>`.
pub(crate) const DOWNLOAD_PREFIX: &str = "/download/";
/// `expirationInMinutes` when not given (Wix's default).
const DEFAULT_MINUTES: u64 = 600;

/// What a download URL lets its holder fetch.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    file_id: String,
    file_name: String,
    inline: bool,
    expires_ms: u64,
}

/// What a download call asks for.
struct Ask {
    file_id: String,
    file_name: Option<String>,
    inline: bool,
    minutes: u64,
}

fn ask(v: &Value) -> Result<Ask, Refusal> {
    let mut f = Fields::new(v);
    let file_id = f.string("fileId").filter(|id| !id.is_empty());
    let file_name = f.string("downloadFileName").filter(|n| !n.is_empty());
    let disposition = f.string("contentDisposition");
    let mut bad = f.bad;
    if file_id.is_none() {
        bad.push(Violation::new(
            "fileId",
            "REQUIRED_FIELD",
            "fileId is required",
        ));
    }
    let inline = match disposition.as_deref() {
        None | Some("ATTACHMENT") => false,
        Some("INLINE") => true,
        Some(_) => {
            bad.push(Violation::new(
                "contentDisposition",
                "FORMAT",
                "contentDisposition is ATTACHMENT or INLINE",
            ));
            false
        }
    };
    let minutes = match v.get("expirationInMinutes") {
        None | Some(Value::Null) => Some(DEFAULT_MINUTES),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    };
    let minutes = minutes.filter(|m| *m > 0).unwrap_or_else(|| {
        bad.push(Violation::new(
            "expirationInMinutes",
            "FORMAT",
            "expirationInMinutes is a positive integer",
        ));
        0
    });
    match file_id.filter(|_| bad.is_empty()) {
        Some(file_id) => Ok(Ask {
            file_id,
            file_name,
            inline,
            minutes,
        }),
        None => Err(Refusal::Invalid(bad)),
    }
}

/// `{fileId, downloadFileName, expirationInMinutes, contentDisposition}` →
/// `{downloadUrls: [{url, assetKey}]}`. A file whose bytes aren't in (an import still
/// fetching, or failed) gets 428. Trashed files can be downloaded.
pub(crate) fn generate(state: &State, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let a = ask(&v)?;
    let now = now_ms();
    let rec = visible(state, &a.file_id, site, now).ok_or_else(|| not_found(&a.file_id))?;
    if !has_bytes(&rec) {
        return Err(error(
            428,
            "FAILED_PRECONDITION",
            "the file's bytes are not there yet",
        ));
    }
    let grant = Grant {
        file_id: rec.id.clone(),
        file_name: a.file_name.unwrap_or_else(|| rec.display_name.clone()),
        inline: a.inline,
        expires_ms: now.saturating_add(a.minutes.saturating_mul(60_000)),
    };
    let token = random_hex(16);
    lock(&state.downloads).insert(token.clone(), grant);
    let url = format!("{}{DOWNLOAD_PREFIX}{token}", state.base_url);
    ok(&json!({ "downloadUrls": [{ "url": url, "assetKey": "src" }] }))
}

fn has_bytes(rec: &FileRecord) -> bool {
    rec.stage == Stage::Processing
}

/// `GET` (or `HEAD`) `{base}/download/<token>`: the file's bytes, streamed.
pub(crate) fn serve(state: &State, req: &Request<'_>, token: &str) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return error(405, "METHOD_NOT_ALLOWED", "method not allowed").header("Allow", "GET, HEAD");
    }
    let Some(grant) = lock(&state.downloads).get(token).cloned() else {
        return error(404, "NOT_FOUND", "no such download URL");
    };
    if now_ms() >= grant.expires_ms {
        return error(403, "PERMISSION_DENIED", "the download URL has expired");
    }
    let Some(rec) = state.store.file(&grant.file_id).filter(has_bytes) else {
        return error(404, "NOT_FOUND", "the file is gone");
    };
    let opened =
        File::open(state.store.bytes_path(&rec)).and_then(|f| f.metadata().map(|m| (f, m.len())));
    let (file, len) = match opened {
        Ok(opened) => opened,
        Err(e) => return error(500, "INTERNAL", &format!("could not read the file: {e}")),
    };
    let mime = rec
        .mime_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    Response::new(200)
        .header("Content-Type", mime)
        .header("Content-Disposition", disposition(&grant))
        .file(file, len)
}

/// `attachment; filename="a.png"; filename*=UTF-8''a.png` (or `inline`).
fn disposition(grant: &Grant) -> String {
    let kind = if grant.inline { "inline" } else { "attachment" };
    let ascii: String = grant
        .file_name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let encoded = utf8_percent_encode(&grant.file_name, NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
