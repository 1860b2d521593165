//! `Patch`: PATCH sends bytes from the server's offset.

use std::ops::Range;
use std::time::SystemTime;

use super::{Event, Length, Method, Phase, Upload, status_error, tus_request};
use crate::error::{Error, Result, Violation};
use crate::{Request, ResponseHead};

impl Upload {
    pub(super) fn patch_request(&self) -> Option<Request> {
        let mut req = tus_request(Method::Patch, self.url.clone()?);
        req.headers.push(("Upload-Offset", self.offset.to_string()));
        if let Length::Declared(n) = self.length {
            req.headers.push(("Upload-Length", n.to_string()));
        }
        req.body = Some(self.body_from(self.offset));
        Some(req)
    }

    pub(super) fn on_patch(
        &mut self,
        resp: &ResponseHead,
        body: Option<Range<u64>>,
        now: SystemTime,
    ) -> Result<Event> {
        let sent = body.unwrap_or(self.offset..self.offset);
        let size = sent.end - sent.start;
        match resp.status {
            200 | 204 => {}
            409 => {
                self.phase = Phase::Head;
                return Err(Error::OffsetMismatch {
                    expected: sent.start,
                    actual: resp.upload_offset().and_then(Result::ok),
                });
            }
            403 | 404 | 410 => {
                return Err(Error::Gone {
                    status: resp.status,
                });
            }
            460 | 417 if self.checksum.is_some() => {
                self.phase = Phase::Head;
                return Err(Error::ChecksumMismatch {
                    offset: sent.start,
                    status: resp.status,
                });
            }
            413 if size > self.config.min_chunk_size => {
                self.phase = Phase::Head;
                return Ok(self.lower_chunk_size(size));
            }
            _ => {
                // Part of the body may have been stored: re-read the offset first.
                self.phase = Phase::Head;
                return Err(status_error(resp, now));
            }
        }
        let offset = self.check_offset(resp.upload_offset(), &sent)?;
        if offset == sent.start && size > 0 {
            return Err(Violation::NoProgress { offset, sent: size }.into());
        }
        // The server took a declared length with this PATCH.
        if let Length::Declared(n) = self.length {
            self.length = Length::Known(n);
        }
        if offset == sent.end {
            self.accepted = self.accepted.max(size);
        }
        self.set_offset(offset);
        Ok(Event::Progress { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::Retryable;

    #[test]
    fn chunks_walk_the_file() {
        let mut up = plain(10, Some(4));
        created(&mut up);
        let mut ranges = Vec::new();
        while let Some(req) = up.next_request() {
            let body = req.body.clone().unwrap();
            ranges.push(body.clone());
            up.handle(&offset(204, &body.end.to_string()), now())
                .unwrap();
        }
        assert_eq!(ranges, vec![0..4, 4..8, 8..10]);
    }

    #[test]
    fn single_patch_sends_the_rest() {
        let mut up = plain(10, None);
        created(&mut up);
        let req = up.next_request().unwrap();
        assert_eq!(
            (req.method, req.url.as_str(), req.body.clone()),
            (Method::Patch, UP, Some(0..10))
        );
        assert_eq!(header(&req, "Upload-Offset"), Some("0"));
        assert_eq!(header(&req, "Content-Type"), Some(OFFSET_OCTET_STREAM));
        assert_eq!(
            up.handle(&offset(204, "10"), now()).unwrap(),
            Event::Progress { offset: 10 }
        );
        assert!(up.is_complete());
    }

    #[test]
    fn partial_acknowledgement_continues_from_the_server_offset() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        up.handle(&offset(204, "3"), now()).unwrap();
        assert_eq!(up.next_request().unwrap().body, Some(3..10));
    }

    #[test]
    fn bad_patch_offsets_are_protocol_errors() {
        let kind = |up: &mut Upload, resp: ResponseHead| match up.handle(&resp, now()) {
            Err(Error::Violation(v)) => v,
            other => panic!("{other:?}"),
        };
        for bad in ["x", "-1", ""] {
            let mut up = plain(10, None);
            created(&mut up);
            up.next_request();
            assert!(
                matches!(
                    kind(&mut up, offset(204, bad)),
                    Violation::NotAByteCount {
                        header: "Upload-Offset",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        assert_eq!(
            kind(&mut up, offset(204, "11")),
            Violation::OffsetPastLength {
                offset: 11,
                length: 10
            }
        );
        let mut up = plain(10, Some(4));
        created(&mut up);
        up.next_request();
        assert_eq!(
            kind(&mut up, offset(204, "5")),
            Violation::OffsetPastSent {
                offset: 5,
                sent_end: 4
            }
        );
        // Backwards.
        up.next_request();
        up.handle(&offset(204, "4"), now()).unwrap();
        up.next_request();
        assert_eq!(
            kind(&mut up, offset(204, "2")),
            Violation::OffsetBackwards { from: 4, to: 2 }
        );
        // Missing, or no progress at all.
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        assert_eq!(kind(&mut up, r(204)), Violation::MissingOffset);
        up.next_request();
        assert_eq!(
            kind(&mut up, offset(204, "0")),
            Violation::NoProgress {
                offset: 0,
                sent: 10
            }
        );
    }

    #[test]
    fn conflict_leads_to_head_then_continues() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        let err = up.handle(&offset(409, "6"), now()).unwrap_err();
        assert_eq!(
            err,
            Error::OffsetMismatch {
                expected: 0,
                actual: Some(6)
            }
        );
        assert!(err.is_retryable());
        let head = up.next_request().unwrap();
        assert_eq!((head.method, head.url.as_str()), (Method::Head, UP));
        let resp = offset(200, "6").with_header("Upload-Length", "10");
        assert_eq!(
            up.handle(&resp, now()).unwrap(),
            Event::Synced { offset: 6 }
        );
        assert_eq!(up.next_request().unwrap().body, Some(6..10));
    }

    #[test]
    fn failures_mid_patch_re_read_the_offset() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        let err = up
            .handle(&r(503).with_header("Retry-After", "2"), now())
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(2)));
        assert_eq!(up.phase(), Phase::Head);
        up.next_request();
        assert_eq!(up.interrupted(Interruption::Other), None);
        assert_eq!(up.next_request().unwrap().method, Method::Head);
    }

    #[test]
    fn interrupted_before_creation_creates_again() {
        let mut up = plain(10, None);
        up.next_request();
        up.interrupted(Interruption::ConnectionLost);
        assert_eq!(up.next_request().unwrap().method, Method::Post);
    }

    #[test]
    fn patch_gone_is_an_error() {
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        assert_eq!(up.handle(&r(404), now()), Err(Error::Gone { status: 404 }));
    }

    #[test]
    fn checksum_mismatch_resends_after_head() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(None, CreationMode::Auto));
        offered(&mut up, "checksum", "sha256");
        created(&mut up);
        up.next_request();
        let err = up.handle(&r(460), now()).unwrap_err();
        assert_eq!(
            err,
            Error::ChecksumMismatch {
                offset: 0,
                status: 460
            }
        );
        assert_eq!(up.next_request().unwrap().method, Method::Head);
        // Without an agreed checksum, 460 is just a status.
        let mut up = plain(10, None);
        created(&mut up);
        up.next_request();
        assert!(matches!(
            up.handle(&r(460), now()),
            Err(Error::Status { status: 460, .. })
        ));
    }

