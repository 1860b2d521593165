//! The tus 1.0 server at `{base}/upload/tus`: core protocol plus the creation,
//! creation-with-upload, creation-defer-length, termination, expiration, checksum and
//! concatenation extensions, each only while enabled in the config.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

use super::http::{Outcome, Request, Response};
use super::store::{
    BUF_SIZE, Busy, CHECKPOINT_BYTES, CHECKPOINT_INTERVAL, Concat, TokenKind, UploadRecord,
};
use super::{State, TUS_PATH, TusExtension, millis, now_ms, random_hex, tus_method, wix};
/// The tus version this server speaks.
pub(crate) const TUS_VERSION: &str = "1.0.0";
/// The content type of a tus PATCH body.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

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
        "POST" => create(state, req),
        _ => not_allowed("OPTIONS, POST"),
    }
}

/// Requests to one upload's URL (PUT, the Wix finalize, is routed before this).
pub(crate) fn resource(state: &State, req: &mut Request<'_>, id: &str) -> Outcome {
    match tus_method(req).as_str() {
        "OPTIONS" => options(state),
        "HEAD" => head(state, req, id),
        "PATCH" => patch(state, req, id),
        "DELETE" if state.config.has(TusExtension::Termination) => delete(state, req, id),
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
fn check_resumable(req: &Request<'_>) -> Option<Outcome> {
    if req.header("Tus-Resumable") == Some(TUS_VERSION) {
        return None;
    }
    Some(Outcome::Respond(
        wix::error(
            412,
            "FAILED_PRECONDITION",
            "Tus-Resumable: 1.0.0 header is required",
        )
        .header("Tus-Resumable", TUS_VERSION)
        .header("Tus-Version", TUS_VERSION),
    ))
}

fn is_octet_stream(req: &Request<'_>) -> bool {
    req.header("Content-Type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// `Upload-Metadata`: `key base64,key2 base64`; a key may have no value.
fn parse_metadata(raw: &str) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut out = BTreeMap::new();
    for pair in raw.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
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

fn parse_u64(req: &Request<'_>, name: &str) -> Result<Option<u64>, Outcome> {
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

fn expires_header(resp: Response, rec: &UploadRecord) -> Response {
    match rec.expires_ms {
        Some(ms) if !rec.is_complete() => {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            resp.header("Upload-Expires", httpdate::fmt_http_date(t))
        }
        _ => resp,
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

/// The creation POST (also final concatenation).
fn create(state: &State, req: &mut Request<'_>) -> Outcome {
    if let Some(o) = check_resumable(req) {
        return o;
    }
    let cfg = &state.config;
    if !cfg.has(TusExtension::Creation) {
        return not_allowed("OPTIONS");
    }
    let concat = match req.header("Upload-Concat") {
        None => Concat::None,
        Some(_) if !cfg.has(TusExtension::Concatenation) => {
            return fail(501, "UNIMPLEMENTED", "concatenation is not supported");
        }
        Some("partial") => Concat::Partial,
        Some(v) => match v.strip_prefix("final;") {
            Some(list) => {
                let mut ids = Vec::new();
                for url in list.split_whitespace() {
                    match id_from_url(url) {
                        Some(id) => ids.push(id.to_string()),
                        None => return bad_request(&format!("{url} is not an upload URL here")),
                    }
                }
                if ids.is_empty() {
                    return bad_request("Upload-Concat: final needs at least one upload URL");
                }
                Concat::Final(ids)
            }
            None => return bad_request("Upload-Concat must be partial or final;<urls>"),
        },
    };
    let metadata_raw = req.header("Upload-Metadata").map(str::to_string);
    let metadata = match metadata_raw.as_deref().map(parse_metadata).transpose() {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => return bad_request(&e),
    };
    let length = match parse_u64(req, "Upload-Length") {
        Ok(l) => l,
        Err(o) => return o,
    };
    let defer = req.header("Upload-Defer-Length");
    if let Concat::Final(parts) = concat {
        if length.is_some() || defer.is_some() {
            return bad_request("a final upload takes no Upload-Length");
        }
        return create_final(state, metadata, metadata_raw, parts);
    }
    let length = match (length, defer) {
        (Some(_), Some(_)) => {
            return bad_request("send Upload-Length or Upload-Defer-Length, not both");
        }
        (Some(l), None) => Some(l),
        (None, Some("1")) if cfg.has(TusExtension::CreationDeferLength) => None,
        (None, Some(_)) if cfg.has(TusExtension::CreationDeferLength) => {
            return bad_request("Upload-Defer-Length must be 1");
        }
        _ => return bad_request("Upload-Length is required"),
    };
    if length.is_some_and(|l| l > cfg.max_file_size) {
        return fail(
            413,
            "INVALID_ARGUMENT",
            "Upload-Length is over Tus-Max-Size",
        );
    }
    let token = match metadata.get("token").cloned().flatten() {
        None => {
            return fail(
                401,
                "UNAUTHENTICATED",
                "Upload-Metadata must carry the upload token (key `token`)",
            );
        }
        Some(t) => t,
    };
    if let Some(o) = check_token(state, &token) {
        return o;
    }
    let with_body = req.body.is_present() && cfg.has(TusExtension::CreationWithUpload);
    if with_body {
        if !is_octet_stream(req) {
            return fail(
                415,
                "INVALID_ARGUMENT",
                "Content-Type must be application/offset+octet-stream",
            );
        }
        if let (Some(l), Some(cl)) = (length, req.body.content_length())
            && cl > l
        {
            return fail(413, "INVALID_ARGUMENT", "body is longer than Upload-Length");
        }
    }
    let checksum = if with_body {
        match parse_checksum(state, req) {
            Ok(c) => c,
            Err(o) => return o,
        }
    } else {
        None
    };
    let now = now_ms();
    let rec = UploadRecord {
        id: random_hex(16),
        length,
        offset: 0,
        metadata,
        raw_metadata: metadata_raw,
        token: Some(token),
        concat,
        created_ms: now,
        expires_ms: cfg
            .has(TusExtension::Expiration)
            .then(|| now.saturating_add(millis(cfg.expiration))),
        unverified_from: None,
    };
    let id = rec.id.clone();
    if let Err(e) = state.store.create(rec) {
        return fail(500, "INTERNAL", &format!("could not create upload: {e}"));
    }
    let location = state.upload_url(&id);
    if !with_body {
        let Some(rec) = state.store.get(&id) else {
            return fail(500, "INTERNAL", "upload vanished");
        };
        return Outcome::Respond(expires_header(tus(201).header("Location", location), &rec));
    }
    let rec = match state.store.begin_write(&id, checksum.is_some()) {
        Ok(rec) => rec,
        Err(_) => return fail(500, "INTERNAL", "upload vanished"),
    };
    match write_body(state, req, &rec, checksum) {
        WriteEnd::Done(rec) => Outcome::Respond(expires_header(
            tus(201)
                .header("Location", location)
                .header("Upload-Offset", rec.offset.to_string()),
            &rec,
        )),
        // The client never learns this upload's URL: don't leave it behind.
        WriteEnd::ChecksumMismatch => {
            state.store.remove(&id);
            fail(
                460,
                "INVALID_ARGUMENT",
                "Upload-Checksum does not match the body",
            )
        }
        WriteEnd::TooLarge => {
            state.store.remove(&id);
            fail(413, "INVALID_ARGUMENT", "body is longer than allowed")
        }
        WriteEnd::Gone => Outcome::Drop,
        WriteEnd::Io(e) => fail(500, "INTERNAL", &e),
    }
}

/// 403 unless `token` is an issued resumable token not yet finalized; 401 once it expired.
fn check_token(state: &State, token: &str) -> Option<Outcome> {
    match state.store.token(token) {
        Some(t) if t.kind != TokenKind::Resumable => {
            Some(fail(403, "PERMISSION_DENIED", "upload token is not valid"))
        }
        None => Some(fail(403, "PERMISSION_DENIED", "upload token is not valid")),
        Some(t) if t.finalized.is_some() => Some(fail(
            403,
            "PERMISSION_DENIED",
            "upload token was already used",
        )),
        Some(t) if t.expired(now_ms()) => {
            Some(fail(401, "UNAUTHENTICATED", "upload token has expired"))
        }
        Some(_) => None,
    }
}

fn create_final(
    state: &State,
    metadata: BTreeMap<String, Option<String>>,
    metadata_raw: Option<String>,
    parts: Vec<String>,
) -> Outcome {
    let mut total: u64 = 0;
    let mut tokens = Vec::new();
    for id in &parts {
        let Some(p) = state.store.get(id) else {
            return bad_request(&format!("partial upload {id} does not exist"));
        };
        if p.concat != Concat::Partial {
            return bad_request(&format!("upload {id} is not a partial upload"));
        }
        if !p.is_complete() {
            return bad_request(&format!("partial upload {id} is not complete"));
        }
        total = total.saturating_add(p.offset);
        if let Some(t) = p.token
            && !tokens.contains(&t)
        {
            tokens.push(t);
        }
    }
    if total > state.config.max_file_size {
        return fail(413, "INVALID_ARGUMENT", "final upload is over Tus-Max-Size");
    }
    // The token comes from the final's own metadata, else is inherited from the partials.
    let token = match (metadata.get("token").cloned().flatten(), tokens.as_slice()) {
        (Some(t), ts) if ts.iter().all(|x| *x == t) => t,
        (Some(_), _) => return bad_request("partial uploads belong to another upload token"),
        (None, [t]) => t.clone(),
        (None, []) => {
            return fail(
                401,
                "UNAUTHENTICATED",
                "Upload-Metadata must carry the upload token (key `token`)",
            );
        }
        (None, _) => return bad_request("partial uploads belong to different upload tokens"),
    };
    if let Some(o) = check_token(state, &token) {
        return o;
    }
    let rec = UploadRecord {
        id: random_hex(16),
        length: Some(total),
        offset: total,
        metadata,
        raw_metadata: metadata_raw,
        token: Some(token),
        concat: Concat::Final(parts.clone()),
        created_ms: now_ms(),
        expires_ms: None,
        unverified_from: None,
    };
    let id = rec.id.clone();
    if let Err(e) = state.store.create_final(rec, &parts) {
        return fail(500, "INTERNAL", &format!("could not concatenate: {e}"));
    }
    Outcome::Respond(
        tus(201)
            .header("Location", state.upload_url(&id))
            .header("Upload-Offset", total.to_string()),
    )
}

fn head(state: &State, req: &Request<'_>, id: &str) -> Outcome {
    if let Some(o) = check_resumable(req) {
        return o;
    }
    let Some(rec) = state.store.get(id) else {
        return fail(404, "NOT_FOUND", "upload not found");
    };
    if expired(&rec) {
        return fail(410, "NOT_FOUND", "upload expired");
    }
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
    Outcome::Respond(expires_header(resp, &rec))
}

fn delete(state: &State, req: &Request<'_>, id: &str) -> Outcome {
    if let Some(o) = check_resumable(req) {
        return o;
    }
    match state.store.begin_write(id, false) {
        Err(Busy::NotFound) => fail(404, "NOT_FOUND", "upload not found"),
        Err(Busy::Locked) => fail(409, "ALREADY_EXISTS", "upload is being written"),
        Err(Busy::Io(e)) => fail(500, "INTERNAL", &e.to_string()),
        Ok(_) => {
            state.store.remove(id);
            Outcome::Respond(tus(204))
        }
    }
}

fn patch(state: &State, req: &mut Request<'_>, id: &str) -> Outcome {
    if let Some(o) = check_resumable(req) {
        return o;
    }
    if !is_octet_stream(req) {
        return fail(
            415,
            "INVALID_ARGUMENT",
            "Content-Type must be application/offset+octet-stream",
        );
    }
    let Some(rec) = state.store.get(id) else {
        return fail(404, "NOT_FOUND", "upload not found");
    };
    if expired(&rec) {
        return fail(410, "NOT_FOUND", "upload expired");
    }
    if matches!(rec.concat, Concat::Final(_)) {
        return fail(403, "PERMISSION_DENIED", "a final upload can't be patched");
    }
    let offset = match parse_u64(req, "Upload-Offset") {
        Ok(Some(o)) => o,
        Ok(None) => return bad_request("Upload-Offset is required"),
        Err(o) => return o,
    };
    let new_length = match parse_u64(req, "Upload-Length") {
        Ok(l) => l,
        Err(o) => return o,
    };
    let checksum = match parse_checksum(state, req) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut rec = match state.store.begin_write(id, checksum.is_some()) {
        Ok(rec) => rec,
        Err(Busy::NotFound) => return fail(404, "NOT_FOUND", "upload not found"),
        Err(Busy::Io(e)) => return fail(500, "INTERNAL", &e.to_string()),
        Err(Busy::Locked) => {
            return fail(
                409,
                "ALREADY_EXISTS",
                "another request is writing this upload",
            );
        }
    };
    // The claim re-read the record: check against that, not the earlier snapshot.
    if offset != rec.offset {
        let _ = state.store.end_write(id, rec.offset);
        return fail(
            409,
            "ALREADY_EXISTS",
            &format!(
                "Upload-Offset {offset} does not match the upload's {}",
                rec.offset
            ),
        );
    }
    match (rec.length, new_length) {
        (Some(l), Some(n)) if l != n => {
            let _ = state.store.end_write(id, rec.offset);
            return bad_request("Upload-Length can't change once set");
        }
        (None, Some(n)) => {
            if n < rec.offset {
                let _ = state.store.end_write(id, rec.offset);
                return bad_request("Upload-Length is below the current offset");
            }
            if n > state.config.max_file_size {
                let _ = state.store.end_write(id, rec.offset);
                return fail(
                    413,
                    "INVALID_ARGUMENT",
                    "Upload-Length is over Tus-Max-Size",
                );
            }
            if let Err(e) = state.store.update(id, |r| r.length = Some(n)) {
                let _ = state.store.end_write(id, rec.offset);
                return fail(500, "INTERNAL", &e.to_string());
            }
            rec.length = Some(n);
        }
        _ => {}
    }
    if let (Some(l), Some(cl)) = (rec.length, req.body.content_length())
        && cl > l - rec.offset
    {
        let _ = state.store.end_write(id, rec.offset);
        return fail(413, "INVALID_ARGUMENT", "body goes past Upload-Length");
    }
    match write_body(state, req, &rec, checksum) {
        WriteEnd::Done(rec) => Outcome::Respond(expires_header(
            tus(204).header("Upload-Offset", rec.offset.to_string()),
            &rec,
        )),
        WriteEnd::ChecksumMismatch => fail(
            460,
            "INVALID_ARGUMENT",
            "Upload-Checksum does not match the body",
        ),
        WriteEnd::TooLarge => fail(413, "INVALID_ARGUMENT", "body is longer than allowed"),
        WriteEnd::Gone => Outcome::Drop,
        WriteEnd::Io(e) => fail(500, "INTERNAL", &e),
    }
}

/// A checksum algorithm of the checksum extension.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Md5(md5::Md5),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        }
    }
}

/// `Upload-Checksum: <algo> <base64>`, when the checksum extension is on (else ignored,
/// like @tus/server).
fn parse_checksum(state: &State, req: &Request<'_>) -> Result<Option<(Hasher, Vec<u8>)>, Outcome> {
    if !state.config.has(TusExtension::Checksum) {
        return Ok(None);
    }
    let Some(v) = req.header("Upload-Checksum") else {
        return Ok(None);
    };
    let (algo, digest) = v
        .split_once(' ')
        .ok_or_else(|| bad_request("Upload-Checksum must be `<algorithm> <base64 digest>`"))?;
    let hasher = match algo.to_ascii_lowercase().as_str() {
        "sha1" => Hasher::Sha1(sha1::Sha1::new()),
        "sha256" => Hasher::Sha256(sha2::Sha256::new()),
        "md5" => Hasher::Md5(md5::Md5::new()),
        other => {
            return Err(bad_request(&format!(
                "unsupported checksum algorithm {other}"
            )));
        }
    };
    let expected = STANDARD
        .decode(digest.trim())
        .map_err(|_| bad_request("Upload-Checksum digest is not base64"))?;
    Ok(Some((hasher, expected)))
}

/// How a body write ended. The upload's claim is released in every case.
enum WriteEnd {
    /// All bytes kept; the updated record.
    Done(UploadRecord),
    /// Nothing kept.
    ChecksumMismatch,
    /// Nothing kept (a chunked body ran past the allowed size).
    TooLarge,
    /// The client went away (or the cut fault fired): what arrived is kept unless a checksum
    /// was asked for; the connection is to be closed without an answer.
    Gone,
    Io(String),
}

/// Streams the request body into the upload at `rec.offset` with a fixed buffer.
fn write_body(
    state: &State,
    req: &mut Request<'_>,
    rec: &UploadRecord,
    checksum: Option<(Hasher, Vec<u8>)>,
) -> WriteEnd {
    let id = rec.id.as_str();
    let start = rec.offset;
    let end = |new_offset: u64, result: WriteEnd| match state.store.end_write(id, new_offset) {
        Ok(()) => result,
        Err(e) => WriteEnd::Io(e.to_string()),
    };
    let mut allowed = rec.length.map_or(u64::MAX, |l| l.saturating_sub(start));
    if let Some(max) = state.config.max_body_size {
        allowed = allowed.min(max);
    }
    let mut file = match state.store.open_at(id, start) {
        Ok(f) => f,
        Err(e) => return end(start, WriteEnd::Io(e.to_string())),
    };
    let (mut hasher, expected) = match checksum {
        Some((h, e)) => (Some(h), Some(e)),
        None => (None, None),
    };
    let cut = state.take_cut();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut written: u64 = 0;
    // Unchecksummed bytes are recorded as they arrive, so they survive the process.
    let checkpoints = expected.is_none();
    let mut recorded: u64 = 0;
    let mut recorded_at = Instant::now();
    let gone = loop {
        let n = match req.body.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => n,
            Err(_) => break true,
        };
        let mut chunk = &buf[..n];
        if written + chunk.len() as u64 > allowed {
            let _ = state.store.truncate(id, start);
            return end(start, WriteEnd::TooLarge);
        }
        let mut cut_now = false;
        if let Some(c) = cut
            && written + chunk.len() as u64 >= c
        {
            chunk = &chunk[..usize::try_from(c - written).unwrap_or(0)];
            cut_now = true;
        }
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
        if let Err(e) = file.write_all(chunk) {
            let _ = state.store.truncate(id, start);
            return end(start, WriteEnd::Io(e.to_string()));
        }
        written += chunk.len() as u64;
        if cut_now {
            break true;
        }
        if checkpoints
            && written > recorded
            && (written - recorded >= CHECKPOINT_BYTES
                || recorded_at.elapsed() >= CHECKPOINT_INTERVAL)
        {
            // A failed checkpoint is not fatal: the end of the write records the offset.
            let _ = state.store.checkpoint(id, start + written);
            recorded = written;
            recorded_at = Instant::now();
        }
    };
    let _ = file.flush();
    drop(file);
    if gone {
        // Unverifiable bytes are not kept when a checksum was asked for.
        if expected.is_some() {
            let _ = state.store.truncate(id, start);
            return end(start, WriteEnd::Gone);
        }
        return end(start + written, WriteEnd::Gone);
    }
    if let (Some(h), Some(expected)) = (hasher, expected)
        && h.finish() != expected
    {
        let _ = state.store.truncate(id, start);
        return end(start, WriteEnd::ChecksumMismatch);
    }
    let new_offset = start + written;
    if let Err(e) = state.store.end_write(id, new_offset) {
        return WriteEnd::Io(e.to_string());
    }
    match state.store.get(id) {
        Some(rec) => WriteEnd::Done(rec),
        None => WriteEnd::Io("upload vanished".into()),
    }
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
