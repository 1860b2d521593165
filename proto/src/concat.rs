//! The concatenation extension's final step: one upload made of finished partial uploads.

use std::time::SystemTime;

use super::error::{Error, Result, Violation, excerpt};
use super::{Metadata, Method, Request, ResponseHead, TUS_VERSION, resolve};

/// The POST that concatenates `partials` (in order) into a new upload at `endpoint`.
pub fn final_request(endpoint: &str, partials: &[String], metadata: &Metadata) -> Request {
    let mut req = Request::new(Method::Post, endpoint);
    req.headers.push(("Tus-Resumable", TUS_VERSION.to_owned()));
    req.headers
        .push(("Upload-Concat", format!("final;{}", partials.join(" "))));
    if !metadata.is_empty() {
        req.headers.push(("Upload-Metadata", metadata.encode()));
    }
    req
}

/// The final upload's URL from the answer to [`final_request`].
///
/// # Errors
///
/// [`Error::Status`] for a refusal; a [`Violation`] for a 201 without a usable
/// `Location`.
pub fn final_response(endpoint: &str, resp: &ResponseHead, now: SystemTime) -> Result<String> {
    if !matches!(resp.status, 200 | 201) {
        return Err(Error::Status {
            status: resp.status,
            retry_after: resp.retry_after(now),
        });
    }
    let location = resp.header("Location").ok_or(Violation::MissingLocation)?;
    resolve(endpoint, location).ok_or_else(|| Violation::BadLocation(excerpt(location)).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_request_lists_partials_in_order() {
        let meta = Metadata::new().with("filename", "a").unwrap();
        let req = final_request(
            "http://h/files",
            &["http://h/files/1".into(), "http://h/files/2".into()],
            &meta,
        );
        assert_eq!(req.method, Method::Post);
        let concat = req
            .headers
            .iter()
            .find(|(k, _)| *k == "Upload-Concat")
            .unwrap();
        assert_eq!(concat.1, "final;http://h/files/1 http://h/files/2");
        assert!(req.headers.iter().any(|(k, _)| *k == "Upload-Metadata"));
        assert!(req.headers.iter().all(|(k, _)| *k != "Upload-Length"));
    }

    #[test]
    fn final_response_needs_201_and_location() {
        let now = SystemTime::UNIX_EPOCH;
        let ok = ResponseHead::new(201).with_header("Location", "/files/9");
        assert_eq!(
            final_response("http://h/files", &ok, now).unwrap(),
            "http://h/files/9"
        );
        assert_eq!(
            final_response("http://h/files", &ResponseHead::new(201), now),
            Err(Error::Violation(Violation::MissingLocation))
        );
        let err = final_response("http://h/files", &ResponseHead::new(400), now).unwrap_err();
        assert!(matches!(err, Error::Status { status: 400, .. }));
    }
}
