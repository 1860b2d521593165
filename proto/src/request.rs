//! What the protocol asks a driver to send.

use std::ops::Range;

use super::ChecksumAlgorithm;

/// An HTTP method: those the tus protocol uses, and `GET` and `PUT` for the calls around an
/// upload (a Wix REST read, a simple upload, a finalize). Exhaustive: a driver sends each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Server discovery.
    Options,
    /// Creation (and concatenation).
    Post,
    /// Offset lookup.
    Head,
    /// Sending bytes.
    Patch,
    /// Termination.
    Delete,
    /// A read (not tus).
    Get,
    /// A whole body at once (not tus).
    Put,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Options => "OPTIONS",
            Method::Post => "POST",
            Method::Head => "HEAD",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Get => "GET",
            Method::Put => "PUT",
        }
    }
}

/// A request to send.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers besides `Content-Length`, which the driver derives from `body`.
    pub headers: Vec<(&'static str, String)>,
    /// The byte range of the source to send as the body.
    pub body: Option<Range<u64>>,
    /// The driver adds `Upload-Checksum` of the body with this algorithm.
    pub checksum: Option<ChecksumAlgorithm>,
}

impl Request {
    /// A request without headers or body.
    pub(crate) fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            checksum: None,
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
