//! The two calls that turn uploaded bytes into a file: the resumable finalize
//! (`PUT {base}/upload/tus/<token>?filename=NAME`, body `{}`) and the simple upload
//! (`PUT {base}/upload/<token>?filename=NAME`, the raw file as body).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::descriptor::descriptor;
use super::files::{Digest, new_file_id, uploaded_file};
use super::{Violation, error, read_json_object, upload_for_token, validation_error};
use crate::http::{Outcome, Request, Response, decode_path_segment};
use crate::store::{BUF_SIZE, Claim, FileRecord, Origin, TokenKind, TokenRecord};
use crate::{State, now_ms};

/// The file name: the `filename` query, else the generate call's `fileName`.
fn file_name(req: &Request<'_>, token: &TokenRecord) -> Result<String, Response> {
    req.query_param("filename")
        .filter(|n| !n.is_empty())
        .or_else(|| token.file_name.clone())
        .ok_or_else(|| {
            validation_error(&[Violation::new(
                "filename",
                "REQUIRED_FIELD",
                "filename query parameter is required when generate had no fileName",
            )])
        })
}

/// The token a URL path segment names, with its record, when one of `kind` was issued.
fn issued(state: &State, raw_token: &str, kind: TokenKind) -> Option<(String, TokenRecord)> {
    let token = decode_path_segment(raw_token);
    let rec = state.store.token(&token).filter(|t| t.kind == kind)?;
    Some((token, rec))
}

/// `PUT {uploadUrl}/{token}?filename=NAME` with body `{}`.
pub(crate) fn finalize(state: &State, req: &mut Request<'_>, raw_token: &str) -> Response {
    let Some((token, rec)) = issued(state, raw_token, TokenKind::Resumable) else {
        return error(404, "NOT_FOUND", "upload token not found");
    };
    if rec.finalized.is_some() {
        return error(409, "ALREADY_EXISTS", "upload token was already used");
    }
    if rec.expired(now_ms()) {
        return error(401, "UNAUTHENTICATED", "upload token has expired");
    }
    let file_name = match file_name(req, &rec) {
        Ok(n) => n,
        Err(refused) => return refused,
    };
    if let Err(refused) = read_json_object(req) {
        return refused;
    }
    let Some(upload) = upload_for_token(&state.store, &token) else {
        return error(
            428,
            "FAILED_PRECONDITION",
            "no upload was created with this token",
        );
    };
    if !upload.is_complete() {
        return error(
            428,
            "FAILED_PRECONDITION",
            &format!(
                "upload is incomplete: {} of {} bytes",
                upload.offset,
                upload.length.map_or("?".into(), |l| l.to_string())
            ),
        );
    }
    let digest = match Digest::of_file(&state.store.data_path(&upload.id)) {
        Ok(d) => d,
        Err(e) => return error(500, "INTERNAL", &format!("could not read upload: {e}")),
    };
    let id = new_file_id(&rec.site_id, &rec.mime_type, &file_name);
    let file = uploaded_file(
        state,
        &rec,
        Origin::Resumable,
        id,
        &file_name,
        Some(upload.id.clone()),
        digest,
    );
    let desc = descriptor(&file, now_ms());
    match state.store.finalize_token(&token, desc.clone()) {
        Ok(true) => {}
        Ok(false) => return error(409, "ALREADY_EXISTS", "upload token was already used"),
        Err(e) => return error(500, "INTERNAL", &format!("could not store file: {e}")),
    }
    if let Err(e) = state.store.add_file(file) {
        return error(500, "INTERNAL", &format!("could not store file: {e}"));
    }
    Response::new(200).json(&json!({ "file": desc }))
}

