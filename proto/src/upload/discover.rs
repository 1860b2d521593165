//! `Discover`: OPTIONS tells which extensions, limits and checksums the server has.

use super::{Event, Phase, Upload};
use crate::ResponseHead;
use crate::error::{Error, Result};
use crate::options::Capabilities;
use std::time::SystemTime;

impl Upload {
    pub(super) fn on_options(&mut self, resp: &ResponseHead, now: SystemTime) -> Result<Event> {
        // Statuses worth retrying come back as errors; other failures mean "no OPTIONS here".
        let caps = Capabilities::from_response(resp, now)?;
        self.phase = Phase::Create;
        let Some(caps) = caps else {
            // Servers without OPTIONS support get a plain creation.
            return Ok(Event::Discovered);
        };
        if let (Some(max), Some(size)) = (caps.max_size, self.length.get())
            && size > max
        {
            self.phase = Phase::Discover;
            return Err(Error::TooLarge { size, max });
        }
        self.with_upload = caps.has("creation-with-upload") && self.length.get().is_some();
        if caps.has("checksum") {
            self.checksum = self
                .config
                .checksums
                .iter()
                .copied()
                .find(|a| caps.has_checksum(a.name()));
        }
        Ok(Event::Discovered)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::Retryable;

    #[test]
    fn auto_mode_starts_with_options_without_tus_resumable() {
        let mut up = Upload::new(EP, 10, &meta(), auto());
        let req = up.next_request().unwrap();
        assert_eq!(
            (req.method, req.url.as_str(), req.body),
            (Method::Options, EP, None)
        );
        assert!(req.headers.is_empty());
    }

    #[test]
    fn options_with_creation_with_upload_sends_bytes_on_post() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(Some(4), CreationMode::Auto));
        up.next_request();
        let opts = r(204).with_header("Tus-Extension", "creation,creation-with-upload");
        assert_eq!(up.handle(&opts, now()).unwrap(), Event::Discovered);
        let post = up.next_request().unwrap();
        assert_eq!((post.method, post.body.clone()), (Method::Post, Some(0..4)));
        assert_eq!(header(&post, "Content-Type"), Some(OFFSET_OCTET_STREAM));
        let resp = r(201)
            .with_header("Location", "/files/abc")
            .with_header("Upload-Offset", "4");
        assert_eq!(
            up.handle(&resp, now()).unwrap(),
            Event::Created { url: UP.into() }
        );
        assert_eq!((up.offset(), up.phase()), (4, Phase::Patch));
    }

    #[test]
    fn options_without_the_extension_or_failing_gives_plain_creation() {
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        up.handle(&r(204).with_header("Tus-Extension", "creation"), now())
            .unwrap();
        assert_eq!(up.next_request().unwrap().body, None);
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        up.handle(&r(405), now()).unwrap();
        assert_eq!(up.phase(), Phase::Create);
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        let err = up
            .handle(&r(503).with_header("Retry-After", "2"), now())
            .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(2)));
        assert_eq!(up.phase(), Phase::Discover);
    }

    #[test]
    fn options_max_size_refuses_big_sources() {
        let mut up = Upload::new(EP, 10, &meta(), auto());
        up.next_request();
        let err = up
            .handle(&r(204).with_header("Tus-Max-Size", "9"), now())
            .unwrap_err();
        assert_eq!(err, Error::TooLarge { size: 10, max: 9 });
    }

    #[test]
    fn a_checksum_is_agreed_from_the_offer() {
        let mut up = Upload::new(EP, 10, &meta(), cfg(None, CreationMode::Auto));
        offered(&mut up, "creation,checksum", "md5,sha1");
        assert_eq!(up.checksum(), Some(ChecksumAlgorithm::Sha1));
        created(&mut up);
        let patch = up.next_request().unwrap();
        assert_eq!(patch.checksum, Some(ChecksumAlgorithm::Sha1));
    }
}
