//! Server discovery: `OPTIONS` and what it tells of the server.

use std::time::SystemTime;

use super::error::{Error, Result};
use super::response::parse_u64;
use super::retry::retryable_status;
use super::{Method, Request, ResponseHead};

/// The `OPTIONS` request to a creation URL (it carries no `Tus-Resumable`).
pub fn request(endpoint: &str) -> Request {
    Request::new(Method::Options, endpoint)
}

/// What a server said of itself in answer to `OPTIONS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `Tus-Extension`, as listed.
    pub extensions: Vec<String>,
    /// `Tus-Max-Size`: the largest upload (not body) it takes.
    pub max_size: Option<u64>,
    /// `Tus-Checksum-Algorithm`, as listed.
    pub checksum_algorithms: Vec<String>,
}

impl Capabilities {
    /// Reads an answer to [`request`]: `Ok(None)` when the server has no `OPTIONS` (a 4xx),
    /// an error for statuses worth retrying (423, 429, 5xx).
    ///
    /// # Errors
    ///
    /// [`Error::Status`] for 423, 429 and 5xx.
    pub fn from_response(resp: &ResponseHead, now: SystemTime) -> Result<Option<Self>> {
        if !resp.is_success() {
            if retryable_status(resp.status) {
                return Err(Error::Status {
                    status: resp.status,
                    retry_after: resp.retry_after(now),
                });
            }
            return Ok(None);
        }
        let list = |name: &str| -> Vec<String> {
            resp.header(name)
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Ok(Some(Self {
            extensions: list("Tus-Extension"),
            // An unreadable limit is no limit we can check.
            max_size: resp.header("Tus-Max-Size").and_then(|v| parse_u64(v).ok()),
            checksum_algorithms: list("Tus-Checksum-Algorithm"),
        }))
    }

    /// Whether `Tus-Extension` lists `name`.
    pub fn has(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e.eq_ignore_ascii_case(name))
    }

    /// Whether `Tus-Checksum-Algorithm` lists `name`.
    pub fn has_checksum(&self, name: &str) -> bool {
        self.checksum_algorithms
            .iter()
            .any(|e| e.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn the_request_has_no_tus_resumable() {
        let req = request("http://h/files");
        assert_eq!(
            (req.method, req.url.as_str()),
            (Method::Options, "http://h/files")
        );
        assert!(req.headers.is_empty() && req.body.is_none());
    }

    #[test]
    fn lists_and_limits_are_read() {
        let resp = ResponseHead::new(204)
            .with_header("Tus-Extension", "creation, Concatenation,,termination")
            .with_header("Tus-Max-Size", "1024")
            .with_header("Tus-Checksum-Algorithm", "sha1,md5");
        let caps = Capabilities::from_response(&resp, NOW).unwrap().unwrap();
        assert!(caps.has("concatenation") && caps.has("creation") && !caps.has("checksum"));
        assert_eq!(caps.extensions.len(), 3);
        assert_eq!(caps.max_size, Some(1024));
        assert!(caps.has_checksum("SHA1") && !caps.has_checksum("sha256"));
        let bad_max = ResponseHead::new(200).with_header("Tus-Max-Size", "lots");
        let caps = Capabilities::from_response(&bad_max, NOW).unwrap().unwrap();
        assert_eq!(caps, Capabilities::default());
    }

    #[test]
    fn no_options_and_retryable_failures() {
        for status in [400, 404, 405, 501] {
            let none = Capabilities::from_response(&ResponseHead::new(status), NOW);
            // 501 is a 5xx: worth retrying.
            if status == 501 {
                assert!(matches!(none, Err(Error::Status { status: 501, .. })));
            } else {
                assert_eq!(none, Ok(None), "{status}");
            }
        }
        let busy = ResponseHead::new(429).with_header("Retry-After", "3");
        assert_eq!(
            Capabilities::from_response(&busy, NOW),
            Err(Error::Status {
                status: 429,
                retry_after: Some(std::time::Duration::from_secs(3))
            })
        );
    }
}
