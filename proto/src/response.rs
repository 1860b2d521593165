//! What the protocol needs of a response: its status and headers (tus never reads a body).

use std::time::{Duration, SystemTime};

/// A response as the protocol sees it.
///
/// Drivers fill it from the wire; tests build it by hand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP status code.
    pub status: u16,
    headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// A response with `status` and no headers.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.push_header(name, value);
        self
    }

    /// Adds a header.
    pub fn push_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The first value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Upload-Offset` parsed strictly: `Some(Err(raw))` when present but not a decimal `u64`.
    pub(crate) fn upload_offset(&self) -> Option<Result<u64, String>> {
        self.header("Upload-Offset").map(parse_u64)
    }

    /// `Upload-Length` parsed strictly.
    pub(crate) fn upload_length(&self) -> Option<Result<u64, String>> {
        self.header("Upload-Length").map(parse_u64)
    }

    /// `Upload-Expires` as a time (unparsable dates are ignored).
    pub(crate) fn upload_expires(&self) -> Option<SystemTime> {
        self.header("Upload-Expires")
            .and_then(|v| httpdate::parse_http_date(v).ok())
    }

    /// `Upload-Expires` on the client's clock: measured from the response's `Date` when it has
    /// one, so a client clock that is off does not misjudge it.
    pub fn upload_expires_at(&self, now: SystemTime) -> Option<SystemTime> {
        let expires = self.upload_expires()?;
        let Some(date) = self
            .header("Date")
            .and_then(|v| httpdate::parse_http_date(v).ok())
        else {
            return Some(expires);
        };
        Some(match expires.duration_since(date) {
            Ok(left) => now + left,
            Err(past) => now.checked_sub(past.duration()).unwrap_or(now),
        })
    }

    /// `Retry-After` as a delay, from seconds or an HTTP date measured against `now`.
    pub fn retry_after(&self, now: SystemTime) -> Option<Duration> {
        let v = self.header("Retry-After")?;
        if let Ok(secs) = parse_u64(v) {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(v).ok()?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// Whether `Tus-Extension` lists `name`.
    #[cfg(test)]
    pub(crate) fn has_extension(&self, name: &str) -> bool {
        self.header("Tus-Extension")
            .is_some_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case(name)))
    }
}

/// A decimal `u64`, strictly: digits only, no sign or spaces. `Err` keeps the start of the raw value.
pub(crate) fn parse_u64(v: &str) -> Result<u64, String> {
    if !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse().map_err(|_| v.to_owned())
    } else {
        Err(super::error::excerpt(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive() {
        let r = ResponseHead::new(204).with_header("upload-offset", " 42 ");
        assert_eq!(r.upload_offset(), Some(Ok(42)));
    }

    #[test]
    fn offsets_are_parsed_strictly() {
        for bad in [
            "",
            "-1",
            "+5",
            "1e3",
            "0x10",
            "99999999999999999999999",
            "12 3",
        ] {
            let r = ResponseHead::new(204).with_header("Upload-Offset", bad);
            assert!(matches!(r.upload_offset(), Some(Err(_))), "{bad:?}");
        }
        assert_eq!(ResponseHead::new(204).upload_offset(), None);
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 08:00:00 GMT").unwrap();
        let secs = ResponseHead::new(429).with_header("Retry-After", "7");
        assert_eq!(secs.retry_after(now), Some(Duration::from_secs(7)));
        let date =
            ResponseHead::new(503).with_header("Retry-After", "Wed, 25 Nov 2026 08:00:30 GMT");
        assert_eq!(date.retry_after(now), Some(Duration::from_secs(30)));
        let past =
            ResponseHead::new(503).with_header("Retry-After", "Wed, 25 Nov 2026 07:00:00 GMT");
        assert_eq!(past.retry_after(now), Some(Duration::ZERO));
        assert_eq!(
            ResponseHead::new(503)
                .with_header("Retry-After", "soon")
                .retry_after(now),
            None
        );
    }

    #[test]
    fn upload_expires_is_measured_from_the_server_date() {
        let server_now = httpdate::parse_http_date("Wed, 25 Nov 2026 08:00:00 GMT").unwrap();
        let client_now = server_now + Duration::from_secs(3600);
        let r = ResponseHead::new(204)
            .with_header("Date", "Wed, 25 Nov 2026 08:00:00 GMT")
            .with_header("Upload-Expires", "Wed, 25 Nov 2026 08:00:30 GMT");
        assert_eq!(
            r.upload_expires_at(client_now),
            Some(client_now + Duration::from_secs(30))
        );
        let past = ResponseHead::new(204)
            .with_header("Date", "Wed, 25 Nov 2026 08:00:30 GMT")
            .with_header("Upload-Expires", "Wed, 25 Nov 2026 08:00:00 GMT");
        assert_eq!(
            past.upload_expires_at(client_now),
            Some(client_now - Duration::from_secs(30))
        );
        let no_date =
            ResponseHead::new(204).with_header("Upload-Expires", "Wed, 25 Nov 2026 08:00:30 GMT");
        assert_eq!(
            no_date.upload_expires_at(client_now),
            Some(server_now + Duration::from_secs(30))
        );
    }

    #[test]
    fn extensions_are_listed() {
        let r = ResponseHead::new(204).with_header(
            "Tus-Extension",
            "creation, creation-with-upload,termination",
        );
        assert!(r.has_extension("creation-with-upload") && r.has_extension("termination"));
        assert!(!r.has_extension("concatenation"));
    }
}
