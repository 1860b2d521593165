//! Wix REST calls: JSON in, JSON out, on the engine's agent, settings, clock and retry loop.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Credentials;
use crate::control::AbortHandle;
use crate::engine::Engine;
use crate::engine::transport::{Call, Response, mask};
use crate::error::{Error, ErrorBody, FailedRequest, Result};

/// Wix answers are small JSON documents; this bounds what a broken server can make us hold.
pub(crate) const JSON_BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// `POST {api_base}{path}` with a JSON body, retried by the policy.
pub(crate) fn post<T: DeserializeOwned>(
    engine: &Engine,
    creds: &Credentials,
    path: &str,
    body: &impl Serialize,
    abort: Option<&AbortHandle>,
) -> Result<T> {
    let url = format!("{}{path}", creds.api_base());
    let json = serde_json::to_vec(body).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let [auth, scope] = creds.headers();
    let headers = [auth, scope, ("Content-Type", "application/json".to_owned())];
    let secrets = [creds.authorization().expose()];
    engine.retrying(abort, || {
        let resp = engine.send(Call {
            method: "POST",
            url: &url,
            headers: &headers,
            body: Some((&mut &json[..], json.len() as u64)),
            body_limit: JSON_BODY_LIMIT,
            secrets: &secrets,
        })?;
        read_json(engine, "POST", &mask(&url, &secrets), &resp)
    })
}

/// A JSON success body, or the error an error status means (with its body read).
pub(crate) fn read_json<T: DeserializeOwned>(
    engine: &Engine,
    method: &'static str,
    shown_url: &str,
    resp: &Response,
) -> Result<T> {
    let status = resp.head.status;
    let request = || Box::new(FailedRequest::new(method, shown_url));
    if !resp.head.is_success() {
        return Err(Error::Status {
            status,
            retry_after: resp.head.retry_after(engine.now()),
            request: request(),
            body: ErrorBody::parse(status, &resp.body).map(Box::new),
        });
    }
    serde_json::from_slice(&resp.body).map_err(|e| Error::BadResponse {
        request: request(),
        status,
        reason: e.to_string(),
    })
}
