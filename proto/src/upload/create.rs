//! `Create`: POST makes the upload (with its first bytes under creation-with-upload).

use std::time::SystemTime;

use super::{Event, InFlight, Length, Method, Phase, Upload, status_error, tus_request};
use crate::error::{Result, Violation, excerpt};
use crate::{Request, ResponseHead, resolve};

impl Upload {
    pub(super) fn create_request(&self) -> Request {
        let mut req = tus_request(Method::Post, self.endpoint.clone());
        match self.length {
            Length::Known(n) | Length::Declared(n) => {
                req.headers.push(("Upload-Length", n.to_string()));
            }
            Length::Deferred => req.headers.push(("Upload-Defer-Length", "1".to_owned())),
        }
        if self.partial {
            req.headers.push(("Upload-Concat", "partial".to_owned()));
        }
        if !self.metadata.0.is_empty() {
            req.headers
                .push(("Upload-Metadata", self.metadata.0.clone()));
        }
        if self.with_upload && self.length.get().is_some_and(|l| l > 0) {
            req.body = Some(self.body_from(0));
        }
        req
    }

    pub(super) fn on_create(
        &mut self,
        resp: &ResponseHead,
        sent: &InFlight,
        now: SystemTime,
    ) -> Result<Event> {
        if resp.status == 413 && sent.body.is_some() {
            // Maybe only the first bytes were too many: create without them.
            self.with_upload = false;
            return Ok(Event::ChunkSizeLowered {
                chunk_size: self
                    .config
                    .chunk_size
                    .unwrap_or(self.length.get().unwrap_or(0)),
            });
        }
        if !matches!(resp.status, 200 | 201) {
            return Err(status_error(resp, now));
        }
        let location = resp.header("Location").ok_or(Violation::MissingLocation)?;
        let url = resolve(&sent.url, location)
            .ok_or_else(|| Violation::BadLocation(excerpt(location)))?;
        self.url = Some(url.clone());
        match &sent.body {
            None => self.set_offset(0),
            Some(body) => match resp.upload_offset() {
                Some(offset) => {
                    let offset = self.check_offset(Some(offset), body)?;
                    self.accepted = self.accepted.max(offset);
                    self.set_offset(offset);
                }
                // The first bytes went, but how many arrived is unsaid.
                None => self.phase = Phase::Head,
            },
        }
        Ok(Event::Created { url })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::Retryable;

    #[test]
    fn creation_sends_length_and_metadata() {
        let mut up = plain(10, None);
        let req = up.next_request().unwrap();
        assert_eq!((req.method, req.body.clone()), (Method::Post, None));
        assert_eq!(header(&req, "Tus-Resumable"), Some("1.0.0"));
        assert_eq!(header(&req, "Upload-Length"), Some("10"));
        assert_eq!(
            header(&req, "Upload-Metadata"),
            Some(meta().encode().as_str())
        );
        assert_eq!(header(&req, "Content-Type"), None);
    }

    #[test]
    fn creation_without_location_is_a_protocol_error() {
        let mut up = plain(10, None);
        up.next_request();
        assert_eq!(
            up.handle(&r(201), now()),
            Err(Error::Violation(Violation::MissingLocation))
        );
        let mut up = plain(10, None);
        up.next_request();
        let bad = r(201).with_header("Location", "  ");
        assert!(matches!(
            up.handle(&bad, now()),
            Err(Error::Violation(Violation::BadLocation(_)))
        ));
    }

    #[test]
    fn relative_location_is_resolved() {
        let mut up = plain(10, None);
        up.next_request();
        let resp = r(201).with_header("Location", "/files/abc");
        assert_eq!(
            up.handle(&resp, now()).unwrap(),
            Event::Created { url: UP.into() }
        );
        assert_eq!(up.url(), Some(UP));
    }

    #[test]
    fn creation_errors_carry_their_status() {
        let mut up = plain(10, None);
        up.next_request();
        let err = up.handle(&r(400), now()).unwrap_err();
        assert_eq!(
            err,
            Error::Status {
                status: 400,
                retry_after: None
            }
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn empty_upload_is_done_at_creation() {
        let mut up = plain(0, None);
        created(&mut up);
        assert!(up.is_complete());
        assert_eq!(up.next_request(), None);
    }

    #[test]
    fn post_413_with_body_retries_without_it() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(None, CreationMode::WithUpload));
        assert_eq!(up.next_request().unwrap().body, Some(0..10));
        assert!(matches!(
            up.handle(&r(413), now()),
            Ok(Event::ChunkSizeLowered { .. })
        ));
        assert_eq!(up.next_request().unwrap().body, None);
    }

    #[test]
    fn creation_with_upload_without_offset_asks_with_head() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(None, CreationMode::WithUpload));
        up.next_request();
        up.handle(&r(201).with_header("Location", UP), now())
            .unwrap();
        assert_eq!(up.next_request().unwrap().method, Method::Head);
    }

    #[test]
    fn partial_uploads_say_so_and_deferred_ones_defer() {
        let mut up = Upload::partial(EP, 10, &meta(), Config::default());
        let req = up.next_request().unwrap();
        assert_eq!(header(&req, "Upload-Concat"), Some("partial"));
        let mut up = Upload::deferred(EP, &meta(), Config::default());
        let req = up.next_request().unwrap();
        assert_eq!(header(&req, "Upload-Defer-Length"), Some("1"));
        assert_eq!(header(&req, "Upload-Length"), None);
        assert_eq!(up.chunk_size(), Some(STREAM_CHUNK));
    }

    #[test]
    fn expires_is_tracked() {
        let mut up = plain(10, None);
        up.next_request();
        let at = "Wed, 25 Nov 2026 08:00:00 GMT";
        up.handle(
            &r(201)
                .with_header("Location", UP)
                .with_header("Upload-Expires", at),
            now(),
        )
        .unwrap();
        let t = httpdate::parse_http_date(at).unwrap();
        assert_eq!(up.expires(), Some(t));
        assert!(up.is_expired(t) && !up.is_expired(t - std::time::Duration::from_secs(1)));
    }
}
