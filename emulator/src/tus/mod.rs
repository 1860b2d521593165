//! The tus 1.0 server at `{base}/upload/tus`: core protocol plus the creation,
//! creation-with-upload, creation-defer-length, termination, expiration, checksum and
//! concatenation extensions, each only while enabled in the config.
//!
//! - this file: dispatch, `OPTIONS`, `HEAD`, `DELETE` and the checks they share;
//! - [`create`]: the creation `POST` (plain, deferred length, with a first body, final
//!   concatenation);
//! - [`patch`]: the `PATCH` request;
//! - [`body`]: streaming a body into an upload, with the checksum extension.

mod body;
mod create;
mod patch;

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::http::{Outcome, Request, Response};
use super::store::{Busy, Concat, TokenKind, UploadRecord};
use super::{State, TUS_PATH, TusExtension, now_ms, tus_method, wix};

/// The tus version this server speaks.
pub(crate) const TUS_VERSION: &str = "1.0.0";
/// The content type of a tus PATCH body.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// A step of a request's handling: `Err` is the answer that ends it early.
type Step<T> = Result<T, Outcome>;

/// The answer of a handling made of [`Step`]s.
fn answer(step: Step<Outcome>) -> Outcome {
    step.unwrap_or_else(|refused| refused)
}

/// A tus answer: every one carries `Tus-Resumable`.
fn tus(status: u16) -> Response {
    Response::new(status).header("Tus-Resumable", TUS_VERSION)
}

/// A tus error with a Wix-shaped body. A 413 closes the connection without reading the rest
/// of the body, as a proxy's body limit does.
fn fail(status: u16, code: &str, message: &str) -> Outcome {
    let resp = wix::error(status, code, message).header("Tus-Resumable", TUS_VERSION);
    Outcome::Respond(if status == 413 { resp.closing() } else { resp })
}

fn bad_request(message: &str) -> Outcome {
    fail(400, "INVALID_ARGUMENT", message)
}

/// Requests to the creation URL itself.
pub(crate) fn collection(state: &State, req: &mut Request<'_>) -> Outcome {
    match req.method.as_str() {
        "OPTIONS" => options(state),
        "POST" => create::create(state, req),
        _ => not_allowed("OPTIONS, POST"),
    }
}

/// Requests to one upload's URL (PUT, the Wix finalize, is routed before this).
pub(crate) fn resource(state: &State, req: &mut Request<'_>, id: &str) -> Outcome {
    match tus_method(req).as_str() {
        "OPTIONS" => options(state),
        "HEAD" => answer(head(state, req, id)),
        "PATCH" => patch::patch(state, req, id),
        "DELETE" if state.config.has(TusExtension::Termination) => answer(delete(state, req, id)),
        _ => not_allowed(if state.config.has(TusExtension::Termination) {
            "OPTIONS, HEAD, PATCH, DELETE, PUT"
        } else {
            "OPTIONS, HEAD, PATCH, PUT"
        }),
    }
}

fn not_allowed(allow: &str) -> Outcome {
    Outcome::Respond(
        wix::error(405, "METHOD_NOT_ALLOWED", "method not allowed")
            .header("Tus-Resumable", TUS_VERSION)
            .header("Allow", allow),
    )
}

fn options(state: &State) -> Outcome {
    let cfg = &state.config;
    let names: Vec<&str> = cfg.extensions.iter().map(|e| e.name()).collect();
    let mut resp = tus(204)
        .header("Tus-Version", TUS_VERSION)
        .header("Tus-Max-Size", cfg.max_file_size.to_string());
    if !names.is_empty() {
        resp = resp.header("Tus-Extension", names.join(","));
    }
    if cfg.has(TusExtension::Checksum) {
        resp = resp.header("Tus-Checksum-Algorithm", "sha1,sha256,md5");
    }
    Outcome::Respond(resp)
}

/// 412 unless the request speaks tus 1.0.0.
fn require_resumable(req: &Request<'_>) -> Step<()> {
    if req.header("Tus-Resumable") == Some(TUS_VERSION) {
        return Ok(());
    }
    Err(Outcome::Respond(
        wix::error(
            412,
            "FAILED_PRECONDITION",
            "Tus-Resumable: 1.0.0 header is required",
        )
        .header("Tus-Resumable", TUS_VERSION)
        .header("Tus-Version", TUS_VERSION),
    ))
}

/// 415 unless the body is `application/offset+octet-stream`.
fn require_octet_stream(req: &Request<'_>) -> Step<()> {
    let octets = req
        .header("Content-Type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM));
    if octets {
        return Ok(());
    }
    Err(fail(
        415,
        "INVALID_ARGUMENT",
        "Content-Type must be application/offset+octet-stream",
    ))
}

/// `Upload-Metadata`: `key base64,key2 base64`; a key may have no value.
fn parse_metadata(raw: &str) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut out = BTreeMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().unwrap_or("");
        let value = parts.next();
        if parts.next().is_some() {
            return Err(format!(
                "metadata pair {pair:?} has more than key and value"
            ));
        }
        let value = match value {
            None => None,
            Some(v) => {
                let bytes = STANDARD
                    .decode(v)
                    .map_err(|_| format!("metadata value of {key:?} is not base64"))?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        if out.insert(key.to_string(), value).is_some() {
            return Err(format!("metadata key {key:?} appears twice"));
        }
    }
    Ok(out)
}

fn parse_u64(req: &Request<'_>, name: &str) -> Step<Option<u64>> {
    match req.header(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad_request(&format!("{name} must be a non-negative integer"))),
    }
}

