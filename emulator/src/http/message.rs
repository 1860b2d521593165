//! The request and response values handlers see, and what a handler asks the server to do.

use std::fs::File;

use super::framing::Body;

/// One parsed request. The body is read on demand through [`Body`].
pub(crate) struct Request<'a> {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Body<'a>,
}

impl Request<'_> {
    /// First value of a header (names compare case-insensitively), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// First value of a query parameter, decoded as a form component (`%XX`, `+` as space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params(name).into_iter().next()
    }

    /// Every value of a query parameter that repeats (`k=a&k=b`), in order, decoded.
    pub fn query_params(&self, name: &str) -> Vec<String> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(k) == name).then(|| decode_component(v))
            })
            .collect()
    }
}

/// First value of a header in a list (names compare case-insensitively), trimmed.
pub(crate) fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Decodes a URL component: `%XX` escapes, and `+` as a space (form encoding of query values).
pub(crate) fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes a path segment: `%XX` escapes only (`+` stays a plus).
pub(crate) fn decode_path_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A response with a small in-memory body (JSON, HTML or nothing), or a file's bytes
/// streamed from disk.
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A file to send as the body (and its length) instead of `body`.
    pub file: Option<(File, u64)>,
    /// Answer at once and close the connection without reading what is left of the request
    /// body (an early answer, as proxies give to a body over their limit).
    pub close_unread: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            file: None,
            close_unread: false,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }

    pub fn html(mut self, html: &str) -> Self {
        self.body = html.as_bytes().to_vec();
        self.header("Content-Type", "text/html; charset=utf-8")
    }

    /// The first `len` bytes of `file` as the body, streamed.
    pub fn file(mut self, file: File, len: u64) -> Self {
        self.file = Some((file, len));
        self
    }

    /// The body's length.
    pub fn body_len(&self) -> u64 {
        self.file
            .as_ref()
            .map_or(self.body.len() as u64, |(_, len)| *len)
    }

    /// See [`Response::close_unread`].
    pub fn closing(mut self) -> Self {
        self.close_unread = true;
        self
    }
}

/// What a handler wants done with the connection.
pub(crate) enum Outcome {
    Respond(Response),
    /// Close the connection without answering (emulates a network cut).
    Drop,
}

/// The handler shared by all connection threads.
pub(crate) type Handler = dyn Fn(&mut Request<'_>) -> Outcome + Send + Sync;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(decode_component("my%20file+1.png"), "my file 1.png");
        assert_eq!(decode_component("%E2%9C%93.txt"), "\u{2713}.txt");
        assert_eq!(decode_path_segment("a+b%2Fc"), "a+b/c");
    }
}
