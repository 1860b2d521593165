//! `POST /site-media/v1/files/import`: answers a `PENDING` file at once, then fetches the
//! source in a background thread (the bulk route, [`super::bulk_import`], starts the same) (only from `http://127.0.0.1` or `http://localhost`),
//! streaming it to disk. The file turns `READY` once fetched and past the processing delay,
//! or `FAILED` when the source is elsewhere, unreachable, answers non-2xx, is too large or
//! of a type Wix doesn't take.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::descriptor::descriptor;
use super::files::{Digest, new_file_id};
use super::folders::place;
use super::generate::check_mime;
use super::media::{MEDIA_TYPES, extension_media_types, media_type};
use super::{Answer, Fields, Refusal, Violation, ok, read_json_object};
use crate::http::client::{self, LocalUrl};
use crate::http::{Body, Request, decode_path_segment, header, lock};
use crate::store::{BUF_SIZE, FileRecord, FileState, Origin, Placement, Stage};
use crate::{State, millis, now_ms};

/// How long a fetch may wait to connect or for the next bytes.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// The `User-Agent` of the emulator's fetches.
const USER_AGENT: &str = concat!("wix-media-upload-emulator/", env!("CARGO_PKG_VERSION"));

/// `POST /site-media/v1/files/import` → `{file}`, `PENDING`.
pub(crate) fn single(state: &Arc<State>, req: &mut Request<'_>, site: String) -> Answer {
    let v = read_json_object(req)?;
    let rec = prepare(state, &v, site)?;
    ok(&json!({ "file": begin(state, rec)? }))
}

/// A new import from a request body: checked, and placed in its folder.
pub(crate) fn prepare(state: &State, v: &Value, site: String) -> Result<FileRecord, Refusal> {
    let mut rec = validate(state, v, site).map_err(Refusal::Invalid)?;
    let site = rec.site_id.clone();
    place(state, &site, &mut rec.placement)?;
    Ok(rec)
}

/// Stores the new file and starts fetching it; its first descriptor.
pub(crate) fn begin(state: &Arc<State>, rec: FileRecord) -> Result<Value, Refusal> {
    let desc = descriptor(&rec, rec.created_ms);
    let id = rec.id.clone();
    state
        .store
        .add_file(rec)
        .map_err(|e| Refusal::Internal(format!("could not store file: {e}")))?;
    spawn_fetch(state, id);
    Ok(desc)
}

/// An absolute `http://` or `https://` URL with a host.
fn is_http_url(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, rest)| {
        (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
            && !rest.is_empty()
            && !rest.starts_with(['/', '?', '#'])
    })
}

/// The last path segment of a URL, decoded (the default display name).
fn url_file_name(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = after_scheme.split(['?', '#']).next().unwrap_or("");
    let (_, path) = path.split_once('/')?;
    let last = path.rsplit('/').next().unwrap_or("");
    (!last.is_empty()).then(|| decode_path_segment(last))
}

/// What an import asks for, once checked.
struct Asked {
    url: String,
    display_name: Option<String>,
    mime_type: Option<String>,
    media_type: Option<String>,
    placement: Placement,
}

fn validate(state: &State, v: &Value, site_id: String) -> Result<FileRecord, Vec<Violation>> {
    let mut f = Fields::new(v);
    let url = f.string("url").filter(|u| !u.trim().is_empty());
    let display_name = f.string("displayName");
    let mime = f.string("mimeType");
    let media = f.string("mediaType");
    let placement = f.placement();
    let mut bad = f.bad;
    match &url {
        None => bad.push(Violation::new("url", "REQUIRED_FIELD", "url is required")),
        Some(u) if !is_http_url(u) => bad.push(Violation::new(
            "url",
            "FORMAT",
            "url must be an absolute http:// or https:// URL",
        )),
        Some(_) => {}
    }
    if let Some(m) = &mime {
        check_mime(Some(m), None, &mut bad);
    }
    if media.as_deref().is_some_and(|m| !MEDIA_TYPES.contains(&m)) {
        bad.push(Violation::new(
            "mediaType",
            "FORMAT",
            format!("mediaType must be one of {}", MEDIA_TYPES.join(", ")),
        ));
    }
    match url.filter(|_| bad.is_empty()) {
        Some(url) => Ok(pending_import(
            state,
            site_id,
            Asked {
                url,
                display_name,
                mime_type: mime,
                media_type: media,
                placement,
            },
        )),
        None => Err(bad),
    }
}

/// The record of an import whose source is about to be fetched.
fn pending_import(state: &State, site_id: String, asked: Asked) -> FileRecord {
    let url = asked.url;
    let name = asked
        .display_name
        .filter(|n| !n.is_empty())
        .or_else(|| url_file_name(&url))
        .unwrap_or_else(|| "file".into());
    // What the type will be: named, else from the MIME type, else from an extension; else
    // the source's Content-Type decides once fetched.
    let kind = asked
        .media_type
        .as_deref()
        .or_else(|| asked.mime_type.as_deref().and_then(media_type))
        .or_else(|| extension_media_types(&name).first().copied())
        .or_else(|| url_file_name(&url).and_then(|n| extension_media_types(&n).first().copied()))
        .unwrap_or("UNKNOWN");
    let now = now_ms();
    FileRecord {
        id: new_file_id(&site_id, asked.mime_type.as_deref().unwrap_or(""), &name),
        origin: Origin::Import,
        display_name: name,
        mime_type: asked.mime_type,
        media_type: kind.to_string(),
        placement: asked.placement,
        site_id,
        source_url: Some(url),
        upload_id: None,
        size: None,
        hash: None,
        width: 0,
        height: 0,
        created_ms: now,
        ready_ms: now.saturating_add(millis(state.config.processing_delay)),
        stage: Stage::Fetching,
        error: None,
        state: FileState::Ok,
        updated_ms: 0,
    }
}

