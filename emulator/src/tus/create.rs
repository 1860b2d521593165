//! The creation `POST`: a plain upload (its length given or deferred, maybe with its first
//! bytes), a partial one, or the final concatenation of complete partial uploads.

use std::collections::BTreeMap;

use super::body::{Checksum, WriteEnd, parse_checksum, write_body};
use super::{
    Step, answer, bad_request, check_token, expires_header, fail, id_from_url, not_allowed,
    parse_metadata, parse_u64, require_octet_stream, require_resumable, tus,
};
use crate::http::{Outcome, Request};
use crate::store::{Concat, UploadRecord};
use crate::{EmulatorConfig, State, TusExtension, millis, now_ms, random_hex};

/// `Upload-Metadata`, decoded and as sent.
struct Metadata {
    values: BTreeMap<String, Option<String>>,
    raw: Option<String>,
}

impl Metadata {
    fn of(req: &Request<'_>) -> Step<Metadata> {
        let raw = req.header("Upload-Metadata").map(str::to_string);
        let values = match raw.as_deref().map(parse_metadata).transpose() {
            Ok(m) => m.unwrap_or_default(),
            Err(e) => return Err(bad_request(&e)),
        };
        Ok(Metadata { values, raw })
    }

    /// The Wix upload token (key `token`), if any.
    fn token(&self) -> Option<String> {
        self.values.get("token").cloned().flatten()
    }
}

fn missing_token() -> Outcome {
    fail(
        401,
        "UNAUTHENTICATED",
        "Upload-Metadata must carry the upload token (key `token`)",
    )
}

/// The creation POST (also final concatenation).
pub(super) fn create(state: &State, req: &mut Request<'_>) -> Outcome {
    answer(creation(state, req))
}

fn creation(state: &State, req: &mut Request<'_>) -> Step<Outcome> {
    require_resumable(req)?;
    let cfg = &state.config;
    if !cfg.has(TusExtension::Creation) {
        return Err(not_allowed("OPTIONS"));
    }
    let concat = concat_of(cfg, req)?;
    let metadata = Metadata::of(req)?;
    let length = parse_u64(req, "Upload-Length")?;
    let defer = req.header("Upload-Defer-Length");
    if let Concat::Final(parts) = concat {
        if length.is_some() || defer.is_some() {
            return Err(bad_request("a final upload takes no Upload-Length"));
        }
        return create_final(state, metadata, parts);
    }
    let length = declared_length(cfg, length, defer)?;
    let token = metadata.token().ok_or_else(missing_token)?;
    check_token(state, &token)?;
    let with_body = req.body.is_present() && cfg.has(TusExtension::CreationWithUpload);
    let checksum = if with_body {
        check_first_bytes(state, req, length)?
    } else {
        None
    };
    let rec = new_upload(cfg, metadata, token, length, concat);
    let id = rec.id.clone();
    if let Err(e) = state.store.create(rec) {
        return Err(fail(
            500,
            "INTERNAL",
            &format!("could not create upload: {e}"),
        ));
    }
    if with_body {
        Ok(write_first_bytes(state, req, &id, checksum))
    } else {
        let rec = state
            .store
            .get(&id)
            .ok_or_else(|| fail(500, "INTERNAL", "upload vanished"))?;
        let created = tus(201).header("Location", state.upload_url(&id));
        Ok(Outcome::Respond(expires_header(created, &rec)))
    }
}

/// `Upload-Concat`: none, `partial`, or `final;<upload URLs>`.
fn concat_of(cfg: &EmulatorConfig, req: &Request<'_>) -> Step<Concat> {
    let Some(value) = req.header("Upload-Concat") else {
        return Ok(Concat::None);
    };
    if !cfg.has(TusExtension::Concatenation) {
        return Err(fail(501, "UNIMPLEMENTED", "concatenation is not supported"));
    }
    if value == "partial" {
        return Ok(Concat::Partial);
    }
    let Some(list) = value.strip_prefix("final;") else {
        return Err(bad_request("Upload-Concat must be partial or final;<urls>"));
    };
    let mut ids = Vec::new();
    for url in list.split_whitespace() {
        match id_from_url(url) {
            Some(id) => ids.push(id.to_string()),
            None => return Err(bad_request(&format!("{url} is not an upload URL here"))),
        }
    }
    if ids.is_empty() {
        return Err(bad_request(
            "Upload-Concat: final needs at least one upload URL",
        ));
    }
    Ok(Concat::Final(ids))
}

/// The length from `Upload-Length` or `Upload-Defer-Length: 1` (`None`: deferred).
fn declared_length(
    cfg: &EmulatorConfig,
    length: Option<u64>,
    defer: Option<&str>,
) -> Step<Option<u64>> {
    let deferrable = cfg.has(TusExtension::CreationDeferLength);
    let length = match (length, defer) {
        (Some(_), Some(_)) => {
            return Err(bad_request(
                "send Upload-Length or Upload-Defer-Length, not both",
            ));
        }
        (Some(l), None) => Some(l),
        (None, Some("1")) if deferrable => None,
        (None, Some(_)) if deferrable => return Err(bad_request("Upload-Defer-Length must be 1")),
        _ => return Err(bad_request("Upload-Length is required")),
    };
    if length.is_some_and(|l| l > cfg.max_file_size) {
        return Err(fail(
            413,
            "INVALID_ARGUMENT",
            "Upload-Length is over Tus-Max-Size",
        ));
    }
    Ok(length)
}