    #[test]
    fn too_large_bodies_halve_the_chunk_down_to_the_floor() {
        let mut up = plain(20, None);
        created(&mut up);
        let mut sizes = Vec::new();
        loop {
            up.next_request();
            match up.handle(&r(413), now()) {
                Ok(Event::ChunkSizeLowered { chunk_size }) => {
                    sizes.push(chunk_size);
                    up.next_request();
                    up.handle(&offset(200, "0"), now()).unwrap();
                }
                Err(e) => {
                    assert!(matches!(e, Error::Status { status: 413, .. }));
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sizes, vec![10, 5, 4]);
        assert_eq!(up.chunk_size(), Some(4));
    }

    // A proxy that answers 413 before reading the body and closes looks like a lost connection.
    #[test]
    fn a_body_lost_twice_at_the_same_offset_is_halved() {
        let mut up = plain(64, None);
        created(&mut up);
        let lost_at_same = |up: &mut Upload| {
            let req = up.next_request().unwrap();
            let ev = up.interrupted(Interruption::ConnectionLost);
            up.next_request(); // HEAD
            up.handle(&offset(200, "0"), now()).unwrap();
            (req.body.unwrap(), ev)
        };
        assert_eq!(lost_at_same(&mut up), (0..64, None));
        assert_eq!(
            lost_at_same(&mut up),
            (0..64, Some(Event::ChunkSizeLowered { chunk_size: 32 }))
        );
        assert_eq!(lost_at_same(&mut up), (0..32, None));
        assert_eq!(
            lost_at_same(&mut up).1,
            Some(Event::ChunkSizeLowered { chunk_size: 16 })
        );
        // Timeouts and refused connections are not taken for refused bodies.
        let mut up = plain(64, None);
        created(&mut up);
        for _ in 0..3 {
            up.next_request();
            assert_eq!(up.interrupted(Interruption::Other), None);
            up.next_request();
            up.handle(&offset(200, "0"), now()).unwrap();
        }
        assert_eq!(up.chunk_size(), None);
    }

    #[test]
    fn progress_between_losses_keeps_the_size() {
        let mut up = plain(64, None);
        created(&mut up);
        up.next_request();
        up.interrupted(Interruption::ConnectionLost);
        up.next_request();
        up.handle(&offset(200, "10"), now()).unwrap();
        let req = up.next_request().unwrap();
        assert_eq!(req.body, Some(10..64));
        assert_eq!(up.interrupted(Interruption::ConnectionLost), None);
        assert_eq!(up.chunk_size(), None);
    }

    #[test]
    fn large_bodies_ask_to_continue_until_one_of_their_size_is_accepted() {
        let mut config = cfg(Some(100), CreationMode::Plain);
        config.expect_continue_above = Some(50);
        let mut up = Upload::new(EP, 250, &meta(), config);
        created(&mut up);
        let first = up.next_request().unwrap();
        assert_eq!(header(&first, "Expect"), Some("100-continue"));
        up.handle(&offset(204, "100"), now()).unwrap();
        let second = up.next_request().unwrap();
        assert_eq!(header(&second, "Expect"), None);
        up.handle(&offset(204, "200"), now()).unwrap();
        // The last 50 bytes are not above the threshold.
        let last = up.next_request().unwrap();
        assert_eq!(
            (last.body.clone(), header(&last, "Expect")),
            (Some(200..250), None)
        );
        // A small body never asks.
        let mut up = Upload::new(EP, 10, &meta(), Config::default());
        created(&mut up);
        assert_eq!(header(&up.next_request().unwrap(), "Expect"), None);
    }

    #[test]
    fn a_body_lost_although_it_asked_to_continue_stops_the_asking() {
        let mut config = cfg(None, CreationMode::Plain);
        config.expect_continue_above = Some(10);
        let mut up = Upload::new(EP, 100, &meta(), config);
        created(&mut up);
        let first = up.next_request().unwrap();
        assert_eq!(header(&first, "Expect"), Some("100-continue"));
        up.interrupted(Interruption::ConnectionLost);
        up.next_request();
        up.handle(&offset(200, "0"), now()).unwrap();
        assert_eq!(header(&up.next_request().unwrap(), "Expect"), None);
        // A timeout is no sign of that: the asking goes on.
        let mut config = cfg(None, CreationMode::Plain);
        config.expect_continue_above = Some(10);
        let mut up = Upload::new(EP, 100, &meta(), config);
        created(&mut up);
        up.next_request();
        up.interrupted(Interruption::Other);
        up.next_request();
        up.handle(&offset(200, "0"), now()).unwrap();
        assert_eq!(
            header(&up.next_request().unwrap(), "Expect"),
            Some("100-continue")
        );
    }

    #[test]
    fn a_learned_chunk_size_is_kept_below_the_configured_one() {
        let mut up = plain(100, Some(40));
        up.limit_chunk_size(30);
        up.limit_chunk_size(60);
        created(&mut up);
        assert_eq!(up.next_request().unwrap().body, Some(0..30));
    }

    #[test]
    fn deferred_length_is_declared_on_a_patch() {
        let mut config = cfg(Some(4), CreationMode::Plain);
        config.checksums.clear();
        let mut up = Upload::deferred(EP, &meta(), config);
        assert!(up.is_deferred());
        created(&mut up);
        let first = up.next_request().unwrap();
        assert_eq!(
            (first.body.clone(), header(&first, "Upload-Length")),
            (Some(0..4), None)
        );
        up.handle(&offset(204, "4"), now()).unwrap();
        assert_eq!(
            up.declare_length(3),
            Err(Error::Usage(crate::Usage::LengthBelowOffset {
                length: 3,
                offset: 4
            }))
        );
        up.declare_length(6).unwrap();
        assert_eq!(up.length(), Some(6));
        last_patch_declares(&mut up, 4..6, 6);
    }

    // The next PATCH sends `body` and `Upload-Length: length`, and completes the upload.
    fn last_patch_declares(up: &mut Upload, body: Range<u64>, length: u64) {
        let last = up.next_request().unwrap();
        let length = length.to_string();
        assert_eq!(
            (last.body.clone(), header(&last, "Upload-Length")),
            (Some(body), Some(length.as_str()))
        );
        up.handle(&offset(204, &length), now()).unwrap();
        assert!(up.is_complete());
    }

    #[test]
    fn a_deferred_upload_that_ends_on_a_chunk_boundary_sends_the_length_alone() {
        let mut up = Upload::deferred(EP, &meta(), cfg(Some(4), CreationMode::Plain));
        created(&mut up);
        up.next_request();
        up.handle(&offset(204, "4"), now()).unwrap();
        up.declare_length(4).unwrap();
        last_patch_declares(&mut up, 4..4, 4);
    }

    #[test]
    fn response_without_request_is_refused() {
        let mut up = plain(10, None);
        assert_eq!(
            up.handle(&r(204), now()),
            Err(Error::Violation(Violation::NoRequestOutstanding))
        );
    }

    #[test]
    fn debug_hides_metadata() {
        let up = plain(10, None);
        let dbg = format!("{up:?}");
        assert!(
            !dbg.contains("T0KEN") && !dbg.contains(&meta().encode()),
            "{dbg}"
        );
    }
}
