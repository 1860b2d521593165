//! Where a request goes: counting, injected faults, the upload body cap, then the REST
//! routes, the tus server, the simple upload or the null sink.

use std::io;
use std::sync::Arc;

use crate::http::{Outcome, Request, Response, lock};
use crate::state::{Fault, State};
use crate::wix::download::DOWNLOAD_PREFIX;
use crate::{REST_PREFIX, TUS_PATH, UPLOAD_PREFIX, store, tus, wix};

/// Where a request goes.
enum Route {
    Null,
    /// `/site-media/...`: the REST routes.
    Rest(wix::RestRoute),
    TusCollection,
    /// `/upload/tus/<segment>`: a tus upload, or the finalize `PUT` for a token.
    TusResource(String),
    /// `/upload/<token>`: a simple upload URL.
    Simple(String),
    /// `/download/<token>`: a download URL.
    Download(String),
    Unknown,
}

/// One non-empty path segment, or `None`.
fn segment(s: &str) -> Option<String> {
    (!s.is_empty() && !s.contains('/')).then(|| s.to_string())
}

fn route(state: &State, method: &str, path: &str) -> Route {
    if state.config.null_sink && path == "/null" {
        return Route::Null;
    }
    if path.starts_with(REST_PREFIX) {
        return Route::Rest(wix::RestRoute::of(method, path));
    }
    if let Some(token) = path.strip_prefix(DOWNLOAD_PREFIX).and_then(segment) {
        return Route::Download(token);
    }
    if let Some(rest) = path.strip_prefix(TUS_PATH) {
        if rest.is_empty() || rest == "/" {
            return Route::TusCollection;
        }
        if let Some(seg) = rest.strip_prefix('/') {
            let seg = seg.trim_end_matches('/');
            if let Some(seg) = segment(seg) {
                return Route::TusResource(seg);
            }
        }
        return Route::Unknown;
    }
    match path.strip_prefix(UPLOAD_PREFIX).and_then(segment) {
        Some(seg) => Route::Simple(seg),
        None => Route::Unknown,
    }
}

/// The method a tus resource request stands for (`X-HTTP-Method-Override` on a `POST`).
pub(crate) fn tus_method(req: &Request<'_>) -> String {
    match (req.method.as_str(), req.header("X-HTTP-Method-Override")) {
        ("POST", Some(m)) => m.to_ascii_uppercase(),
        (m, _) => m.to_string(),
    }
}

/// The method as counted: a standard one, else `OTHER` (so that clients can't grow the
/// counters without bound by inventing methods).
fn counted_method(method: &str) -> &str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

/// The [`Emulator::route_counts`](crate::Emulator::route_counts) key of a request.
fn route_key(req: &Request<'_>, route: &Route) -> String {
    let method = counted_method(&req.method);
    match route {
        Route::Null => format!("{method} null"),
        Route::Rest(r) => format!("{method} {}", r.name()),
        Route::TusCollection if method == "POST" => "POST tus-create".into(),
        Route::TusCollection => format!("{method} tus"),
        Route::TusResource(_) if method == "PUT" => "PUT finalize".into(),
        Route::TusResource(_) => format!("{} tus", counted_method(&tus_method(req))),
        Route::Simple(_) => format!("{method} simple-upload"),
        Route::Download(_) => format!("{method} download"),
        Route::Unknown => format!("{method} unknown"),
    }
}

/// Counts the request, applies any injected fault, then routes it.
pub(crate) fn handle(state: &Arc<State>, req: &mut Request<'_>) -> Outcome {
    let route = route(state, &req.method, &req.path);
    *lock(&state.counts)
        .entry(counted_method(&req.method).to_string())
        .or_insert(0) += 1;
    let key = route_key(req, &route);
    *lock(&state.route_counts).entry(key.clone()).or_insert(0) += 1;
    let fault = lock(&state.faults).pop_front();
    match fault {
        Some(Fault::Drop) => return Outcome::Drop,
        Some(Fault::Status(status)) => {
            let body = serde_json::json!({"message": "", "details": {}});
            return Outcome::Respond(Response::new(status).json(&body));
        }
        None => {}
    }
    if let Some(outcome) = body_cap(state, req, &route) {
        return outcome;
    }
    match route {
        Route::Null => null_sink(req),
        Route::Rest(r) => Outcome::Respond(wix::rest(state, req, &r, &key)),
        Route::Download(token) => Outcome::Respond(wix::download::serve(state, req, &token)),
        Route::TusCollection => tus::collection(state, req),
        Route::TusResource(seg) if req.method == "PUT" => {
            Outcome::Respond(wix::upload::finalize(state, req, &seg))
        }
        Route::TusResource(seg) => tus::resource(state, req, &seg),
        Route::Simple(seg) => wix::upload::simple_put(state, req, &seg),
        Route::Unknown => Outcome::Respond(wix::error(404, "NOT_FOUND", "no such route")),
    }
}

/// The front-proxy body limit on upload traffic: a `Content-Length` over
/// [`EmulatorConfig::max_body_size`](crate::EmulatorConfig::max_body_size) is refused before any byte of it is read.
fn body_cap(state: &State, req: &mut Request<'_>, route: &Route) -> Option<Outcome> {
    let max = state.config.max_body_size?;
    let upload_traffic = match route {
        Route::TusCollection => req.method == "POST",
        Route::TusResource(_) => req.method != "PUT" && tus_method(req) == "PATCH",
        Route::Simple(_) => req.method == "PUT",
        _ => false,
    };
    if !upload_traffic || req.body.content_length().is_none_or(|n| n <= max) {
        return None;
    }
    let mut resp = wix::error(
        413,
        "INVALID_ARGUMENT",
        &format!("request body is over the limit of {max} bytes"),
    );
    if !matches!(route, Route::Simple(_)) {
        resp = resp.header("Tus-Resumable", tus::TUS_VERSION);
    }
    if state.config.drain_rejected_bodies && !req.body.awaiting_continue() {
        // The lenient mode: read it all (with a fixed buffer), then answer on a live connection.
        let mut buf = vec![0u8; store::BUF_SIZE];
        loop {
            match io::Read::read(&mut req.body, &mut buf) {
                Ok(0) => return Some(Outcome::Respond(resp)),
                Ok(_) => {}
                Err(_) => return Some(Outcome::Drop),
            }
        }
    }
    Some(Outcome::Respond(resp.closing()))
}

/// `PUT {base}/null`: reads the body and throws it away.
fn null_sink(req: &mut Request<'_>) -> Outcome {
    let mut buf = vec![0u8; store::BUF_SIZE];
    loop {
        match io::Read::read(&mut req.body, &mut buf) {
            Ok(0) => return Outcome::Respond(Response::new(204)),
            Ok(_) => {}
            Err(_) => return Outcome::Drop,
        }
    }
}
