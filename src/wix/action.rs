//! A REST call as plain values, in the manner of rusty-s3: an action builds its request
//! (method, path and query, JSON body) and reads its answer's body, both without I/O;
//! [`Rest::run`](super::rest::Rest::run) sends it, paced and retried, and turns error statuses
//! into [`Error`](crate::Error)s before the action sees a body.

use percent_encoding::utf8_percent_encode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resumable::COMPONENT;
use wix_media_tus::Method;

/// One REST call of the Media Manager's API.
///
/// Public in name only (its module is private): the sealed [`Listing`](super::Listing) trait
/// builds on it.
pub trait Action {
    /// What a success answer means.
    type Output;

    /// The request, below the API base.
    fn request(&self) -> RestRequest;

    /// Reads a success answer's body; `Err` says why it is unusable.
    fn parse_response(&self, body: &[u8]) -> Result<Self::Output, String>;
}

/// A REST request below the API base (`https://www.wixapis.com`).
#[derive(Clone, Debug, PartialEq)]
pub struct RestRequest {
    /// The method.
    pub method: Method,
    /// Path and query, e.g. `/site-media/v1/files?paging.limit=100`.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl RestRequest {
    /// A `GET` of `path` with `query` (names and values, encoded here).
    pub(crate) fn get(path: &str, query: &[(&str, String)]) -> Self {
        let mut path = path.to_owned();
        for (i, (name, value)) in query.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(name);
            path.push('=');
            path.extend(utf8_percent_encode(value, COMPONENT));
        }
        RestRequest {
            method: Method::Get,
            path,
            body: None,
        }
    }

    /// A request with a JSON body.
    pub(crate) fn json(method: Method, path: &str, body: Value) -> Self {
        RestRequest {
            method,
            path: path.to_owned(),
            body: Some(body),
        }
    }
}

/// `body`, a JSON object, read into `T` (serde would read a struct from a list too).
pub(crate) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    match serde_json::from_slice(body).map_err(|e| e.to_string())? {
        value @ Value::Object(_) => T::deserialize(value).map_err(|e| e.to_string()),
        _ => Err("the answer is not a JSON object".into()),
    }
}

/// One path segment, percent-encoded.
pub(crate) fn segment(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        let r = RestRequest::get(
            "/x",
            &[("a.b", "c d&e".into()), ("f", "wix:image://v1/g~h".into())],
        );
        assert_eq!(r.path, "/x?a.b=c%20d%26e&f=wix%3Aimage%3A%2F%2Fv1%2Fg~h");
        assert_eq!(r.method, Method::Get);
        assert_eq!(RestRequest::get("/y", &[]).path, "/y");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
