//! The simple route: *Generate File Upload URL*, then one `PUT` of the whole file.
//!
//! Two requests per file instead of four, but not resumable: a failed attempt asks for a new
//! (single-use) URL and sends the file again.

use percent_encoding::utf8_percent_encode;

use super::rest::{JSON_BODY_LIMIT, Rest, read_json};
use super::resumable::COMPONENT;
use super::types::FileDescriptorEnvelope;
use super::types::GenerateSimpleUploadUrlResponse;
use super::{FileDescriptor, GenerateUploadUrlRequest};
use crate::engine::Step;
use crate::engine::progress::Reporter;
use crate::engine::transport::{BodyReader, Call, mask};
use crate::error::Result;
use crate::source::Source;
use wix_media_tus::Method;

/// Uploads `source` (a file of `request.size_in_bytes` bytes) in one request.
pub(crate) fn upload(
    rest: &Rest<'_>,
    request: &GenerateUploadUrlRequest,
    filename: &str,
    source: &mut Source,
    progress: &mut Reporter<'_>,
) -> Result<FileDescriptor> {
    let engine = rest.engine;
    let len = source.length().unwrap_or(0);
    engine.run(rest.abort, || {
        let target: GenerateSimpleUploadUrlResponse =
            rest.post("/site-media/v1/files/generate-upload-url", request)?;
        let base = target.upload_url.expose();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!(
            "{base}{sep}filename={}",
            utf8_percent_encode(filename, COMPONENT)
        );
        // The URL is the authorization: its last segment (a JWT) is never shown.
        let secret = base
            .rsplit('/')
            .next()
            .filter(|s| s.len() >= 8)
            .unwrap_or(base);
        let secrets = [secret];
        let mut headers = vec![("Content-Type", request.mime_type.clone())];
        // As tus bodies do (and as the uploader's `expect_continue` says): a capping server
        // refuses before the body.
        let asked = engine.expect_for(len);
        if asked {
            headers.push(("Expect", "100-continue".to_owned()));
        }
        source.check_unchanged()?;
        let started = std::time::Instant::now();
        let mut first_read = None;
        let mut on_read = |n: u64| {
            first_read.get_or_insert_with(std::time::Instant::now);
            progress.sent(n, 0, Some(len));
        };
        let mut body = BodyReader::new(source.range(0..len)?, len, rest.abort, &mut on_read);
        let resp = engine.send(Call {
            method: Method::Put,
            url: &url,
            headers: &headers,
            body: Some((&mut body, len)),
            body_limit: JSON_BODY_LIMIT,
            secrets: &secrets,
        });
        drop(body);
        engine.note_expect(asked, started, first_read);
        let resp = resp?;
        let envelope: FileDescriptorEnvelope =
            read_json(engine, Method::Put, &mask(&url, &secrets), &resp)?;
        progress.acked(len, Some(len));
        Ok(Step::Done(envelope.file))
    })
}
