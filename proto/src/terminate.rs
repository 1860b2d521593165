//! The termination extension: `DELETE` an upload.

use std::time::SystemTime;

use super::error::{Error, Result};
use super::{Method, Request, ResponseHead, TUS_VERSION};

/// The `DELETE` of the upload at `url`.
pub fn request(url: &str) -> Request {
    let mut req = Request::new(Method::Delete, url);
    req.headers.push(("Tus-Resumable", TUS_VERSION.to_owned()));
    req
}

/// Reads the answer to [`request`]: an upload that is already gone (404, 410) is fine.
///
/// # Errors
///
/// [`Error::Status`] for any other status.
pub fn response(resp: &ResponseHead, now: SystemTime) -> Result<()> {
    match resp.status {
        200..=299 | 404 | 410 => Ok(()),
        status => Err(Error::Status {
            status,
            retry_after: resp.retry_after(now),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_and_its_answers() {
        let req = request("http://h/files/1");
        assert_eq!(req.method, Method::Delete);
        assert_eq!(req.header("tus-resumable"), Some("1.0.0"));
        let now = SystemTime::UNIX_EPOCH;
        for ok in [204, 200, 404, 410] {
            assert_eq!(response(&ResponseHead::new(ok), now), Ok(()), "{ok}");
        }
        assert!(matches!(
            response(&ResponseHead::new(403), now),
            Err(Error::Status { status: 403, .. })
        ));
    }
}
