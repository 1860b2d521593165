//! The simple route: *Generate File Upload URL*, then one `PUT` of the whole file.
//!
//! Two requests per file instead of four, but not resumable: a failed attempt asks for a new
//! (single-use) URL and sends the file again; one whose answer was lost looks for the file
//! first (see `create.rs`). The file's MD5 is computed as it goes out.

use percent_encoding::utf8_percent_encode;

use super::create::Creating;
use super::rest::{JSON_BODY_LIMIT, Rest, read_json};
use super::resumable::COMPONENT;
use super::types::FileDescriptorEnvelope;
use super::types::GenerateSimpleUploadUrlResponse;
use super::{FileDescriptor, GenerateUploadUrlRequest};
use crate::digest::{Md5Digest, Md5Stream, Tee};
use crate::engine::Step;
use crate::engine::progress::Reporter;
use crate::engine::transport::{BodyReader, Call, mask};
use crate::error::Result;
use crate::source::Source;
use wix_media_tus::Method;

/// Uploads `source` (a file of `request.size_in_bytes` bytes) in one request: the file, and
/// the source's MD5.
pub(crate) fn upload(
    rest: &Rest<'_>,
    (request, filename): (&GenerateUploadUrlRequest, &str),
    source: &mut Source,
    progress: &mut Reporter<'_>,
    creating: &mut Creating<'_>,
) -> Result<(FileDescriptor, Option<Md5Digest>)> {
    let len = source.length().unwrap_or(0);
    let mut md5 = Md5Stream::new(Some(len));
    let got = rest.engine.run(rest.abort, || {
        let target: GenerateSimpleUploadUrlResponse =
            rest.post("/site-media/v1/files/generate-upload-url", request)?;
        let base = target.upload_url.expose();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!(
            "{base}{sep}filename={}",
            utf8_percent_encode(filename, COMPONENT)
        );
        source.check_unchanged()?;
        creating.before(whole(&mut md5, len))?;
        let sent = put(
            rest,
            (&url, base, &request.mime_type),
            source,
            &mut md5,
            progress,
        );
        match sent {
            Ok(file) => Ok(Step::Done(file)),
            Err(e) if e.is_outcome_unknown() => match creating.landed(whole(&mut md5, len))? {
                Some(file) => Ok(Step::Done(file)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    });
    match got {
        Ok(file) => Ok((file, whole(&mut md5, len))),
        Err(e) => {
            creating.failed()?;
            Err(e)
        }
    }
}

// The `PUT` of the whole source to `url` (the upload URL `base` with its `filename`), as
// `mime`, its bytes fed to `md5`.
fn put(
    rest: &Rest<'_>,
    (url, base, mime): (&str, &str, &str),
    source: &mut Source,
    md5: &mut Md5Stream,
    progress: &mut Reporter<'_>,
) -> Result<FileDescriptor> {
    let engine = rest.engine;
    let len = source.length().unwrap_or(0);
    // The URL is the authorization: its last segment (a JWT) is never shown.
    let secret = base
        .rsplit('/')
        .next()
        .filter(|s| s.len() >= 8)
        .unwrap_or(base);
    let secrets = [secret];
    let mut headers = vec![("Content-Type", mime.to_owned())];
    // As tus bodies do (and as the uploader's `expect_continue` says): a capping server
    // refuses before the body.
    let asked = engine.expect_for(len);
    if asked {
        headers.push(("Expect", "100-continue".to_owned()));
    }
    let started = std::time::Instant::now();
    let mut first_read = None;
    let mut on_read = |n: u64| {
        first_read.get_or_insert_with(std::time::Instant::now);
        progress.sent(n, 0, Some(len));
    };
    let tee = Tee::new(source.range(0..len)?, 0, md5);
    let mut body = BodyReader::new(tee, len, rest.abort, &mut on_read);
    let resp = engine.send(Call {
        method: Method::Put,
        url,
        headers: &headers,
        body: Some((&mut body, len)),
        body_limit: JSON_BODY_LIMIT,
        secrets: &secrets,
    });
    drop(body);
    engine.note_expect(asked, started, first_read);
    let envelope: FileDescriptorEnvelope =
        read_json(engine, Method::Put, &mask(url, &secrets), &resp?)?;
    progress.acked(len, Some(len));
    Ok(envelope.file)
}

// The MD5 of the whole source, once it all went out.
fn whole(md5: &mut Md5Stream, len: u64) -> Option<Md5Digest> {
    match md5.position() {
        Some(n) if n == len => md5.digest(),
        _ => None,
    }
}
