//! The Wix side: the generate-resumable-upload-url endpoint, finalize, Wix-shaped errors and
//! the `FileDescriptor` built from the stored bytes.

use std::fs::File;
use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::{Digest as _, Md5};
use serde_json::{Value, json};

use super::http::{Request, Response};
use super::store::{BUF_SIZE, Concat, Store, TokenRecord, UploadRecord};
use super::{State, TUS_PATH, now_ms, random_hex, rfc3339};

/// Tokens are valid about 7 days (from decoded real tokens).
const TOKEN_LIFETIME_MS: u64 = 7 * 24 * 60 * 60 * 1000;
const MAX_JSON_BODY: usize = 1024 * 1024;

/// A Wix application error: `{"message", "details": {"applicationError": {...}}}`.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Response {
    Response::new(status).json(&json!({
        "message": message,
        "details": {"applicationError": {"code": code, "description": message, "data": {}}}
    }))
}

struct Violation {
    field: &'static str,
    description: String,
    violated_rule: &'static str,
    rule_name: &'static str,
}

impl Violation {
    fn new(field: &'static str, rule: &'static str, description: impl Into<String>) -> Self {
        Violation {
            field,
            description: description.into(),
            violated_rule: rule,
            rule_name: rule,
        }
    }

    /// A business rule: Wix reports these as `violatedRule: OTHER` plus a `ruleName`.
    fn rule(field: &'static str, rule_name: &'static str, description: impl Into<String>) -> Self {
        Violation {
            field,
            description: description.into(),
            violated_rule: "OTHER",
            rule_name,
        }
    }
}

/// HTTP 400 INVALID_ARGUMENT with a `validationError`.
fn validation_error(violations: &[Violation]) -> Response {
    let message = violations
        .first()
        .map(|v| v.description.clone())
        .unwrap_or_else(|| "invalid argument".into());
    let list: Vec<Value> = violations
        .iter()
        .map(|v| {
            json!({
                "field": v.field,
                "description": v.description,
                "violatedRule": v.violated_rule,
                "ruleName": v.rule_name,
                "data": {}
            })
        })
        .collect();
    Response::new(400).json(&json!({
        "message": message,
        "details": {"validationError": {"fieldViolations": list}}
    }))
}

/// `type/subtype` of a MIME type, lowercased, without parameters.
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The Wix media type of a MIME type, or `None` when Wix doesn't take such files.
fn media_type(mime: &str) -> Option<&'static str> {
    let m = essence(mime);
    let (top, sub) = m.split_once('/')?;
    if sub.is_empty() {
        return None;
    }
    Some(match (top, sub) {
        ("image", "svg+xml") => "VECTOR",
        ("image", _) => "IMAGE",
        ("video", _) => "VIDEO",
        ("audio", _) => "AUDIO",
        ("model", _) => "MODEL3D",
        // Active content is not a document.
        ("text", "html" | "javascript" | "xml") => return None,
        ("text", _) => "DOCUMENT",
        ("application", "pdf" | "msword" | "rtf" | "vnd.ms-excel" | "vnd.ms-powerpoint") => {
            "DOCUMENT"
        }
        ("application", s)
            if s.starts_with("vnd.openxmlformats-officedocument.")
                || s.starts_with("vnd.oasis.opendocument.") =>
        {
            "DOCUMENT"
        }
        (
            "application",
            "zip" | "x-zip-compressed" | "vnd.rar" | "x-rar-compressed" | "x-7z-compressed"
            | "gzip" | "x-tar",
        ) => "ARCHIVE",
        // Generic binaries are kept as OTHER; executables are refused below.
        ("font", _) | ("application", "octet-stream") => "OTHER",
        _ => return None,
    })
}

