//! The Wix side: the REST routes under `/site-media/v1/files` (with Wix's authentication,
//! site check and rate limit), the upload routes that end in a file (finalize, simple
//! upload), imports, and the Wix-shaped errors and `FileDescriptor`s.
//!
//! - [`generate`]: generate-resumable-upload-url and generate-upload-url;
//! - [`upload`]: the resumable finalize and the simple upload `PUT`;
//! - [`import`]: the import route and its background fetch;
//! - [`files`]: file records, descriptors, processing, and the read routes;
//! - [`media`]: MIME types, extensions and media types.

pub(crate) mod files;
pub(crate) mod generate;
pub(crate) mod import;
pub(crate) mod media;
pub(crate) mod upload;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::http::{Request, Response, decode_path_segment, lock};
use super::store::{Concat, Placement, Store, UploadRecord};
use super::{FILES_PATH, State, UPLOAD_PREFIX};

/// Largest JSON body a REST call may carry.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// A REST route under `/site-media/`.
pub(crate) enum RestRoute {
    GenerateResumable,
    GenerateSimple,
    Import,
    GetFileById,
    GetFiles,
    /// `GET /site-media/v1/files/{id}`.
    GetFile(String),
    Unknown,
}

impl RestRoute {
    pub fn of(path: &str) -> RestRoute {
        let Some(rest) = path.strip_prefix(FILES_PATH) else {
            return RestRoute::Unknown;
        };
        match rest.trim_end_matches('/') {
            "/generate-resumable-upload-url" => RestRoute::GenerateResumable,
            "/generate-upload-url" => RestRoute::GenerateSimple,
            "/import" => RestRoute::Import,
            "/get-file-by-id" => RestRoute::GetFileById,
            "/get-files" => RestRoute::GetFiles,
            other => match other.strip_prefix('/') {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    RestRoute::GetFile(decode_path_segment(id))
                }
                _ => RestRoute::Unknown,
            },
        }
    }

    /// The route's name in [`Emulator::route_counts`](super::Emulator::route_counts).
    pub fn name(&self) -> &'static str {
        match self {
            RestRoute::GenerateResumable => "generate-resumable-upload-url",
            RestRoute::GenerateSimple => "generate-upload-url",
            RestRoute::Import => "import",
            RestRoute::GetFileById => "get-file-by-id",
            RestRoute::GetFiles => "get-files",
            RestRoute::GetFile(_) => "get-file",
            RestRoute::Unknown => "unknown",
        }
    }

    fn method(&self) -> &'static str {
        match self {
            RestRoute::GetFileById | RestRoute::GetFile(_) => "GET",
            _ => "POST",
        }
    }
}

/// A REST call: rate limit, route and method, authentication, then the route itself.
pub(crate) fn rest(state: &Arc<State>, req: &mut Request<'_>, route: &RestRoute) -> Response {
    if let Some(refused) = rate_limited(state) {
        return refused;
    }
    if matches!(route, RestRoute::Unknown) {
        return error(404, "NOT_FOUND", "no such route");
    }
    if req.method != route.method() {
        return error(405, "METHOD_NOT_ALLOWED", "method not allowed")
            .header("Allow", route.method());
    }
    let site_id = match authenticate(state, req) {
        Ok(site) => site,
        Err(refused) => return refused,
    };
    match route {
        RestRoute::GenerateResumable => generate::resumable(state, req, site_id),
        RestRoute::GenerateSimple => generate::simple(state, req, site_id),
        RestRoute::Import => import::start(state, req, site_id),
        RestRoute::GetFileById => files::get_file_by_id(state, req, &site_id),
        RestRoute::GetFile(id) => files::get_file(state, id, &site_id),
        RestRoute::GetFiles => files::get_files(state, req, &site_id),
        RestRoute::Unknown => error(404, "NOT_FOUND", "no such route"),
    }
}

/// 429 past the configured rate; calls let through are remembered for one window.
fn rate_limited(state: &State) -> Option<Response> {
    let limit = state.config.rate_limit?;
    let now = Instant::now();
    let mut hits = lock(&state.rate);
    while hits
        .front()
        .is_some_and(|t| now.duration_since(*t) >= limit.window)
    {
        hits.pop_front();
    }
    if hits.len() < limit.calls as usize {
        hits.push_back(now);
        return None;
    }
    let wait = hits.front().map_or(limit.window, |t| {
        limit.window.saturating_sub(now.duration_since(*t))
    });
    let mut resp = error(
        429,
        "RESOURCE_EXHAUSTED",
        "rate limit exceeded: too many requests",
    );
    if state.config.retry_after {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        resp = resp.header("Retry-After", secs.max(1).to_string());
    }
    Some(resp)
}

/// Wix's header rules; the site id on success.
fn authenticate(state: &State, req: &Request<'_>) -> Result<String, Response> {
    if req.header("Authorization").is_none_or(str::is_empty) {
        return Err(error(
            401,
            "UNAUTHENTICATED",
            "missing Authorization header",
        ));
    }
    let site = req.header("wix-site-id").filter(|s| !s.is_empty());
    let account = req.header("wix-account-id").filter(|s| !s.is_empty());
    if site.is_some() && account.is_some() {
        return Err(error(
            400,
            "INVALID_ARGUMENT",
            "send either wix-site-id or wix-account-id, not both",
        ));
    }
    let Some(site) = site else {
        return Err(error(
            403,
            "PERMISSION_DENIED",
            "this call needs a wix-site-id header (site-level permission MANAGE MEDIA MANAGER)",
        ));
    };
    if state.config.site_id.as_deref().is_some_and(|s| s != site) {
        return Err(forbidden_html());
    }
    Ok(site.to_string())
}

