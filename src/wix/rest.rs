//! Wix REST calls: JSON in, JSON out, on the engine's agent, settings, clock and retry loop,
//! paced by the client's limiter when there is one.

use serde::Serialize;
use serde::de::DeserializeOwned;

use std::time::SystemTime;

use super::Credentials;
use super::action::Action;
use super::error_body::read_wix;
use super::limiter::{Limiter, answer_for};
use super::pace::Answer as Heard;
use super::types::{
    FileDescriptorEnvelope, GenerateSimpleUploadUrlResponse, GenerateUploadUrlResponse,
};
use crate::control::AbortHandle;
use crate::engine::Engine;
use crate::engine::transport::{Call, Response, mask};
use crate::error::{Error, ErrorBody, FailedRequest, Result};
use wix_media_tus::Method;

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
        self.call(Method::Post, path, Some(&to_json(body)?), false)
    }

    /// `POST {api_base}{path}` of a request that creates something: retried like any call,
    /// but not after a failure whose outcome is unknown ([`Error::is_outcome_unknown`]),
    /// which is returned at once (the caller looks before sending it again).
    pub(crate) fn create<T: Answer>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.call(Method::Post, path, Some(&to_json(body)?), true)
    }

    /// `GET {api_base}{path_and_query}`.
    pub(crate) fn get<T: Answer>(&self, path_and_query: &str) -> Result<T> {
        self.call(Method::Get, path_and_query, None, false)
    }

    /// Runs `action`: its request, paced and retried, and its answer read by it.
    pub(crate) fn run<A: Action>(&self, action: &A) -> Result<A::Output> {
        self.run_action(action, false)
    }

    /// Runs `action`, a request that creates something: as [`Rest::create`], an unknown
    /// outcome is returned at once.
    pub(crate) fn run_creating<A: Action>(&self, action: &A) -> Result<A::Output> {
        self.run_action(action, true)
    }

    fn run_action<A: Action>(&self, action: &A, creates: bool) -> Result<A::Output> {
        let request = action.request();
        let json = match &request.body {
            // A JSON value always serializes.
            Some(body) => Some(
                serde_json::to_vec(body)
                    .map_err(|_| Error::Internal("a request body did not serialize"))?,
            ),
            None => None,
        };
        let parse = |body: &[u8]| action.parse_response(body);
        self.call_with(
            request.method,
            &request.path,
            json.as_deref(),
            creates,
            parse,
        )
    }

    fn call<T: Answer>(
        &self,
        method: Method,
        path: &str,
        json: Option<&[u8]>,
        creates: bool,
    ) -> Result<T> {
        self.call_with(method, path, json, creates, parse_answer::<T>)
    }

    // `creates`: an unknown outcome is returned at once, not retried.
    fn call_with<T>(
        &self,
        method: Method,
        path: &str,
        json: Option<&[u8]>,
        creates: bool,
        parse: impl Fn(&[u8]) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let engine = self.engine;
        let url = format!("{}{path}", self.creds.api_base());
        let headers = self.headers(json.is_some());
        let secrets = [self.creds.authorization().expose()];
        // A call without the client's limiter (the free functions) still waits out 429s.
        let own;
        let limiter = match self.limiter {
            Some(l) => l,
            None => {
                own = Limiter::new(None, None);
                &own
            }
        };
        let shown = mask(&url, &secrets);
        let started = engine.now();
        let mut refused = 0;
        // An unknown outcome of a creating call ends the retries (`Ok(Err)`).
        let unknown = |e: Error| match creates && e.is_outcome_unknown() {
            true => Ok(Err(e)),
            false => Err(e),
        };
        // A 429 is waited out on the pace, not counted as an attempt (see `throttled`); other
        // failures go to the retry policy.
        engine.retrying(self.abort, || {
            loop {
                let mut reader: &[u8] = json.unwrap_or_default();
                let len = reader.len() as u64;
                let body = json.map(|_| (&mut reader as &mut dyn std::io::Read, len));
                let call = Call {
                    method,
                    url: &url,
                    headers: &headers,
                    body,
                    body_limit: JSON_BODY_LIMIT,
                    secrets: &secrets,
                };
                let resp = match self.send_paced(limiter, call) {
                    Ok(resp) => resp,
                    Err(e) => return unknown(e),
                };
                match read_with(engine, method, &shown, &resp, &parse) {
                    Err(e) if resp.head.status == 429 => {
                        refused += 1;
                        throttled(engine, limiter, started, refused, e)?;
                    }
                    Err(e) => return unknown(e),
                    Ok(answer) => return Ok(Ok(answer)),
                }
            }
        })?
    }

    // The credentials' headers, and the JSON content type when there is a body.
    fn headers(&self, json: bool) -> Vec<(&'static str, String)> {
        let [auth, scope] = self.creds.headers();
        let mut headers = vec![auth, scope];
        if json {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        headers
    }

    // Sends `call` on its turn; the pace learns from the answer (or its absence).
    fn send_paced(&self, limiter: &Limiter, call: Call<'_>) -> Result<Response> {
        let engine = self.engine;
        let ticket = limiter.acquire(&*engine.clock, self.abort)?;
        let sent = engine.send(call);
        let now = engine.now();
        let answer = match &sent {
            Ok(resp) => {
                let retry_after = resp.head.retry_after(now).map(|d| now + d);
                answer_for(resp.head.status, retry_after)
            }
            Err(_) => Heard::Lost,
        };
        limiter.observe(ticket, answer, now);
        sent
    }
}

// Our own request types always serialize.
fn to_json(body: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|_| Error::Internal("a request body did not serialize"))
}

// A REST call refused with 429 (`err`) for the `refused`th time: wait for the next turn as long
// as some REST call succeeded within the policy's `max_throttled_wait` (or this one started
// that recently); else give up, for good.
fn throttled(
    engine: &Engine,
    limiter: &Limiter,
    started: SystemTime,
    refused: u32,
    last: Error,
) -> Result<()> {
    let last_progress = limiter.last_ok().map_or(started, |t| t.max(started));
    let waited = engine
        .now()
        .duration_since(last_progress)
        .unwrap_or_default();
    let limit = engine.retry.throttled_wait();
    if waited < limit {
        log::debug!("a REST call was refused with 429 ({refused} times): waiting for its turn");
        return Ok(());
    }
    if limit.is_zero() {
        return Err(last);
    }
    log::warn!("no REST call succeeded for {waited:?}: giving up on 429");
    Err(Error::GaveUp {
        attempts: refused,
        last: Box::new(last),
    })
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

impl Answer for GenerateUploadUrlResponse {}
impl Answer for GenerateSimpleUploadUrlResponse {}

/// A JSON success body, or the error an error status means (with its body read).
pub(crate) fn read_json<T: Answer>(
    engine: &Engine,
    method: Method,
    shown_url: &str,
    resp: &Response,
) -> Result<T> {
    read_with(engine, method, shown_url, resp, parse_answer::<T>)
}

// An `Answer` of the right shape and without defect.
fn parse_answer<T: Answer>(body: &[u8]) -> std::result::Result<T, String> {
    let answer: T = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match answer.defect() {
        Some(defect) => Err(defect.to_owned()),
        None => Ok(answer),
    }
}

/// A success body read by `parse`, or the error an error status means (with its body read).
fn read_with<T>(
    engine: &Engine,
    method: Method,
    shown_url: &str,
    resp: &Response,
    parse: impl Fn(&[u8]) -> std::result::Result<T, String>,
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
    parse(&resp.body).map_err(|reason| Error::BadResponse {
        request: request(),
        status,
        reason,
    })
}