/// `PUT {base}/upload/<token>?filename=NAME` with `Content-Type: <mime>` and the file as the
/// body, streamed to disk. The URL is single-use; a body cut short stores nothing and leaves
/// the URL unused.
pub(crate) fn simple_put(state: &State, req: &mut Request<'_>, raw_token: &str) -> Outcome {
    let Some((token, rec)) = issued(state, raw_token, TokenKind::Simple) else {
        return Outcome::Respond(error(404, "NOT_FOUND", "upload URL not found"));
    };
    if req.method != "PUT" {
        return Outcome::Respond(
            error(405, "METHOD_NOT_ALLOWED", "method not allowed").header("Allow", "PUT"),
        );
    }
    if rec.finalized.is_some() {
        return Outcome::Respond(error(409, "ALREADY_EXISTS", "upload URL was already used"));
    }
    if rec.expired(now_ms()) {
        return Outcome::Respond(error(401, "UNAUTHENTICATED", "upload URL has expired"));
    }
    let file_name = match file_name(req, &rec) {
        Ok(n) => n,
        Err(refused) => return Outcome::Respond(refused),
    };
    let limit = state.config.max_file_size;
    if req.body.content_length().is_some_and(|n| n > limit) {
        return Outcome::Respond(too_large(limit));
    }
    if !req.body.is_present() {
        return Outcome::Respond(validation_error(&[Violation::rule(
            "sizeInBytes",
            "ZERO_FILE_SIZE",
            "file size must be greater than 0",
        )]));
    }
    match state.store.claim_simple(&token) {
        Ok(()) => {}
        Err(Claim::Used) => {
            return Outcome::Respond(error(409, "ALREADY_EXISTS", "upload URL was already used"));
        }
        Err(Claim::InUse) => {
            return Outcome::Respond(error(
                409,
                "ALREADY_EXISTS",
                "another upload to this URL is in progress",
            ));
        }
    }
    let outcome = store_simple(state, req, &token, &rec, &file_name);
    state.store.release_simple(&token);
    outcome
}

fn too_large(limit: u64) -> Response {
    error(
        413,
        "INVALID_ARGUMENT",
        &format!("file is over the limit of {limit} bytes"),
    )
    .closing()
}

/// Streams the body into a new file; removes what arrived when it doesn't end well.
fn store_simple(
    state: &State,
    req: &mut Request<'_>,
    token: &str,
    rec: &TokenRecord,
    file_name: &str,
) -> Outcome {
    let id = new_file_id(&rec.site_id, &rec.mime_type, file_name);
    let part = state.store.file_part_path(&id);
    let digest = match receive(state, req, &part) {
        Ok(d) => d,
        Err(outcome) => {
            let _ = fs::remove_file(&part);
            return outcome;
        }
    };
    let done = state.store.file_data_path(&id);
    if let Err(e) = fs::rename(&part, &done) {
        let _ = fs::remove_file(&part);
        return Outcome::Respond(error(500, "INTERNAL", &e.to_string()));
    }
    let file = uploaded_file(state, rec, Origin::Simple, id, file_name, None, digest);
    match commit(state, token, file) {
        Ok(answer) => Outcome::Respond(answer),
        Err(refused) => {
            let _ = fs::remove_file(&done);
            Outcome::Respond(refused)
        }
    }
}

/// Copies the body into `part` with a fixed buffer; its digest, or the outcome that ends it.
fn receive(state: &State, req: &mut Request<'_>, part: &Path) -> Result<Digest, Outcome> {
    let mut out =
        File::create(part).map_err(|e| Outcome::Respond(error(500, "INTERNAL", &e.to_string())))?;
    let cfg = &state.config;
    let limit = cfg
        .max_body_size
        .map_or(cfg.max_file_size, |m| m.min(cfg.max_file_size));
    let cut = state.take_cut();
    let mut digest = Digest::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match req.body.read(&mut buf) {
            Ok(0) => return Ok(digest),
            Ok(n) => n,
            Err(_) => return Err(Outcome::Drop),
        };
        if digest.size + n as u64 > limit {
            return Err(Outcome::Respond(too_large(limit)));
        }
        if cut.is_some_and(|c| digest.size + n as u64 >= c) {
            // The injected network cut: the body never completes.
            return Err(Outcome::Drop);
        }
        if let Err(e) = out.write_all(&buf[..n]) {
            return Err(Outcome::Respond(error(500, "INTERNAL", &e.to_string())));
        }
        digest.update(&buf[..n]);
    }
}

/// Uses up the URL's token with the new file and stores it; the answer.
fn commit(state: &State, token: &str, file: FileRecord) -> Result<Response, Response> {
    let desc: Value = descriptor(&file, now_ms());
    match state.store.finalize_token(token, desc.clone()) {
        Ok(true) => {}
        Ok(false) => return Err(error(409, "ALREADY_EXISTS", "upload URL was already used")),
        Err(e) => return Err(error(500, "INTERNAL", &e.to_string())),
    }
    state
        .store
        .add_file(file)
        .map_err(|e| error(500, "INTERNAL", &e.to_string()))?;
    Ok(Response::new(200).json(&json!({ "file": desc })))
}
