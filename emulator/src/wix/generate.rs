//! The two generate routes: `generate-resumable-upload-url` (a tus endpoint plus an upload
//! token) and `generate-upload-url` (a single-use simple upload URL). Both validate the
//! request like Wix does and issue a JWT-shaped token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::folders::place;
use super::media::{extension_media_types, media_type};
use super::{
    Answer, Fields, Violation, error, ok, read_json_object, simple_upload_url, validation_error,
};
use crate::http::{Request, Response};
use crate::store::{Placement, TokenKind, TokenRecord};
use crate::{State, TUS_PATH, millis, now_ms, random_hex};

/// Generate File Resumable Upload URL.
pub(crate) fn resumable(state: &State, req: &mut Request<'_>, site_id: String) -> Answer {
    let token = issue(state, req, site_id, TokenKind::Resumable)?;
    ok(&json!({
        "uploadProtocol": "TUS",
        "uploadUrl": format!("{}{}", state.base_url, TUS_PATH),
        "uploadToken": token,
    }))
}

/// Generate File Upload URL (simple upload).
pub(crate) fn simple(state: &State, req: &mut Request<'_>, site_id: String) -> Answer {
    let token = issue(state, req, site_id, TokenKind::Simple)?;
    ok(&json!({ "uploadUrl": simple_upload_url(state, &token) }))
}

/// Validates the body, places the file in its folder (made from `filePath` where missing)
/// and stores a new token of `kind`.
fn issue(
    state: &State,
    req: &mut Request<'_>,
    site_id: String,
    kind: TokenKind,
) -> Result<String, Response> {
    let v = read_json_object(req)?;
    let mut rec = validate(state, &v, site_id, kind).map_err(|bad| validation_error(&bad))?;
    place(state, &rec.site_id.clone(), &mut rec.placement)?;
    let token = rec.token.clone();
    state
        .store
        .add_token(rec)
        .map_err(|e| error(500, "INTERNAL", &format!("could not store token: {e}")))?;
    Ok(token)
}

/// `sizeInBytes`: int64 travels as a JSON string; a bare number is accepted too, as protobuf
/// JSON does.
fn size_in_bytes(v: &Value, bad: &mut Vec<Violation>) -> Option<u64> {
    match v.get("sizeInBytes") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad.push(Violation::new(
                    "sizeInBytes",
                    "FORMAT",
                    "sizeInBytes must be a non-negative decimal integer",
                ));
                None
            }
        },
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => Some(n),
            None => {
                bad.push(Violation::new(
                    "sizeInBytes",
                    "FORMAT",
                    "sizeInBytes must be a non-negative integer",
                ));
                None
            }
        },
        Some(_) => {
            bad.push(Violation::new(
                "sizeInBytes",
                "FORMAT",
                "sizeInBytes must be a string",
            ));
            None
        }
    }
}

/// Checks `mimeType` against Wix's formats and, when a file name is known, its extension.
pub(crate) fn check_mime(mime: Option<&str>, file_name: Option<&str>, bad: &mut Vec<Violation>) {
    match mime {
        None => bad.push(Violation::new(
            "mimeType",
            "REQUIRED_FIELD",
            "mimeType is required",
        )),
        Some(m) if m.chars().count() > 100 => bad.push(Violation::new(
            "mimeType",
            "MAX_LENGTH",
            "mimeType is at most 100 characters",
        )),
        Some(m) => match media_type(m) {
            None => bad.push(Violation::rule(
                "mimeType",
                "UNSUPPORTED_FILE_FORMAT",
                format!("unsupported file format: {m}"),
            )),
            Some(kind) => {
                let allowed = file_name.map_or(&[][..], extension_media_types);
                if !allowed.is_empty() && !allowed.contains(&kind) {
                    bad.push(Violation::rule(
                        "mimeType",
                        "MISMATCH_MIME_TYPE",
                        format!(
                            "mimeType {m} does not match the extension of {}",
                            file_name.unwrap_or("")
                        ),
                    ));
                }
            }
        },
    }
}

/// What a generate call asks for, once checked.
struct Asked {
    mime_type: String,
    file_name: Option<String>,
    size: Option<u64>,
    placement: Placement,
}

/// Checks the request body like Wix does; on success returns the token to issue.
fn validate(
    state: &State,
    v: &Value,
    site_id: String,
    kind: TokenKind,
) -> Result<TokenRecord, Vec<Violation>> {
    let mut f = Fields::new(v);
    let mime = f.string("mimeType");
    let file_name = f.string("fileName");
    let placement = f.placement();
    // The simple route has no protocol to choose.
    let protocol = match kind {
        TokenKind::Resumable => f.string("uploadProtocol"),
        TokenKind::Simple => None,
    };
    let mut bad = f.bad;
    let size = size_in_bytes(v, &mut bad);
    if file_name.as_ref().is_some_and(|f| f.chars().count() > 1000) {
        bad.push(Violation::new(
            "fileName",
            "MAX_LENGTH",
            "fileName is at most 1000 characters",
        ));
    }
    if protocol.as_deref().is_some_and(|p| p != "TUS") {
        bad.push(Violation::new(
            "uploadProtocol",
            "FORMAT",
            "uploadProtocol must be TUS",
        ));
    }
    check_size(size, state.config.max_file_size, &mut bad);
    check_mime(mime.as_deref(), file_name.as_deref(), &mut bad);
    match mime.filter(|_| bad.is_empty()) {
        Some(mime_type) => Ok(new_token(
            state,
            site_id,
            kind,
            Asked {
                mime_type,
                file_name,
                size,
                placement,
            },
        )),
        None => Err(bad),
    }
}

/// Wix's size rules: `ZERO_FILE_SIZE`, `FILE_SIZE_OVER_LIMIT`.
fn check_size(size: Option<u64>, limit: u64, bad: &mut Vec<Violation>) {
    if size == Some(0) {
        bad.push(Violation::rule(
            "sizeInBytes",
            "ZERO_FILE_SIZE",
            "file size must be greater than 0",
        ));
    }
    if size.is_some_and(|s| s > limit) {
        bad.push(Violation::rule(
            "sizeInBytes",
            "FILE_SIZE_OVER_LIMIT",
            format!("file size is over the limit of {limit} bytes"),
        ));
    }
}

fn new_token(state: &State, site_id: String, kind: TokenKind, asked: Asked) -> TokenRecord {
    let issued_ms = now_ms();
    let ttl = match kind {
        TokenKind::Resumable => state.config.token_ttl,
        TokenKind::Simple => state.config.upload_url_ttl,
    };
    let expires_ms = issued_ms.saturating_add(millis(ttl));
    let jti = random_hex(16);
    TokenRecord {
        token: jwt_shaped(&site_id, &jti, issued_ms, expires_ms),
        jti,
        kind,
        site_id,
        mime_type: asked.mime_type,
        // Wix keeps the first 255 characters.
        file_name: asked.file_name.map(|f| f.chars().take(255).collect()),
        size_in_bytes: asked.size,
        placement: asked.placement,
        issued_ms,
        expires_ms: Some(expires_ms),
        finalized: None,
    }
}

/// A token that looks like Wix's (a JWT); its signature is random, nothing verifies it.
fn jwt_shaped(site_id: &str, jti: &str, issued_ms: u64, expires_ms: u64) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let payload = json!({
        "iss": "urn:app:wix-media-upload-emulator",
        "sub": format!("urn:site:{site_id}"),
        "aud": "urn:service:file.upload",
        "iat": issued_ms / 1000,
        "exp": expires_ms / 1000,
        "jti": jti,
    });
    let sig = random_hex(32);
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(sig.as_bytes())
    )
}