/// What Wix answers a wrong site id or a key without the Media Manager permission.
fn forbidden_html() -> Response {
    Response::new(403).html(
        "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\
         <body><h1>403 Forbidden</h1><p>You don't have permission to access this resource.</p>\
         </body></html>\n",
    )
}

/// A Wix application error: `{"message", "details": {"applicationError": {...}}}`.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Response {
    Response::new(status).json(&json!({
        "message": message,
        "details": {"applicationError": {"code": code, "description": message, "data": {}}}
    }))
}

/// One field violation of a 400 `validationError`.
pub(crate) struct Violation {
    field: &'static str,
    description: String,
    violated_rule: &'static str,
    rule_name: &'static str,
}

impl Violation {
    pub fn new(field: &'static str, rule: &'static str, description: impl Into<String>) -> Self {
        Violation {
            field,
            description: description.into(),
            violated_rule: rule,
            rule_name: rule,
        }
    }

    /// A business rule: Wix reports these as `violatedRule: OTHER` plus a `ruleName`.
    pub fn rule(
        field: &'static str,
        rule_name: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Violation {
            field,
            description: description.into(),
            violated_rule: "OTHER",
            rule_name,
        }
    }
}

/// HTTP 400 INVALID_ARGUMENT with a `validationError`.
pub(crate) fn validation_error(violations: &[Violation]) -> Response {
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

/// The JSON object a REST body carries; an empty body counts as `{}`.
pub(crate) fn read_json_object(req: &mut Request<'_>) -> Result<Value, Response> {
    let body = match req.body.read_small(MAX_JSON_BODY) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(error(413, "INVALID_ARGUMENT", "request body too large").closing()),
        Err(_) => {
            return Err(error(
                400,
                "INVALID_ARGUMENT",
                "could not read request body",
            ));
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(error(
            400,
            "INVALID_ARGUMENT",
            "request body is not a JSON object",
        )),
    }
}

/// Reads typed optional fields of a JSON object, collecting violations.
pub(crate) struct Fields<'a> {
    v: &'a Value,
    pub bad: Vec<Violation>,
}

impl<'a> Fields<'a> {
    pub fn new(v: &'a Value) -> Self {
        Fields { v, bad: Vec::new() }
    }

    /// `parentFolderId` (default `media-root`), `filePath`, `private`, `labels`, `externalInfo`.
    pub fn placement(&mut self) -> Placement {
        let parent = self.string("parentFolderId");
        Placement {
            parent_folder_id: folder_or_root(parent),
            file_path: self.file_path(),
            private: self.boolean("private"),
            labels: self.labels(),
            external_info: self.external_info(),
        }
    }

    pub fn string(&mut self, field: &'static str) -> Option<String> {
        match self.v.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad.push(Violation::new(
                    field,
                    "FORMAT",
                    format!("{field} must be a string"),
                ));
                None
            }
        }
    }

    pub fn boolean(&mut self, field: &'static str) -> bool {
        match self.v.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.bad.push(Violation::new(
                    field,
                    "FORMAT",
                    format!("{field} must be a boolean"),
                ));
                false
            }
        }
    }

    /// `labels`: at most 500 strings of at most 200 characters.
    pub fn labels(&mut self) -> Vec<String> {
        let mut labels = Vec::new();
        match self.v.get("labels") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > 500 {
                    self.bad
                        .push(Violation::new("labels", "MAX_SIZE", "at most 500 labels"));
                }
                for item in items {
                    match item {
                        Value::String(s) if s.chars().count() <= 200 => labels.push(s.clone()),
                        Value::String(_) => self.bad.push(Violation::new(
                            "labels",
                            "MAX_LENGTH",
                            "a label is at most 200 characters",
                        )),
                        _ => self.bad.push(Violation::new(
                            "labels",
                            "FORMAT",
                            "labels must be strings",
                        )),
                    }
                }
            }
            Some(_) => self.bad.push(Violation::new(
                "labels",
                "FORMAT",
                "labels must be an array",
            )),
        }
        labels
    }

    /// `externalInfo`: `{origin, externalIds[]}`, kept as sent.
    pub fn external_info(&mut self) -> Option<Value> {
        match self.v.get("externalInfo") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(o)) => {
                let origin_ok = o.get("origin").is_none_or(|x| x.is_string() || x.is_null());
                let ids_ok = o.get("externalIds").is_none_or(|x| {
                    x.is_null() || x.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                });
                if origin_ok && ids_ok {
                    Some(v.clone())
                } else {
                    self.bad.push(Violation::new(
                        "externalInfo",
                        "FORMAT",
                        "externalInfo is {origin: string, externalIds: string[]}",
                    ));
                    None
                }
            }
            Some(_) => {
                self.bad.push(Violation::new(
                    "externalInfo",
                    "FORMAT",
                    "externalInfo must be an object",
                ));
                None
            }
        }
    }

    /// `filePath`: at most 100 characters.
    pub fn file_path(&mut self) -> Option<String> {
        let path = self.string("filePath");
        if path.as_ref().is_some_and(|f| f.chars().count() > 100) {
            self.bad.push(Violation::new(
                "filePath",
                "MAX_LENGTH",
                "filePath is at most 100 characters",
            ));
        }
        path
    }
}

/// `{base}/upload/<token>`: a simple upload URL.
/// The folder a request names, or Wix's default, the Media Manager's root.
pub(crate) fn folder_or_root(parent: Option<String>) -> String {
    parent
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "media-root".into())
}

pub(crate) fn simple_upload_url(state: &State, token: &str) -> String {
    format!("{}{}{}", state.base_url, UPLOAD_PREFIX, token)
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