/// The media types a file-name extension may stand for (empty when unknown).
fn extension_media_types(file_name: &str) -> &'static [&'static str] {
    let Some((_, ext)) = file_name.rsplit_once('.') else {
        return &[];
    };
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jpe" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff" | "ico"
        | "heic" | "heif" | "avif" => &["IMAGE"],
        "svg" => &["VECTOR"],
        "mp4" | "mov" | "avi" | "wmv" | "mpeg" | "mpg" | "m4v" | "flv" | "3gp" | "mkv" | "mts" => {
            &["VIDEO"]
        }
        "webm" | "ogg" => &["VIDEO", "AUDIO"],
        "mp3" | "wav" | "aac" | "flac" | "m4a" | "oga" | "wma" | "aif" | "aiff" | "opus" => {
            &["AUDIO"]
        }
        "pdf" | "doc" | "docx" | "xls" | "xlsx" | "ppt" | "pptx" | "odt" | "ods" | "odp"
        | "txt" | "rtf" | "csv" => &["DOCUMENT"],
        "zip" | "rar" | "7z" | "gz" | "tar" => &["ARCHIVE"],
        "glb" | "gltf" | "obj" | "fbx" | "stl" | "usdz" => &["MODEL3D"],
        "ttf" | "otf" | "woff" | "woff2" => &["OTHER"],
        _ => &[],
    }
}

/// Generate File Resumable Upload URL.
pub(crate) fn generate(state: &State, req: &mut Request<'_>) -> Response {
    if req.header("Authorization").is_none_or(str::is_empty) {
        return error(401, "UNAUTHENTICATED", "missing Authorization header");
    }
    let site = req.header("wix-site-id").filter(|s| !s.is_empty());
    let account = req.header("wix-account-id").filter(|s| !s.is_empty());
    if site.is_some() && account.is_some() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "send either wix-site-id or wix-account-id, not both",
        );
    }
    let Some(site_id) = site.map(str::to_string) else {
        return error(
            403,
            "PERMISSION_DENIED",
            "this call needs a wix-site-id header (site-level permission MANAGE MEDIA MANAGER)",
        );
    };
    let body = match req.body.read_small(MAX_JSON_BODY) {
        Ok(Some(b)) => b,
        Ok(None) => return error(413, "INVALID_ARGUMENT", "request body too large"),
        Err(_) => return error(400, "INVALID_ARGUMENT", "could not read request body"),
    };
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return error(400, "INVALID_ARGUMENT", "request body is not a JSON object"),
        }
    };
    let rec = match validate(state, &v, site_id) {
        Ok(rec) => rec,
        Err(violations) => return validation_error(&violations),
    };
    let token = rec.token.clone();
    if let Err(e) = state.store.add_token(rec) {
        return error(500, "INTERNAL", &format!("could not store token: {e}"));
    }
    Response::new(200).json(&json!({
        "uploadProtocol": "TUS",
        "uploadUrl": format!("{}{}", state.base_url, TUS_PATH),
        "uploadToken": token,
    }))
}

