//! `Head`: HEAD learns the server's offset, on every resume and after any doubt.

use std::time::SystemTime;

use super::{Event, Length, Upload, parsed, status_error};
use crate::ResponseHead;
use crate::error::{Error, Result, Violation};

impl Upload {
    pub(super) fn on_head(&mut self, resp: &ResponseHead, now: SystemTime) -> Result<Event> {
        if matches!(resp.status, 403 | 404 | 410) {
            return Err(Error::Gone {
                status: resp.status,
            });
        }
        if !resp.is_success() {
            return Err(status_error(resp, now));
        }
        self.agree_length(resp)?;
        // The server's word wins, even below what it acknowledged before: those bytes go again.
        let offset = self.check_offset(resp.upload_offset(), &(0..u64::MAX))?;
        self.set_offset(offset);
        Ok(Event::Synced { offset })
    }

    // A length the server states must be ours; once it states a declared one, it knows it.
    fn agree_length(&mut self, resp: &ResponseHead) -> Result<()> {
        let Some(theirs) = resp.upload_length() else {
            return Ok(());
        };
        let theirs = parsed("Upload-Length", theirs)?;
        match self.length {
            Length::Known(ours) | Length::Declared(ours) if theirs != ours => {
                Err(Violation::LengthMismatch {
                    server: theirs,
                    source: ours,
                }
                .into())
            }
            Length::Declared(n) => {
                self.length = Length::Known(n);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

    #[test]
    fn resume_starts_with_head() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(None, CreationMode::Auto));
        up.resume_at(UP);
        let head = up.next_request().unwrap();
        assert_eq!((head.method, head.url.as_str()), (Method::Head, UP));
        assert_eq!(header(&head, "Tus-Resumable"), Some("1.0.0"));
        up.handle(&offset(204, "10"), now()).unwrap();
        assert!(up.is_complete());
    }

    #[test]
    fn head_gone_and_length_mismatch() {
        for status in [403, 404, 410] {
            let mut up = plain(10, None);
            up.resume_at(UP);
            up.next_request();
            assert_eq!(up.handle(&r(status), now()), Err(Error::Gone { status }));
        }
        let mut up = plain(10, None);
        up.resume_at(UP);
        up.next_request();
        let other = offset(200, "1").with_header("Upload-Length", "11");
        assert_eq!(
            up.handle(&other, now()),
            Err(Error::Violation(Violation::LengthMismatch {
                server: 11,
                source: 10
            }))
        );
        up.next_request();
        assert_eq!(
            up.handle(&r(200), now()),
            Err(Error::Violation(Violation::MissingOffset))
        );
        up.next_request();
        assert!(matches!(
            up.handle(&offset(200, "1").with_header("Upload-Length", "x"), now()),
            Err(Error::Violation(Violation::NotAByteCount {
                header: "Upload-Length",
                ..
            }))
        ));
    }

    #[test]
    fn head_below_the_acknowledged_offset_is_believed() {
        // The server's word wins (say it lost bytes): they are sent again. Found by the fuzzer.
        let mut up = plain(10, Some(4));
        created(&mut up);
        up.next_request();
        up.handle(&offset(204, "4"), now()).unwrap();
        up.next_request();
        up.interrupted(Interruption::Other);
        up.next_request();
        up.handle(&offset(200, "2"), now()).unwrap();
        assert_eq!(up.next_request().unwrap().body, Some(2..6));
    }

    #[test]
    fn head_past_the_length_is_refused() {
        let mut up = plain(10, None);
        up.resume_at(UP);
        up.next_request();
        assert_eq!(
            up.handle(&offset(200, "11"), now()),
            Err(Error::Violation(Violation::OffsetPastLength {
                offset: 11,
                length: 10
            }))
        );
    }

    #[test]
    fn restart_creates_anew() {
        let mut up = plain(10, None);
        up.resume_at(UP);
        up.restart();
        assert_eq!(up.url(), None);
        assert_eq!(up.next_request().unwrap().method, Method::Post);
    }
}