/// Checks the head of a creation that carries the first bytes; their checksum, if asked.
fn check_first_bytes(
    state: &State,
    req: &Request<'_>,
    length: Option<u64>,
) -> Step<Option<Checksum>> {
    require_octet_stream(req)?;
    if let (Some(l), Some(cl)) = (length, req.body.content_length())
        && cl > l
    {
        return Err(fail(
            413,
            "INVALID_ARGUMENT",
            "body is longer than Upload-Length",
        ));
    }
    parse_checksum(state, req)
}

fn new_upload(
    cfg: &EmulatorConfig,
    metadata: Metadata,
    token: String,
    length: Option<u64>,
    concat: Concat,
) -> UploadRecord {
    let now = now_ms();
    UploadRecord {
        id: random_hex(16),
        length,
        offset: 0,
        metadata: metadata.values,
        raw_metadata: metadata.raw,
        token: Some(token),
        concat,
        created_ms: now,
        expires_ms: cfg
            .has(TusExtension::Expiration)
            .then(|| now.saturating_add(millis(cfg.expiration))),
        unverified_from: None,
    }
}

/// Streams the creation's body into the new upload `id`.
fn write_first_bytes(
    state: &State,
    req: &mut Request<'_>,
    id: &str,
    checksum: Option<Checksum>,
) -> Outcome {
    let rec = match state.store.begin_write(id, checksum.is_some()) {
        Ok(rec) => rec,
        Err(_) => return fail(500, "INTERNAL", "upload vanished"),
    };
    match write_body(state, req, &rec, checksum) {
        WriteEnd::Done(rec) => Outcome::Respond(expires_header(
            tus(201)
                .header("Location", state.upload_url(id))
                .header("Upload-Offset", rec.offset.to_string()),
            &rec,
        )),
        // The client never learns this upload's URL: don't leave it behind.
        WriteEnd::ChecksumMismatch => {
            state.store.remove(id);
            fail(
                460,
                "INVALID_ARGUMENT",
                "Upload-Checksum does not match the body",
            )
        }
        WriteEnd::TooLarge => {
            state.store.remove(id);
            fail(413, "INVALID_ARGUMENT", "body is longer than allowed")
        }
        WriteEnd::Gone => Outcome::Drop,
        WriteEnd::Io(e) => fail(500, "INTERNAL", &e),
    }
}

/// A final upload: the concatenation of complete partial uploads of one token.
fn create_final(state: &State, metadata: Metadata, parts: Vec<String>) -> Step<Outcome> {
    let (total, tokens) = complete_parts(state, &parts)?;
    if total > state.config.max_file_size {
        return Err(fail(
            413,
            "INVALID_ARGUMENT",
            "final upload is over Tus-Max-Size",
        ));
    }
    let token = final_token(metadata.token(), &tokens)?;
    check_token(state, &token)?;
    let rec = UploadRecord {
        id: random_hex(16),
        length: Some(total),
        offset: total,
        metadata: metadata.values,
        raw_metadata: metadata.raw,
        token: Some(token),
        concat: Concat::Final(parts.clone()),
        created_ms: now_ms(),
        expires_ms: None,
        unverified_from: None,
    };
    let id = rec.id.clone();
    if let Err(e) = state.store.create_final(rec, &parts) {
        return Err(fail(
            500,
            "INTERNAL",
            &format!("could not concatenate: {e}"),
        ));
    }
    Ok(Outcome::Respond(
        tus(201)
            .header("Location", state.upload_url(&id))
            .header("Upload-Offset", total.to_string()),
    ))
}

/// The total length of `parts`, which must all be complete partial uploads, and the tokens
/// they were created with.
fn complete_parts(state: &State, parts: &[String]) -> Step<(u64, Vec<String>)> {
    let mut total: u64 = 0;
    let mut tokens = Vec::new();
    for id in parts {
        let Some(p) = state.store.get(id) else {
            return Err(bad_request(&format!("partial upload {id} does not exist")));
        };
        if p.concat != Concat::Partial {
            return Err(bad_request(&format!("upload {id} is not a partial upload")));
        }
        if !p.is_complete() {
            return Err(bad_request(&format!("partial upload {id} is not complete")));
        }
        total = total.saturating_add(p.offset);
        if let Some(t) = p.token
            && !tokens.contains(&t)
        {
            tokens.push(t);
        }
    }
    Ok((total, tokens))
}

/// The final upload's token: from its own metadata, else inherited from the partials; all
/// must agree.
fn final_token(own: Option<String>, partials: &[String]) -> Step<String> {
    match (own, partials) {
        (Some(t), ts) if ts.iter().all(|x| *x == t) => Ok(t),
        (Some(_), _) => Err(bad_request(
            "partial uploads belong to another upload token",
        )),
        (None, [t]) => Ok(t.clone()),
        (None, []) => Err(missing_token()),
        (None, _) => Err(bad_request(
            "partial uploads belong to different upload tokens",
        )),
    }
}
