//! Wix REST calls: JSON in, JSON out, on the engine's agent, settings, clock and retry loop,
//! paced by the client's limiter when there is one.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Credentials;
use super::error_body::read_wix;
use super::limiter::Limiter;
use super::types::{
    FileDescriptorEnvelope, GenerateSimpleUploadUrlResponse, GenerateUploadUrlResponse,
    GetFilesResponse,
};
use crate::control::AbortHandle;
use crate::engine::Engine;
use crate::engine::transport::{Call, Response, mask};
use crate::error::{Error, ErrorBody, FailedRequest, Result};
use crate::proto::Method;

/// Wix answers are small JSON documents; this bounds what a broken server can make us hold.
pub(crate) const JSON_BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// Where and how a REST call goes.
pub(crate) struct Rest<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) creds: &'a Credentials,
    pub(crate) limiter: Option<&'a Limiter>,
    pub(crate) abort: Option<&'a AbortHandle>,
}

impl Rest<'_> {
    /// `POST {api_base}{path}` with a JSON body.
    pub(crate) fn post<T: Answer>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        // Our own request types always serialize.
        let json = serde_json::to_vec(body)
            .map_err(|_| Error::Internal("a request body did not serialize"))?;
        self.call(Method::Post, path, Some(&json))
    }

    /// `GET {api_base}{path_and_query}`.
    pub(crate) fn get<T: Answer>(&self, path_and_query: &str) -> Result<T> {
        self.call(Method::Get, path_and_query, None)
    }

    fn call<T: Answer>(&self, method: Method, path: &str, json: Option<&[u8]>) -> Result<T> {
        let engine = self.engine;
        let url = format!("{}{path}", self.creds.api_base());
        let [auth, scope] = self.creds.headers();
        let mut headers = vec![auth, scope];
        if json.is_some() {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        let secrets = [self.creds.authorization().expose()];
        engine.retrying(self.abort, || {
            if let Some(limiter) = self.limiter {
                limiter.acquire(&*engine.clock, self.abort)?;
            }
            let mut reader: &[u8] = json.unwrap_or_default();
            let len = reader.len() as u64;
            let body = json.map(|_| (&mut reader as &mut dyn std::io::Read, len));
            let resp = engine.send(Call {
                method,
                url: &url,
                headers: &headers,
                body,
                body_limit: JSON_BODY_LIMIT,
                secrets: &secrets,
            })?;
            if let Some(limiter) = self.limiter {
                limiter.observe(resp.head.status, engine.now());
            }
            read_json(engine, method, &mask(&url, &secrets), &resp)
        })
    }
}

/// A Wix JSON answer, and what it must hold besides its shape.
pub(crate) trait Answer: DeserializeOwned {
    /// Why an answer of the right shape is unusable, if it is.
    fn defect(&self) -> Option<&'static str> {
        None
    }
}

impl Answer for FileDescriptorEnvelope {
    fn defect(&self) -> Option<&'static str> {
        self.file.id.is_none().then_some("the file has no id")
    }
}

impl Answer for GetFilesResponse {}
impl Answer for GenerateUploadUrlResponse {}
impl Answer for GenerateSimpleUploadUrlResponse {}

/// A JSON success body, or the error an error status means (with its body read).
pub(crate) fn read_json<T: Answer>(
    engine: &Engine,
    method: Method,
    shown_url: &str,
    resp: &Response,
) -> Result<T> {
    let status = resp.head.status;
    let request = || Box::new(FailedRequest::new(method, shown_url));
    if !resp.head.is_success() {
        return Err(read_wix(Error::Status {
            status,
            retry_after: resp.head.retry_after(engine.now()),
            request: request(),
            body: ErrorBody::new(&resp.body).map(Box::new),
        }));
    }
    let bad = |reason| Error::BadResponse {
        request: request(),
        status,
        reason,
    };
    let answer: T = serde_json::from_slice(&resp.body).map_err(|e| bad(e.to_string()))?;
    match answer.defect() {
        Some(defect) => Err(bad(defect.to_owned())),
        None => Ok(answer),
    }
}