/// Starts the background fetch of file `id`; the file fails if no thread can run it.
fn spawn_fetch(state: &Arc<State>, id: String) {
    let imports = &state.imports;
    if imports.stopping.load(Ordering::SeqCst) {
        fail(state, &id, "the emulator is stopping".into());
        return;
    }
    let worker_state = Arc::clone(state);
    let worker_id = id.clone();
    let spawned = std::thread::Builder::new()
        .name("wix-emulator-import".into())
        .spawn(move || run(&worker_state, &worker_id));
    let mut threads = lock(&imports.threads);
    threads.retain(|t| !t.is_finished());
    match spawned {
        Ok(t) => threads.push(t),
        Err(e) => {
            drop(threads);
            fail(state, &id, format!("could not start the import: {e}"));
        }
    }
}

fn fail(state: &State, id: &str, why: String) {
    let _ = fs::remove_file(state.store.file_part_path(id));
    let now = now_ms();
    let _ = state.store.update_file(id, |f| {
        f.stage = Stage::Failed;
        f.error = Some(why);
        f.ready_ms = now;
    });
}

/// What a fetch learned.
struct Fetched {
    digest: Digest,
    content_type: Option<String>,
}

fn run(state: &State, id: &str) {
    let Some(rec) = state.store.file(id) else {
        return;
    };
    let source = rec.source_url.clone().unwrap_or_default();
    let fetched = client::local_url(&source).and_then(|url| fetch(state, id, &url));
    let fetched = match fetched {
        Ok(f) => f,
        Err(why) => return fail(state, id, why),
    };
    let kind = match rec.media_type.as_str() {
        "UNKNOWN" => fetched.content_type.as_deref().and_then(media_type),
        known => Some(known),
    };
    let Some(kind) = kind.map(str::to_string) else {
        return fail(
            state,
            id,
            "could not tell the file's type: give mimeType, mediaType or an extension".into(),
        );
    };
    let done = state.store.file_data_path(id);
    if let Err(e) = fs::rename(state.store.file_part_path(id), &done) {
        return fail(state, id, format!("could not store the file: {e}"));
    }
    let (hash, size, (width, height)) = fetched.digest.finish();
    let now = now_ms();
    let stored = state.store.update_file(id, |f| {
        f.stage = Stage::Processing;
        f.media_type = kind;
        if f.mime_type.is_none() {
            f.mime_type = fetched.content_type;
        }
        f.size = Some(size);
        f.hash = Some(hash);
        f.width = width;
        f.height = height;
        f.ready_ms = f.ready_ms.max(now);
    });
    if stored.is_err() {
        // Deleted for good while it was fetched: don't leave its bytes behind.
        let _ = fs::remove_file(&done);
    }
}

/// `GET`s the source into the file's `.part`, with a fixed buffer.
fn fetch(state: &State, id: &str, url: &LocalUrl) -> Result<Fetched, String> {
    let imports = &state.imports;
    let socket_id = imports.next.fetch_add(1, Ordering::Relaxed);
    let register = |s: &std::net::TcpStream| {
        if let Ok(clone) = s.try_clone() {
            lock(&imports.sockets).insert(socket_id, clone);
        }
    };
    let result = (|| {
        if imports.stopping.load(Ordering::SeqCst) {
            return Err("the emulator is stopping".to_string());
        }
        let (mut reader, head) = client::get(url, USER_AGENT, FETCH_TIMEOUT, register)
            .map_err(|e| format!("could not fetch the source: {e}"))?;
        if !(200..300).contains(&head.status) {
            return Err(format!("the source answered HTTP {}", head.status));
        }
        let limit = state.config.max_file_size;
        let mut body = Body::new(&mut reader, head.framing, false);
        if body.content_length().is_some_and(|n| n > limit) {
            return Err(format!("the source is over the limit of {limit} bytes"));
        }
        let mut out = File::create(state.store.file_part_path(id))
            .map_err(|e| format!("could not store the file: {e}"))?;
        let mut digest = Digest::new();
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = body
                .read(&mut buf)
                .map_err(|e| format!("the source's answer was cut short: {e}"))?;
            if n == 0 {
                break;
            }
            if digest.size + n as u64 > limit {
                return Err(format!("the source is over the limit of {limit} bytes"));
            }
            out.write_all(&buf[..n])
                .map_err(|e| format!("could not store the file: {e}"))?;
            digest.update(&buf[..n]);
        }
        let content_type = header(&head.headers, "Content-Type").map(str::to_string);
        Ok(Fetched {
            digest,
            content_type,
        })
    })();
    lock(&imports.sockets).remove(&socket_id);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_come_from_the_url_path() {
        assert_eq!(
            url_file_name("http://127.0.0.1:1/a/my%20pic.png?x=1").as_deref(),
            Some("my pic.png")
        );
        assert_eq!(url_file_name("http://127.0.0.1:1/"), None);
        assert_eq!(url_file_name("http://127.0.0.1:1"), None);
    }
}