/// Checks the request body like Wix does; on success returns the token to issue.
fn validate(state: &State, v: &Value, site_id: String) -> Result<TokenRecord, Vec<Violation>> {
    let mut bad = Vec::new();
    let string = |field: &'static str, bad: &mut Vec<Violation>| match v.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            bad.push(Violation::new(
                field,
                "FORMAT",
                format!("{field} must be a string"),
            ));
            None
        }
    };
    let mime = string("mimeType", &mut bad);
    let file_name = string("fileName", &mut bad);
    let parent = string("parentFolderId", &mut bad);
    let file_path = string("filePath", &mut bad);
    let protocol = string("uploadProtocol", &mut bad);
    // int64 travels as a JSON string; a bare number is accepted too, as protobuf JSON does.
    let size = match v.get("sizeInBytes") {
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
    };
    let private = match v.get("private") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            bad.push(Violation::new(
                "private",
                "FORMAT",
                "private must be a boolean",
            ));
            false
        }
    };
    let mut labels = Vec::new();
    match v.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > 500 {
                bad.push(Violation::new("labels", "MAX_SIZE", "at most 500 labels"));
            }
            for item in items {
                match item {
                    Value::String(s) if s.chars().count() <= 200 => labels.push(s.clone()),
                    Value::String(_) => bad.push(Violation::new(
                        "labels",
                        "MAX_LENGTH",
                        "a label is at most 200 characters",
                    )),
                    _ => bad.push(Violation::new("labels", "FORMAT", "labels must be strings")),
                }
            }
        }
        Some(_) => bad.push(Violation::new(
            "labels",
            "FORMAT",
            "labels must be an array",
        )),
    }

    match &mime {
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
        Some(_) => {}
    }
    if file_name.as_ref().is_some_and(|f| f.chars().count() > 1000) {
        bad.push(Violation::new(
            "fileName",
            "MAX_LENGTH",
            "fileName is at most 1000 characters",
        ));
    }
    if file_path.as_ref().is_some_and(|f| f.chars().count() > 100) {
        bad.push(Violation::new(
            "filePath",
            "MAX_LENGTH",
            "filePath is at most 100 characters",
        ));
    }
    if protocol.as_deref().is_some_and(|p| p != "TUS") {
        bad.push(Violation::new(
            "uploadProtocol",
            "FORMAT",
            "uploadProtocol must be TUS",
        ));
    }
    if size == Some(0) {
        bad.push(Violation::rule(
            "sizeInBytes",
            "ZERO_FILE_SIZE",
            "file size must be greater than 0",
        ));
    }
    let limit = state.config.max_file_size;
    if size.is_some_and(|s| s > limit) {
        bad.push(Violation::rule(
            "sizeInBytes",
            "FILE_SIZE_OVER_LIMIT",
            format!("file size is over the limit of {limit} bytes"),
        ));
    }
    if let Some(m) = mime.as_deref().filter(|m| m.chars().count() <= 100) {
        match media_type(m) {
            None => bad.push(Violation::rule(
                "mimeType",
                "UNSUPPORTED_FILE_FORMAT",
                format!("unsupported file format: {m}"),
            )),
            Some(kind) => {
                let allowed = file_name.as_deref().map_or(&[][..], extension_media_types);
                if !allowed.is_empty() && !allowed.contains(&kind) {
                    bad.push(Violation::rule(
                        "mimeType",
                        "MISMATCH_MIME_TYPE",
                        format!(
                            "mimeType {m} does not match the extension of {}",
                            file_name.as_deref().unwrap_or("")
                        ),
                    ));
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    let issued_ms = now_ms();
    let jti = random_hex(16);
    let token = jwt_shaped(&site_id, &jti, issued_ms);
    Ok(TokenRecord {
        token,
        jti,
        site_id,
        mime_type: mime.unwrap_or_default(),
        // Wix keeps the first 255 characters.
        file_name: file_name.map(|f| f.chars().take(255).collect()),
        size_in_bytes: size,
        parent_folder_id: parent
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "media-root".into()),
        private,
        labels,
        file_path,
        issued_ms,
        finalized: None,
    })
}

/// A token that looks like Wix's (a JWT); its signature is random, nothing verifies it.
fn jwt_shaped(site_id: &str, jti: &str, issued_ms: u64) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let payload = json!({
        "iss": "urn:app:wix-media-upload-emulator",
        "sub": format!("urn:site:{site_id}"),
        "aud": "urn:service:file.upload",
        "iat": issued_ms / 1000,
        "exp": (issued_ms + TOKEN_LIFETIME_MS) / 1000,
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

/// The upload a finalize of `token` uses: the newest final (concatenated) upload, else the
/// newest plain one. Partial uploads alone don't count.
pub(crate) fn upload_for_token(store: &Store, token: &str) -> Option<UploadRecord> {
    let mine: Vec<UploadRecord> = store
        .all()
        .into_iter()
        .filter(|u| u.token.as_deref() == Some(token))
        .collect();
    let newest_final = mine
        .iter()
        .rev()
        .find(|u| matches!(u.concat, Concat::Final(_)));
    newest_final
        .or_else(|| mine.iter().rev().find(|u| u.concat == Concat::None))
        .cloned()
}

/// Decodes a query component (`%XX`, and `+` as a space like form encoding).
fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `PUT {uploadUrl}/{token}?filename=NAME` with body `{}`.
pub(crate) fn finalize(state: &State, req: &mut Request<'_>, raw_token: &str) -> Response {
    let token = decode_component(raw_token);
    let Some(rec) = state.store.token(&token) else {
        return error(404, "NOT_FOUND", "upload token not found");
    };
    if rec.finalized.is_some() {
        return error(409, "ALREADY_EXISTS", "upload token was already used");
    }
    let query_name = req.query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k) == "filename").then(|| decode_component(v))
    });
    let Some(file_name) = query_name
        .filter(|n| !n.is_empty())
        .or_else(|| rec.file_name.clone())
    else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "filename query parameter is required when generate had no fileName",
        );
    };
    match req.body.read_small(MAX_JSON_BODY) {
        Ok(Some(b)) if b.iter().all(u8::is_ascii_whitespace) => {}
        Ok(Some(b)) => {
            if !matches!(serde_json::from_slice(&b), Ok(Value::Object(_))) {
                return error(400, "INVALID_ARGUMENT", "body must be a JSON object");
            }
        }
        Ok(None) => return error(413, "INVALID_ARGUMENT", "request body too large"),
        Err(_) => return error(400, "INVALID_ARGUMENT", "could not read request body"),
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
    let path = state.store.data_path(&upload.id);
    let (hash, head) = match md5_and_head(&path) {
        Ok(x) => x,
        Err(e) => return error(500, "INTERNAL", &format!("could not read upload: {e}")),
    };
    let file = descriptor(&rec, &file_name, upload.offset, &hash, &head);
    match state.store.finalize_token(&token, file.clone()) {
        Ok(true) => Response::new(200).json(&json!({ "file": file })),
        Ok(false) => error(409, "ALREADY_EXISTS", "upload token was already used"),
        Err(e) => error(500, "INTERNAL", &format!("could not store file: {e}")),
    }
}

