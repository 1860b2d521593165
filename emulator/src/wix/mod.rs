//! The Wix side: the REST routes under `/site-media/v1` (with Wix's authentication, site
//! check and rate limit), the upload routes that end in a file (finalize, simple upload),
//! imports, the download URLs, and the Wix-shaped errors and `FileDescriptor`s.
//!
//! - [`routes`]: which route a method and path name;
//! - [`access`]: the rate limit, authentication and the site check;
//! - [`fields`]: reading request bodies the way Wix validates them;
//! - [`generate`]: generate-resumable-upload-url and generate-upload-url;
//! - [`upload`]: the resumable finalize and the simple upload `PUT`;
//! - [`import`], [`bulk_import`]: the import routes and their background fetch;
//! - [`files`]: file records and the reads by id; [`descriptor`]: their `FileDescriptor`s;
//! - [`listing`]: list and search files; [`paging`]: their cursors and sort orders;
//! - [`folders`]: folders, and the folder tree a `filePath` makes;
//! - [`edit`]: update a descriptor, trash, restore, delete for good;
//! - [`download`]: download URLs and serving them;
//! - [`media`]: MIME types, extensions and media types.

pub(crate) mod access;
pub(crate) mod bulk_import;
pub(crate) mod descriptor;
pub(crate) mod download;
pub(crate) mod edit;
pub(crate) mod fields;
pub(crate) mod files;
pub(crate) mod folders;
pub(crate) mod generate;
pub(crate) mod import;
pub(crate) mod listing;
pub(crate) mod media;
pub(crate) mod paging;
pub(crate) mod routes;
pub(crate) mod upload;

use std::sync::Arc;

use serde_json::{Value, json};

pub(crate) use fields::Fields;
pub(crate) use routes::RestRoute;

use super::http::{Request, Response};
use super::store::{Concat, Store, UploadRecord};
use super::{State, UPLOAD_PREFIX};

/// Largest JSON body a REST call may carry.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// A REST route's answer: `Err` is a refusal that ended it early.
pub(crate) type Answer = Result<Response, Response>;

/// A REST call: rate limit, route and method, authentication, then the route itself.
/// `key` is the call's [`Emulator::route_counts`](crate::Emulator::route_counts) key.
pub(crate) fn rest(
    state: &Arc<State>,
    req: &mut Request<'_>,
    route: &RestRoute,
    key: &str,
) -> Response {
    if let Some(refused) = access::rate_limited(state, key) {
        return refused;
    }
    if matches!(route, RestRoute::Unknown) {
        return error(404, "NOT_FOUND", "no such route");
    }
    if req.method != route.method() {
        return error(405, "METHOD_NOT_ALLOWED", "method not allowed")
            .header("Allow", route.allow());
    }
    match access::authenticate(state, req) {
        Ok(site_id) => dispatch(state, req, route, site_id).unwrap_or_else(|refused| refused),
        Err(refused) => refused,
    }
}

fn dispatch(state: &Arc<State>, req: &mut Request<'_>, route: &RestRoute, site: String) -> Answer {
    match route {
        RestRoute::GenerateResumable => generate::resumable(state, req, site),
        RestRoute::GenerateSimple => generate::simple(state, req, site),
        RestRoute::Import => import::single(state, req, site),
        RestRoute::BulkImport => bulk_import::bulk(state, req, &site),
        RestRoute::GetFileById => files::get_file_by_id(state, req, &site),
        RestRoute::GetFile(id) => files::get_file(state, id, &site),
        RestRoute::GetFiles => files::get_files(state, req, &site),
        RestRoute::ListFiles => listing::list(state, req, &site),
        RestRoute::SearchFiles => listing::search(state, req, &site),
        RestRoute::UpdateFile => edit::update(state, req, &site),
        RestRoute::BulkDelete => edit::delete(state, req, &site),
        RestRoute::BulkRestore => edit::restore(state, req, &site),
        RestRoute::DownloadUrl => download::generate(state, req, &site),
        RestRoute::CreateFolder => folders::create(state, req, &site),
        RestRoute::ListFolders => folders::list(state, req, &site),
        RestRoute::GetFolder(id) => folders::get(state, id, &site),
        RestRoute::Unknown => Err(error(404, "NOT_FOUND", "no such route")),
    }
}

/// A 200 answer with a JSON body.
pub(crate) fn ok(body: &Value) -> Answer {
    Ok(Response::new(200).json(body))
}

/// 500 with the reason, for a store that could not be written.
pub(crate) fn internal(e: &impl std::fmt::Display) -> Response {
    error(500, "INTERNAL", &e.to_string())
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

/// Why a request, or one item of a bulk request, was refused.
pub(crate) enum Refusal {
    /// 400 with a `validationError`.
    Invalid(Vec<Violation>),
    /// 404: something the request names is missing.
    NotFound(String),
    /// 500: the store could not be written.
    Internal(String),
}

impl Refusal {
    pub fn response(&self) -> Response {
        match self {
            Refusal::Invalid(bad) => validation_error(bad),
            Refusal::NotFound(why) => error(404, "NOT_FOUND", why),
            Refusal::Internal(why) => error(500, "INTERNAL", why),
        }
    }

    /// The `code` of a bulk item's error.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "INVALID_ARGUMENT",
            Refusal::NotFound(_) => "NOT_FOUND",
            Refusal::Internal(_) => "INTERNAL",
        }
    }

    /// The `description` of a bulk item's error.
    pub fn description(&self) -> String {
        match self {
            Refusal::Invalid(bad) => bad
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; "),
            Refusal::NotFound(why) | Refusal::Internal(why) => why.clone(),
        }
    }
}

impl From<Refusal> for Response {
    fn from(r: Refusal) -> Response {
        r.response()
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

/// The folder a request names, or Wix's default, the Media Manager's root.
pub(crate) fn folder_or_root(parent: Option<String>) -> String {
    parent
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "media-root".into())
}

/// `{base}/upload/<token>`: a simple upload URL.
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
