//! The concatenation extension's final step: one upload made of finished partial uploads.

use std::time::SystemTime;

use super::upload::status_error;
use super::{Metadata, Method, Request, ResponseHead, TUS_VERSION, resolve};
use crate::error::{Error, Result};

/// The POST that concatenates `partials` (in order) into a new upload at `endpoint`.
pub fn final_request(endpoint: &str, partials: &[String], metadata: &Metadata) -> Request {
    let mut headers = vec![
        ("Tus-Resumable", TUS_VERSION.to_owned()),
        ("Upload-Concat", format!("final;{}", partials.join(" "))),
    ];
    if !metadata.is_empty() {
        headers.push(("Upload-Metadata", metadata.encode()));
    }
    Request {
        method: Method::Post,
        url: endpoint.to_owned(),
        headers,
        body: None,
        checksum: None,
    }
}

/// The final upload's URL from the answer to [`final_request`].
pub fn final_response(endpoint: &str, resp: &ResponseHead, now: SystemTime) -> Result<String> {
    if !matches!(resp.status, 200 | 201) {
        return Err(status_error(Method::Post, endpoint, resp, now));
    }
    let location = resp
        .header("Location")
        .ok_or_else(|| Error::Protocol("concatenation answered without Location".into()))?;
    resolve(endpoint, location).ok_or_else(|| {
        Error::Protocol(format!(
            "concatenation answered an unusable Location {location:?}"
        ))
    })
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
        assert!(matches!(
            final_response("http://h/files", &ResponseHead::new(201), now),
            Err(Error::Protocol(_))
        ));
        let err = final_response("http://h/files", &ResponseHead::new(400), now).unwrap_err();
        assert_eq!(err.status(), Some(400));
    }
}