/// MD5 (hex) of a file, read with a fixed buffer, plus its first bytes for image sizes.
fn md5_and_head(path: &std::path::Path) -> std::io::Result<(String, Vec<u8>)> {
    let mut f = File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut head = Vec::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head.len() < 32 {
            let take = (32 - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
    }
    let hash = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hash, head))
}

/// Width and height from a PNG or GIF header; (0, 0) for anything else.
fn image_size(head: &[u8]) -> (u32, u32) {
    if head.len() >= 24 && head.starts_with(b"\x89PNG\r\n\x1a\n") && &head[12..16] == b"IHDR" {
        let be = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        return (be(16), be(20));
    }
    if head.len() >= 10 && (head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) {
        let le = |i: usize| u32::from(u16::from_le_bytes([head[i], head[i + 1]]));
        return (le(6), le(8));
    }
    (0, 0)
}

/// The extension Wix puts on a media id: from the MIME type, else from the file name.
fn id_extension(mime: &str, file_name: &str) -> String {
    let m = essence(mime);
    let from_mime = match m.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("jpeg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        "image/svg+xml" => Some("svg"),
        "video/mp4" => Some("mp4"),
        "video/quicktime" => Some("mov"),
        "audio/mpeg" => Some("mp3"),
        "application/pdf" => Some("pdf"),
        "application/zip" => Some("zip"),
        "text/plain" => Some("txt"),
        _ => None,
    };
    if let Some(ext) = from_mime {
        return ext.to_string();
    }
    file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

/// A stable 6-hex-digit owner prefix for a site, like Wix's `2acbb8_`.
fn owner_prefix(site_id: &str) -> String {
    // FNV-1a: stable across runs, unlike std's randomly keyed hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in site_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", h & 0x00ff_ffff)
}

/// The `FileDescriptor` for a finalized upload.
fn descriptor(rec: &TokenRecord, file_name: &str, size: u64, hash: &str, head: &[u8]) -> Value {
    let kind = media_type(&rec.mime_type).unwrap_or("OTHER");
    let id = format!(
        "{}_{}~mv2.{}",
        owner_prefix(&rec.site_id),
        random_hex(16),
        id_extension(&rec.mime_type, file_name)
    );
    let url = format!("https://static.wixstatic.com/media/{id}");
    let size_s = size.to_string();
    let now = rfc3339(now_ms());
    let url_expires = rfc3339(now_ms() + 24 * 60 * 60 * 1000);
    let (width, height) = image_size(head);
    let image = || {
        json!({
            "image": {"id": id, "url": url, "height": height, "width": width,
                      "altText": null, "filename": file_name, "sizeInBytes": size_s},
            "colors": null, "faces": [], "previewImage": null
        })
    };
    let media = match kind {
        "IMAGE" => json!({ "image": image() }),
        "VECTOR" => json!({ "vector": image() }),
        "VIDEO" => json!({"video": {"id": id, "filename": file_name, "resolutions": [
            {"url": url, "height": 0, "width": 0, "format": id_extension(&rec.mime_type, file_name)}
        ]}}),
        "AUDIO" => json!({"audio": {"id": id, "assets": [], "bitrate": null,
            "format": id_extension(&rec.mime_type, file_name), "duration": null,
            "sizeInBytes": size_s}}),
        "DOCUMENT" => json!({"document": {"id": id, "url": url, "filename": file_name}}),
        "ARCHIVE" => json!({"archive": {"id": id, "url": url, "urlExpirationDate": url_expires,
            "sizeInBytes": size_s, "filename": file_name}}),
        "MODEL3D" => json!({"model3d": {"id": id, "url": url, "thumbnail": null, "altText": null,
            "urlExpirationDate": url_expires, "filename": file_name, "sizeInBytes": size_s}}),
        _ => json!({}),
    };
    let thumbnail = matches!(kind, "IMAGE" | "VECTOR").then(|| url.clone());
    json!({
        "id": id,
        "displayName": file_name,
        "url": url,
        "parentFolderId": rec.parent_folder_id,
        "hash": hash,
        "sizeInBytes": size_s,
        "private": rec.private,
        "mediaType": kind,
        "media": media,
        "operationStatus": "READY",
        "sourceUrl": null,
        "thumbnailUrl": thumbnail,
        "labels": rec.labels,
        "createdDate": now,
        "updatedDate": now,
        "siteId": rec.site_id,
        "state": "OK",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_follow_the_mime_family() {
        assert_eq!(media_type("image/png"), Some("IMAGE"));
        assert_eq!(media_type("image/svg+xml"), Some("VECTOR"));
        assert_eq!(media_type("video/mp4"), Some("VIDEO"));
        assert_eq!(media_type("audio/mpeg"), Some("AUDIO"));
        assert_eq!(media_type("application/pdf"), Some("DOCUMENT"));
        assert_eq!(media_type("text/plain; charset=utf-8"), Some("DOCUMENT"));
        assert_eq!(media_type("application/zip"), Some("ARCHIVE"));
        assert_eq!(media_type("model/gltf-binary"), Some("MODEL3D"));
        assert_eq!(media_type("application/x-msdownload"), None);
        assert_eq!(media_type("nonsense"), None);
    }

    #[test]
    fn extension_mismatch_is_by_family() {
        assert_eq!(extension_media_types("a.PNG"), &["IMAGE"]);
        assert!(extension_media_types("noext").is_empty());
        assert!(extension_media_types("a.weird").is_empty());
    }

    #[test]
    fn png_and_gif_sizes_are_read() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&370u32.to_be_bytes());
        png.extend_from_slice(&226u32.to_be_bytes());
        assert_eq!(image_size(&png), (370, 226));
        assert_eq!(image_size(b"GIF89a\x02\x00\x03\x00"), (2, 3));
        assert_eq!(image_size(b"junk"), (0, 0));
    }

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(decode_component("my%20file+1.png"), "my file 1.png");
        assert_eq!(decode_component("%E2%9C%93.txt"), "\u{2713}.txt");
    }
}