fn expired(rec: &UploadRecord) -> bool {
    !rec.is_complete() && rec.expires_ms.is_some_and(|e| now_ms() >= e)
}

/// The upload `id`: 404 when unknown, 410 once expired.
fn live_upload(state: &State, id: &str) -> Step<UploadRecord> {
    let Some(rec) = state.store.get(id) else {
        return Err(fail(404, "NOT_FOUND", "upload not found"));
    };
    if expired(&rec) {
        return Err(fail(410, "NOT_FOUND", "upload expired"));
    }
    Ok(rec)
}

fn expires_header(resp: Response, rec: &UploadRecord) -> Response {
    match rec.expires_ms {
        Some(ms) if !rec.is_complete() => {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            resp.header("Upload-Expires", httpdate::fmt_http_date(t))
        }
        _ => resp,
    }
}

/// 403 unless `token` is an issued resumable token not yet finalized; 401 once it expired.
fn check_token(state: &State, token: &str) -> Step<()> {
    match state.store.token(token) {
        Some(t) if t.kind != TokenKind::Resumable => {
            Err(fail(403, "PERMISSION_DENIED", "upload token is not valid"))
        }
        None => Err(fail(403, "PERMISSION_DENIED", "upload token is not valid")),
        Some(t) if t.finalized.is_some() => Err(fail(
            403,
            "PERMISSION_DENIED",
            "upload token was already used",
        )),
        Some(t) if t.expired(now_ms()) => {
            Err(fail(401, "UNAUTHENTICATED", "upload token has expired"))
        }
        Some(_) => Ok(()),
    }
}

fn head(state: &State, req: &Request<'_>, id: &str) -> Step<Outcome> {
    require_resumable(req)?;
    let rec = live_upload(state, id)?;
    let mut resp = tus(200)
        .header("Cache-Control", "no-store")
        .header("Upload-Offset", rec.offset.to_string());
    resp = match rec.length {
        Some(l) => resp.header("Upload-Length", l.to_string()),
        None => resp.header("Upload-Defer-Length", "1"),
    };
    if let Some(m) = &rec.raw_metadata {
        resp = resp.header("Upload-Metadata", m.clone());
    }
    match &rec.concat {
        Concat::None => {}
        Concat::Partial => resp = resp.header("Upload-Concat", "partial"),
        Concat::Final(parts) => {
            let urls: Vec<String> = parts.iter().map(|p| state.upload_url(p)).collect();
            resp = resp.header("Upload-Concat", format!("final;{}", urls.join(" ")));
        }
    }
    Ok(Outcome::Respond(expires_header(resp, &rec)))
}

fn delete(state: &State, req: &Request<'_>, id: &str) -> Step<Outcome> {
    require_resumable(req)?;
    match state.store.begin_write(id, false) {
        Err(Busy::NotFound) => Err(fail(404, "NOT_FOUND", "upload not found")),
        Err(Busy::Locked) => Err(fail(409, "ALREADY_EXISTS", "upload is being written")),
        Err(Busy::Io(e)) => Err(fail(500, "INTERNAL", &e.to_string())),
        Ok(_) => {
            state.store.remove(id);
            Ok(Outcome::Respond(tus(204)))
        }
    }
}

/// The id an upload URL (absolute or a path) points to, if it is one of ours.
fn id_from_url(url: &str) -> Option<&str> {
    let path = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map(|j| &url[i + 3 + j..])?,
        None => url,
    };
    let rest = path.strip_prefix(TUS_PATH)?.strip_prefix('/')?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parses_keys_and_base64_values() {
        let m = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential")
            .unwrap_or_default();
        assert_eq!(
            m.get("filename"),
            Some(&Some("world_domination_plan.pdf".to_string()))
        );
        assert_eq!(m.get("is_confidential"), Some(&None));
        assert!(parse_metadata("k not-base64!").is_err());
        assert!(parse_metadata("k YQ==,k Yg==").is_err());
    }

    #[test]
    fn upload_ids_come_from_absolute_or_path_urls() {
        assert_eq!(
            id_from_url("http://127.0.0.1:1/upload/tus/abc"),
            Some("abc")
        );
        assert_eq!(id_from_url("/upload/tus/abc"), Some("abc"));
        assert_eq!(id_from_url("/other/abc"), None);
        assert_eq!(id_from_url("http://h/upload/tus/"), None);
    }
}
